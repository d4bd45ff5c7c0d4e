import CAgoraKernels
import Foundation
import Testing

@testable import AgoraInference

/// Random ggml-format weights and float activations for kernel tests.
private struct KernelCase {
    let type: agora_weight_type
    let rows: Int
    let k: Int
    let columns: Int
    let weights: UnsafeMutableRawPointer
    let activations: UnsafeMutableRawPointer
    let input: [Float]

    init(type: agora_weight_type, rows: Int, k: Int, columns: Int, seed: UInt64) {
        self.type = type
        self.rows = rows
        self.k = k
        self.columns = columns
        var random = Xoshiro256StarStar(seed: seed)
        let blockBytes: Int
        switch type {
        case AGORA_WEIGHT_Q4_0: blockBytes = 18
        case AGORA_WEIGHT_Q4_1: blockBytes = 20
        case AGORA_WEIGHT_Q5_0: blockBytes = 22
        case AGORA_WEIGHT_Q5_1: blockBytes = 24
        default: blockBytes = 34
        }
        let blocks = rows * k / 32
        var raw = [UInt8](repeating: 0, count: blocks * blockBytes)
        for b in 0..<blocks {
            for j in 0..<blockBytes { raw[b * blockBytes + j] = UInt8(truncatingIfNeeded: random.next()) }
            // Scales: positive or negative halves with exponents 2^-6...2^-2 (no NaN/inf).
            for s in 0..<(type == AGORA_WEIGHT_Q4_1 || type == AGORA_WEIGHT_Q5_1 ? 2 : 1) {
                let half = UInt16(truncatingIfNeeded: random.next() & 0x83FF) | UInt16(9 + random.next() % 5) << 10
                raw[b * blockBytes + 2 * s] = UInt8(half & 0xFF)
                raw[b * blockBytes + 2 * s + 1] = UInt8(half >> 8)
            }
        }
        let rowBytes = agora_row_bytes(type, Int32(k))
        let repacked = UnsafeMutableRawPointer.allocate(byteCount: rowBytes * rows, alignment: 64)
        raw.withUnsafeBytes { agora_repack_rows(type, $0.baseAddress!, repacked, Int32(rows), Int32(k)) }
        weights = repacked
        var input: [Float] = []
        for _ in 0..<(k * columns) { input.append(Float(Int64(random.next() % 20001) - 10000) / 3000) }
        // Some all-zero blocks: their scale is 0 and must not produce NaN.
        for j in 0..<32 { input[j] = 0 }
        self.input = input
        let quantized = UnsafeMutableRawPointer.allocate(byteCount: agora_act_bytes(Int32(k)) * columns, alignment: 64)
        input.withUnsafeBufferPointer {
            agora_quantize_act($0.baseAddress!, k, Int32(columns), Int32(k), quantized)
        }
        activations = quantized
    }

    func free() {
        weights.deallocate()
        activations.deallocate()
    }

    func run(path: KernelPath, r0: Int = 0, r1: Int? = nil, columns: Int? = nil) -> [Float] {
        let n = columns ?? self.columns
        var out = [Float](repeating: .nan, count: rows * n)
        out.withUnsafeMutableBufferPointer {
            agora_matmul_rows_on(
                path.cValue, type, weights, Int32(k), Int32(r0), Int32(r1 ?? rows), activations, Int32(n),
                $0.baseAddress!, rows)
        }
        return out
    }

    func dequantized(row: Int) -> [Float] {
        var out = [Float](repeating: 0, count: k)
        let rowBytes = agora_row_bytes(type, Int32(k))
        out.withUnsafeMutableBufferPointer {
            agora_dequantize_row(type, weights + row * rowBytes, $0.baseAddress!, Int32(k))
        }
        return out
    }
}

@Suite("Kernels")
struct KernelTests {
    static let types = [AGORA_WEIGHT_Q4_0, AGORA_WEIGHT_Q4_1, AGORA_WEIGHT_Q5_0, AGORA_WEIGHT_Q5_1, AGORA_WEIGHT_Q8_0]
    /// 1, 18 (two full groups of eight blocks and a tail), 48, 13 and 73 blocks (more than one stretch of
    /// a tile's precomputed scales).
    static let widths = [32, 576, 1536, 416, 2336]

