import AgoraClient
import AgoraCore
import AgoraLedger
import AgoraNode
import AgoraWire
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The ledger in another process: `agora ledger serve`'s server on loopback, reached with `RemoteLedger`
/// through the same access protocols as the embedded ledger, and a node that checks deposits and settles
/// through it.
@Suite(.serialized) struct LedgerRPCTests {
    @Test func queriesAndSubmissionsThroughTheRPC() async throws {
        let harness = try NodeHarness()
        let server = try await RunningNodeServer.start(
            LedgerRPCServer(ledger: harness.ledger, port: 0, blockInterval: .milliseconds(20)))
        defer { Task { await server.stop() } }
        let remote = try await RemoteLedger.connect(to: server.baseURL, timeout: 600)
        #expect(remote.chainID == harness.ledger.chainID)
        #expect(remote.parameters == harness.ledger.parameters)
        let agent = harness.agent
        #expect(try await remote.account(agent.publicKey) == harness.ledger.account(agent.publicKey))
        #expect(try await remote.account(agent.publicKey).deposit == Amount(microUnits: 100_000))
        #expect(try await remote.job(Hash256.random()) == nil)
        #expect(try await remote.genesis() == harness.ledger.genesis)

        let recipient = SigningKey(deterministicLabel: "rpc-recipient")
        let good = Transaction.signed(
            by: agent, chainID: remote.chainID, nonce: 2,
            body: .transfer(to: recipient.publicKey, amount: Amount(microUnits: 7)))
        var forged = Transaction.signed(
            by: agent, chainID: remote.chainID, nonce: 3,
            body: .transfer(to: recipient.publicKey, amount: Amount(microUnits: 7)))
        forged.signature = recipient.sign(forged.signingBytes)
        let results = try await remote.submit([good, forged, good], wait: true)
        guard case .accepted(let height) = results[0].verdict else {
            Issue.record("not accepted: \(results[0])")
            return
        }
        #expect(height >= 1)
        #expect(results[1].verdict == .rejected(.invalidSignature))
        // A second copy while the first is pending is refused at the door.
        #expect(results[2].verdict == .rejected(.alreadyPending))
        // Replayed later, it passes the door (valid signature) and the block producer refuses its nonce.
        let replay = try await remote.submit([good], wait: true)
        #expect(replay[0].verdict == .rejected(.badNonce(expected: 3, got: 2)))
        #expect(try harness.ledger.account(recipient.publicKey).balance == Amount(microUnits: 7))
        #expect(try harness.ledger.moneyHeld() == (try harness.ledger.totals()).supply.microUnits)
        // The transaction as committed, by id.
        let location = try #require(try await remote.transaction(good.id))
        #expect(location.transaction == good && location.height == height)

        // Bad input: malformed JSON, a body that is not a transaction, an oversized body, a bad address.
        let (status, _, _) = try await Self.post(server.baseURL, "v1/ledger/transactions", Data("{nope".utf8))
        #expect(status == 400)
        #expect(try await remote.submit([], wait: true).isEmpty)
        let (junkStatus, _, junkBody) = try await Self.post(
            server.baseURL, "v1/ledger/transactions", Data(#"{"transactions":["AAEC","%%%"],"wait":true}"#.utf8))
        #expect(junkStatus == 200)
        let decoded = try JSONDecoder().decode([SubmissionResult].self, from: junkBody)
        #expect(decoded.count == 2 && decoded.allSatisfy { $0.id == nil && $0.rejection != nil })
        #expect(decoded[1].verdict == .rejected(.malformed("not base64")))
        let (big, _, _) = try await Self.post(
            server.baseURL, "v1/ledger/transactions", Data(repeating: 0x20, count: LedgerRPC.maxBodyBytes + 10))
        #expect(big == 413)
        let (_, badAddress) = try await Self.get(server.baseURL, "v1/ledger/accounts/agr1nothing")
        #expect(badAddress == 400)
    }

    /// Lists page with stable cursors, blocks come in ranges with their transactions, a follower waits for
    /// the next block, and every malformed query is a 400 carrying its typed reason.
    @Test func pagedListsBlockRangesFollowingAndBadQueries() async throws {
        let harness = try NodeHarness()
        let ledger = harness.ledger
        // Five registered nodes, so pages of two take three calls.
        let nodes = (0..<5).map { SigningKey(deterministicLabel: "rpc-node-\($0)") }
        var setup: [Transaction] = []
        var nonce = try ledger.account(harness.agent.publicKey).nonce
        for node in nodes {
            nonce += 1
            setup.append(
                Transaction.signed(
                    by: harness.agent, chainID: ledger.chainID, nonce: nonce,
                    body: .transfer(to: node.publicKey, amount: Amount(microUnits: 10))))
        }
        _ = try ledger.produceBlock(setup)
        _ = try ledger.produceBlock(
            nodes.map { node in
                Transaction.signed(
                    by: node, chainID: ledger.chainID, nonce: 1,
                    body: .registerNode(
                        NodeRegistration(
                            endpoint: "http://example.invalid/\(node.address)", models: [SharedEngine.engine.modelHash],
                            pricePerInputToken: .zero, pricePerOutputToken: .zero)))
            })
        let server = try await RunningNodeServer.start(
            LedgerRPCServer(ledger: ledger, port: 0, blockInterval: .milliseconds(20)))
        defer { Task { await server.stop() } }
        let remote = try await RemoteLedger.connect(to: server.baseURL, timeout: 600)
        let embedded = EmbeddedLedger(ledger)

        var seen: [PublicKey] = []
        var cursor: String?
        var pages = 0
        repeat {
            let page = try await remote.nodes(after: cursor, limit: 2)
            let same = try await embedded.nodes(after: cursor, limit: 2)
            #expect(page.items == same.items && page.nextCursor == same.nextCursor)
            seen += page.items.map(\.key)
            cursor = page.nextCursor
            pages += 1
        } while cursor != nil
        let registered = try ledger.nodes().count
        #expect(registered >= 5)
        #expect(pages == (registered + 1) / 2 && seen.count == registered && Set(seen).count == registered)
        #expect(seen == seen.sorted())
        #expect(try await remote.allNodes() == embedded.allNodes())
        #expect(try await remote.allModels() == embedded.allModels())
        #expect(try await remote.openChallenges(after: nil, limit: 10).items.isEmpty)

        let head = try await remote.head()
        #expect(head == ledger.head)
        let blocks = try await remote.blocks(from: 0, count: 100)
        #expect(blocks.count == Int(head.header.height) + 1)
        #expect(blocks.last?.block == head)
        #expect(blocks[Int(head.header.height)].transactions.count == 5)
        #expect(try await remote.blocks(from: head.header.height + 1, count: 5).isEmpty)

        // Following: a waiter above the head gets the next block as soon as it is sealed.
        async let next = remote.waitForHead(above: head.header.height, timeout: .seconds(10))
        try await Task.sleep(for: .milliseconds(100))
        _ = try ledger.produceBlock([], allowEmpty: true)
        #expect(try await next.header.height == head.header.height + 1)
        // With nothing new it returns the head when the wait ends.
        let idle = try await remote.waitForHead(above: head.header.height + 5, timeout: .milliseconds(50))
        #expect(idle.header.height == head.header.height + 1)

        // Bad queries: typed reasons, through the client and on the wire.
        await #expect(throws: LedgerAccessError.badQuery(.rangeTooLarge(requested: 101, max: 100))) {
            _ = try await remote.blocks(from: 0, count: 101)
        }
        await #expect(throws: LedgerAccessError.badQuery(.badLimit(requested: 0, max: LedgerLimits.maxPageSize))) {
            _ = try await remote.nodes(after: nil, limit: 0)
        }
        do {
            _ = try await remote.nodes(after: "zz", limit: 2)
            Issue.record("a bad cursor was accepted")
        } catch {
            guard case .badQuery(.badCursor) = error else {
                Issue.record("wrong error \(error)")
                return
            }
        }
        // A model-list cursor is not a node-list cursor.
        let modelCursor = "04" + String(repeating: "00", count: 32)
        await #expect(throws: LedgerAccessError.self) { _ = try await remote.nodes(after: modelCursor, limit: 2) }
        for path in [
            "v1/ledger/nodes?limit=2&color=blue", "v1/ledger/blocks?from=0&count=100000", "v1/ledger/blocks",
            "v1/ledger/blocks?from=-1", "v1/ledger/head?wait_ms=5", "v1/ledger/nodes?limit=2&limit=3",
            "v1/ledger/models/nothex", "v1/ledger/head?after=0&wait_ms=99999999",
        ] {
            let (body, status) = try await Self.get(server.baseURL, path)
            #expect(status == 400, "\(path)")
            let error = try JSONDecoder().decode(LedgerRPC.ErrorBody.self, from: body)
            #expect(error.reason != nil, "\(path)")
        }
        let (unknownBody, _) = try await Self.get(server.baseURL, "v1/ledger/nodes?color=blue")
        #expect(
            try JSONDecoder().decode(LedgerRPC.ErrorBody.self, from: unknownBody).reason == .unknownParameter("color"))
        let (_, missing) = try await Self.get(server.baseURL, "v1/ledger/jobs/" + String(repeating: "ab", count: 32))
        #expect(missing == 404)
    }

    /// `ChainDownload` replays a chain fetched over the RPC and agrees with the local verification.
    /// Offers and the market search over the RPC: the server ranks exactly as a local search on the same state,
    /// offers read back by id and by page, and bad search parameters are refused by name.
    @Test func offersAndSearchThroughTheRPC() async throws {
        let harness = try NodeHarness()
        let server = try await RunningNodeServer.start(
            LedgerRPCServer(ledger: harness.ledger, port: 0, blockInterval: .milliseconds(20)))
        defer { Task { await server.stop() } }
        let remote = try await RemoteLedger.connect(to: server.baseURL, timeout: 600)
        let seller = harness.nodeKey
        let registration = OfferRegistration(
            name: "translate-and-check", description: "Translates, translates back, scores the agreement.",
            tags: ["translation"], inputSchema: #"{"type":"object"}"#, outputSchema: #"{"type":"object"}"#,
            pricing: .perCall(Amount(microUnits: 50)), models: [], offers: [],
            verification: .reexecute(pipeline: .zero), endpoint: "http://127.0.0.1:9000")
        let results = try await remote.submit(
            [
                Transaction.signed(
                    by: seller, chainID: remote.chainID, nonce: 1,
                    body: .registerOffer(registration, bond: Amount(microUnits: 1_000)))
            ], wait: true)
        #expect(results[0].rejection == nil, "\(results)")
        let id = OfferRegistration.id(seller: seller.publicKey, name: registration.name)
        #expect(try await remote.offer(id) == (try harness.ledger.offer(id)))
        #expect(try await remote.allOffers().map(\.id) == [id])
        var filters = MarketSearch.Filters()
        filters.kinds = [.agent]
        let overRPC = try await remote.search("translation check", filters: filters)
        let local = try await MarketSearch.search(
            "translation check", filters: filters, on: EmbeddedLedger(harness.ledger))
        #expect(overRPC == local && overRPC.map(\.item.id) == [id.hex])
        let (_, status) = try await Self.get(server.baseURL, "v1/ledger/search?q=x&kind=robot")
        #expect(status == 400)
        let (_, unknown) = try await Self.get(server.baseURL, "v1/ledger/search?q=x&sort=price")
        #expect(unknown == 400)
    }

    @Test func aDownloadedChainVerifies() async throws {
        let harness = try NodeHarness()
        let server = try await RunningNodeServer.start(
            LedgerRPCServer(ledger: harness.ledger, port: 0, blockInterval: .milliseconds(20)))
        defer { Task { await server.stop() } }
        let remote = try await RemoteLedger.connect(to: server.baseURL, timeout: 600)
        let local = try ChainVerifier(directory: harness.ledger.directory).verify()
        let downloaded = try await ChainDownload(source: remote, expectedGenesis: harness.ledger.genesis.hash).verify()
        #expect(downloaded.headHash == local.headHash && downloaded.stateRoot == local.stateRoot)
        #expect(downloaded.blocks == local.blocks && downloaded.supply == local.supply)
        await #expect(throws: ChainDownloadError.self) {
            _ = try await ChainDownload(source: remote, expectedGenesis: Hash256.of([1])).verify()
        }
    }

    @Test func aNodeSettlesOnARemoteLedger() async throws {
        let harness = try NodeHarness()
        let server = try await RunningNodeServer.start(
            LedgerRPCServer(ledger: harness.ledger, port: 0, blockInterval: .milliseconds(20)))
        defer { Task { await server.stop() } }
        let remote = try await RemoteLedger.connect(to: server.baseURL, timeout: 600)
        let directory = harness.directory
        let service = NodeService(
            engine: SharedEngine.engine, key: harness.nodeKey, configuration: .init(),
            gate: PaymentGate(
                node: harness.nodeKey, prices: NodeHarness.prices, ledger: remote,
                ledgerURL: server.baseURL.absoluteString),
            settlements: try SettlementQueue(path: directory.appendingPathComponent("remote-settlements.sqlite").path))
        let node = try await RunningNodeServer.start(NodeHTTPServer(service: service, port: 0))
        let client = NodeClient(baseURL: node.baseURL, wallet: harness.agent, maxPerJob: Amount(microUnits: 50_000))
        let result = try await client.chat(
            ChatCompletionRequest(
                messages: [OpenAIMessage(role: "user", content: "Name a color.")], maxTokens: 6, temperature: 0))
        // PAYMENT-RESPONSE says what is true when the answer leaves: accepted, settlement pending, no ledger
        // transaction yet; the receipt, the job id and the ledger to look it up on are in `extensions.agora`.
        let settlement = try #require(result.settlement)
        let agora = try #require(settlement.extensions?.agora)
        #expect(settlement.success && settlement.transaction.isEmpty)
        #expect(settlement.amount == String(result.receipt.amount.microUnits))
        #expect(agora.status == .pending && agora.jobId == result.receipt.jobID && agora.receipt == result.receipt)
        let lookup = try await RemoteLedger.connect(
            to: try #require(agora.ledger.flatMap(URL.init(string:))), timeout: 600)
        #expect(try await lookup.job(agora.jobId) == nil)
        let report = try await service.flushSettlements(to: remote)
        #expect(report.settled == 1 && report.refused.isEmpty)
        #expect(try await lookup.job(agora.jobId)?.amount == result.receipt.amount)
        #expect(try harness.ledger.job(result.receipt.jobID)?.amount == result.receipt.amount)
        #expect(try harness.ledger.job(result.receipt.jobID)?.engineVersion == SharedEngine.engine.engineVersion)
        #expect(try await remote.job(result.receipt.jobID) != nil)
        // Settling the same job again through the RPC is refused with the typed reason (the queue counts it
        // as done).
        let again = try await remote.signAndSubmit(
            .settleJob(voucher: result.voucher!, receipt: result.receipt), by: harness.nodeKey)
        #expect(again.result.verdict == .rejected(.jobAlreadySettled(result.receipt.jobID)))
        // The same payment is refused by the node now that the ledger has the job.
        let payload = X402.PaymentPayload(
            x402Version: X402.version, payload: .init(voucher: result.voucher!), accepted: try #require(result.terms),
            resource: nil)
        let body = try JSONEncoder().encode(
            ChatCompletionRequest(
                messages: [OpenAIMessage(role: "user", content: "Name a color.")], maxTokens: 6, temperature: 0))
        let (status, headers, _) = try await Self.post(
            node.baseURL, "v1/chat/completions", body,
            headers: [X402.paymentSignatureHeader: try X402.encodeHeader(payload)])
        #expect(status == 402)
        let refused = try X402.decodeHeader(X402.PaymentRequired.self, from: try #require(headers["payment-required"]))
        #expect(refused.extensions?.agora?.code == "job_already_paid")
        await node.stop()
        #expect(try harness.ledger.moneyHeld() == (try harness.ledger.totals()).supply.microUnits)
    }

    @Test func anUnreachableLedgerIsATypedError() async throws {
        do {
            _ = try await RemoteLedger.connect(to: URL(string: "http://127.0.0.1:9")!, timeout: 5)
            Issue.record("connected to nothing")
        } catch {
            guard case .unreachable = error else {
                Issue.record("wrong error \(error)")
                return
            }
        }
    }

    static func post(_ base: URL, _ path: String, _ body: Data, headers: [String: String] = [:]) async throws -> (
        Int, [String: String], Data
    ) {
        try await TestHTTP.post(base.appendingPathComponent(path), body: body, headers: headers)
    }

    /// A GET of `path` as written (query string included).
    static func get(_ base: URL, _ path: String) async throws -> (Data, Int) {
        let (data, response) = try await TestHTTP.session.data(from: URL(string: base.absoluteString + "/" + path)!)
        return (data, (response as! HTTPURLResponse).statusCode)
    }
}

/// Counts the reads that reach the ledger behind a `CachingLedger`.
final class CountingLedger: LedgerReader, TransactionSubmitter, @unchecked Sendable {
    let base: EmbeddedLedger
    private let lock = NSLock()
    private var accountReads = 0
    private var jobReads = 0

    init(_ base: EmbeddedLedger) { self.base = base }

    var reads: (accounts: Int, jobs: Int) { lock.withLock { (accountReads, jobReads) } }

    var chainID: String { base.chainID }
    var parameters: ChainParameters { base.parameters }
    func account(_ key: PublicKey) async throws(LedgerAccessError) -> AccountState {
        lock.withLock { accountReads += 1 }
        return try await base.account(key)
    }
    func job(_ id: Hash256) async throws(LedgerAccessError) -> JobRecord? {
        lock.withLock { jobReads += 1 }
        return try await base.job(id)
    }
    func submit(_ transactions: [Transaction], wait: Bool) async throws(LedgerAccessError) -> [SubmissionResult] {
        try await base.submit(transactions, wait: wait)
    }
    func genesis() async throws(LedgerAccessError) -> Genesis { try await base.genesis() }
    func head() async throws(LedgerAccessError) -> SignedBlockHeader { try await base.head() }
    func totals() async throws(LedgerAccessError) -> LedgerTotals { try await base.totals() }
    func node(_ key: PublicKey) async throws(LedgerAccessError) -> NodeRecord? { try await base.node(key) }
    func model(_ hash: Hash256) async throws(LedgerAccessError) -> ModelRecord? { try await base.model(hash) }
    func dataset(_ hash: Hash256) async throws(LedgerAccessError) -> DatasetRecord? { try await base.dataset(hash) }
    func offer(_ id: Hash256) async throws(LedgerAccessError) -> OfferRecord? { try await base.offer(id) }
    func offers(after cursor: String?, limit: Int) async throws(LedgerAccessError) -> LedgerPage<OfferEntry> {
        try await base.offers(after: cursor, limit: limit)
    }
    func challenge(_ jobID: Hash256) async throws(LedgerAccessError) -> ChallengeRecord? {
        try await base.challenge(jobID)
    }
    func transaction(_ id: Hash256) async throws(LedgerAccessError) -> TransactionLocation? {
        try await base.transaction(id)
    }
    func nodes(after cursor: String?, limit: Int) async throws(LedgerAccessError) -> LedgerPage<NodeEntry> {
        try await base.nodes(after: cursor, limit: limit)
    }
    func models(after cursor: String?, limit: Int) async throws(LedgerAccessError) -> LedgerPage<ModelEntry> {
        try await base.models(after: cursor, limit: limit)
    }
    func datasets(after cursor: String?, limit: Int) async throws(LedgerAccessError) -> LedgerPage<DatasetEntry> {
        try await base.datasets(after: cursor, limit: limit)
    }
    func openChallenges(after cursor: String?, limit: Int) async throws(LedgerAccessError) -> LedgerPage<
        ChallengeEntry
    > {
        try await base.openChallenges(after: cursor, limit: limit)
    }
    func blocks(from height: UInt64, count: Int) async throws(LedgerAccessError) -> [BlockEntry] {
        try await base.blocks(from: height, count: count)
    }
    func waitForHead(above height: UInt64, timeout: Duration) async throws(LedgerAccessError) -> SignedBlockHeader {
        try await base.waitForHead(above: height, timeout: timeout)
    }
}

/// `CachingLedger`: the node's hot reads are served from memory within a block and dropped at every new
/// block and after every submission through it.
@Suite struct CachingLedgerTests {
    @Test func readsAreCachedUntilTheNextBlockOrSubmission() async throws {
        let harness = try NodeHarness()
        let counting = CountingLedger(EmbeddedLedger(harness.ledger))
        let cache = try await CachingLedger(counting)
        defer { cache.stop() }
        let agent = harness.agent.publicKey
        let job = Hash256.random()
        let first = try await cache.account(agent)
        #expect(try await cache.job(job) == nil)
        for _ in 0..<5 {
            #expect(try await cache.account(agent) == first)
            #expect(try await cache.job(job) == nil)
        }
        #expect(counting.reads == (1, 1))

        // A block sealed elsewhere (here: directly on the ledger) is seen by the follower; the cache drops.
        let height = harness.ledger.head.header.height
        _ = try harness.ledger.produceBlock([
            Transaction.signed(
                by: harness.agent, chainID: harness.ledger.chainID, nonce: first.nonce + 1,
                body: .deposit(amount: Amount(microUnits: 5)))
        ])
        // The follower runs on the cooperative pool, which the suite's engine tests may starve for a while.
        let deadline = ContinuousClock.now + .seconds(600)
        while cache.height <= height, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(cache.height == height + 1)
        let second = try await cache.account(agent)
        #expect(second.deposit.microUnits == first.deposit.microUnits + 5)
        #expect(counting.reads.accounts == 2)

        // A submission through the cache drops it at once.
        let result = try await cache.signAndSubmit(.deposit(amount: Amount(microUnits: 1)), by: harness.agent)
        #expect(result.result.rejection == nil)
        #expect(try await cache.account(agent).deposit.microUnits == second.deposit.microUnits + 1)
    }
}
