import Foundation
import Testing

@testable import AgoraInference

/// Greedy generations and top-10 logits recorded from llama.cpp (`Tests/Fixtures/generation_*.json`).
///
/// Agora computes in llama.cpp's own float order (its x86 vec_dot and repacked-Q4_0 kernels, ggml's
/// vectorized exp, softmax, SwiGLU, rotary table and attention products; see `agora_kernels.h`), so the
/// check is equality: every recorded greedy token (up to 32 per prompt, 16 required by the issue) and
/// every recorded top-10 logit bit for bit. llama.cpp runs one token per evaluation there (its batched
/// path routes products through tinyBLAS, another order); Agora processes the prompt in batches and still
/// agrees, because its order never depends on the batch shape.
@Suite("llama.cpp fixtures")
struct LlamaCppFixtureTests {
    struct Fixture: Decodable {
        struct Case: Decodable {
            var prompt_ids: [Int32]
            /// Where the prompt was tokenized by llama.cpp (BOS, then the text with special tokens parsed).
            var prompt_text: String?
            var generated: [Int32]
            /// Per step, ten [id, logit] pairs.
            var top_logits: [[[Double]]]
        }
        var model: String
        /// The model file's SHA-256, for fixtures recorded on a file that is rebuilt rather than fetched.
        var sha256: String?
        /// The same, as `Scripts/make_fixtures.py` names it.
        var model_sha256: String?
        struct Settings: Decodable { var requantized_with: String? }
        var settings: Settings?
        var cases: [Case]
    }

    /// The fixture's model next to the default model in the store. The Q4_0 / Q8_0 requantizations (tensor
    /// for tensor what `llama-quantize` writes) and the Q4_K_M / Q5_K_M / Q6_K / Q2_K / Q3_K mixes are made by `.ci/run` with
    /// `Scripts/requantize.py` (the `gguf` package); llama-quantize's own K-quant files are checked where they
    /// exist (`Scripts/make_fixtures.py` makes them next to the default model; CI has no llama.cpp build).
    static func modelURL(for fixture: String) -> URL? {
        guard let fixture = try? TestModel.fixture(fixture, as: Fixture.self),
            let defaultURL = try? TestModel.defaultModelURL()
        else { return nil }
        let url = defaultURL.deletingLastPathComponent().appendingPathComponent(fixture.model)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    static let fixtures = [
        "generation_q4_1.json", "generation_q4_0.json", "generation_q8_0.json", "generation_q4_k_m.json",
        "generation_q5_k_m.json", "generation_q6_k.json", "generation_q2_k.json", "generation_q3_k.json",
        "generation_q4_k_m_llama_quantize.json", "generation_q5_k_m_llama_quantize.json",
        "generation_q6_k_llama_quantize.json", "generation_q2_k_llama_quantize.json",
        "generation_q3_k_llama_quantize.json",
    ]

    /// Reports (as a cancelled test, shown in the run's output) every fixture whose model file is missing;
    /// the cases of those fixtures cancel themselves.
    @Test("every fixture's model file is in the model cache")
    func modelFilesPresent() throws {
        let missing = Self.fixtures.filter { $0 != "generation_q4_1.json" && Self.modelURL(for: $0) == nil }
        if !missing.isEmpty { try Test.cancel("model files not in the cache for: \(missing.joined(separator: ", "))") }
    }

    @Test("greedy tokens and top logits agree with llama.cpp", arguments: fixtures)
    func agreesWithLlamaCpp(fixtureName: String) throws {
        let fixture = try TestModel.fixture(fixtureName, as: Fixture.self)
        let model: LlamaModel
        if fixtureName == "generation_q4_1.json" {
            model = EngineTestModel.model
        } else {
            // A model file that is not here is a reported skip, not a case dropped from the list.
            guard let url = Self.modelURL(for: fixtureName) else {
                try Test.cancel("the model file of \(fixtureName) is not in the model cache")
            }
            // A file only Agora's script makes must be the very file the fixture was recorded on (the Q8_0 /
            // Q4_0 files may come from either tool: their tensors are identical, their headers not).
            if fixture.settings?.requantized_with?.hasPrefix("Scripts/") == true {
                #expect(
                    try FileSHA256.digest(of: url).hex == fixture.model_sha256 ?? "",
                    "\(fixture.model) differs from the recorded file: remake it with Scripts/requantize.py")
            }
            model = try LlamaModel(gguf: try GGUFFile(url: url), contextLength: 512)
        }
        let state = LlamaState(model: model, threads: 2)
        var agreedSteps = 0
        var comparedLogits = 0
        for (index, testCase) in fixture.cases.enumerated() {
            state.reset()
            var logits = try state.evaluate(testCase.prompt_ids)
            for (step, expected) in testCase.generated.enumerated() {
                if step < testCase.top_logits.count {
                    for pair in testCase.top_logits[step] {
                        let ours = logits[Int(pair[0])]
                        // Recorded with %.9g: parsing back to Float gives llama.cpp's exact bits.
                        #expect(ours == Float(pair[1]), "case \(index) step \(step) token \(pair[0])")
                        comparedLogits += 1
                    }
                }
                let token = Sampler.argmax(logits)
                try #require(token == expected, "case \(index) step \(step): \(token) vs llama.cpp's \(expected)")
                agreedSteps += 1
                if step + 1 < testCase.generated.count { logits = try state.evaluate([token]) }
            }
        }
        print("\(fixtureName): all \(agreedSteps) greedy steps and \(comparedLogits) top-10 logits equal llama.cpp's")
    }
}
