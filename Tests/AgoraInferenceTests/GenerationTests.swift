import Foundation
import Testing

@testable import AgoraInference

/// One engine for the generation tests (loading the tokenizer and weights once).
enum EngineTestEngine {
    static let engine: InferenceEngine = try! InferenceEngine(
        gguf: EngineTestModel.gguf, options: EngineOptions(threads: 2, contextLength: 256))
}

@Suite("Generation")
struct GenerationTests {
    let engine = EngineTestEngine.engine

    @Test("the golden chat prompt generates the golden answer")
    func goldenChat() throws {
        var request = GenerationRequest.prompt(
            "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n", maxTokens: 16)
        request.sampling = .greedy
        let prompt = try engine.promptTokens(for: request.input)
        #expect(prompt == EngineTestModel.goldenPrompt)
        var streamed = ""
        let result = try engine.generate(request) { streamed += $0.text }
        #expect(result.tokens == EngineTestModel.goldenCompletion)
        #expect(result.text == "The capital of France is Paris.")
        #expect(streamed == result.text)
        #expect(result.finishReason == .stop)
        #expect(result.promptTokenCount == 16 && result.completionTokenCount == 8)
    }

    @Test("a seeded sampled request is reproducible, and the seed matters")
    func seededSampling() throws {
        func run(_ seed: UInt64) throws -> GenerationResult {
            let request = GenerationRequest(
                input: .messages([ChatMessage(role: "user", content: "Tell me a story about a cat.")]), maxTokens: 24,
                temperature: 1.0, topP: 0.95, topK: 40, seed: seed)
            return try engine.generate(request)
        }
        let a = try run(1234)
        let b = try run(1234)
        #expect(a == b)
        #expect(a.tokens.count == 24 || a.finishReason == .stop)
        let others = try (1235...1237).map { try run($0).tokens }
        #expect(others.contains { $0 != a.tokens })
    }

    @Test("max tokens ends generation with finish reason length")
    func lengthLimit() throws {
        let result = try engine.generate(
            GenerationRequest(input: .messages([ChatMessage(role: "user", content: "Count to twenty.")]), maxTokens: 5))
        #expect(result.tokens.count == 5)
        #expect(result.finishReason == .length)
    }

    @Test("a stop string cuts the text before it and ends generation")
    func stopString() throws {
        let request = GenerationRequest(
            input: .prompt("<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"),
            maxTokens: 16, stop: [" Paris"])
        var streamed = ""
        let result = try engine.generate(request) { streamed += $0.text }
        #expect(result.text == "The capital of France is")
        #expect(streamed == result.text)
        #expect(result.finishReason == .stop)
        #expect(result.tokens == Array(EngineTestModel.goldenCompletion.prefix(6)))
    }

    @Test("a prompt plus max tokens beyond the context is refused with a typed error")
    func contextLimit() throws {
        let long = String(repeating: "word ", count: 300)
        #expect(throws: GenerationError.self) { try engine.generate(.prompt(long, maxTokens: 4)) }
        do {
            _ = try engine.generate(.prompt("Hello", maxTokens: 300))
            Issue.record("expected contextLimitExceeded")
        } catch {
            guard case .contextLimitExceeded(let prompt, let maxTokens, let context) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(prompt >= 1 && maxTokens == 300 && context == 256)
        }
    }

    @Test("streaming yields the chunks then the same result as a direct call")
    func streaming() async throws {
        var request = GenerationRequest.messages(
            [ChatMessage(role: "user", content: "What is the capital of France?")], maxTokens: 12)
        request.sampling = SamplingParameters(temperature: 0.7, topK: 20, seed: 3)
        let direct = try engine.generate(request)
        var text = ""
        var tokens: [Int32] = []
        var finished: GenerationResult?
        for try await event in engine.stream(request) {
            switch event {
            case .chunk(let chunk):
                text += chunk.text
                tokens.append(chunk.token)
            case .finished(let result): finished = result
            }
        }
        #expect(finished == direct)
        #expect(tokens == direct.tokens)
        #expect(text == direct.text)
    }
}
