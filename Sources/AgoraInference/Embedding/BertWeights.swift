/// One encoder block's tensors, as F32 rows (llama.cpp multiplies F32 weights in F32; other types would need
/// llama.cpp's other product orders and are refused by name).
final class BertLayerWeights: @unchecked Sendable {
    /// Q, K and V stacked: rows [0, d) are Q, then K, then V.
    let qkv: FloatBuffer
    let qkvBias: FloatBuffer
    let output: FloatBuffer
    let outputBias: FloatBuffer
    let attentionNorm: FloatBuffer
    let attentionNormBias: FloatBuffer
    let up: FloatBuffer
    let upBias: FloatBuffer
    let down: FloatBuffer
    let downBias: FloatBuffer
    let outputNorm: FloatBuffer
    let outputNormBias: FloatBuffer

    init(gguf: GGUFFile, index i: Int, hyper h: BertHyperparameters) throws(ModelLoadError) {
        let p = "blk.\(i)."
        let d = h.embeddingLength
        let f = h.feedForwardLength
        qkv = try BertWeights.f32(
            gguf, [p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight"], shape: [d, d])
        qkvBias = try BertWeights.f32(gguf, [p + "attn_q.bias", p + "attn_k.bias", p + "attn_v.bias"], shape: [d])
        output = try BertWeights.f32(gguf, [p + "attn_output.weight"], shape: [d, d])
        outputBias = try BertWeights.f32(gguf, [p + "attn_output.bias"], shape: [d])
        attentionNorm = try BertWeights.f32(gguf, [p + "attn_output_norm.weight"], shape: [d])
        attentionNormBias = try BertWeights.f32(gguf, [p + "attn_output_norm.bias"], shape: [d])
        up = try BertWeights.f32(gguf, [p + "ffn_up.weight"], shape: [d, f])
        upBias = try BertWeights.f32(gguf, [p + "ffn_up.bias"], shape: [f])
        down = try BertWeights.f32(gguf, [p + "ffn_down.weight"], shape: [f, d])
        downBias = try BertWeights.f32(gguf, [p + "ffn_down.bias"], shape: [d])
        outputNorm = try BertWeights.f32(gguf, [p + "layer_output_norm.weight"], shape: [d])
        outputNormBias = try BertWeights.f32(gguf, [p + "layer_output_norm.bias"], shape: [d])
    }
}

/// All tensors of a BERT encoder, copied out of the GGUF file at load time.
final class BertWeights: @unchecked Sendable {
    let hyper: BertHyperparameters
    let tokenEmbedding: FloatBuffer
    /// Row 0 of `token_types.weight` (llama.cpp gives every token type 0, "sentence A"); zeros without one.
    let tokenType: FloatBuffer
    let positionEmbedding: FloatBuffer
    let embeddingNorm: FloatBuffer
    let embeddingNormBias: FloatBuffer
    let layers: [BertLayerWeights]

    init(gguf: GGUFFile) throws(ModelLoadError) {
        let h: BertHyperparameters
        do { h = try BertHyperparameters(gguf: gguf) } catch { throw .gguf(error) }
        hyper = h
        let d = h.embeddingLength
        tokenEmbedding = try Self.f32(gguf, ["token_embd.weight"], shape: [d, h.vocabularySize])
        positionEmbedding = try Self.f32(gguf, ["position_embd.weight"], shape: [d, h.contextLength])
        if h.tokenTypeCount > 0 {
            let types = try Self.f32(gguf, ["token_types.weight"], shape: [d, h.tokenTypeCount])
            tokenType = FloatBuffer(count: d)
            tokenType.pointer.update(from: types.pointer, count: d)
        } else {
            tokenType = FloatBuffer(count: d)
        }
        embeddingNorm = try Self.f32(gguf, ["token_embd_norm.weight"], shape: [d])
        embeddingNormBias = try Self.f32(gguf, ["token_embd_norm.bias"], shape: [d])
        var layers: [BertLayerWeights] = []
        for i in 0..<h.blockCount { layers.append(try BertLayerWeights(gguf: gguf, index: i, hyper: h)) }
        self.layers = layers
    }

    /// The F32 tensors `names`, each of `shape` (ggml order: row length first), stacked row-wise.
    static func f32(_ gguf: GGUFFile, _ names: [String], shape: [Int]) throws(ModelLoadError) -> FloatBuffer {
        let each = shape.reduce(1, *)
        let buffer = FloatBuffer(count: each * names.count)
        for (n, name) in names.enumerated() {
            guard let info = gguf.tensors[name] else { throw .missingTensor(name) }
            guard info.dimensions == shape else {
                throw .invalidShape(name: name, reason: "\(info.dimensions), expected \(shape)")
            }
            guard info.type == .f32 else { throw .unsupportedType(name: name, type: info.type) }
            WeightMatrix.convertToFloat(
                gguf.tensorBytes(info), type: .f32, count: each, into: buffer.pointer + n * each)
        }
        return buffer
    }
}