    @Test("every supported SIMD path is bit-identical to the scalar path", arguments: types, widths)
    func pathsAgree(type: agora_weight_type, k: Int) {
        // Nine columns (AVX-512: two groups of four and one of one; Q5_0 through expanded rows past eight), and
        // the first seven of them (groups of four and three).
        let c = KernelCase(type: type, rows: 37, k: k, columns: 9, seed: UInt64(k) &* 31 &+ UInt64(type.rawValue))
        defer { c.free() }
        let scalar = c.run(path: .scalar)
        let scalarSeven = c.run(path: .scalar, columns: 7)
        #expect(scalar.allSatisfy { $0.isFinite })
        // Decode (one column) has kernels of its own (AVX-512: four rows at a time); the range 3..<34 starts
        // off the four-row grid and ends with rows left over.
        let scalarDecode = c.run(path: .scalar, columns: 1)
        let scalarRange = c.run(path: .scalar, r0: 3, r1: 34, columns: 1)
        for path in KernelPath.supported where path != .scalar {
            #expect(c.run(path: path).map(\.bitPattern) == scalar.map(\.bitPattern), "path \(path)")
            #expect(c.run(path: path, columns: 7).map(\.bitPattern) == scalarSeven.map(\.bitPattern), "path \(path)")
            #expect(
                c.run(path: path, columns: 1).map(\.bitPattern) == scalarDecode.map(\.bitPattern), "path \(path)")
            #expect(
                c.run(path: path, r0: 3, r1: 34, columns: 1).map(\.bitPattern) == scalarRange.map(\.bitPattern),
                "path \(path)")
        }
    }

    @Test("a result does not depend on the rows and columns computed with it", arguments: types)
    func batchShapeInvariance(type: agora_weight_type) {
        let c = KernelCase(type: type, rows: 21, k: 576, columns: 6, seed: 7)
        defer { c.free() }
        for path in KernelPath.supported {
            let all = c.run(path: path)
            let firstColumnOnly = c.run(path: path, columns: 1)
            let someRows = c.run(path: path, r0: 5, r1: 9)
            #expect(Array(all[0..<21]).map(\.bitPattern) == Array(firstColumnOnly[0..<21]).map(\.bitPattern))
            for column in 0..<6 {
                for row in 5..<9 {
                    #expect(all[column * 21 + row].bitPattern == someRows[column * 21 + row].bitPattern)
                }
            }
        }
    }

    /// The only approximation is the 8-bit activations: |x - x_q| <= d/2 = amax/254 per element, so the
    /// error of a dot product is at most Σ_blocks amax_b/254 · Σ|w_i| (plus float rounding, far smaller).
    @Test("the scalar path matches a double-precision dot product within the quantization bound", arguments: types)
    func scalarMatchesReference(type: agora_weight_type) {
        let k = 1536
        let c = KernelCase(type: type, rows: 9, k: k, columns: 3, seed: 99)
        defer { c.free() }
        let result = c.run(path: .scalar)
        for row in 0..<c.rows {
            let w = c.dequantized(row: row)
            for column in 0..<c.columns {
                let x = Array(c.input[column * k..<(column + 1) * k])
                var exact: Double = 0
                var bound: Double = 0
                var magnitude: Double = 0
                for b in 0..<(k / 32) {
                    var amax: Double = 0
                    var wsum: Double = 0
                    for i in b * 32..<(b + 1) * 32 {
                        exact += Double(w[i]) * Double(x[i])
                        magnitude += abs(Double(w[i]) * Double(x[i]))
                        amax = max(amax, Double(abs(x[i])))
                        wsum += Double(abs(w[i]))
                    }
                    bound += amax / 254 * wsum
                }
                let error = abs(Double(result[column * c.rows + row]) - exact)
                #expect(error <= bound * 1.001 + magnitude * 1e-5, "row \(row) column \(column)")
                #expect(error < magnitude * 0.05)
            }
        }
    }

    @Test("activation quantization rounds to nearest and records exact block sums")
    func quantization() {
        var x = [Float](repeating: 0, count: 64)
        for i in 0..<32 { x[i] = Float(i) - 15.5 }
        x[32] = 1
        let bytes = agora_act_bytes(64)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer { buffer.deallocate() }
        x.withUnsafeBufferPointer { agora_quantize_act($0.baseAddress!, 64, 1, 64, buffer) }
        let q = buffer.assumingMemoryBound(to: Int8.self)
        let d = (buffer + 64).assumingMemoryBound(to: Float.self)
        let isum = (buffer + 64 + 16).assumingMemoryBound(to: Int32.self)
        // The scale is stored rounded to half precision, as ggml's q8 blocks hold it.
        #expect(d[0] == agora_f16_to_f32(agora_f32_to_f16(Float(15.5) / 127)))
        #expect(abs(d[0] - Float(15.5) / 127) <= Float(15.5) / 127 * 0x1p-11)
        #expect(q[0] == -127 && q[31] == 127)
        #expect(q[32] == 127 && q[33] == 0)
        var sum: Int32 = 0
        for i in 0..<32 { sum += Int32(q[i]) }
        #expect(isum[0] == sum && isum[1] == 127)
    }

    @Test("pool matrix products give the same bits for 1, 2 and 3 threads", arguments: types)
    func poolThreadInvariance(type: agora_weight_type) {
        let c = KernelCase(type: type, rows: 301, k: 576, columns: 5, seed: 3)
        defer { c.free() }
        var results: [[UInt32]] = []
        for threads in 1...3 {
            let pool = ComputePool(threadCount: threads)
            var out = [Float](repeating: .nan, count: c.rows * c.columns)
            out.withUnsafeMutableBufferPointer {
                pool.matmul(
                    path: .current, type, weights: c.weights, rows: c.rows, k: c.k, activations: c.activations,
                    columns: c.columns, out: $0.baseAddress!, outStride: c.rows)
            }
            results.append(out.map(\.bitPattern))
        }
        #expect(results[0] == results[1])
        #expect(results[0] == results[2])
        #expect(results[0] == c.run(path: .scalar).map(\.bitPattern))
    }

    @Test("fp16 conversion is exact, subnormals included, and float to half rounds to nearest even")
    func halfConversion() {
        #expect(agora_f32_to_f16(1) == 0x3C00)
        #expect(agora_f32_to_f16(1 + 0x1p-11) == 0x3C00)  // tie: to even
        #expect(agora_f32_to_f16(1 + 0x1p-11 + 0x1p-20) == 0x3C01)
        #expect(agora_f32_to_f16(65520) == 0x7C00)
        #expect(agora_f32_to_f16(0x1p-25) == 0)  // tie with zero: to even
        #expect(agora_f32_to_f16(0x1p-24) == 0x0001)
        #expect(agora_f32_to_f16(-2) == 0xC000)
        #expect(agora_f16_to_f32(0x3C00) == 1)
        #expect(agora_f16_to_f32(0xC000) == -2)
        #expect(agora_f16_to_f32(0x0001) == 0x1p-24)
        #expect(agora_f16_to_f32(0x7BFF) == 65504)
        #expect(agora_f16_to_f32(0x7C00) == .infinity)
        #expect(agora_f16_to_f32(0x8000).sign == .minus)
    }

    @Test("deterministic exp stays within 2 ulp of the platform's and is exact at 0")
    func deterministicExp() {
        #expect(DeterministicMath.exp(0) == 1)
        #expect(DeterministicMath.exp(-200) == 0)
        #expect(DeterministicMath.exp(100) == .infinity)
        var x: Float = -87
        while x < 88 {
            let ours = DeterministicMath.exp(x)
            let reference = Float(Foundation.exp(Double(x)))
            #expect(abs(ours - reference) <= 2 * reference.ulp, "x = \(x)")
            x += 0.0173
        }
    }
}
