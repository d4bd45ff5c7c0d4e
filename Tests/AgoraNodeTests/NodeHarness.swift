import AgoraClient
import AgoraCore
import AgoraInference
import AgoraLedger
import AgoraNode
import AgoraWire
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The default model, loaded once for all node tests (memory-mapped, shared).
enum SharedEngine {
    static let engine: LocalCompletionEngine = {
        do {
            let url = try ModelStore().modelURL(.smolLM2)
            return try LocalCompletionEngine(modelURL: url, threads: 2)
        } catch {
            fatalError("the default model could not be loaded for the node tests: \(error)")
        }
    }()
}

/// The embedding model (all-MiniLM-L6-v2, converted into the model cache by `bash .ci/run`), loaded once; nil
/// when the file is missing (the tests that need it then report a skip).
enum SharedEmbeddingEngine {
    static let engine: LocalEmbeddingEngine? = {
        let url = ModelStore().directory.appendingPathComponent("all-MiniLM-L6-v2.gguf")
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        do { return try LocalEmbeddingEngine(modelURL: url, threads: 2) } catch {
            fatalError("the embedding model could not be loaded: \(error)")
        }
    }()
}

/// The tests' HTTP client. Not `URLSession.shared`: its 60 s request timeout and six connections per host
/// fail a test whose server is merely slow while the suite's compute-bound tests hold both cores.
enum TestHTTP {
    static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 600
        configuration.httpMaximumConnectionsPerHost = 64
        return URLSession(configuration: configuration)
    }()

    /// A JSON POST; the status, the headers (names lowercased) and the body.
    static func post(_ url: URL, body: Data, headers: [String: String] = [:]) async throws -> (
        Int, [String: String], Data
    ) {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.httpBody = body
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await session.data(for: request)
        let http = response as! HTTPURLResponse
        var fields: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String { fields[name.lowercased()] = value }
        }
        return (http.statusCode, fields, data)
    }
}

/// A running node on a loopback port, with a real ledger in a temporary directory.
final class NodeHarness: @unchecked Sendable {
    let ledger: Ledger
    let nodeKey = SigningKey(deterministicLabel: "harness-node")
    let agent = SigningKey(deterministicLabel: "harness-agent")
    let sequencer = SigningKey(deterministicLabel: "harness-sequencer")
    let directory: URL
    private(set) var service: NodeService!
    private(set) var port = 0
    private var server: RunningNodeServer?

    static let prices = NodePrices(perInputToken: Amount(microUnits: 1), perOutputToken: Amount(microUnits: 3))

    init(deposit: UInt64 = 100_000) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("agora-node-\(UUID().uuidString)")
        let genesis = Genesis(
            parameters: ChainParameters(chainID: "agora-node-test", referee: sequencer.publicKey),
            sequencer: sequencer.publicKey, timestamp: UInt64(Date().timeIntervalSince1970 * 1000),
            allocations: [
                Allocation(account: agent.publicKey, amount: Amount(microUnits: 10_000_000)),
                Allocation(account: nodeKey.publicKey, amount: Amount(microUnits: 1_000_000)),
            ])
        ledger = try Ledger.create(
            at: directory.appendingPathComponent("ledger"), genesis: genesis, sequencerKey: sequencer)
        if deposit > 0 {
            let outcome = try ledger.produceBlock([
                Transaction.signed(
                    by: agent, chainID: genesis.chainID, nonce: 1, body: .deposit(amount: Amount(microUnits: deposit)))
            ])
            precondition(outcome.rejected.isEmpty)
        }
    }

    /// Starts (or restarts) the node; the settlement queue persists across restarts.
    func start(
        free: Bool = false, configuration: NodeService.Configuration = .init(),
        embeddings: (any CompletionEngine)? = nil
    ) async throws {
        var configuration = configuration
        configuration.free = free
        let gate = PaymentGate(node: nodeKey, prices: Self.prices, ledger: EmbeddedLedger(ledger))
        let queue = try SettlementQueue(path: directory.appendingPathComponent("settlements.sqlite").path)
        service = NodeService(
            engine: SharedEngine.engine, embeddings: embeddings, key: nodeKey, configuration: configuration, gate: gate,
            settlements: queue)
        let running = try await RunningNodeServer.start(NodeHTTPServer(service: service, host: "127.0.0.1", port: 0))
        server = running
        port = running.port
    }

    func stop() async {
        await server?.stop()
        server = nil
    }

    var baseURL: URL { URL(string: "http://127.0.0.1:\(port)")! }

    /// A raw HTTP call, for the tests that send bad input on purpose.
    func post(_ path: String, body: Data, headers: [String: String] = [:]) async throws -> (Int, [String: String], Data)
    {
        try await TestHTTP.post(baseURL.appendingPathComponent(path), body: body, headers: headers)
    }

    /// The terms of a 402 for `body` (asserting that a 402 is what comes back).
    func terms(for body: Data, path: String = "v1/chat/completions") async throws -> X402.PaymentRequirements {
        let (status, headers, _) = try await post(path, body: body)
        guard status == 402, let header = headers["payment-required"],
            let offer = try X402.decodeHeader(X402.PaymentRequired.self, from: header).accepts.first
        else { throw HarnessError("expected a 402 with terms, got \(status)") }
        return offer
    }

    /// The voucher that pays `offer` as issued, signed by the harness's agent.
    func voucher(paying offer: X402.PaymentRequirements) -> Voucher {
        Voucher(
            chainID: offer.extra.chainId, payer: agent.publicKey, payee: nodeKey.publicKey, jobID: offer.extra.jobId,
            modelHash: offer.extra.modelHash, inputHash: offer.extra.inputHash,
            maxAmount: Amount(microUnits: UInt64(offer.amount)!), expiry: offer.extra.expiry
        ).signed(by: agent)
    }

    /// Posts `body` with a `PAYMENT-SIGNATURE` carrying `voucher` and `accepted`.
    func pay(
        _ body: Data, voucher: Voucher, accepted: X402.PaymentRequirements, path: String = "v1/chat/completions"
    ) async throws -> (Int, [String: String], Data) {
        let payload = X402.PaymentPayload(x402Version: 2, payload: .init(voucher: voucher), accepted: accepted)
        return try await post(path, body: body, headers: [X402.paymentSignatureHeader: try X402.encodeHeader(payload)])
    }

    struct HarnessError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// A counter or gauge from the node's `/metrics` text (0 when absent).
    func metric(_ name: String) async throws -> Double {
        let (_, data) = try await get("metrics")
        let line = String(decoding: data, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
    }

    func get(_ path: String) async throws -> (Int, Data) {
        let (data, response) = try await TestHTTP.session.data(from: baseURL.appendingPathComponent(path))
        return ((response as! HTTPURLResponse).statusCode, data)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }
}
