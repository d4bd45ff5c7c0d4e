import CAgoraKernels
import Foundation
import Testing

@testable import AgoraInference

/// The attention, softmax and SwiGLU kernels (attention.c): every path gives the scalar path's bits, the
/// vectorized exp is accurate, and the special cases llama.cpp relies on (masked positions, overflow) hold.
@Suite("Attention kernels")
struct AttentionKernelTests {
    static func randomFloats(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var random = Xoshiro256StarStar(seed: seed)
        return (0..<count).map { _ in Float(Int64(random.next() % 200_001) - 100_000) / 100_000 * scale }
    }

    @Test("ggml's exp: within 2 ulp of exp, exact at 0, and the overflow and underflow ends")
    func expAccuracy() {
        #expect(agora_expf(0) == 1)
        #expect(agora_expf(-.infinity) == 0)
        #expect(agora_expf(-200) == 0)
        #expect(agora_expf(200) == .infinity)
        #expect(agora_expf(.nan).isNaN)
        var x: Float = -87
        while x < 88 {
            let reference = Float(Foundation.exp(Double(x)))
            #expect(abs(agora_expf(x) - reference) <= 2 * reference.ulp, "x = \(x)")
            x += 0.0173
        }
    }

    @Test(
        "dot products, SwiGLU and whole attention heads give the scalar path's bits on every path",
        arguments: [1, 7, 31, 64, 100, 300])
    func pathsAgree(positions: Int) throws {
        let headDim = 64
        let stride = 3 * headDim
        let keys = Self.randomFloats(positions * stride, seed: UInt64(positions), scale: 4)
        let values = Self.randomFloats(positions * stride, seed: UInt64(positions) + 1)
        let q = Self.randomFloats(headDim, seed: UInt64(positions) + 2, scale: 3)
        var results: [[Float]] = []
        for path in KernelPath.supported {
            var scores = [Float](repeating: 0, count: positions + 8)
            var lanes = [Float](repeating: 0, count: 32 * headDim)
            var out = [Float](repeating: 0, count: headDim)
            agora_attend_head_on(
                path.cValue, q, keys, values, stride, Int32(positions), Int32(headDim), 0.125, &scores, &lanes, &out)
            var swiglu = [Float](repeating: 0, count: positions)
            agora_swiglu_on(path.cValue, keys, values, &swiglu, Int32(positions))
            let dot = agora_dot_f32_on(path.cValue, keys, values, Int32(positions))
            results.append(out + swiglu + [dot])
            // A probability-weighted average of values in [-1, 1] stays in [-1, 1].
            #expect(out.allSatisfy { abs($0) <= 1 })
        }
        let reference = results[0].map(\.bitPattern)
        for result in results.dropFirst() { #expect(result.map(\.bitPattern) == reference) }
    }

    @Test("one position attends to itself only; equal scores average the values")
    func attentionSemantics() {
        let headDim = 8
        let q: [Float] = [1, 0, 0, 0, 0, 0, 0, 0]
        let keys = [Float](repeating: 0.5, count: 3 * headDim)
        let values: [Float] = (0..<(3 * headDim)).map { Float($0 / headDim) }  // rows of 0s, 1s, 2s
        var scores = [Float](repeating: 0, count: 16)
        var lanes = [Float](repeating: 0, count: 32 * headDim)
        var out = [Float](repeating: 0, count: headDim)
        for path in KernelPath.supported {
            agora_attend_head_on(path.cValue, q, keys, values, headDim, 1, Int32(headDim), 1, &scores, &lanes, &out)
            #expect(out == [Float](repeating: 0, count: headDim))
            agora_attend_head_on(path.cValue, q, keys, values, headDim, 3, Int32(headDim), 1, &scores, &lanes, &out)
            #expect(out.allSatisfy { abs($0 - 1) < 1e-6 })
        }
    }

    @Test("the rotary scale is glibc's powf, as llama.cpp computes it")
    func rotaryScale() {
        for (base, headDim) in [(Float(10_000), 64), (100_000, 64), (500_000, 128), (1_000_000, 128)] {
            #expect(RotaryTable.thetaScale(base: base, headDim: headDim) == powf(base, -2 / Float(headDim)))
        }
        let table = RotaryTable(headDim: 64, base: 100_000, positions: 4)
        #expect(table.entry(position: 0, pair: 5) == (cos: 1, sin: 0))
        let scale = RotaryTable.thetaScale(base: 100_000, headDim: 64)
        let angle = (3 as Float) * scale * scale
        #expect(table.entry(position: 3, pair: 2) == (cos: cosf(angle), sin: sinf(angle)))
    }
}
