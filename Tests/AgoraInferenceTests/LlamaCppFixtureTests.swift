import Foundation
import Testing

@testable import AgoraInference

/// Greedy generations and top-10 logits recorded from llama.cpp (`Tests/Fixtures/generation_*.json`).
///
/// Agora cannot agree with llama.cpp bit for bit: the integer block sums and the half-precision scales are
/// the same, but llama.cpp adds the blocks in another order with FMA, uses libm's expf and an iterated
/// rotary angle, and this small model amplifies such last-bit differences over 30 layers. Measured on the
/// 22 prompts × 16 steps of the three fixtures: top-10 logits differ by at most 1.31 (Q4_1), 0.94 (Q4_0),
/// 0.83 (Q8_0) on a logit range of about ±25, and by at most 1.03 once both are taken relative to the top
/// logit (what argmax and softmax see); every greedy disagreement happened at a near-tie, where llama.cpp's
/// own top-2 margin was at most 0.47 and ours between the two tokens at most 0.31.
///
/// So the checks are: greedy tokens identical for the first 16 steps of every prompt, except that a case
/// may diverge at a near-tie (both margins below `nearTie`, the measured noise); and each recorded top-10
/// logit within `logitTolerance` of ours, absolute and relative to the step's top token.
@Suite("llama.cpp fixtures")
struct LlamaCppFixtureTests {
    struct Fixture: Decodable {
        struct Case: Decodable {
            var prompt_ids: [Int32]
            var generated: [Int32]
            /// Per step, ten [id, logit] pairs.
            var top_logits: [[[Double]]]
        }
        var model: String
        /// The model file's SHA-256, for fixtures recorded on a file that is rebuilt rather than fetched.
        var sha256: String?
        var cases: [Case]
    }

    static let logitTolerance = 1.5
    static let relativeTolerance = 1.25
    static let nearTie = 0.5
    static let comparedSteps = 16

    /// The fixture's model next to the default model in the store. The Q4_0 / Q8_0 requantizations are made
    /// by `.ci/run` with `Scripts/requantize.py` (the `gguf` package; tensor for tensor what `llama-quantize`
    /// writes); elsewhere those cases run where the files exist.
    static func modelURL(for fixture: String) -> URL? {
        guard let fixture = try? TestModel.fixture(fixture, as: Fixture.self),
            let defaultURL = try? TestModel.defaultModelURL()
        else { return nil }
        let url = defaultURL.deletingLastPathComponent().appendingPathComponent(fixture.model)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    static let fixtures = ["generation_q4_1.json", "generation_q4_0.json", "generation_q8_0.json"]

    @Test(
        "greedy tokens and top logits agree with llama.cpp",
        arguments: fixtures.filter { name in name == "generation_q4_1.json" || modelURL(for: name) != nil })
    func agreesWithLlamaCpp(fixtureName: String) throws {
        let fixture = try TestModel.fixture(fixtureName, as: Fixture.self)
        let model: LlamaModel
        if fixtureName == "generation_q4_1.json" {
            model = EngineTestModel.model
        } else {
            let url = try #require(Self.modelURL(for: fixtureName))
            model = try LlamaModel(gguf: try GGUFFile(url: url), contextLength: 512)
        }
        let state = LlamaState(model: model, threads: 2)
        var worst = 0.0
        var agreedSteps = 0
        var comparedSteps = 0
        for (index, testCase) in fixture.cases.enumerated() {
            state.reset()
            var logits = try state.evaluate(testCase.prompt_ids)
            let steps = min(Self.comparedSteps, testCase.generated.count)
            comparedSteps += steps
            for step in 0..<steps {
                var referenceMargin: Double?
                if step < testCase.top_logits.count {
                    let top = testCase.top_logits[step]
                    referenceMargin = top[0][1] - top[1][1]
                    let ourTop = Double(logits[Int(top[0][0])])
                    for pair in top {
                        let ours = Double(logits[Int(pair[0])])
                        worst = max(worst, abs(ours - pair[1]))
                        #expect(
                            abs(ours - pair[1]) <= Self.logitTolerance, "case \(index) step \(step) token \(pair[0])")
                        #expect(
                            abs((ours - ourTop) - (pair[1] - top[0][1])) <= Self.relativeTolerance,
                            "case \(index) step \(step) token \(pair[0]) relative to the top")
                    }
                }
                let token = Sampler.argmax(logits)
                let expected = testCase.generated[step]
                if token != expected {
                    let ourMargin = Double(logits[Int(token)] - logits[Int(expected)])
                    let nearTie = ourMargin < Self.nearTie && (referenceMargin ?? 0) < Self.nearTie
                    #expect(
                        nearTie, "case \(index) step \(step): \(token) vs llama.cpp's \(expected), margin \(ourMargin)")
                    break
                }
                agreedSteps += 1
                if step + 1 < steps { logits = try state.evaluate([token]) }
            }
        }
        // Near-ties are rare: most steps must agree before any divergence (measured: 70–80 %).
        #expect(agreedSteps * 10 >= comparedSteps * 6)
        print("\(fixtureName): \(agreedSteps) greedy steps agree; largest top-10 logit difference \(worst)")
    }
}
