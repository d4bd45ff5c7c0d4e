import AgoraAgents
import AgoraClient
import AgoraCore
import AgoraInference
import AgoraLedger
import AgoraNode
import AgoraWire
import ArgumentParser
import Foundation
import ServiceLifecycle

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
    @Option(
        help: ArgumentHelp(
            "Also serve POST /v1/embeddings with this BERT GGUF ('default': all-MiniLM-L6-v2, converted into the model cache on first use).",
            valueName: "path|default"))
    var embeddings: String?
    @Option(help: "Node key file (created if missing).") var key: String = "node.key"
    @OptionGroup var location: LedgerLocation
    @Option(help: "Directory for the node's own state (pending settlements).") var state: String = "agora-data/node"
    @Option(help: "Address to bind.") var host: String = "127.0.0.1"
    @Option(help: "Port (0 = any free port).") var port: Int = 8080
    @Flag(help: "Serve without payment.") var free = false
    @Option(help: "Price per input token.") var priceIn: String = "1u"
    @Option(help: "Price per output token.") var priceOut: String = "2u"
    @Option(help: "Largest accepted request body, in bytes.") var maxBody: Int = 1 << 20
    @Option(help: "Largest max_tokens accepted.") var maxTokens: Int = 512
    @Option(help: "Jobs that share each forward pass (continuous batching); more wait in the queue.")
    var concurrency: Int = 16
    @Option(
        help:
            "Memory the running jobs' KV caches may hold together (each holds prompt + max_tokens positions), e.g. 512MiB or 4GiB; 'auto' is a quarter of RAM, at most 2 GiB. Jobs that do not fit wait in the queue."
    )
    var kvBudget: String = "auto"
    @Option(help: "Jobs allowed to wait; beyond that the node answers 503 with Retry-After.") var queue: Int = 16
    @Option(help: "Engine threads.") var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(
        help:
            "What a pending settlement survives before the paid answer is sent: 'process' (a crash or kill of the node) or 'power' (also power loss; a disk sync per request)."
    )
    var settlementDurability: String = "process"
    @Option(help: "Chat format instead of the one in the model's metadata: chatml, llama2 or llama3.")
    var chatTemplate: String?
    @Option(help: "Seconds between settlement batches.") var settleEvery: Double = 2
    @Option(help: "On shutdown (SIGTERM/SIGINT), seconds to wait for the ledger to take pending settlements.")
    var shutdownWait: Double = 10
    @Option(
        help:
            "Once listening, stake up to this much and register this node (endpoint, model, prices) on the ledger if it is not already."
    )
    var register: String?
    @Option(help: "Endpoint to register (default: http://HOST:PORT as bound).") var publicURL: String?
    @Option(help: ArgumentHelp("Demos and tests only: answer this fraction of jobs dishonestly.", visibility: .hidden))
    var demoCheatRate: Double = 0

    func run() async throws {
        let keyURL = URL(fileURLWithPath: key)
        if !FileManager.default.fileExists(atPath: keyURL.path) { try KeyFileStore.write(SigningKey(), to: keyURL) }
        let nodeKey = try KeyFileStore.load(keyURL)
        let (modelURL, verifiedHash) = try EngineCommandSupport.model(model)
        printError("loading \(modelURL.lastPathComponent)…")
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        let memoryBudget =
            kvBudget == "auto"
            ? Int(min(ProcessInfo.processInfo.physicalMemory / 4, 2 << 30))
            : try parseByteSize(kvBudget, option: "--kv-budget")
        let engine = try LocalCompletionEngine(
            modelURL: modelURL, threads: threads, maxSequences: concurrency, chatTemplate: chatTemplate,
            verifiedHash: verifiedHash)
        let embeddingEngine: LocalEmbeddingEngine? = try embeddings.map { path in
            let url = try EngineCommandSupport.embeddingModelURL(path)
            printError("loading \(url.lastPathComponent) for /v1/embeddings…")
            return try LocalEmbeddingEngine(modelURL: url, threads: threads)
        }
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)

        let modelEngine: any CompletionEngine =
            demoCheatRate > 0 ? CheatingEngine(honest: engine, cheatRate: demoCheatRate) : engine
        if demoCheatRate > 0 { printError("demo: this node cheats on \(Int(demoCheatRate * 100)) % of jobs") }

        var gate: PaymentGate?
        var settlements: SettlementQueue?
        var chainLedger: (any LedgerAccess)?
        if !free {
            var opened = try await location.submitter()
            if location.isRemote {
                // Deposit and job reads are cached, and dropped at every new block (see `CachingLedger`).
                opened = try await CachingLedger(opened)
                printError("settling on the ledger at \(location.ledger) (chain \(opened.chainID))")
            }
            chainLedger = opened
            gate = PaymentGate(
                node: nodeKey,
                prices: NodePrices(perInputToken: try parseAmount(priceIn), perOutputToken: try parseAmount(priceOut)),
                ledger: opened, ledgerURL: location.isRemote ? location.ledger : nil)
            guard let durability = SettlementQueue.Durability(rawValue: settlementDurability) else {
                throw ValidationError("--settlement-durability must be 'process' or 'power'")
            }
            settlements = try SettlementQueue(
                path: URL(fileURLWithPath: state).appendingPathComponent("settlements.sqlite").path,
                durability: durability)
        }
        let configuration = NodeService.Configuration(
            free: free, limits: RequestLimits(maxTokens: maxTokens), maxBodyBytes: maxBody, concurrency: concurrency,
            memoryBudget: memoryBudget, queueLimit: queue)
        // Restoring pending settlements and the finished-job index reads SQLite: off the cooperative pool.
        let service = try await offCooperativePool { [gate, settlements] in
            NodeService(
                engine: modelEngine, embeddings: embeddingEngine, key: nodeKey, configuration: configuration,
                gate: gate,
                settlements: settlements)
        }
        var services: [any Service] = []
        if let chainLedger {
            services.append(
                SettlementService(
                    node: service, ledger: chainLedger, interval: .milliseconds(Int64(settleEvery * 1_000)),
                    shutdownWait: .milliseconds(Int64(shutdownWait * 1_000))
                ) { report, final in
                    if final {
                        printError(
                            "shutdown: settled \(report.settled) job(s), \(report.refused.count) refused, \(report.stillPending) still pending"
                        )
                    } else {
                        printError("settled \(report.settled) job(s), \(report.refused.count) refused")
                    }
                })
        }
        let registration: NodeRegistrationPlan? =
            if let register, let chainLedger {
                NodeRegistrationPlan(
                    ledger: chainLedger, key: nodeKey, stake: try parseAmount(register), model: engine.modelHash,
                    prices: gate?.prices ?? NodePrices(perInputToken: .zero, perOutputToken: .zero))
            } else { nil }
        let host = host
        let publicURL = publicURL
        let app = NodeHTTPServer(service: service, host: host, port: port).application(services: services) { bound in
            let endpoint = publicURL ?? "http://\(host):\(bound)"
            printError(
                "node \(nodeKey.address) serving \(engine.modelName) (\(engine.modelHash.short)…)"
                    + (embeddingEngine.map { " and \($0.modelName) (\($0.modelHash.short)…) for /v1/embeddings" } ?? "")
                    + " on \(endpoint)" + (free ? " for free" : ""))
            if let registration {
                do {
                    try await registration.apply(endpoint: endpoint)
                } catch {
                    printError("registration failed: \(error)")
                }
            }
        }
        try await app.runService()
    }
}

/// `agora node --register STAKE`: brings the node's stake and registration on the ledger up to date once it
/// listens (so its endpoint is the one it bound). Does nothing that is already so.
struct NodeRegistrationPlan: Sendable {
    let ledger: any LedgerAccess
    let key: SigningKey
    let stake: Amount
    let model: Hash256
    let prices: NodePrices

    func apply(endpoint: String) async throws {
        let account = try await ledger.account(key.publicKey)
        if account.stake < stake {
            let missing = try stake.subtracting(account.stake)
            let (_, result) = try await ledger.signAndSubmit(.stake(amount: missing), by: key)
            if let error = result.rejection { throw ValidationError("stake refused: \(error)") }
        }
        let wanted = NodeRegistration(
            endpoint: endpoint, models: [model], pricePerInputToken: prices.perInputToken,
            pricePerOutputToken: prices.perOutputToken)
        if try await ledger.node(key.publicKey)?.registration != wanted {
            let (_, result) = try await ledger.signAndSubmit(.registerNode(wanted), by: key)
            if let error = result.rejection { throw ValidationError("registration refused: \(error)") }
        }
        printError("registered on the ledger: \(endpoint), stake \(stake)")
    }
}
