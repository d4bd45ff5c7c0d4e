import Testing

@testable import AgoraInference

@Suite("Forward pass")
struct ForwardPassTests {
    @Test("greedy decoding of the golden prompt gives llama.cpp's tokens")
    func goldenGreedy() throws {
        let state = LlamaState(model: EngineTestModel.model, threads: 2)
        var logits = try state.evaluate(EngineTestModel.goldenPrompt)
        var generated: [Int32] = []
        for _ in 0..<EngineTestModel.goldenCompletion.count {
            let next = EngineTestModel.argmax(logits)
            generated.append(next)
            if next == 2 { break }
            logits = try state.evaluate([next])
        }
        #expect(generated == EngineTestModel.goldenCompletion)
    }

    @Test("logits bits do not depend on the thread count", arguments: [2, 3])
    func threadCountInvariance(threads: Int) throws {
        let prompt = Array(EngineTestModel.goldenPrompt.prefix(12))
        let one = try EngineTestModel.logits(prompt, threads: 1)
        let many = try EngineTestModel.logits(prompt, threads: threads)
        #expect(EngineTestModel.bits(one) == EngineTestModel.bits(many))
    }

    @Test("logits bits do not depend on how the prompt is split into batches")
    func batchInvariance() throws {
        let prompt = EngineTestModel.goldenPrompt
        let whole = try EngineTestModel.logits(prompt, threads: 2)
        let tokenByToken = try EngineTestModel.logits(prompt, threads: 2, chunk: 1)
        let uneven = try EngineTestModel.logits(prompt, threads: 2, chunk: 5)
        let smallBatches = try EngineTestModel.logits(prompt, threads: 2, batchSize: 3)
        #expect(EngineTestModel.bits(whole) == EngineTestModel.bits(tokenByToken))
        #expect(EngineTestModel.bits(whole) == EngineTestModel.bits(uneven))
        #expect(EngineTestModel.bits(whole) == EngineTestModel.bits(smallBatches))
    }

    @Test("logits bits are the same on every kernel path this CPU supports")
    func kernelPathInvariance() throws {
        let prompt = Array(EngineTestModel.goldenPrompt.prefix(6))
        let reference = try EngineTestModel.logits(prompt, threads: 2, path: .scalar)
        for path in KernelPath.supported where path != .scalar {
            let other = try EngineTestModel.logits(prompt, threads: 2, path: path)
            #expect(EngineTestModel.bits(reference) == EngineTestModel.bits(other), "path \(path)")
        }
    }

    @Test("a full context is refused with a typed error before anything changes")
    func contextFull() throws {
        let state = LlamaState(model: EngineTestModel.model, threads: 1)
        let tooMany = [Int32](repeating: 198, count: EngineTestModel.model.contextLength + 1)
        #expect(throws: InferenceError.contextFull(position: 0, adding: tooMany.count, capacity: 512)) {
            try state.evaluate(tooMany)
        }
        #expect(state.position == 0)
        #expect(throws: InferenceError.invalidToken(-1, vocabularySize: 49152)) { try state.evaluate([-1]) }
    }
}
