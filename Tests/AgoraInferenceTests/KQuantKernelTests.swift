import CAgoraKernels
import Foundation
import Testing

@testable import AgoraInference

/// Q2_K, Q3_K, Q4_K, Q5_K and Q6_K (ggml blocks against Q8_K activations), Q5_1, and Q5_0 (computed as Q8_0).
@Suite("K-quant kernels")
struct KQuantKernelTests {
    /// Random ggml blocks with finite, moderate f16 scales.
    static func randomBlocks(_ type: GGMLType, rows: Int, k: Int, seed: UInt64) -> [UInt8] {
        var random = Xoshiro256StarStar(seed: seed)
        let blocks = rows * k / type.blockSize
        var raw = [UInt8](repeating: 0, count: blocks * type.bytesPerBlock)
        for i in raw.indices { raw[i] = UInt8(truncatingIfNeeded: random.next()) }
        func half(_ offset: Int) {
            let h = UInt16(truncatingIfNeeded: random.next() & 0x03FF) | UInt16(8 + random.next() % 4) << 10
            raw[offset] = UInt8(h & 0xFF)
            raw[offset + 1] = UInt8(h >> 8)
        }
        for b in 0..<blocks {
            let base = b * type.bytesPerBlock
            switch type {
            case .q4_K, .q5_K, .q5_1:
                half(base)
                half(base + 2)
            case .q6_K: half(base + 208)
            case .q2_K:
                half(base + 80)
                half(base + 82)
            case .q3_K: half(base + 108)
            default: half(base)
            }
        }
        return raw
    }

