import CAgoraKernels
import Foundation
import Testing

@testable import AgoraInference

/// The F32 / F16 / BF16 weight products (float_rows.c): every path gives the same bits, the activations are
/// rounded as ggml rounds them, and the sums are the exact products up to float rounding.
@Suite("float weight kernels")
struct FloatWeightKernelTests {
    static let formats = [AGORA_FLOAT_F32, AGORA_FLOAT_F16, AGORA_FLOAT_BF16]
    /// Whole steps of 32, leftovers only (k < 32), and both.
    static let widths = [64, 20, 200]

    /// Random weights of `format` (rows x k) and float activations (`columns` x k) in [-2, 2).
    struct Case {
        var weights: [UInt8]
        var input: [Float]
        var halves: [UInt8]
        let rows = 7
        let columns = 3
        let k: Int
        let format: agora_float_format

        init(format: agora_float_format, k: Int, seed: UInt64) {
            self.format = format
            self.k = k
            var random = Xoshiro256StarStar(seed: seed)
            func uniform() -> Float { Float(random.next() >> 40) / Float(1 << 24) * 4 - 2 }
            let elementBytes = agora_float_element_bytes(format)
            var weights = [UInt8](repeating: 0, count: rows * k * elementBytes)
            for i in 0..<rows * k {
                let value = uniform()
                switch format {
                case AGORA_FLOAT_F32:
                    withUnsafeBytes(of: value) { weights.replaceSubrange(i * 4..<i * 4 + 4, with: $0) }
                case AGORA_FLOAT_F16:
                    withUnsafeBytes(of: agora_f32_to_f16(value)) {
                        weights.replaceSubrange(i * 2..<i * 2 + 2, with: $0)
                    }
                default:
                    withUnsafeBytes(of: agora_f32_to_bf16(value)) {
                        weights.replaceSubrange(i * 2..<i * 2 + 2, with: $0)
                    }
                }
            }
            self.weights = weights
            input = (0..<columns * k).map { _ in uniform() }
            halves = [UInt8](repeating: 0, count: columns * k * 2)
            if format != AGORA_FLOAT_F32 {
                agora_float_convert_act(format, input, k, Int32(columns), Int32(k), &halves, k * 2)
            }
        }

        func multiply(_ path: agora_path) -> [Float] {
            var out = [Float](repeating: .nan, count: rows * columns)
            weights.withUnsafeBytes { w in
                if format == AGORA_FLOAT_F32 {
                    agora_float_matmul_rows_on(
                        path, format, w.baseAddress, Int32(k), 0, Int32(rows), input, k * 4, Int32(columns), &out, rows)
                } else {
                    agora_float_matmul_rows_on(
                        path, format, w.baseAddress, Int32(k), 0, Int32(rows), halves, k * 2, Int32(columns), &out,
                        rows)
                }
            }
            return out
        }

        func weight(_ r: Int, _ i: Int) -> Double {
            let e = r * k + i
            switch format {
            case AGORA_FLOAT_F32:
                return Double(weights.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: e * 4, as: Float.self) })
            case AGORA_FLOAT_F16:
                return Double(agora_f16_to_f32(UInt16(weights[e * 2]) | UInt16(weights[e * 2 + 1]) << 8))
            default:
                return Double(Float(bitPattern: (UInt32(weights[e * 2]) | UInt32(weights[e * 2 + 1]) << 8) << 16))
            }
        }

        func activation(_ c: Int, _ i: Int) -> Double {
            let e = c * k + i
            switch format {
            case AGORA_FLOAT_F32: return Double(input[e])
            case AGORA_FLOAT_F16:
                return Double(agora_f16_to_f32(UInt16(halves[e * 2]) | UInt16(halves[e * 2 + 1]) << 8))
            default: return Double(Float(bitPattern: (UInt32(halves[e * 2]) | UInt32(halves[e * 2 + 1]) << 8) << 16))
            }
        }
    }

    @Test("every supported SIMD path is bit-identical to the scalar path", arguments: formats, widths)
    func pathsAgree(format: agora_float_format, k: Int) {
        let testCase = Case(format: format, k: k, seed: UInt64(k) &* 31 &+ UInt64(format.rawValue))
        let scalar = testCase.multiply(AGORA_PATH_SCALAR)
        #expect(!scalar.contains { $0.isNaN })
        for path in [AGORA_PATH_AVX2, AGORA_PATH_AVX512] where agora_path_supported(path) != 0 {
            #expect(testCase.multiply(path).map(\.bitPattern) == scalar.map(\.bitPattern), "path \(path.rawValue)")
        }
    }

    @Test("results are the exact dot products of the rounded values, up to float summation error", arguments: formats)
    func matchesDoublePrecision(format: agora_float_format) {
        let testCase = Case(format: format, k: 200, seed: 5)
        let out = testCase.multiply(AGORA_PATH_SCALAR)
        for r in 0..<testCase.rows {
            for c in 0..<testCase.columns {
                var exact = 0.0
                var magnitude = 0.0
                for i in 0..<testCase.k {
                    exact += testCase.weight(r, i) * testCase.activation(c, i)
                    magnitude += abs(testCase.weight(r, i) * testCase.activation(c, i))
                }
                // 200 float additions: at most ~200 ulp of the sum of magnitudes.
                #expect(abs(Double(out[c * testCase.rows + r]) - exact) <= magnitude * 200 * 0x1p-24)
            }
        }
    }

    @Test("activations round to nearest even as ggml rounds them (F16C, ggml_compute_fp32_to_bf16)")
    func rounding() {
        // bfloat16 keeps the top 16 bits; ties go to even.
        #expect(agora_f32_to_bf16(1.0) == 0x3F80)
        #expect(agora_f32_to_bf16(Float(bitPattern: 0x3F80_8000)) == 0x3F80)  // tie, even stays
        #expect(agora_f32_to_bf16(Float(bitPattern: 0x3F81_8000)) == 0x3F82)  // tie, odd rounds up
        #expect(agora_f32_to_bf16(Float(bitPattern: 0x3F80_8001)) == 0x3F81)
        #expect(agora_f32_to_bf16(-Float.infinity) == 0xFF80)
        #expect(agora_f32_to_bf16(Float.nan) & 0x7FC0 == 0x7FC0)  // stays a quiet NaN
        var halves = [UInt16](repeating: 0, count: 2)
        agora_float_convert_act(AGORA_FLOAT_F16, [1.0 / 3.0, 65_520], 2, 1, 2, &halves, 4)
        #expect(halves == [0x3555, 0x7C00])  // 1/3 rounds down; 65520 overflows to infinity
    }
}
