import AgoraCore
import AgoraNode
import AgoraWire
import ArgumentParser
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `agora bench serve`: the same concurrent load against an Agora node and, side by side, llama-server.
struct BenchServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract:
            "Generated tokens/s, latency and time to first token under concurrent clients: an Agora node vs llama-server (-np clients -cb), and whether every answer under load equals the answer alone.",
        discussion: """
            Every client streams greedy chat requests one after another from a fixed list of prompts; the node \
            and llama-server get the same requests, in rounds that alternate which goes first. Without \
            --llama-server only the node runs.
            """)

    @Option(help: "GGUF model (default: the default model).") var model: String?
    @Option(help: "Concurrent clients, comma-separated.") var clients: String = "1,4,8,16"
    @Option(help: "Tokens per answer (max_tokens).") var maxTokens: Int = 64
    @Option(help: "Requests each client sends per round.") var requestsPerClient: Int = 2
    @Option(help: "llama-server binary to compare with (built from the llama-cpp-python sdist; see the README).")
    var llamaServer: String?
    @Option(help: "Rounds; each runs every client count on both servers, alternating which goes first.")
    var rounds: Int = 1
    @Option(help: "Engine threads (both servers).") var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @OptionGroup var format: OutputFormat

    static let prompts: [String] = [
        "Write a story about a lighthouse keeper.", "Explain how a bicycle works.",
        "Describe a walk through a forest in autumn.", "Write a letter to a friend about a trip to the sea.",
        "Tell me about the history of bread.", "Describe your ideal city.", "Write a poem about the moon.",
        "Explain why the sky is blue.", "Tell me a story about a robot who learns to paint.",
        "Describe how to plant a tree.", "Write a story about a cat and a dog.", "Explain how rain forms.",
        "Describe a busy market in the morning.", "Tell me about the planets of the solar system.",
        "Write a short speech for a school graduation.", "Describe the taste of a lemon to someone who never had one.",
    ]

    struct Sample: Encodable {
        var server: String
        var clients: Int
        var round: Int
        var requests: Int
        var generatedTokens: Int
        var seconds: Double
        var tokensPerSecond: Double
        var p50LatencyMs: Double
        var p99LatencyMs: Double
        var p50FirstTokenMs: Double
        var p99FirstTokenMs: Double
        /// Agora only: answers under load equal to the same request's answer alone.
        var identicalAnswers: Int?
    }

    struct Row: Encodable {
        var clients: Int
        var agora: Sample
        var llamaServer: Sample?
        var ratio: Double?
    }

    func run() async throws {
        let clientCounts = try clients.split(separator: ",").map { part -> Int in
            guard let count = Int(part.trimmingCharacters(in: .whitespaces)), count >= 1 else {
                throw ValidationError("--clients takes positive counts separated by commas, e.g. 1,4,8")
            }
            return count
        }
        guard !clientCounts.isEmpty, maxTokens >= 1, requestsPerClient >= 1, rounds >= 1 else {
            throw ValidationError("--clients, --max-tokens, --requests-per-client and --rounds must be positive")
        }
        let (modelURL, verifiedHash) = try EngineCommandSupport.model(model)
        let widest = clientCounts.max()!
        printError("loading \(modelURL.lastPathComponent)…")
        let engine = try LocalCompletionEngine(
            modelURL: modelURL, threads: threads, maxSequences: widest, verifiedHash: verifiedHash)
        let service = NodeService(
            engine: engine, key: SigningKey(deterministicLabel: "bench-serve-node"),
            configuration: .init(
                free: true, limits: RequestLimits(maxTokens: maxTokens), concurrency: widest,
                queueLimit: widest * requestsPerClient),
            gate: nil, settlements: nil)
        let node = try await RunningNodeServer.start(NodeHTTPServer(service: service, port: 0))
        let agoraURL = URL(string: "http://127.0.0.1:\(node.port)/v1/chat/completions")!
        let client = SSELoadClient()

        printError("answers alone (the reference for answers under load)…")
        var alone: [String] = []
        for prompt in Self.prompts {
            let timing = try await client.stream(agoraURL, body: body(prompt, llama: false))
            guard timing.status == 200 else {
                throw SSELoadClient.Failure(description: "node answered \(timing.status)")
            }
            alone.append(timing.text)
        }

        var samples: [Sample] = []
        for round in 1...rounds {
            for count in clientCounts {
                var order: [Bool] = [false]
                if llamaServer != nil { order = round % 2 == 1 ? [false, true] : [true, false] }
                for llama in order {
                    if llama {
                        let server = try await LlamaServerProcess.start(
                            binary: llamaServer!, model: modelURL, threads: threads, slots: count)
                        let sample: Result<Sample, any Error>
                        do {
                            sample = .success(
                                try await load(
                                    client, url: server.completionsURL, server: "llama-server", clients: count,
                                    round: round, alone: nil))
                        } catch {
                            sample = .failure(error)
                        }
                        await server.stop()
                        samples.append(try sample.get())
                    } else {
                        samples.append(
                            try await load(
                                client, url: agoraURL, server: "agora", clients: count, round: round, alone: alone))
                    }
                    let last = samples.last!
                    printError(
                        String(
                            format: "round %d, %2d clients, %@: %.1f tokens/s, p50 %.0f ms", round, count, last.server,
                            last.tokensPerSecond, last.p50LatencyMs))
                }
            }
        }
        await node.stop()
        report(samples, clientCounts: clientCounts)
    }

    private func body(_ prompt: String, llama: Bool) -> Data {
        var request: [String: Any] = [
            "messages": [["role": "user", "content": prompt]], "max_tokens": maxTokens, "temperature": 0,
            "stream": true,
        ]
        // llama-server reports usage in streams only when asked; the node always does.
        if llama { request["stream_options"] = ["include_usage": true] }
        return try! JSONSerialization.data(withJSONObject: request)
    }

    private func load(
        _ client: SSELoadClient, url: URL, server: String, clients count: Int, round: Int, alone: [String]?
    ) async throws -> Sample {
        let started = DispatchTime.now().uptimeNanoseconds
        let requestsPerClient = self.requestsPerClient
        let timings = try await withThrowingTaskGroup(of: [(Int, SSELoadClient.Timing)].self) { group in
            for c in 0..<count {
                group.addTask {
                    var mine: [(Int, SSELoadClient.Timing)] = []
                    for j in 0..<requestsPerClient {
                        let index = (c * requestsPerClient + j + round) % Self.prompts.count
                        let timing = try await client.stream(url, body: body(Self.prompts[index], llama: alone == nil))
                        guard timing.status == 200 else {
                            throw SSELoadClient.Failure(description: "\(server) answered \(timing.status)")
                        }
                        mine.append((index, timing))
                    }
                    return mine
                }
            }
            var all: [(Int, SSELoadClient.Timing)] = []
            for try await mine in group { all += mine }
            return all
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let tokens = timings.reduce(0) { $0 + $1.1.completionTokens }
        let latencies = timings.map { $0.1.total * 1000 }
        let firsts = timings.map { $0.1.firstText * 1000 }
        return Sample(
            server: server, clients: count, round: round, requests: timings.count, generatedTokens: tokens,
            seconds: seconds, tokensPerSecond: Double(tokens) / seconds, p50LatencyMs: percentile(latencies, 0.5),
            p99LatencyMs: percentile(latencies, 0.99), p50FirstTokenMs: percentile(firsts, 0.5),
            p99FirstTokenMs: percentile(firsts, 0.99),
            identicalAnswers: alone.map { alone in timings.filter { alone[$0.0] == $0.1.text }.count })
    }

    /// Per client count, the median round of each server (by tokens/s), side by side, and the median of the
    /// rounds' paired ratios.
    private func report(_ samples: [Sample], clientCounts: [Int]) {
        func medianRound(_ server: String, _ count: Int) -> Sample? {
            let runs = samples.filter { $0.server == server && $0.clients == count }.sorted {
                $0.tokensPerSecond < $1.tokensPerSecond
            }
            return runs.isEmpty ? nil : runs[runs.count / 2]
        }
        let rows = clientCounts.compactMap { count -> Row? in
            guard let agora = medianRound("agora", count) else { return nil }
            let llama = medianRound("llama-server", count)
            // The ratio of each round's pair (run back to back), then the median: steadier than a ratio of
            // medians on a machine whose speed drifts between rounds.
            let ratios = samples.filter { $0.server == "agora" && $0.clients == count }.compactMap { mine in
                samples.first { $0.server == "llama-server" && $0.clients == count && $0.round == mine.round }
                    .map { mine.tokensPerSecond / $0.tokensPerSecond }
            }.sorted()
            return Row(
                clients: count, agora: agora, llamaServer: llama, ratio: ratios.isEmpty ? nil : ratios[ratios.count / 2]
            )
        }
        let identical = samples.compactMap(\.identicalAnswers).reduce(0, +)
        let checked = samples.filter { $0.server == "agora" }.reduce(0) { $0 + $1.requests }
        if format.json {
            struct Report: Encodable {
                var rows: [Row]
                var samples: [Sample]
                var identicalAnswers: Int
                var checkedAnswers: Int
            }
            try? printJSON(Report(rows: rows, samples: samples, identicalAnswers: identical, checkedAnswers: checked))
            return
        }
        var table = TextTable(header: [
            "clients", "agora tok/s", "llama-server tok/s", "ratio", "agora p50/p99 ms", "llama p50/p99 ms",
            "agora TTFT p50/p99 ms", "llama TTFT p50/p99 ms",
        ])
        for row in rows {
            let llama = row.llamaServer
            table.rows.append([
                "\(row.clients)", String(format: "%.1f", row.agora.tokensPerSecond),
                llama.map { String(format: "%.1f", $0.tokensPerSecond) } ?? "-",
                row.ratio.map { String(format: "%.2f", $0) } ?? "-",
                String(format: "%.0f / %.0f", row.agora.p50LatencyMs, row.agora.p99LatencyMs),
                llama.map { String(format: "%.0f / %.0f", $0.p50LatencyMs, $0.p99LatencyMs) } ?? "-",
                String(format: "%.0f / %.0f", row.agora.p50FirstTokenMs, row.agora.p99FirstTokenMs),
                llama.map { String(format: "%.0f / %.0f", $0.p50FirstTokenMs, $0.p99FirstTokenMs) } ?? "-",
            ])
        }
        print(table.render())
        print(
            "answers under load equal to the answer alone: \(identical) of \(checked) (\(String(format: "%.1f", 100 * Double(identical) / Double(max(1, checked)))) %)"
        )
    }
}