    static func repack(_ raw: [UInt8], _ type: GGMLType, rows: Int, k: Int) -> (
        UnsafeMutableRawPointer, agora_weight_type
    ) {
        let kernelType = agora_weight_type(type.rawValue)
        let rowBytes = agora_row_bytes(kernelType, Int32(k))
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: rowBytes * rows, alignment: 64)
        raw.withUnsafeBytes {
            agora_repack_rows(agora_weight_type(type.rawValue), $0.baseAddress!, buffer, Int32(rows), Int32(k))
        }
        return (buffer, kernelType)
    }

    static func inputs(k: Int, columns: Int, seed: UInt64) -> [Float] {
        var random = Xoshiro256StarStar(seed: seed)
        return (0..<(k * columns)).map { _ in Float(Int64(random.next() % 20001) - 10000) / 3000 }
    }

    @Test(
        "paths agree bit for bit and match a double-precision product",
        arguments: [GGMLType.q2_K, .q3_K, .q4_K, .q5_K, .q6_K])
    func kquantProducts(type: GGMLType) {
        let rows = 11
        let k = 512
        // Six columns: one group of four (decoded once, used four times) and two single ones.
        let columns = 6
        let raw = Self.randomBlocks(type, rows: rows, k: k, seed: UInt64(type.rawValue))
        let (weights, kernelType) = Self.repack(raw, type, rows: rows, k: k)
        defer { weights.deallocate() }
        let x = Self.inputs(k: k, columns: columns, seed: 5)
        let act = UnsafeMutableRawPointer.allocate(byteCount: agora_act_k_bytes(Int32(k)) * columns, alignment: 64)
        defer { act.deallocate() }
        agora_quantize_act_k(x, k, Int32(columns), Int32(k), act)
        var results: [[Float]] = []
        for path in KernelPath.supported {
            var out = [Float](repeating: .nan, count: rows * columns)
            agora_matmul_rows_on(
                path.cValue, kernelType, weights, Int32(k), 0, Int32(rows), act, Int32(columns), &out, rows)
            results.append(out)
        }
        for result in results.dropFirst() { #expect(result.map(\.bitPattern) == results[0].map(\.bitPattern)) }
        // Reference: dequantized weights times dequantized Q8_K activations, in double.
        let rowBytes = agora_row_bytes(kernelType, Int32(k))
        let colBytes = agora_act_k_bytes(Int32(k))
        for r in 0..<rows {
            var w = [Float](repeating: 0, count: k)
            agora_dequantize_row(kernelType, weights + r * rowBytes, &w, Int32(k))
            for c in 0..<columns {
                var exact: Double = 0
                var magnitude: Double = 0
                for b in 0..<(k / 256) {
                    let block = act + c * colBytes + b * 292
                    let d = Double(block.loadUnaligned(as: Float.self))
                    for j in 0..<256 {
                        let a = d * Double(block.load(fromByteOffset: 4 + j, as: Int8.self))
                        exact += Double(w[b * 256 + j]) * a
                        magnitude += abs(Double(w[b * 256 + j]) * a)
                    }
                }
                let ours = Double(results[0][c * rows + r])
                #expect(abs(ours - exact) <= magnitude * 1e-5 + 1e-6, "\(type.name) row \(r) column \(c)")
            }
        }
    }

    @Test("Q8_K activations: ggml's rounding, sums and scale")
    func superblockActivations() {
        var x = (0..<256).map { Float($0 % 17) - 8 }
        x[100] = -20  // the largest magnitude: ggml scales by -127 / max, so it maps to -127 with d = 20 / 127
        let act = UnsafeMutableRawPointer.allocate(byteCount: agora_act_k_bytes(256), alignment: 64)
        defer { act.deallocate() }
        agora_quantize_act_k(x, 256, 1, 256, act)
        let d = act.loadUnaligned(as: Float.self)
        #expect(d == 1 / (-127 / Float(-20)))
        #expect(act.load(fromByteOffset: 4 + 100, as: Int8.self) == -127)
        for group in 0..<16 {
            var sum = 0
            for j in 0..<16 { sum += Int(act.load(fromByteOffset: 4 + group * 16 + j, as: Int8.self)) }
            #expect(Int(act.loadUnaligned(fromByteOffset: 260 + 2 * group, as: Int16.self)) == sum)
        }
        for j in 0..<256 {
            let q = Float(act.load(fromByteOffset: 4 + j, as: Int8.self))
            #expect(abs(q * d - x[j]) <= abs(d) / 2 * 1.0001)
        }
    }

    /// 3 blocks, and 992: rows too long for prefill's expansion buffer, computed by the five-bit tiles.
    @Test("Q5_1: paths agree bit for bit; the repacked bytes hold ggml's values", arguments: [96, 31744])
    func q5_1(k: Int) {
        let rows = 9
        let raw = Self.randomBlocks(.q5_1, rows: rows, k: k, seed: 21)
        let (weights, kernelType) = Self.repack(raw, .q5_1, rows: rows, k: k)
        defer { weights.deallocate() }
        let x = Self.inputs(k: k, columns: 2, seed: 8)
        let act = UnsafeMutableRawPointer.allocate(byteCount: agora_act_bytes(Int32(k)) * 2, alignment: 64)
        defer { act.deallocate() }
        agora_quantize_act(x, k, 2, Int32(k), act)
        var results: [[UInt32]] = []
        for path in KernelPath.supported {
            var out = [Float](repeating: .nan, count: rows * 2)
            agora_matmul_rows_on(path.cValue, kernelType, weights, Int32(k), 0, Int32(rows), act, 2, &out, rows)
            #expect(out.allSatisfy { $0.isFinite })
            results.append(out.map(\.bitPattern))
        }
        for result in results.dropFirst() { #expect(result == results[0]) }
        let rowBytes = agora_row_bytes(kernelType, Int32(k))
        var ours = [Float](repeating: 0, count: k)
        agora_dequantize_row(kernelType, weights + rowBytes, &ours, Int32(k))
        let block = Array(raw[(k / 32) * 24..<(k / 32) * 24 + 24])  // row 1, block 0
        let d = agora_f16_to_f32(UInt16(block[0]) | UInt16(block[1]) << 8)
        let m = agora_f16_to_f32(UInt16(block[2]) | UInt16(block[3]) << 8)
        let qh = UInt32(block[4]) | UInt32(block[5]) << 8 | UInt32(block[6]) << 16 | UInt32(block[7]) << 24
        for j in 0..<16 {
            #expect(ours[j] == Float(Int(block[8 + j] & 0x0F) | Int((qh >> j) & 1) << 4) * d + m)
            #expect(ours[j + 16] == Float(Int(block[8 + j] >> 4) | Int((qh >> (j + 16)) & 1) << 4) * d + m)
        }
    }

    /// 73 blocks: the prefill expansion runs in several chunks, the tiles in two stretches; 992 blocks: rows
    /// too long for the expansion buffer, computed by the five-bit tiles.
    @Test(
        "Q5_0 rows keep ggml's values, and every product equals the Q8_0 product of those values",
        arguments: [2336, 31744])
    func q5_0AsQ8_0(k: Int) {
        let rows = 9
        let raw = Self.randomBlocks(.q5_0, rows: rows, k: k, seed: 11)
        let (weights, kernelType) = Self.repack(raw, .q5_0, rows: rows, k: k)
        defer { weights.deallocate() }
        #expect(kernelType == AGORA_WEIGHT_Q5_0)
        // The same values as Q8_0 blocks: the scale, then q - 16 as signed bytes.
        var q8Raw: [UInt8] = []
        let blocksPerRow = k / 32
        var values = [Float](repeating: 0, count: rows * k)
        for block in 0..<(rows * blocksPerRow) {
            let b = Array(raw[block * 22..<(block + 1) * 22])
            let d = agora_f16_to_f32(UInt16(b[0]) | UInt16(b[1]) << 8)
            let qh = UInt32(b[2]) | UInt32(b[3]) << 8 | UInt32(b[4]) << 16 | UInt32(b[5]) << 24
            var q = [Int](repeating: 0, count: 32)
            for j in 0..<16 {
                q[j] = (Int(b[6 + j] & 0x0F) | Int((qh >> j) & 1) << 4) - 16
                q[j + 16] = (Int(b[6 + j] >> 4) | Int((qh >> (j + 16)) & 1) << 4) - 16
            }
            q8Raw += [b[0], b[1]] + q.map { UInt8(bitPattern: Int8($0)) }
            for j in 0..<32 { values[block * 32 + j] = Float(q[j]) * d }
        }
        let (q8, q8Type) = Self.repack(q8Raw, .q8_0, rows: rows, k: k)
        defer { q8.deallocate() }
        let rowBytes = agora_row_bytes(kernelType, Int32(k))
        #expect(rowBytes == (blocksPerRow * 22 + 63) / 64 * 64)  // 22 bytes a block, as in the file
        for r in 0..<rows {
            var ours = [Float](repeating: 0, count: k)
            agora_dequantize_row(kernelType, weights + r * rowBytes, &ours, Int32(k))
            #expect(ours == Array(values[(r * k)..<((r + 1) * k)]))
        }
        for columns in [1, 2, 5] {
            let x = Self.inputs(k: k, columns: columns, seed: UInt64(columns))
            let act = UnsafeMutableRawPointer.allocate(
                byteCount: agora_act_bytes(Int32(k)) * columns, alignment: 64)
            defer { act.deallocate() }
            agora_quantize_act(x, k, Int32(columns), Int32(k), act)
            var expected = [Float](repeating: .nan, count: rows * columns)
            agora_matmul_rows_on(
                KernelPath.scalar.cValue, q8Type, q8, Int32(k), 0, Int32(rows), act, Int32(columns), &expected, rows)
            #expect(expected.allSatisfy { $0.isFinite })
            for path in KernelPath.supported {
                var out = [Float](repeating: .nan, count: rows * columns)
                agora_matmul_rows_on(
                    path.cValue, kernelType, weights, Int32(k), 0, Int32(rows), act, Int32(columns), &out, rows)
                #expect(out.map(\.bitPattern) == expected.map(\.bitPattern), "path \(path), \(columns) columns")
            }
        }
    }
}
