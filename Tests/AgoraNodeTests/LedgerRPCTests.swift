import AgoraCore
import AgoraLedger
import AgoraNode
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The ledger in another process: `agora ledger serve`'s server on loopback, reached with `RemoteLedger`,
/// and a node that checks deposits and settles through it.
@Suite(.serialized) struct LedgerRPCTests {
    /// Blocking remote calls run off the cooperative pool (the server's handlers need it).
    static func remote<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await offCooperativePool(body)
    }

    @Test func queriesAndSubmissionsThroughTheRPC() async throws {
        let harness = try NodeHarness()
        let server = try await RunningNodeServer.start(
            LedgerRPCServer(ledger: harness.ledger, port: 0, blockInterval: .milliseconds(20)))
        defer { Task { await server.stop() } }
        let remote = try await Self.remote { try RemoteLedger(baseURL: server.baseURL) }
        #expect(remote.chainID == harness.ledger.chainID)
        #expect(remote.parameters == harness.ledger.parameters)
        let agent = harness.agent
        #expect(
            try await Self.remote { try remote.account(agent.publicKey) } == harness.ledger.account(agent.publicKey))
        #expect(try await Self.remote { try remote.deposit(of: agent.publicKey) } == Amount(microUnits: 100_000))
        #expect(try await Self.remote { try remote.job(Hash256.random()) } == nil)

        let recipient = SigningKey(deterministicLabel: "rpc-recipient")
        let good = Transaction.signed(
            by: agent, chainID: remote.chainID, nonce: 2,
            body: .transfer(to: recipient.publicKey, amount: Amount(microUnits: 7)))
        var forged = Transaction.signed(
            by: agent, chainID: remote.chainID, nonce: 3,
            body: .transfer(to: recipient.publicKey, amount: Amount(microUnits: 7)))
        forged.signature = recipient.sign(forged.signingBytes)
        let batch = [good, forged, good]
        let results = try await Self.remote { try remote.submit(batch, wait: true) }
        #expect(results[0].status == .accepted && results[0].height != nil)
        #expect(results[1].status == .rejected && results[1].error?.contains("signature") == true)
        // A second copy while the first is pending is refused at the door.
        #expect(results[2].status == .rejected && results[2].error?.contains("already submitted") == true)
        // Replayed later, it passes the door (valid signature) and the block producer refuses its nonce.
        let replay = try await Self.remote { try remote.submit([good], wait: true) }
        #expect(replay[0].status == .rejected && replay[0].error?.contains("nonce") == true)
        #expect(try harness.ledger.account(recipient.publicKey).balance == Amount(microUnits: 7))
        #expect(try harness.ledger.moneyHeld() == (try harness.ledger.totals()).supply.microUnits)

        // Bad input: malformed JSON, a body that is not a transaction, an unknown account format.
        let (status, _, _) = try await Self.post(server.baseURL, "v1/ledger/transactions", Data("{nope".utf8))
        #expect(status == 400)
        let junk = try await Self.remote {
            try remote.submit([], wait: true)
        }
        #expect(junk.isEmpty)
        let (junkStatus, _, junkBody) = try await Self.post(
            server.baseURL, "v1/ledger/transactions", Data(#"{"transactions":["AAEC","%%%"],"wait":true}"#.utf8))
        #expect(junkStatus == 200)
        let decoded = try JSONDecoder().decode([LedgerRPC.SubmissionResult].self, from: junkBody)
        #expect(decoded.map(\.status) == [.rejected, .rejected])
        let (big, _, _) = try await Self.post(
            server.baseURL, "v1/ledger/transactions", Data(repeating: 0x20, count: LedgerRPC.maxBodyBytes + 10))
        #expect(big == 413)
        let (_, badAddress) = try await Self.get(server.baseURL, "v1/ledger/accounts/agr1nothing")
        #expect(badAddress == 400)
    }

    @Test func aNodeSettlesOnARemoteLedger() async throws {
        let harness = try NodeHarness()
        let server = try await RunningNodeServer.start(
            LedgerRPCServer(ledger: harness.ledger, port: 0, blockInterval: .milliseconds(20)))
        defer { Task { await server.stop() } }
        let remote = try await Self.remote { try RemoteLedger(baseURL: server.baseURL) }
        let directory = harness.directory
        let service = NodeService(
            engine: SharedEngine.engine, key: harness.nodeKey, configuration: .init(),
            gate: PaymentGate(node: harness.nodeKey, prices: NodeHarness.prices, ledger: remote),
            settlements: try SettlementQueue(path: directory.appendingPathComponent("remote-settlements.sqlite").path))
        let node = try await RunningNodeServer.start(NodeHTTPServer(service: service, port: 0))
        let client = NodeClient(baseURL: node.baseURL, wallet: harness.agent, maxPerJob: Amount(microUnits: 50_000))
        let result = try await client.chat(
            ChatCompletionRequest(
                messages: [OpenAIMessage(role: "user", content: "Name a color.")], maxTokens: 6, temperature: 0))
        let report = try await Self.remote { try service.flushSettlements(to: remote) }
        #expect(report.settled == 1 && report.refused.isEmpty)
        #expect(try harness.ledger.job(result.receipt.jobID)?.amount == result.receipt.amount)
        #expect(try await Self.remote { try remote.isSettled(job: result.receipt.jobID) })
        // Settling the same job again through the RPC counts as done, not refused.
        let again = try await Self.remote {
            try remote.settle(
                [PendingSettlement(voucher: result.voucher!, receipt: result.receipt)], signedBy: harness.nodeKey)
        }
        #expect(again[result.receipt.jobID] == .settled)
        // The same voucher is refused by the node now that the ledger has the job.
        let payload = X402.PaymentPayload(
            x402Version: X402.version, payload: .init(voucher: result.voucher!),
            accepted: .init(
                scheme: X402.scheme, network: X402.network(chainID: remote.chainID), asset: X402.asset, amount: "0",
                payTo: harness.nodeKey.address.description, maxTimeoutSeconds: 60,
                extra: .init(
                    jobId: result.voucher!.jobID, modelHash: result.voucher!.modelHash,
                    inputHash: result.voucher!.inputHash, seed: 0, chainId: remote.chainID,
                    pricePerInputToken: .zero, pricePerOutputToken: .zero, promptTokens: 0, maxOutputTokens: 6,
                    expiry: result.voucher!.expiry)), resource: nil)
        let body = try JSONEncoder().encode(
            ChatCompletionRequest(
                messages: [OpenAIMessage(role: "user", content: "Name a color.")], maxTokens: 6, temperature: 0))
        let (status, _, _) = try await Self.post(
            node.baseURL, "v1/chat/completions", body,
            headers: [X402.paymentSignatureHeader: try X402.encodeHeader(payload)])
        #expect(status == 402)
        await node.stop()
        #expect(try harness.ledger.moneyHeld() == (try harness.ledger.totals()).supply.microUnits)
    }

    @Test func anUnreachableLedgerIsATypedError() async throws {
        await #expect(throws: RemoteLedgerError.self) {
            try await Self.remote { try RemoteLedger(baseURL: URL(string: "http://127.0.0.1:9")!, timeout: 5) }
        }
    }

    static func post(_ base: URL, _ path: String, _ body: Data, headers: [String: String] = [:]) async throws -> (
        Int, [String: String], Data
    ) {
        var request = URLRequest(url: base.appendingPathComponent(path))
        request.httpMethod = "POST"
        request.httpBody = body
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as! HTTPURLResponse).statusCode, [:], data)
    }

    static func get(_ base: URL, _ path: String) async throws -> (Data, Int) {
        let (data, response) = try await URLSession.shared.data(from: base.appendingPathComponent(path))
        return (data, (response as! HTTPURLResponse).statusCode)
    }
}
