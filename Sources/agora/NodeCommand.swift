import AgoraCore
import AgoraInference
import AgoraLedger
import AgoraNode
import ArgumentParser
import Foundation

/// `agora node`: serve a model over HTTP, paid per request.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Serve a GGUF model with OpenAI-compatible endpoints, paid per request with signed vouchers.",
        discussion: """
            Endpoints: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health, GET /metrics.
            Without --free, requests without payment get 402 with x402 v2 terms (PAYMENT-REQUIRED); paid answers \
            carry a signed receipt. Settlements are kept on disk until the ledger has them.
            """)

    @Option(help: "GGUF model file (default: the bundled default model, fetched on first use).") var model: String?
    @Option(help: "Node key file (created if missing).") var key: String = "node.key"
    @Option(
        help:
            "The ledger this node checks deposits on and settles to: a data directory (embedded) or the URL of `agora ledger serve`."
    )
    var ledger: String = "agora-data/ledger"
    @Option(help: "Directory for the node's own state (pending settlements).") var state: String = "agora-data/node"
    @Option(help: "Address to bind.") var host: String = "127.0.0.1"
    @Option(help: "Port (0 = any free port).") var port: Int = 8080
    @Flag(help: "Serve without payment.") var free = false
    @Option(help: "Price per input token.") var priceIn: String = "1u"
    @Option(help: "Price per output token.") var priceOut: String = "2u"
    @Option(help: "Largest accepted request body, in bytes.") var maxBody: Int = 1 << 20
    @Option(help: "Largest max_tokens accepted.") var maxTokens: Int = 512
    @Option(help: "Jobs run at once.") var concurrency: Int = 1
    @Option(help: "Jobs allowed to wait; beyond that the node answers 503.") var queue: Int = 16
    @Option(help: "Engine threads.") var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(
        help:
            "What a pending settlement survives before the paid answer is sent: 'process' (a crash or kill of the node) or 'power' (also power loss; a disk sync per request)."
    )
    var settlementDurability: String = "process"
    @Option(help: "Chat format instead of the one in the model's metadata: chatml, llama2 or llama3.")
    var chatTemplate: String?
    @Option(help: "Seconds between settlement batches.") var settleEvery: Double = 2

    func run() async throws {
        let keyURL = URL(fileURLWithPath: key)
        if !FileManager.default.fileExists(atPath: keyURL.path) { try KeyFileStore.write(SigningKey(), to: keyURL) }
        let nodeKey = try KeyFileStore.load(keyURL)
        let modelURL = try EngineCommandSupport.modelURL(model)
        printError("loading \(modelURL.lastPathComponent)…")
        let engine = try LocalCompletionEngine(modelURL: modelURL, threads: threads, chatTemplate: chatTemplate)
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)

        var gate: PaymentGate?
        var settlements: SettlementQueue?
        var chainLedger: (any PaymentLedger & SettlementLedger)?
        if !free {
            let opened: any PaymentLedger & SettlementLedger
            if ledger.hasPrefix("http://") || ledger.hasPrefix("https://") {
                guard let url = URL(string: ledger) else { throw ValidationError("--ledger is not a URL") }
                opened = try RemoteLedger(baseURL: url)
                printError("settling on the ledger at \(url) (chain \(opened.chainID))")
            } else {
                opened = try Ledger.open(at: URL(fileURLWithPath: ledger))
            }
            chainLedger = opened
            gate = PaymentGate(
                node: nodeKey,
                prices: NodePrices(perInputToken: try parseAmount(priceIn), perOutputToken: try parseAmount(priceOut)),
                ledger: opened)
            guard let durability = SettlementQueue.Durability(rawValue: settlementDurability) else {
                throw ValidationError("--settlement-durability must be 'process' or 'power'")
            }
            settlements = try SettlementQueue(
                path: URL(fileURLWithPath: state).appendingPathComponent("settlements.sqlite").path,
                durability: durability)
        }
        let service = NodeService(
            engine: engine, key: nodeKey,
            configuration: .init(
                free: free, limits: RequestLimits(maxTokens: maxTokens), maxBodyBytes: maxBody,
                concurrency: concurrency,
                queueLimit: queue),
            gate: gate, settlements: settlements)
        if let chainLedger {
            let interval = settleEvery
            Task.detached {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(interval))
                    // Settling blocks on SQLite or on the remote ledger: off the cooperative pool.
                    if let report = try? await offCooperativePool({ try service.flushSettlements(to: chainLedger) }),
                        report.settled + report.refused.count > 0
                    {
                        printError("settled \(report.settled) job(s), \(report.refused.count) refused")
                    }
                }
            }
        }
        let app = NodeHTTPServer(service: service, host: host, port: port).application { bound in
            printError(
                "node \(nodeKey.address) serving \(engine.modelName) (\(engine.modelHash.short)…) on http://\(host):\(bound)"
                    + (free ? " for free" : ""))
        }
        try await app.runService()
    }
}
