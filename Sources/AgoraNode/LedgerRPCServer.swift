import AgoraCore
import AgoraLedger
import AgoraWire
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// Serves an embedded ledger to other processes: queries, and transaction submission through a `Sequencer`
/// that seals a block every `blockInterval` while transactions are queued.
///
/// Submissions are checked at the door (decoding, chain, signature); everything else is the block
/// producer's job, and its verdict reaches a waiting submitter as the transaction's result.
public struct LedgerRPCServer: Sendable {
    /// The embedded ledger, opened with its sequencer key.
    public let ledger: Ledger
    public let sequencer: Sequencer
    public let host: String
    public let port: Int
    public let blockInterval: Duration
    let board = OutcomeBoard()

    public init(
        ledger: Ledger, host: String = "127.0.0.1", port: Int = 8545, blockInterval: Duration = .milliseconds(200)
    ) {
        self.ledger = ledger
        self.sequencer = Sequencer(ledger: ledger)
        self.host = host
        self.port = port
        self.blockInterval = blockInterval
    }

    /// Seals blocks until cancelled.
    func runSealing() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: blockInterval)
            while await sequencer.pendingCount > 0 {
                do {
                    let outcome = try await sequencer.seal(maxTransactions: 10_000)
                    await board.publish(outcome)
                } catch {
                    // A storage failure: the queued batch is lost to this block; its submitters learn why.
                    await board.failAll(error)
                    break
                }
            }
        }
    }

    public func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router()
        let reader = EmbeddedLedger(ledger)
        let ledger = self.ledger
        let server = self
        let genesisHash = ledger.genesis.hash.hex

        router.get("v1/ledger/info") { request, _ in
            try await Self.route(request, allowed: []) { _ async throws(LedgerAccessError) in
                let head = try await reader.head()
                return Self.json(
                    200,
                    LedgerRPC.Info(
                        chainId: ledger.chainID, height: head.header.height, headHash: head.hash.hex,
                        genesisHash: genesisHash, parameters: ledger.parameters))
            }
        }
        router.get("v1/ledger/genesis") { request, _ in
            try await Self.route(request, allowed: []) { _ async throws(LedgerAccessError) in
                Self.json(200, LedgerRPC.GenesisBody(ledger.genesis))
            }
        }
        router.get("v1/ledger/totals") { request, _ in
            try await Self.route(request, allowed: []) { _ async throws(LedgerAccessError) in
                Self.json(200, try await reader.totals())
            }
        }
        router.get("v1/ledger/head") { request, _ in
            try await Self.route(request, allowed: ["after", "wait_ms"]) { query async throws(LedgerAccessError) in
                guard let after = try query.uint64("after") else {
                    guard query.values["wait_ms"] == nil else {
                        throw .badQuery(.badParameter(name: "wait_ms", why: "needs 'after'"))
                    }
                    return Self.json(200, LedgerRPC.HeaderBody(try await reader.head()))
                }
                let waitMilliseconds = try query.uint64("wait_ms") ?? 0
                let maxMilliseconds = UInt64(LedgerLimits.maxWait.components.seconds * 1_000)
                guard waitMilliseconds <= maxMilliseconds else {
                    throw .badQuery(.badParameter(name: "wait_ms", why: "at most \(maxMilliseconds)"))
                }
                // A server shutting down answers its followers at once instead of holding them (and its own
                // graceful shutdown) for the rest of their wait.
                let waited: Result<SignedBlockHeader, LedgerAccessError> =
                    (try? await cancelWhenGracefulShutdown {
                        do throws(LedgerAccessError) {
                            return .success(
                                try await reader.waitForHead(
                                    above: after, timeout: .milliseconds(Int64(waitMilliseconds))))
                        } catch {
                            return .failure(error)
                        }
                    }) ?? .failure(.unreachable("the ledger server is shutting down"))
                return Self.json(200, LedgerRPC.HeaderBody(try waited.get()))
            }
        }
        router.get("v1/ledger/accounts/:address") { request, context in
            let text = context.parameters.get("address") ?? ""
            return try await Self.route(request, allowed: []) { _ async throws(LedgerAccessError) in
                Self.json(200, try await reader.account(try Self.address(text)))
            }
        }
        // One record by key (404 when absent), and one page of a list: the same shape for every kind.
        func record(
            _ path: String, _ what: String,
            _ fetch: @escaping @Sendable (String) async throws(LedgerAccessError) -> (some Encodable)?
        ) {
            router.get(RouterPath(path + "/:key")) { request, context in
                let text = context.parameters.get("key") ?? ""
                return try await Self.route(request, allowed: []) { _ async throws(LedgerAccessError) in
                    Self.record(try await fetch(text), "\(what) \(text)")
                }
            }
        }
        func page<Item: Sendable & Codable>(
            _ path: String,
            _ fetch: @escaping @Sendable (String?, Int) async throws(LedgerAccessError) -> LedgerPage<Item>
        ) {
            router.get(RouterPath(path)) { request, _ in
                try await Self.route(request, allowed: ["after", "limit"]) { query async throws(LedgerAccessError) in
                    Self.json(200, try await fetch(query.values["after"], try query.limit()))
                }
            }
        }
        record("v1/ledger/nodes", "node") { text async throws(LedgerAccessError) in
            try await reader.node(try Self.address(text))
        }
        record("v1/ledger/models", "model") { text async throws(LedgerAccessError) in
            try await reader.model(try Self.hash(text, "model hash"))
        }
        record("v1/ledger/offers", "offer") { text async throws(LedgerAccessError) in
            try await reader.offer(try Self.hash(text, "offer id"))
        }
        record("v1/ledger/datasets", "dataset") { text async throws(LedgerAccessError) in
            try await reader.dataset(try Self.hash(text, "dataset hash"))
        }
        record("v1/ledger/jobs", "job") { text async throws(LedgerAccessError) in
            try await reader.job(try Self.hash(text, "job id"))
        }
        record("v1/ledger/challenges", "challenge of job") { text async throws(LedgerAccessError) in
            try await reader.challenge(try Self.hash(text, "job id"))
        }
        record("v1/ledger/transactions", "transaction") { text async throws(LedgerAccessError) in
            try await reader.transaction(try Self.hash(text, "transaction id")).map(LedgerRPC.TransactionBody.init)
        }
        page("v1/ledger/nodes") { after, limit async throws(LedgerAccessError) in
            try await reader.nodes(after: after, limit: limit)
        }
        page("v1/ledger/models") { after, limit async throws(LedgerAccessError) in
            try await reader.models(after: after, limit: limit)
        }
        page("v1/ledger/offers") { after, limit async throws(LedgerAccessError) in
            try await reader.offers(after: after, limit: limit)
        }
        page("v1/ledger/datasets") { after, limit async throws(LedgerAccessError) in
            try await reader.datasets(after: after, limit: limit)
        }
        page("v1/ledger/challenges") { after, limit async throws(LedgerAccessError) in
            try await reader.openChallenges(after: after, limit: limit)
        }
        router.get("v1/ledger/search") { request, _ in
            try await Self.route(
                request, allowed: ["q", "kind", "maxPrice", "minBond", "minJobs", "maxChallengesLost", "limit"]
            ) { query async throws(LedgerAccessError) in
                let filters: MarketSearch.Filters
                switch MarketSearch.filters(query.values) {
                case .success(let parsed): filters = parsed
                case .failure(let error): throw .badQuery(error)
                }
                let results = try await MarketSearch.search(query.values["q"] ?? "", filters: filters, on: reader)
                return Self.json(200, LedgerRPC.SearchBody(results: results))
            }
        }
        router.get("v1/ledger/blocks") { request, _ in
            try await Self.route(request, allowed: ["from", "count"]) { query async throws(LedgerAccessError) in
                guard let from = try query.uint64("from") else {
                    throw .badQuery(.badParameter(name: "from", why: "required"))
                }
                let count = Int(try query.uint64("count") ?? UInt64(LedgerLimits.maxBlocksPerQuery))
                guard count >= 1, count <= LedgerLimits.maxBlocksPerQuery else {
                    throw .badQuery(.rangeTooLarge(requested: count, max: LedgerLimits.maxBlocksPerQuery))
                }
                let entries = try await reader.blocks(from: from, count: count)
                return Self.json(200, LedgerRPC.BlocksBody(blocks: entries.map(LedgerRPC.BlockBody.init)))
            }
        }
        router.post("v1/ledger/transactions") { request, _ in
            var request = request
            let body: ByteBuffer
            do { body = try await request.collectBody(upTo: LedgerRPC.maxBodyBytes + 1) } catch {
                return Self.error(413, "request body exceeds \(LedgerRPC.maxBodyBytes) bytes")
            }
            guard body.readableBytes <= LedgerRPC.maxBodyBytes else {
                return Self.error(413, "request body exceeds \(LedgerRPC.maxBodyBytes) bytes")
            }
            let submission: LedgerRPC.Submission
            do {
                submission = try JSONDecoder().decode(LedgerRPC.Submission.self, from: Data(body.readableBytesView))
            } catch {
                return Self.error(
                    400, "malformed submission", reason: .badParameter(name: "body", why: "\(error)".prefixed(300)))
            }
            guard submission.transactions.count <= LedgerRPC.maxBatch else {
                return Self.error(
                    400, "too many transactions",
                    reason: .rangeTooLarge(requested: submission.transactions.count, max: LedgerRPC.maxBatch))
            }
            return Self.json(200, await server.submit(submission))
        }

        var logger = Logger(label: "agora.ledger.rpc")
        logger.logLevel = .warning
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "agora-ledger"),
            services: [SealingService(server: self)],
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) }, logger: logger)
    }

    /// Decodes and submits each transaction in order; with `wait`, collects every verdict.
    func submit(_ submission: LedgerRPC.Submission) async -> [SubmissionResult] {
        let wait = submission.wait ?? false
        var results: [SubmissionResult] = []
        var waiting: [(index: Int, id: Hash256)] = []
        for encoded in submission.transactions {
            guard let bytes = Data(base64Encoded: encoded) else {
                results.append(SubmissionResult(id: nil, verdict: .rejected(.malformed("not base64"))))
                continue
            }
            let transaction: Transaction
            do { transaction = try Transaction.decode([UInt8](bytes)) } catch {
                results.append(SubmissionResult(id: nil, verdict: .rejected(.malformed("\(error)"))))
                continue
            }
            let id = transaction.id
            // One waiter per transaction id: a second copy while the first is pending is refused here (it
            // could only fail on its nonce anyway).
            if wait, !(await board.expect(id)) {
                results.append(SubmissionResult(id: id, verdict: .rejected(.alreadyPending)))
                continue
            }
            do {
                try await sequencer.submit(transaction)
                results.append(SubmissionResult(id: id, verdict: .queued))
                if wait { waiting.append((results.count - 1, id)) }
            } catch {
                if wait { await board.forget(id) }
                results.append(SubmissionResult(id: id, verdict: .rejected(error)))
            }
        }
        for (index, id) in waiting { results[index] = await board.outcome(of: id) }
        return results
    }

    /// Runs a GET handler: checks the query's parameter names, then maps the access protocol's typed errors to
    /// statuses (400 with the typed reason for a bad query, 503 when the ledger failed).
    static func route(
        _ request: Request, allowed: Set<String>,
        _ body: (QueryParameters) async throws(LedgerAccessError) -> Response
    ) async throws -> Response {
        do throws(LedgerAccessError) {
            let query = try QueryParameters(request, allowed: allowed)
            return try await body(query)
        } catch {
            switch error {
            case .badQuery(let reason): return Self.error(400, reason.description, reason: reason)
            default: return Self.error(503, error.description)
            }
        }
    }

    static func record(_ value: (some Encodable)?, _ what: String) -> Response {
        guard let value else { return error(404, "\(what) is not on the ledger") }
        return json(200, value)
    }

    static func address(_ text: String) throws(LedgerAccessError) -> PublicKey {
        guard let address = try? Address(parsing: text) else {
            throw .badQuery(.badParameter(name: "address", why: "not an agora address"))
        }
        return address.publicKey
    }

    static func hash(_ text: String, _ what: String) throws(LedgerAccessError) -> Hash256 {
        guard let hash = Hash256(hex: text) else {
            throw .badQuery(.badParameter(name: what, why: "64 hex digits expected"))
        }
        return hash
    }

    static func json(_ status: Int, _ value: some Encodable) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = (try? encoder.encode(value)) ?? Data("{}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(
            status: .init(code: status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func error(_ status: Int, _ message: String, reason: LedgerQueryError? = nil) -> Response {
        json(status, LedgerRPC.ErrorBody(error: message, reason: reason))
    }
}

/// Runs the sealing loop for as long as the server runs.
struct SealingService: Service {
    let server: LedgerRPCServer

    func run() async throws {
        // Graceful shutdown cancels the loop between blocks; a block being sealed completes first.
        try await cancelWhenGracefulShutdown { await server.runSealing() }
    }
}

/// The query string of a GET, checked against the names a route accepts: an unknown or repeated parameter
/// is refused, never ignored.
struct QueryParameters {
    var values: [String: String] = [:]

    init(_ request: Request, allowed: Set<String>) throws(LedgerAccessError) {
        for (name, value) in request.uri.queryParameters {
            let key = String(name)
            guard allowed.contains(key) else { throw .badQuery(.unknownParameter(key.prefixed(64))) }
            guard values[key] == nil else { throw .badQuery(.badParameter(name: key, why: "given twice")) }
            values[key] = String(value)
        }
    }

    func uint64(_ name: String) throws(LedgerAccessError) -> UInt64? {
        guard let text = values[name] else { return nil }
        guard let value = UInt64(text) else {
            throw .badQuery(.badParameter(name: name, why: "not a non-negative integer"))
        }
        return value
    }

    func limit() throws(LedgerAccessError) -> Int {
        guard let text = values["limit"] else { return LedgerLimits.defaultPageSize }
        guard let value = Int(text), (1...LedgerLimits.maxPageSize).contains(value) else {
            throw .badQuery(.badLimit(requested: Int(text) ?? -1, max: LedgerLimits.maxPageSize))
        }
        return value
    }
}

extension String {
    /// At most `count` characters: error messages never echo a whole hostile input.
    func prefixed(_ count: Int) -> String { String(prefix(count)) }
}

/// Where submitters wait for the verdict on their transactions.
actor OutcomeBoard {
    private var expected: Set<Hash256> = []
    private var done: [Hash256: SubmissionResult] = [:]
    private var waiting: [Hash256: CheckedContinuation<SubmissionResult, Never>] = [:]

    /// Registers interest before submitting, so a block sealed in between is not missed; false when the id
    /// is already awaited.
    func expect(_ id: Hash256) -> Bool { expected.insert(id).inserted }

    func forget(_ id: Hash256) { expected.remove(id) }

    func outcome(of id: Hash256) async -> SubmissionResult {
        if let result = done.removeValue(forKey: id) { return result }
        return await withCheckedContinuation { waiting[id] = $0 }
    }

    func publish(_ outcome: BlockOutcome) {
        let height = outcome.block?.header.height ?? 0
        for id in outcome.accepted { deliver(id, SubmissionResult(id: id, verdict: .accepted(height: height))) }
        for (id, error) in outcome.rejected { deliver(id, SubmissionResult(id: id, verdict: .rejected(error))) }
    }

    func failAll(_ reason: LedgerError) {
        for id in expected where done[id] == nil {
            deliver(id, SubmissionResult(id: id, verdict: .rejected(.storage(reason.description))))
        }
    }

    private func deliver(_ id: Hash256, _ result: SubmissionResult) {
        guard expected.remove(id) != nil else { return }
        if let continuation = waiting.removeValue(forKey: id) {
            continuation.resume(returning: result)
        } else {
            done[id] = result
        }
    }
}