/// llama-server as a user runs it to serve `slots` clients: `-np slots -cb`, the same threads and model file,
/// 2048 context per slot. Started per client count, stopped after.
struct LlamaServerProcess {
    let process: Process
    let port: Int

    var completionsURL: URL { URL(string: "http://127.0.0.1:\(port)/v1/chat/completions")! }

    static func start(binary: String, model: URL, threads: Int, slots: Int) async throws -> LlamaServerProcess {
        let port = Int.random(in: 20_000..<60_000)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "-m", model.path, "-t", "\(threads)", "-np", "\(slots)", "-cb", "-c", "\(2048 * slots)", "--host",
            "127.0.0.1", "--port", "\(port)",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let server = LlamaServerProcess(process: process, port: port)
        let health = URL(string: "http://127.0.0.1:\(port)/health")!
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            guard process.isRunning else { break }
            if let (_, response) = try? await URLSession.shared.data(from: health),
                (response as? HTTPURLResponse)?.statusCode == 200
            {
                return server
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        await server.stop()
        throw SSELoadClient.Failure(description: "llama-server did not become ready on port \(port)")
    }

    /// SIGTERM, then SIGKILL after 5 s (llama-server waits for idle keep-alive connections). Polled, because
    /// `Process.waitUntilExit` spins a run loop on Linux.
    func stop() async {
        guard process.isRunning else { return }
        process.terminate()
        for _ in 0..<100 where process.isRunning { try? await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
    }
}
