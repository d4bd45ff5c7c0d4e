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
    /// The input is converted once per format the parts need, into `scratch`: 8-bit blocks, Q8_K
    /// superblocks for K-quant parts, F16 / BF16 for parts stored in those formats.
    func apply(
        input: UnsafeMutablePointer<Float>, inputStride: Int, count: Int, out: UnsafeMutablePointer<Float>,
        outStride: Int, scratch: ForwardScratch, pool: ComputePool, path: KernelPath
    ) {
        if needsQuantizedInput {
            agora_quantize_act(input, inputStride, Int32(count), Int32(columns), scratch.quantized)
        }
        if needsSuperblockInput {
            agora_quantize_act_k(input, inputStride, Int32(count), Int32(columns), scratch.superblocks)
        }
        var halvesFormat: agora_float_format?
        var rowOffset = 0
        for part in parts {
            switch part.storage {
            case .quantized(let type, let weights):
                pool.matmul(
                    path: path, type, weights: weights, rows: part.rows, k: columns,
                    activations: part.usesSuperblocks ? scratch.superblocks : scratch.quantized,
                    columns: count,
                    out: out + rowOffset, outStride: outStride)
            case .float(let format, let weights):
                if format == AGORA_FLOAT_F32 {
                    pool.matmulFloat(
                        path: path, format, weights: weights, rows: part.rows, k: columns,
                        activations: input, activationStride: inputStride * 4, columns: count,
                        out: out + rowOffset, outStride: outStride)
                } else {
                    if halvesFormat != format {
                        agora_float_convert_act(
                            format, input, inputStride, Int32(count), Int32(columns), scratch.halves, scratch.halfStride
                        )
                        halvesFormat = format
                    }
                    pool.matmulFloat(
                        path: path, format, weights: weights, rows: part.rows, k: columns,
                        activations: scratch.halves, activationStride: scratch.halfStride, columns: count,
                        out: out + rowOffset, outStride: outStride)
                }
            }
            rowOffset += part.rows
        }
    }
}
