import AgoraClient
import AgoraCore
import AgoraInference
import AgoraLedger
import AgoraNode
import AgoraWire
import ArgumentParser
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `agora bench node`: what paying per request costs, measured against the same node serving for free.
struct BenchNodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Requests/s and p50/p99 latency of a short completion, free vs paid, and the payment overhead.")

    @Option(help: "GGUF model (default: the default model).") var model: String?
    @Option(help: "Requests per mode.") var requests: Int = 20
    @Option(help: "Tokens generated per request.") var tokens: Int = 32
    @Option(help: "One-token requests per mode for measuring the payment overhead (its own, quieter phase).")
    var overheadRequests: Int = 200
    @Option(help: "Engine threads.") var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Flag(
        help:
            "Put the ledger behind its RPC (`agora ledger serve`'s server on loopback): the node checks vouchers and settles over HTTP, as on another machine."
    )
    var ledgerRPC = false
    @OptionGroup var format: OutputFormat

    struct ModeResult: Encodable {
        var mode: String
        var requestsPerSecond: Double
        var p50Milliseconds: Double
        var p99Milliseconds: Double
    }

    struct Report: Encodable {
        /// `embedded` (the node opens the ledger folder) or `rpc` (over HTTP).
        var ledger: String
        var tokensPerRequest: Int
        var free: ModeResult
        var paid: ModeResult
        /// Median over interleaved pairs of (paid − free) time of one-token requests (short jobs, so the
        /// difference is not lost in the noise of 500 ms generations).
        var overheadMilliseconds: Double
        var overheadMeanMilliseconds: Double
        var overheadRequests: Int
        /// The overhead relative to the median free `tokensPerRequest` job.
        var overheadPercent: Double
        var settledJobs: Int
    }

    func run() async throws {
        let engine = try EngineCommandSupport.completionEngine(model, threads: threads)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "agora-bench-node-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let sequencer = SigningKey(deterministicLabel: "bench-node-sequencer")
        let agent = SigningKey(deterministicLabel: "bench-node-agent")
        let nodeKey = SigningKey(deterministicLabel: "bench-node")
        let genesis = Genesis(
            parameters: ChainParameters(chainID: "agora-bench-node", referee: sequencer.publicKey),
            sequencer: sequencer.publicKey, timestamp: UInt64(Date().timeIntervalSince1970 * 1000),
            allocations: [Allocation(account: agent.publicKey, amount: Amount(microUnits: 1_000_000_000))])
        let ledger = try Ledger.create(
            at: directory.appendingPathComponent("ledger"), genesis: genesis, sequencerKey: sequencer)
        _ = try ledger.produceBlock([
            Transaction.signed(
                by: agent, chainID: genesis.chainID, nonce: 1, body: .deposit(amount: Amount(microUnits: 500_000_000)))
        ])
        var ledgerServer: RunningNodeServer?
        let access: any LedgerAccess
        if ledgerRPC {
            let server = try await RunningNodeServer.start(
                LedgerRPCServer(ledger: ledger, port: 0, blockInterval: .milliseconds(20)))
            ledgerServer = server
            // As `agora node --ledger URL` does: deposit reads cached until the next block.
            access = try await CachingLedger(try await RemoteLedger.connect(to: server.baseURL))
        } else {
            access = EmbeddedLedger(ledger)
        }
        let gate = PaymentGate(
            node: nodeKey,
            prices: NodePrices(perInputToken: Amount(microUnits: 1), perOutputToken: Amount(microUnits: 2)),
            ledger: access)
        let service = NodeService(
            engine: engine, key: nodeKey, configuration: .init(limits: RequestLimits(maxTokens: max(tokens, 1))),
            gate: gate,
            settlements: try SettlementQueue(path: directory.appendingPathComponent("settlements.sqlite").path))
        let freeService = NodeService(
            engine: engine, key: nodeKey,
            configuration: .init(free: true, limits: RequestLimits(maxTokens: max(tokens, 1))),
            gate: nil, settlements: nil)

        let paidServer = try await RunningNodeServer.start(NodeHTTPServer(service: service, port: 0))
        let freeServer = try await RunningNodeServer.start(NodeHTTPServer(service: freeService, port: 0))
        let paidPort = paidServer.port
        let freePort = freeServer.port
        let request = ChatCompletionRequest(
            messages: [OpenAIMessage(role: "user", content: "Write a short poem about the sea.")], maxTokens: tokens,
            temperature: 0)
        let body = try JSONEncoder().encode(request)
        let client = NodeClient(
            baseURL: URL(string: "http://127.0.0.1:\(paidPort)")!, wallet: agent,
            maxPerJob: Amount(microUnits: 1_000_000))

        printError("warming up…")
        _ = try await postFree(port: freePort, body: body)
        _ = try await client.chat(request)
        var freeTimes: [Double] = []
        var paidTimes: [Double] = []
        // Interleaved, so both modes see the same machine conditions.
        for index in 0..<requests {
            let start = Date()
            _ = try await postFree(port: freePort, body: body)
            freeTimes.append(Date().timeIntervalSince(start))
            let paidStart = Date()
            _ = try await client.chat(request)
            paidTimes.append(Date().timeIntervalSince(paidStart))
            printError("request \(index + 1)/\(requests)")
        }
        // The overhead, measured on one-token jobs where it is not drowned by the generation's own variance.
        let short = ChatCompletionRequest(
            messages: request.messages, maxTokens: 1, temperature: 0, topP: request.topP, topK: request.topK)
        let shortBody = try JSONEncoder().encode(short)
        var shortFree: [Double] = []
        var shortPaid: [Double] = []
        for index in 0..<max(overheadRequests, 1) {
            let start = Date()
            _ = try await postFree(port: freePort, body: shortBody)
            shortFree.append(Date().timeIntervalSince(start) * 1000)
            let paidStart = Date()
            _ = try await client.chat(short)
            shortPaid.append(Date().timeIntervalSince(paidStart) * 1000)
            if (index + 1) % 50 == 0 { printError("one-token request \(index + 1)/\(overheadRequests)") }
        }
        let report = try await service.flushSettlements(to: access)
        await ledgerServer?.stop()
        await paidServer.stop()
        await freeServer.stop()
        let free = summarize("free", freeTimes)
        let paid = summarize("paid", paidTimes)
        // Each paid request runs right after a free one: the median of the pairwise differences cancels the
        // machine's drift, which is larger than the overhead itself on a shared machine.
        let overhead = median(zip(shortPaid, shortFree).map { $0 - $1 }) ?? 0
        let meanOverhead = (shortPaid.reduce(0, +) - shortFree.reduce(0, +)) / Double(shortPaid.count)
        let result = Report(
            ledger: ledgerRPC ? "rpc" : "embedded", tokensPerRequest: tokens, free: free, paid: paid,
            overheadMilliseconds: overhead,
            overheadMeanMilliseconds: meanOverhead, overheadRequests: shortPaid.count,
            overheadPercent: overhead / free.p50Milliseconds * 100, settledJobs: report.settled)
        if format.json {
            try printJSON(result)
            return
        }
        var table = TextTable(header: ["mode", "requests/s", "p50 ms", "p99 ms"])
        for mode in [free, paid] {
            table.rows.append([
                mode.mode, String(format: "%.2f", mode.requestsPerSecond), String(format: "%.1f", mode.p50Milliseconds),
                String(format: "%.1f", mode.p99Milliseconds),
            ])
        }
        print(table.render())
        print(
            String(
                format:
                    "payment overhead per request: %.2f ms (median of paired differences), %.2f ms mean, over %d one-token requests per mode "
                    + "(%.2f %% of a %d-token job); %d jobs settled",
                overhead, meanOverhead, shortPaid.count, result.overheadPercent, tokens, report.settled))
    }

    private func summarize(_ mode: String, _ times: [Double]) -> ModeResult {
        ModeResult(
            mode: mode, requestsPerSecond: Double(times.count) / times.reduce(0, +),
            p50Milliseconds: percentile(times, 0.5) * 1000, p99Milliseconds: percentile(times, 0.99) * 1000)
    }

    private func postFree(port: Int, body: Data) async throws -> Data {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/chat/completions")!)
        request.httpMethod = "POST"
        request.httpBody = body
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        let (data, response) = try await URLSession.shared.data(for: request)
        guard (response as? HTTPURLResponse)?.statusCode == 200 else { throw ValidationError("free request failed") }
        return data
    }
}
