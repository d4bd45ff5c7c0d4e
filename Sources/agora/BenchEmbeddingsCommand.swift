import AgoraInference
import ArgumentParser
import Foundation

/// `agora bench embeddings`: sentences per second of the embedding engine (the work behind `/v1/embeddings`),
/// optionally next to llama.cpp's `llama-embedding` on the same file and sentences, rounds alternating.
///
/// llama-embedding is a process that loads the model each time, so its speed is measured at the margin: the
/// wall time of a run over all the sentences (which it batches together, its fastest way) minus that of a run
/// over the first sentence alone, for the sentences after the first. Agora's is measured the same way inside
/// one process (`embed` of all sentences minus `embed` of the first), so loading counts for neither.
struct BenchEmbeddingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embeddings",
        abstract: "Sentence-embedding throughput (sentences/s), optionally against llama-embedding.")

    @Option(help: "Embedding GGUF ('default': all-MiniLM-L6-v2 from the model cache).") var model = "default"
    @Option(help: "Sentences, one per line (default: Tests/Fixtures/embedding_sentences.txt of Agora's source).")
    var sentences: String?
    @Option(name: .customLong("llama-embedding"), help: "A llama-embedding binary to run on the same file.")
    var llamaEmbedding: String?
    @Option(help: "Rounds, Agora's and llama-embedding's measurements taking turns (the median ratio is reported).")
    var rounds = 3
    @Option(help: "Threads for both.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "Print JSON instead of a table.") var json = false

    struct Report: Encodable {
        var model: String
        var kernelPath: String
        var threads: Int
        var sentences: Int
        var tokens: Int
        var agoraSentencesPerSecond: [Double]
        var agoraAloneSentencesPerSecond: [Double]
        var llamaCppSentencesPerSecond: [Double]?
        var medianRatio: Double?
    }

    func run() throws {
        let url = try EngineCommandSupport.embeddingModelURL(model)
        let file =
            sentences.map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Tests/Fixtures/embedding_sentences.txt")
        let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map(String.init)
            .filter { !$0.isEmpty }
        guard lines.count >= 2 else { throw ValidationError("need at least two sentences in \(file.path)") }
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
        let engine: EmbeddingEngine
        do { engine = try EmbeddingEngine(modelURL: url, threads: threads) } catch {
            throw ValidationError("cannot load \(url.path): \(error)")
        }
        let inputs = try lines.enumerated().map { try engine.tokens(for: $1, index: $0) }
        let tokenCount = inputs.reduce(0) { $0 + $1.count }
        _ = engine.embed(Array(inputs.prefix(2)))  // warm-up

        var ours: [Double] = []
        var alone: [Double] = []
        var theirs: [Double] = []
        for round in 1...rounds {
            let all = Self.seconds { _ = engine.embed(inputs) }
            let first = Self.seconds { _ = engine.embed([inputs[0]]) }
            ours.append(Double(lines.count - 1) / max(all - first, 1e-9))
            let oneByOne = Self.seconds { for input in inputs { _ = engine.embed([input]) } }
            alone.append(Double(lines.count) / oneByOne)
            var line = String(
                format: "round %d/%d: agora %.1f sentences/s (one at a time %.1f)", round, rounds, ours.last!,
                alone.last!)
            if let llamaEmbedding {
                let allWall = try runLlamaEmbedding(llamaEmbedding, model: url, prompt: lines.joined(separator: "\n"))
                let firstWall = try runLlamaEmbedding(llamaEmbedding, model: url, prompt: lines[0])
                theirs.append(Double(lines.count - 1) / max(allWall - firstWall, 1e-9))
                line += String(format: ", llama-embedding %.1f sentences/s", theirs.last!)
            }
            printError(line)
        }
        let ratios = theirs.isEmpty ? [] : zip(ours, theirs).map { $0 / $1 }
        let report = Report(
            model: url.lastPathComponent, kernelPath: KernelPath.current.rawValue, threads: threads,
            sentences: lines.count, tokens: tokenCount, agoraSentencesPerSecond: ours,
            agoraAloneSentencesPerSecond: alone, llamaCppSentencesPerSecond: theirs.isEmpty ? nil : theirs,
            medianRatio: ratios.isEmpty ? nil : EngineBenchCommand.median(ratios))
        if json {
            try printJSON(report)
            return
        }
        print(
            "model \(report.model), \(report.kernelPath) kernels, \(threads) threads, \(lines.count) sentences "
                + "(\(tokenCount) tokens), median of \(rounds) rounds")
        var table = TextTable(header: ["engine", "sentences/s", "tokens/s", "ratio"])
        let perToken = Double(tokenCount) / Double(lines.count)
        let ourMedian = EngineBenchCommand.median(ours)
        table.rows.append([
            "agora, one request", String(format: "%.1f", ourMedian), String(format: "%.0f", ourMedian * perToken),
            report.medianRatio.map { String(format: "%.2f", $0) } ?? "-",
        ])
        let aloneMedian = EngineBenchCommand.median(alone)
        table.rows.append([
            "agora, one sentence a request", String(format: "%.1f", aloneMedian),
            String(format: "%.0f", aloneMedian * perToken), "-",
        ])
        if !theirs.isEmpty {
            let median = EngineBenchCommand.median(theirs)
            table.rows.append([
                "llama-embedding (batched)", String(format: "%.1f", median), String(format: "%.0f", median * perToken),
                "1.00",
            ])
        }
        print(table.render())
    }

    static func seconds(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// Wall seconds of one llama-embedding run (flash attention off, as the bit-exact reference).
    func runLlamaEmbedding(_ binary: String, model: URL, prompt: String) throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "-m", model.path, "-p", prompt, "-fa", "off", "--embd-normalize", "2", "--embd-output-format", "raw",
            "-t", "\(threads)",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let start = DispatchTime.now().uptimeNanoseconds
        try process.run()
        process.waitUntilExit()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        guard process.terminationStatus == 0 else {
            throw ValidationError("llama-embedding exited with status \(process.terminationStatus)")
        }
        return seconds
    }
}
