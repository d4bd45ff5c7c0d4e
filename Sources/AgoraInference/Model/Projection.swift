import CAgoraKernels

/// One linear map whose output rows come from one or more stacked weight tensors (Q|K|V, gate|up).
/// Consecutive tensors of the same type and width share one `WeightMatrix`, so the common case is a single
/// kernel call; mixed types still work, one call per run of equal types.
final class Projection: @unchecked Sendable {
    let parts: [WeightMatrix]
    let rows: Int
    let columns: Int
    let needsQuantizedInput: Bool
    let needsSuperblockInput: Bool

    init(gguf: GGUFFile, tensorNames: [String]) throws(ModelLoadError) {
        var infos: [GGUFTensorInfo] = []
        for name in tensorNames {
            guard let info = gguf.tensors[name] else { throw .missingTensor(name) }
            infos.append(info)
        }
        var parts: [WeightMatrix] = []
        var run: [GGUFTensorInfo] = []
        for info in infos {
            if let last = run.last, last.type != info.type {
                parts.append(try WeightMatrix(gguf: gguf, tensors: run))
                run = []
            }
            run.append(info)
        }
        parts.append(try WeightMatrix(gguf: gguf, tensors: run))
        self.parts = parts
        rows = parts.reduce(0) { $0 + $1.rows }
        columns = parts[0].columns
        for part in parts where part.columns != columns {
            throw .invalidShape(name: tensorNames[0], reason: "stacked tensors differ in width")
        }
        needsQuantizedInput = parts.contains { $0.isQuantized && !$0.usesSuperblocks }
        needsSuperblockInput = parts.contains { $0.usesSuperblocks }
    }

    init(matrix: WeightMatrix) {
        parts = [matrix]
        rows = matrix.rows
        columns = matrix.columns
        needsQuantizedInput = matrix.isQuantized && !matrix.usesSuperblocks
        needsSuperblockInput = matrix.usesSuperblocks
    }

    /// out[c * outStride + r] = Σ_i W[r, i] · input[c * inputStride + i] for `count` columns.
    /// `quantized` is scratch for the 8-bit activations (at least count * agora_act_bytes(columns) bytes),
    /// `superblocks` for the Q8_K ones of K-quant parts (count * agora_act_k_bytes(columns)).
    func apply(
        input: UnsafeMutablePointer<Float>, inputStride: Int, count: Int, out: UnsafeMutablePointer<Float>,
        outStride: Int, quantized: UnsafeMutableRawPointer, superblocks: UnsafeMutableRawPointer,
        pool: ComputePool, path: KernelPath
    ) {
        if needsQuantizedInput {
            agora_quantize_act(input, inputStride, Int32(count), Int32(columns), quantized)
        }
        if needsSuperblockInput {
            agora_quantize_act_k(input, inputStride, Int32(count), Int32(columns), superblocks)
        }
        var rowOffset = 0
        for part in parts {
            switch part.storage {
            case .quantized(let type, let weights):
                pool.matmul(
                    path: path, type, weights: weights, rows: part.rows, k: columns,
                    activations: part.usesSuperblocks ? superblocks : quantized,
                    columns: count,
                    out: out + rowOffset, outStride: outStride)
            case .float(let weights):
                pool.matmulF32(
                    weights: weights, rows: part.rows, k: columns, input: input, inputStride: inputStride,
                    columns: count, out: out + rowOffset, outStride: outStride)
            }
            rowOffset += part.rows
        }
    }
}
