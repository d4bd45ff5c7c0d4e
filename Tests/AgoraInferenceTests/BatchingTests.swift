import AgoraCore
import Foundation
import Synchronization
import Testing

@testable import AgoraInference

/// Continuous batching never changes an answer: every request gets, token for token and bit for bit, what
/// it gets alone on its own `LlamaState` (the one-sequence reference loop), whatever it shares passes with.
@Suite("Continuous batching")
struct BatchingTests {
    static let tokenizer = EngineTestEngine.engine.tokenizer

    /// Requests of mixed prompt lengths (one longer than a pass's prompt budget), greedy and sampled, with a
    /// stop string, and with different answer lengths, so sequences join and leave at different passes.
    static let requests: [GenerationRequest] = {
        func chat(_ text: String, maxTokens: Int, temperature: Float = 0, seed: UInt64 = 0, stop: [String] = [])
            -> GenerationRequest
        {
            GenerationRequest(
                input: .messages([ChatMessage(role: "user", content: text)]), maxTokens: maxTokens,
                temperature: temperature, topP: 0.95, topK: temperature > 0 ? 40 : 0, seed: seed, stop: stop)
        }
        let long = String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 12)
        return [
            chat("What is the capital of France?", maxTokens: 12),
            chat("Tell me a story about a cat.", maxTokens: 20, temperature: 0.9, seed: 7),
            chat(long + "Summarize this.", maxTokens: 9),
            .prompt("Once upon a time", maxTokens: 16),
            chat("Name three colors.", maxTokens: 14, temperature: 1.2, seed: 99),
            chat("What is 2 + 2?", maxTokens: 16, stop: ["4"]),
            GenerationRequest(
                input: .messages([ChatMessage(role: "user", content: "List some fruits.")]), maxTokens: 14,
                sampling: SamplingParameters(
                    temperature: 0.8, topK: 50, topP: 0.9, seed: 5, minP: 0.05, repetitionPenalty: 1.2,
                    presencePenalty: 0.4, frequencyPenalty: 0.3, logitBias: [LogitBias(token: 28, bias: -5)]),
                stop: [], logprobs: 3),
        ]
    }()

    /// The reference: the request alone, on a fresh one-sequence state.
    static func alone(_ request: GenerationRequest) throws -> GenerationResult {
        let engine = EngineTestEngine.engine
        let state = LlamaState(model: engine.model, threads: 1, batchSize: 64)
        var generator = TokenGenerator(state: state, tokenizer: engine.tokenizer)
        return try generator.run(prompt: try engine.promptTokens(for: request.input), request: request) { _ in }
    }

    @Test("one forward pass over several sequences gives each one its logits alone, bit for bit")
    func forwardPassSegments() throws {
        let model = EngineTestModel.model
        let prompts: [[Int32]] = [
            EngineTestModel.goldenPrompt, Array(EngineTestModel.goldenPrompt.prefix(5)), [1, 4093, 198, 1780, 314, 42],
        ]
        let alone = try prompts.map { try EngineTestModel.bits(EngineTestModel.logits($0, threads: 2)) }
        let pass = ForwardPass(model: model, threads: 2, tokens: 64, logitRows: 3, kernelPath: .current)
        let caches = prompts.map { KVCache(model: model, capacity: $0.count) }
        let segments = zip(prompts, caches).map {
            ForwardSegment(cache: $1, position: 0, count: $0.count, wantsLogits: true)
        }
        let tokens = prompts.flatMap { $0 }
        tokens.withUnsafeBufferPointer { pass.run($0, segments: segments) }
        for row in prompts.indices {
            #expect(EngineTestModel.bits(Array(pass.logits(row: row))) == alone[row], "sequence \(row)")
        }
    }

    @Test("requests served together, joining and leaving at different passes, equal their answers alone")
    func concurrentEqualsAlone() throws {
        let expected = try Self.requests.map(Self.alone)
        // A small prompt budget per pass, so the long prompt is read over several passes beside decoding ones.
        let engine = try InferenceEngine(
            gguf: EngineTestModel.gguf,
            options: EngineOptions(threads: 2, contextLength: 512, batchSize: 16, maxSequences: 4))
        let results = Mutex<[Int: GenerationResult]>([:])
        let streamed = Mutex<[Int: String]>([:])
        let done = DispatchGroup()
        let firstTokens = Atomic<Int>(0)
        @Sendable func submit(_ index: Int) {
            done.enter()
            let request = Self.requests[index]
            engine.start(
                promptTokens: try! engine.promptTokens(for: request.input), request: request, shouldStop: { false },
                onChunk: { chunk in
                    streamed.withLock { $0[index, default: ""] += chunk.text }
                    // The second half joins while the first is decoding.
                    if index == 0 && firstTokens.add(1, ordering: .relaxed).newValue == 2 {
                        for later in 3..<Self.requests.count { submit(later) }
                    }
                },
                onFinish: { result in
                    results.withLock { $0[index] = try? result.get() }
                    done.leave()
                })
        }
        for index in 0..<3 { submit(index) }
        #expect(done.wait(timeout: .now() + 300) == .success)
        let got = results.withLock { $0 }
        #expect(got.count == Self.requests.count, "every request finished (the second wave joined)")
        for (index, want) in expected.enumerated() {
            #expect(got[index] == want, "request \(index)")
            #expect(streamed.withLock { $0[index] } ?? "" == want.text, "request \(index) streamed its text")
        }
    }

    @Test("a cancelled request leaves the batch with a prefix of its answer; the others are unchanged")
    func cancellation() throws {
        let expected = try Self.requests.prefix(3).map(Self.alone)
        let engine = try InferenceEngine(
            gguf: EngineTestModel.gguf, options: EngineOptions(threads: 2, contextLength: 512, maxSequences: 3))
        let stop = StopFlag()
        let counted = Atomic<Int>(0)
        let results = Mutex<[Int: GenerationResult]>([:])
        let done = DispatchGroup()
        for (index, request) in Self.requests.prefix(3).enumerated() {
            done.enter()
            engine.start(
                promptTokens: try engine.promptTokens(for: request.input), request: request,
                shouldStop: { index == 1 && stop.isSet },
                onChunk: { _ in
                    if index == 1 && counted.add(1, ordering: .relaxed).newValue == 3 { stop.set() }
                },
                onFinish: { result in
                    results.withLock { $0[index] = try? result.get() }
                    done.leave()
                })
        }
        #expect(done.wait(timeout: .now() + 300) == .success)
        let got = results.withLock { $0 }
        #expect(got[0] == expected[0])
        #expect(got[2] == expected[2])
        let cancelled = try #require(got[1])
        #expect(cancelled.finishReason == .cancelled)
        #expect(cancelled.tokens == Array(expected[1].tokens.prefix(3)))
    }

    @Test("requests beyond the batch wait their turn; invalid ones fail at once with their typed error")
    func queueAndValidation() throws {
        let engine = try InferenceEngine(
            gguf: EngineTestModel.gguf, options: EngineOptions(threads: 2, contextLength: 256, maxSequences: 1))
        let request = GenerationRequest.prompt("Once upon a time", maxTokens: 4)
        let expected = try Self.alone(request)
        let results = Mutex<[GenerationResult]>([])
        let done = DispatchGroup()
        for _ in 0..<3 {
            done.enter()
            engine.start(
                promptTokens: try engine.promptTokens(for: request.input), request: request, shouldStop: { false },
                onChunk: { _ in },
                onFinish: { result in
                    results.withLock { $0.append(try! result.get()) }
                    done.leave()
                })
        }
        #expect(done.wait(timeout: .now() + 120) == .success)
        #expect(results.withLock { $0 } == [expected, expected, expected])

        #expect(throws: GenerationError.contextLimitExceeded(promptTokens: 4, maxTokens: 300, contextLength: 256)) {
            try engine.generate(promptTokens: [1, 2, 3, 4], request: .prompt("", maxTokens: 300))
        }
        #expect(throws: GenerationError.inference(.invalidToken(-1, vocabularySize: engine.model.vocabularySize))) {
            try engine.generate(promptTokens: [1, -1], request: .prompt("", maxTokens: 2))
        }
        #expect(throws: GenerationError.emptyPrompt) {
            try engine.generate(promptTokens: [], request: .prompt("", maxTokens: 2))
        }
    }
}
