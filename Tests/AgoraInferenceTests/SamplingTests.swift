import Foundation
import Testing

@testable import AgoraInference

@Suite("Sampling")
struct SamplingTests {
    @Test("xoshiro256** with SplitMix64 seeding reproduces the reference sequence")
    func generatorReferenceValues() {
        // SplitMix64 from seed 0 gives 0xE220A8397B1DCDAF first (Vigna's reference implementation).
        var generator = Xoshiro256StarStar(seed: 0)
        let first = (0..<3).map { _ in generator.next() }
        var again = Xoshiro256StarStar(seed: 0)
        #expect((0..<3).map { _ in again.next() } == first)
        #expect(Xoshiro256StarStar(seed: 1) != Xoshiro256StarStar(seed: 0))
        // rotl(s1 * 5, 7) * 9 with s1 = splitmix64's second output from seed 0 (0x6E789E6AA1B965F4).
        let s1: UInt64 = 0x6E78_9E6A_A1B9_65F4
        let expected = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        #expect(first[0] == expected)
        var unit = Xoshiro256StarStar(seed: 7)
        for _ in 0..<1000 {
            let u = unit.nextUnitDouble()
            #expect(u >= 0 && u < 1)
        }
    }

    static func logits(_ values: [Float], _ body: (UnsafeBufferPointer<Float>) -> Void) {
        values.withUnsafeBufferPointer(body)
    }

