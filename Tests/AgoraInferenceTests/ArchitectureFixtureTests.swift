import Foundation
import Testing

@testable import AgoraInference

/// Architecture switches against llama.cpp on small random-weight models with real tokenizer metadata:
/// `qwen2` (Q/K/V biases, NeoX rotary, tied embeddings) and a Llama-3-style `llama` with rotary frequency
/// factors (`rope_freqs.weight`), both with the default model's vocabulary; and a TinyLlama-style `llama`
/// with Llama 2's SentencePiece vocabulary, F16 attention and output matrices and BF16 embeddings and
/// feed-forward matrices, whose text prompts were tokenized by llama.cpp too.
///
/// The file is rebuilt byte for byte by `Scripts/make_tiny_models.py` (numpy's PCG64 with a fixed seed, Q8_0
/// with ggml's reference rounding; `.ci/run` does it next to the default model), and llama.cpp's greedy
/// tokens and top-10 logits on it were recorded once in `Tests/Fixtures/generation_qwen2_tiny.json`. Agora
/// computes in llama.cpp's float order (see `LlamaCppFixtureTests`), so every logit must be equal bit for bit.
@Suite("architecture switches against llama.cpp")
struct ArchitectureFixtureTests {
    typealias Fixture = LlamaCppFixtureTests.Fixture

    /// With the rotary layout of `llama` instead of NeoX's, the qwen2 case saw logit differences of 34.8 and
    /// one agreeing step; ignoring the frequency factors, the llama3 case saw 26.8 and four.
    static let comparedSteps = 16

    static let fixtures = [
        "generation_qwen2_tiny.json", "generation_llama3_tiny.json", "generation_tinyllama_tiny.json",
    ]

    static func modelURL(_ name: String) throws -> URL? {
        let fixture = try TestModel.fixture(name, as: Fixture.self)
        let url = try TestModel.defaultModelURL().deletingLastPathComponent().appendingPathComponent(fixture.model)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    /// Reports (as a cancelled test, shown in the run's output) every fixture whose model file is missing;
    /// the cases of those fixtures cancel themselves.
    @Test("every fixture's model file is in the model cache")
    func modelFilesPresent() throws {
        let missing = try Self.fixtures.filter { try Self.modelURL($0) == nil }
        if !missing.isEmpty { try Test.cancel("model files not in the cache for: \(missing.joined(separator: ", "))") }
    }

    @Test("greedy tokens and top logits agree with llama.cpp", arguments: fixtures)
    func agreesWithLlamaCpp(fixtureName: String) throws {
        let fixture = try TestModel.fixture(fixtureName, as: Fixture.self)
        // A model file that is not here is a reported skip, not a case dropped from the list.
        guard let url = try Self.modelURL(fixtureName) else {
            try Test.cancel("\(fixture.model) is not in the model cache (bash .ci/run makes it)")
        }
        #expect(
            try FileSHA256.digest(of: url).hex == fixture.sha256 ?? "",
            "\(fixture.model) differs from the file the fixture was recorded on: rebuild it with Scripts/make_tiny_models.py"
        )
        let gguf = try GGUFFile(url: url)
        let model = try LlamaModel(gguf: gguf, contextLength: 512)
        let tokenizer = try Tokenizer(gguf: gguf)
        let isQwen2 = fixtureName.contains("qwen2")
        #expect(model.hyperparameters.family == (isQwen2 ? .qwen2 : .llama))
        #expect((model.weights.ropeFrequencyFactors != nil) == fixtureName.contains("llama3"))
        #expect(tokenizer.usesSentencePiece == fixtureName.contains("tinyllama"))
        let state = LlamaState(model: model, threads: 2)
        var agreed = 0
        for (index, testCase) in fixture.cases.enumerated() {
            if let text = testCase.prompt_text {
                #expect(tokenizer.encodePrompt(text) == testCase.prompt_ids, "case \(index): \(text.debugDescription)")
            }
            state.reset()
            var logits = try state.evaluate(testCase.prompt_ids)
            for step in 0..<min(Self.comparedSteps, testCase.generated.count) {
                if step < testCase.top_logits.count {
                    for pair in testCase.top_logits[step] {
                        #expect(logits[Int(pair[0])] == Float(pair[1]), "case \(index) step \(step) token \(pair[0])")
                    }
                }
                let token = Sampler.argmax(logits)
                try #require(token == testCase.generated[step], "case \(index) step \(step)")
                agreed += 1
                if step + 1 < Self.comparedSteps { logits = try state.evaluate([token]) }
            }
        }
        print("\(fixtureName): all \(agreed) greedy steps and the recorded top-10 logits equal llama.cpp's")
    }

    @Test("qwen2 metadata selects biases and NeoX rotary; llama keeps adjacent pairs")
    func architectureSwitches() throws {
        #expect(LlamaHyperparameters.Architecture.qwen2.rotaryStyle == .neox)
        #expect(LlamaHyperparameters.Architecture.qwen2.hasAttentionBiases)
        #expect(LlamaHyperparameters.Architecture.llama.rotaryStyle == .normal)
        #expect(!LlamaHyperparameters.Architecture.llama.hasAttentionBiases)
        #expect(EngineTestModel.model.hyperparameters.family == .llama)
    }

    @Test("NeoX rotary turns (x[i], x[i + d/2]) by the angle of pair i")
    func neoxRotary() {
        let table = RotaryTable(headDim: 8, base: 10_000, positions: 4, style: .neox)
        let normal = RotaryTable(headDim: 8, base: 10_000, positions: 4, style: .normal)
        var neoxInput: [Float] = [1, 2, 3, 4, 5, 6, 7, 8]
        // The same pairs laid out adjacently must rotate to the same values.
        var pairedInput: [Float] = [1, 5, 2, 6, 3, 7, 4, 8]
        neoxInput.withUnsafeMutableBufferPointer { table.apply($0.baseAddress!, heads: 1, headDim: 8, position: 3) }
        pairedInput.withUnsafeMutableBufferPointer {
            normal.apply($0.baseAddress!, heads: 1, headDim: 8, position: 3)
        }
        for i in 0..<4 {
            #expect(neoxInput[i] == pairedInput[2 * i])
            #expect(neoxInput[i + 4] == pairedInput[2 * i + 1])
        }
        #expect(neoxInput != [1, 2, 3, 4, 5, 6, 7, 8])
    }
}
