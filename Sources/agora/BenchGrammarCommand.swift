import AgoraCore
import AgoraInference
import ArgumentParser
import Foundation

/// `agora bench grammar`: what constrained decoding costs. The mask (which tokens the grammar allows next)
/// is computed before every token, so its time is added to every decode step; this measures it in the
/// states an answer passes through, and decode speed with and without a schema on the same prompt.
struct BenchGrammarCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grammar",
        abstract: "Cost of structured output: token-mask time per grammar state, decode speed with and without."
    )

    @Option(name: .long, help: "GGUF model file (default: the default model).")
    var model: String?

    @Option(name: .long, help: "Mask computations per state (the median is reported).")
    var repetitions: Int = 30

    @Option(name: .long, help: "Rounds of decode measurements, constrained and free taking turns.")
    var rounds: Int = 3

    @Option(name: .long, help: "Compute threads.")
    var threads: Int = 2

    @Flag(name: .long, help: "Print JSON instead of tables.")
    var json = false

    static let schema = """
        {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
         "hobbies": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
         "mood": {"enum": ["happy", "sad", "calm"]}, "email": {"type": ["string", "null"]}},
         "required": ["name", "age", "mood"], "additionalProperties": false}
        """

    struct MaskRow: Encodable {
        var state: String
        var allowedTokens: Int
        var microseconds: Double
    }

    struct DecodeRow: Encodable {
        var round: Int
        var freeTokensPerSecond: Double
        var constrainedTokensPerSecond: Double
        var ratio: Double
    }

    struct Report: Encodable {
        var vocabularySize: Int
        var trieNodes: Int
        var trieBuildMilliseconds: Double
        var masks: [MaskRow]
        var decode: [DecodeRow]
        var medianRatio: Double
    }

    func run() throws {
        let url = try EngineCommandSupport.modelURL(model)
        let engine = try EngineCommandSupport.loadEngine(url, options: EngineOptions(threads: threads))
        let tokenizer = engine.tokenizer
        let built = DispatchTime.now().uptimeNanoseconds
        let trie = VocabularyTrie(tokenizer: tokenizer)
        let trieTime = Double(DispatchTime.now().uptimeNanoseconds - built) / 1e6
        // The engine's own trie is built on first use: build it now, outside the measured decodes.
        _ = tokenizer.vocabularyTrie
        let grammar = try JSONGrammar(schema: JSONValue.parse(Self.schema))

        // Masks in the states an answer passes through.
        let states: [(String, String)] = [
            ("start of the answer", ""), ("after {", "{"), ("inside a key", #"{"na"#), ("after a key", #"{"name""#),
            ("inside a string value", #"{"name":"Ann"#), ("inside a number", #"{"name":"Ann","age":4"#),
            ("after a value", #"{"name":"Ann","age":42"#), ("inside an enum", #"{"name":"Ann","age":42,"mood":"ha"#),
            ("inside an array", #"{"name":"A","age":4,"hobbies":["chess","#),
            ("complete", #"{"name":"A","age":4,"mood":"sad"}"#),
        ]
        var mask = TokenMask(vocabularySize: tokenizer.vocabularySize)
        var masks: [MaskRow] = []
        for (name, prefix) in states {
            var matcher = GrammarMatcher(grammar: grammar)
            guard matcher.advance(Array(prefix.utf8)) else { throw ValidationError("state '\(name)' is not reachable") }
            var times: [Double] = []
            for _ in 0..<max(1, repetitions) {
                let start = DispatchTime.now().uptimeNanoseconds
                mask.compute(matcher, trie: trie)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e3)
            }
            masks.append(
                MaskRow(state: name, allowedTokens: mask.allowed.filter { $0 }.count, microseconds: Self.median(times)))
        }

        // Decode speed on the same prompt, with and without the schema (greedy, 96 tokens at most).
        let messages = [ChatMessage(role: "user", content: "Describe a person as JSON with a name, an age and a mood.")]
        var decode: [DecodeRow] = []
        for round in 1...max(1, rounds) {
            let free = try Self.speed(engine, GenerationRequest(input: .messages(messages), maxTokens: 96))
            var constrained = GenerationRequest(input: .messages(messages), maxTokens: 96)
            constrained.grammar = grammar
            let bound = try Self.speed(engine, constrained)
            decode.append(
                DecodeRow(
                    round: round, freeTokensPerSecond: free, constrainedTokensPerSecond: bound, ratio: bound / free))
            if !json {
                printError("round \(round): free \(Self.format(free)) tok/s, constrained \(Self.format(bound)) tok/s")
            }
        }
        let report = Report(
            vocabularySize: tokenizer.vocabularySize, trieNodes: trie.nodeCount, trieBuildMilliseconds: trieTime,
            masks: masks, decode: decode, medianRatio: Self.median(decode.map(\.ratio)))
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        print(
            "vocabulary \(report.vocabularySize) tokens, trie \(report.trieNodes) nodes (built in \(Self.format(trieTime)) ms)"
        )
        print("")
        print("| grammar state | allowed tokens | mask µs |")
        print("|---|---|---|")
        for row in masks { print("| \(row.state) | \(row.allowedTokens) | \(Self.format(row.microseconds)) |") }
        print("")
        print("| round | free tok/s | constrained tok/s | ratio |")
        print("|---|---|---|---|")
        for row in decode {
            print(
                "| \(row.round) | \(Self.format(row.freeTokensPerSecond)) | \(Self.format(row.constrainedTokensPerSecond)) | \(String(format: "%.2f", row.ratio)) |"
            )
        }
        print("median ratio \(String(format: "%.2f", report.medianRatio))")
    }

    /// Decode tokens per second of one request (the prompt's time left out).
    static func speed(_ engine: InferenceEngine, _ request: GenerationRequest) throws -> Double {
        let result = try engine.generate(request)
        return Double(result.completionTokenCount) / max(result.generationSeconds, 1e-9)
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }

    static func format(_ value: Double) -> String { String(format: value >= 100 ? "%.0f" : "%.1f", value) }
}
