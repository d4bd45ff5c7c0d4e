import Foundation
import Testing

@testable import AgoraInference

/// Architecture `qwen2` (Q/K/V biases, NeoX rotary, tied embeddings) against llama.cpp, on a small
/// random-weight model with the default model's real tokenizer metadata.
///
/// The file is rebuilt byte for byte by `Scripts/make_tiny_qwen2.py` (numpy's PCG64 with a fixed seed, Q8_0
/// with ggml's reference rounding; `.ci/run` does it next to the default model), and llama.cpp's greedy
/// tokens and top-10 logits on it were recorded once in `Tests/Fixtures/generation_qwen2_tiny.json`. Two
/// layers amplify last-bit differences far less than SmolLM2's thirty, so the tolerances here are tight.
@Suite("qwen2 architecture")
struct Qwen2ArchitectureTests {
    typealias Fixture = LlamaCppFixtureTests.Fixture

    /// Measured: at most 0.118 on logits around 22 (the printed figure). With the rotary layout of `llama`
    /// instead of NeoX's, the same test saw differences of 34.8 and one agreeing greedy step.
    static let logitTolerance = 0.25
    static let comparedSteps = 16

    static func modelURL() throws -> URL? {
        let fixture = try TestModel.fixture("generation_qwen2_tiny.json", as: Fixture.self)
        let url = try TestModel.defaultModelURL().deletingLastPathComponent().appendingPathComponent(fixture.model)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    @Test("greedy tokens and top logits agree with llama.cpp", .enabled(if: (try? modelURL()) != nil))
    func agreesWithLlamaCpp() throws {
        let fixture = try TestModel.fixture("generation_qwen2_tiny.json", as: Fixture.self)
        let url = try #require(try Self.modelURL())
        #expect(
            try FileSHA256.digest(of: url).hex == fixture.sha256 ?? "",
            "the tiny qwen2 file differs from the one the fixture was recorded on: rebuild it with Scripts/make_tiny_qwen2.py"
        )
        let model = try LlamaModel(gguf: try GGUFFile(url: url), contextLength: 512)
        #expect(model.hyperparameters.family == .qwen2)
        let state = LlamaState(model: model, threads: 2)
        var worst = 0.0
        var agreed = 0
        for (index, testCase) in fixture.cases.enumerated() {
            state.reset()
            var logits = try state.evaluate(testCase.prompt_ids)
            for step in 0..<min(Self.comparedSteps, testCase.generated.count) {
                var margin = Double.infinity
                if step < testCase.top_logits.count {
                    let top = testCase.top_logits[step]
                    margin = top[0][1] - top[1][1]
                    for pair in top {
                        let difference = abs(Double(logits[Int(pair[0])]) - pair[1])
                        worst = max(worst, difference)
                        #expect(difference <= Self.logitTolerance, "case \(index) step \(step) token \(pair[0])")
                    }
                }
                let token = Sampler.argmax(logits)
                let expected = testCase.generated[step]
                // A swap is acceptable only where llama.cpp's own top two are within the tolerance.
                if token != expected {
                    #expect(margin <= 2 * Self.logitTolerance, "case \(index) step \(step): \(token) vs \(expected)")
                    break
                }
                agreed += 1
                if step + 1 < Self.comparedSteps { logits = try state.evaluate([token]) }
            }
        }
        // Every case agrees for all compared steps (measured); allow one near-tie break across the fixture.
        #expect(agreed >= fixture.cases.count * Self.comparedSteps - Self.comparedSteps)
        print("qwen2 tiny: \(agreed) greedy steps agree; largest top-10 logit difference from llama.cpp \(worst)")
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