    @Test("greedy picks the highest logit and the lowest id among equals")
    func greedy() {
        var sampler = Sampler(.greedy)
        Self.logits([0.5, 2, -1, 2, 1.5]) { #expect(sampler.sample($0) == 1) }
        var topOne = Sampler(SamplingParameters(temperature: 1, topK: 1, seed: 9))
        Self.logits([0.5, 2, -1, 3, 1.5]) { #expect(topOne.sample($0) == 3) }
    }

    @Test("the same seed gives the same tokens; another seed gives other tokens")
    func seededReproducibility() {
        let values = (0..<500).map { Float(($0 * 7919) % 101) / 20 }
        func draw(_ parameters: SamplingParameters) -> [Int32] {
            var sampler = Sampler(parameters)
            var out: [Int32] = []
            values.withUnsafeBufferPointer { for _ in 0..<64 { out.append(sampler.sample($0)) } }
            return out
        }
        for parameters in [
            SamplingParameters(temperature: 0.8, seed: 42),
            SamplingParameters(temperature: 1.2, topK: 40, seed: 42),
            SamplingParameters(temperature: 0.7, topP: 0.9, seed: 42),
            SamplingParameters(temperature: 1, topK: 20, topP: 0.5, seed: 42),
        ] {
            let a = draw(parameters)
            #expect(a == draw(parameters))
            var other = parameters
            other.seed = 43
            #expect(a != draw(other))
        }
    }

    @Test("top-k and top-p never choose tokens outside their sets")
    func filters() {
        let values: [Float] = [5, 4.9, 1, 0, -3, 4.8, 2]
        values.withUnsafeBufferPointer { logits in
            var topK = Sampler(SamplingParameters(temperature: 5, topK: 3, seed: 1))
            for _ in 0..<300 { #expect([0, 1, 5].contains(topK.sample(logits))) }
            // Weights at T = 1: e^0, e^-0.1, e^-0.2, … : tokens 0, 1, 5 hold about 0.9 of the mass.
            var topP = Sampler(SamplingParameters(temperature: 1, topP: 0.5, seed: 2))
            for _ in 0..<300 { #expect([0, 1].contains(topP.sample(logits))) }
        }
    }

    @Test("top-p on a large vocabulary matches the full-sort definition")
    func topPPrefilterEquivalence() {
        // A flat tail makes the 2^-20 prefilter insufficient for top-p 0.999, forcing the full sort path;
        // a peaked one keeps it on the fast path. Both must draw only from the nucleus and be seeded.
        var flat = [Float](repeating: 0, count: 4000)
        flat[17] = 3
        var peaked = [Float](repeating: -30, count: 4000)
        peaked[5] = 0
        peaked[9] = -0.5
        for (values, p) in [(flat, Float(0.999)), (peaked, Float(0.9))] {
            var a = Sampler(SamplingParameters(temperature: 1, topP: p, seed: 5))
            var b = Sampler(SamplingParameters(temperature: 1, topP: p, seed: 5))
            values.withUnsafeBufferPointer { logits in
                for _ in 0..<50 {
                    let token = a.sample(logits)
                    #expect(token == b.sample(logits))
                    if p == 0.9 { #expect(token == 5 || token == 9) }
                }
            }
        }
    }

    @Test("sampling frequencies follow the softmax")
    func distribution() {
        let values: [Float] = [0, Float(log(3.0))]
        var sampler = Sampler(SamplingParameters(temperature: 1, seed: 11))
        var ones = 0
        values.withUnsafeBufferPointer { for _ in 0..<4000 where sampler.sample($0) == 1 { ones += 1 } }
        #expect(abs(Double(ones) / 4000 - 0.75) < 0.03)
    }
}

@Suite("Streaming text")
struct StreamingTextTests {
    @Test("UTF-8 split across tokens is held back until complete")
    func utf8AcrossTokens() {
        var decoder = UTF8StreamDecoder()
        let bytes = Array("é€😀!".utf8)
        var text = ""
        for byte in bytes { text += decoder.append([byte]) }
        text += decoder.finish()
        #expect(text == "é€😀!")
        var partial = UTF8StreamDecoder()
        #expect(partial.append([0xE2, 0x82]) == "")
        #expect(partial.append([0xAC, 0x41]) == "€A")
        #expect(partial.append([0xF0]) == "")
        #expect(partial.finish() == "\u{FFFD}")
    }

    @Test("stop strings end the text before them, even across chunks, and hold back partial matches")
    func stopStrings() {
        var matcher = StopStringMatcher(["\n\nUser:", "STOP"])
        var out = ""
        var stopped = false
        for piece in ["Hello", " world\n", "\nUs", "er: more"] {
            let step = matcher.append(piece)
            out += step.emit
            if step.stopped {
                stopped = true
                break
            }
        }
        #expect(stopped)
        #expect(out == "Hello world")

        var holding = StopStringMatcher(["STOP"])
        #expect(holding.append("abcST").emit == "abc")
        #expect(holding.append("x").emit == "STx")
        #expect(holding.append("ST").emit == "")
        #expect(holding.flush() == "ST")

        var none = StopStringMatcher([])
        let passthrough = none.append("anything")
        #expect(passthrough.emit == "anything" && !passthrough.stopped)
    }

    static func greedySequence(_ logits: [Float], _ parameters: SamplingParameters, steps: Int) -> [Int32] {
        var sampler = Sampler(parameters)
        return logits.withUnsafeBufferPointer { buffer in (0..<steps).map { _ in sampler.sample(buffer) } }
    }

    @Test("penalties follow llama.cpp's step on the tokens generated so far")
    func penalties() {
        // Worked by hand: presence subtracts once per seen token, frequency once per occurrence, repetition
        // divides positive logits and multiplies negative ones.
        #expect(Self.greedySequence([2, 1.9, 0], SamplingParameters(presencePenalty: 0.5), steps: 4) == [0, 1, 0, 0])
        #expect(
            Self.greedySequence([2, 1.9, 0], SamplingParameters(frequencyPenalty: 0.3), steps: 5) == [0, 1, 0, 1, 0])
        #expect(
            Self.greedySequence([2, 1.5, -1], SamplingParameters(repetitionPenalty: 2), steps: 4) == [0, 1, 0, 0])
        #expect(Self.greedySequence([-1, -1.5], SamplingParameters(repetitionPenalty: 2), steps: 3) == [0, 1, 0])
        // A negative penalty rewards repeats.
        #expect(Self.greedySequence([2, 2.1], SamplingParameters(presencePenalty: -1), steps: 3) == [1, 1, 1])
        // Neutral values are no change at all.
        #expect(Self.greedySequence([2, 1.9, 0], SamplingParameters(), steps: 3) == [0, 0, 0])
    }

    @Test("logit_bias shifts the named tokens before greedy and sampled choice")
    func logitBias() {
        #expect(
            Self.greedySequence([3, 2, 1], SamplingParameters(logitBias: [LogitBias(token: 0, bias: -100)]), steps: 2)
                == [1, 1])
        #expect(
            Self.greedySequence([3, 2, 1], SamplingParameters(logitBias: [LogitBias(token: 2, bias: 2.5)]), steps: 1)
                == [2])
        // Sampled: a token biased by -100 is never drawn; ids beyond the vocabulary are ignored by the sampler
        // (the node refuses them before any work).
        var sampler = Sampler(
            SamplingParameters(
                temperature: 1, seed: 3, logitBias: [LogitBias(token: 1, bias: -100), LogitBias(token: 99, bias: 5)]))
        let drawn = [Float](repeating: 0, count: 4).withUnsafeBufferPointer { buffer in
            (0..<400).map { _ in sampler.sample(buffer) }
        }
        #expect(!drawn.contains(1) && Set(drawn) == [0, 2, 3])
    }

    @Test("min_p drops tokens below a fraction of the top weight")
    func minP() {
        let logits: [Float] = [0, -1, -3]  // weights 1, 0.37, 0.05 at T = 1
        func draws(_ minP: Float) -> [Int32] {
            var sampler = Sampler(SamplingParameters(temperature: 1, seed: 21, minP: minP))
            return logits.withUnsafeBufferPointer { buffer in (0..<600).map { _ in sampler.sample(buffer) } }
        }
        #expect(draws(0).contains(2))
        #expect(!draws(0.1).contains(2) && draws(0.1).contains(1))
        #expect(Set(draws(0.5)) == [0])
    }

    @Test("log-probabilities are the log-softmax of the raw logits, with the best alternatives first")
    func logprobs() {
        ([1, 2, 3, 3] as [Float]).withUnsafeBufferPointer { logits in
            let value = TokenLogprob.compute(logits, token: 1, top: 3)
            // ln(e^1 + e^2 + 2e^3) = 3.9175758; logprob(1) = 2 - that.
            #expect(abs(Double(value.logprob) - (2 - 3.917_575_8)) < 1e-5)
            #expect(value.top.map(\.token) == [2, 3, 1])
            #expect(value.top[0].logprob == value.top[1].logprob)
        }
        var generator = Xoshiro256StarStar(seed: 1)
        let logits = (0..<49_152).map { _ in Float(generator.nextUnitDouble() * 30 - 15) }
        logits.withUnsafeBufferPointer { buffer in
            let top = TokenLogprob.compute(buffer, token: 0, top: 20).top
            var total: Double = 0
            for i in 0..<buffer.count {
                total += exp(Double(TokenLogprob.compute(buffer, token: Int32(i), top: 0).logprob))
                if i == 2_000 { break }
            }
            #expect(total < 1)
            #expect(top.count == 20 && zip(top, top.dropFirst()).allSatisfy { $0.logprob >= $1.logprob })
            let mass = top.reduce(0.0) { $0 + exp(Double($1.logprob)) }
            #expect(mass > 0 && mass < 1)
            #expect(TokenLogprob.compute(buffer, token: 7, top: 0) == TokenLogprob.compute(buffer, token: 7, top: 0))
        }
    }

    @Test("the deterministic logarithm agrees with libm to within a few ulps")
    func deterministicLog() {
        var generator = Xoshiro256StarStar(seed: 4)
        for _ in 0..<10_000 {
            let x = exp(generator.nextUnitDouble() * 80 - 20)
            let ours = DeterministicMath.log(x)
            #expect(abs(ours - Foundation.log(x)) <= 4 * Foundation.log(x).ulp.magnitude + 1e-300, "\(x)")
        }
        #expect(DeterministicMath.log(1) == 0 && DeterministicMath.log(0) == -.infinity)
        #expect(DeterministicMath.log(-1).isNaN && DeterministicMath.log(.infinity) == .infinity)
    }
}
