/// The tensors of one transformer block, ready for the kernels.
final class LlamaLayerWeights: @unchecked Sendable {
    let attentionNorm: FloatBuffer
    /// Q, K and V stacked: rows [0, q) are Q, then K, then V.
    let qkv: Projection
    /// Q, K and V biases stacked like `qkv`'s rows (qwen2); nil for architectures without them.
    let qkvBias: FloatBuffer?
    let attentionOutput: Projection
    let ffnNorm: FloatBuffer
    /// Gate and up stacked: rows [0, ffn) are the gate, [ffn, 2 ffn) the up projection.
    let gateUp: Projection
    let down: Projection

    init(gguf: GGUFFile, index: Int, hyper: LlamaHyperparameters) throws(ModelLoadError) {
        let p = "blk.\(index)."
        let d = hyper.embeddingLength
        attentionNorm = try LlamaWeights.vector(gguf, p + "attn_norm.weight", count: d)
        ffnNorm = try LlamaWeights.vector(gguf, p + "ffn_norm.weight", count: d)
        qkv = try Projection(gguf: gguf, tensorNames: [p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight"])
        attentionOutput = try Projection(gguf: gguf, tensorNames: [p + "attn_output.weight"])
        gateUp = try Projection(gguf: gguf, tensorNames: [p + "ffn_gate.weight", p + "ffn_up.weight"])
        down = try Projection(gguf: gguf, tensorNames: [p + "ffn_down.weight"])

        let qRows = hyper.headCount * hyper.headDim
        let kvRows = hyper.headCountKV * hyper.headDim
        if hyper.family.hasAttentionBiases {
            let bias = FloatBuffer(count: qRows + 2 * kvRows)
            var offset = 0
            for (name, count) in [("attn_q.bias", qRows), ("attn_k.bias", kvRows), ("attn_v.bias", kvRows)] {
                let part = try LlamaWeights.vector(gguf, p + name, count: count)
                (bias.pointer + offset).update(from: part.pointer, count: count)
                offset += count
            }
            qkvBias = bias
        } else {
            qkvBias = nil
        }
        try Self.expect(qkv, rows: qRows + 2 * kvRows, columns: d, name: p + "attn_qkv")
        try Self.expect(attentionOutput, rows: d, columns: qRows, name: p + "attn_output.weight")
        try Self.expect(gateUp, rows: 2 * hyper.feedForwardLength, columns: d, name: p + "ffn_gate/up")
        try Self.expect(down, rows: d, columns: hyper.feedForwardLength, name: p + "ffn_down.weight")
    }

    static func expect(_ p: Projection, rows: Int, columns: Int, name: String) throws(ModelLoadError) {
        guard p.rows == rows, p.columns == columns else {
            throw .invalidShape(name: name, reason: "\(p.rows)x\(p.columns), expected \(rows)x\(columns)")
        }
    }
}

/// All weights of a llama-architecture model, copied out of the GGUF file into kernel layout at load time.
final class LlamaWeights: @unchecked Sendable {
    let hyper: LlamaHyperparameters
    let tokenEmbedding: WeightMatrix
    let layers: [LlamaLayerWeights]
    let outputNorm: FloatBuffer
    /// `output.weight`, or the token embedding when the model ties them.
    let output: Projection
    /// Per-pair divisors of the rotary frequencies (`rope_freqs.weight`: Llama 3.1+'s long-context scaling);
    /// nil when the file has none.
    let ropeFrequencyFactors: [Float]?

    init(gguf: GGUFFile) throws(ModelLoadError) {
        let hyper: LlamaHyperparameters
        do { hyper = try LlamaHyperparameters(gguf: gguf) } catch { throw .gguf(error) }
        self.hyper = hyper
        guard let embedding = gguf.tensors["token_embd.weight"] else { throw .missingTensor("token_embd.weight") }
        guard embedding.dimensions == [hyper.embeddingLength, hyper.vocabularySize] else {
            throw .invalidShape(name: embedding.name, reason: "\(embedding.dimensions)")
        }
        tokenEmbedding = try WeightMatrix(gguf: gguf, tensors: [embedding])
        var layers: [LlamaLayerWeights] = []
        for i in 0..<hyper.blockCount { layers.append(try LlamaLayerWeights(gguf: gguf, index: i, hyper: hyper)) }
        self.layers = layers
        outputNorm = try Self.vector(gguf, "output_norm.weight", count: hyper.embeddingLength)
        if gguf.tensors["rope_freqs.weight"] != nil {
            let factors = try Self.vector(gguf, "rope_freqs.weight", count: hyper.headDim / 2)
            let values = Array(UnsafeBufferPointer(start: factors.pointer, count: hyper.headDim / 2))
            guard values.allSatisfy({ $0.isFinite && $0 > 0 }) else {
                throw .invalidShape(name: "rope_freqs.weight", reason: "factors must be positive and finite")
            }
            ropeFrequencyFactors = values
        } else {
            ropeFrequencyFactors = nil
        }
        if gguf.tensors["output.weight"] != nil {
            output = try Projection(gguf: gguf, tensorNames: ["output.weight"])
        } else {
            output = Projection(matrix: tokenEmbedding)
        }
        try LlamaLayerWeights.expect(
            output, rows: hyper.vocabularySize, columns: hyper.embeddingLength, name: "output.weight")
    }

    static func vector(_ gguf: GGUFFile, _ name: String, count: Int) throws(ModelLoadError) -> FloatBuffer {
        guard let info = gguf.tensors[name] else { throw .missingTensor(name) }
        guard info.elementCount == count else {
            throw .invalidShape(name: name, reason: "\(info.elementCount) elements, expected \(count)")
        }
        guard [.f32, .f16, .bf16].contains(info.type) else { throw .unsupportedType(name: name, type: info.type) }
        let buffer = FloatBuffer(count: count)
        WeightMatrix.convertToFloat(gguf.tensorBytes(info), type: info.type, count: count, into: buffer.pointer)
        return buffer
    }
}
