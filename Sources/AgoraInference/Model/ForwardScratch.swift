import CAgoraKernels

/// Every intermediate buffer of a forward pass over up to `batch` tokens, allocated once per state so the
/// decode loop never allocates.
final class ForwardScratch: @unchecked Sendable {
    let batch: Int
    /// Residual stream [batch][width].
    let x: FloatBuffer
    /// Normalized input of the current sublayer [batch][width].
    let normed: FloatBuffer
    /// Q|K|V rows per token [batch][qkv rows].
    let qkv: FloatBuffer
    /// Attention output per token [batch][heads * head dim].
    let attention: FloatBuffer
    /// Output of attn_output and ffn_down [batch][width].
    let projected: FloatBuffer
    /// Gate|up per token [batch][2 ffn].
    let gateUp: FloatBuffer
    /// SwiGLU output [batch][ffn].
    let hidden: FloatBuffer
    /// Softmax scores, one row of `context` (rounded up to 8) per thread.
    let scores: FloatBuffer
    /// Per thread, the 32 partial sums of each of a head's dimensions (llama.cpp's lane order).
    let attentionLanes: FloatBuffer
    /// [logit rows][vocabulary]
    let logits: FloatBuffer
    /// Quantized activations for the widest projection input.
    let quantized: UnsafeMutableRawPointer
    /// Q8_K activations for K-quant weights.
    let superblocks: UnsafeMutableRawPointer
    /// Activations rounded to F16 or BF16 for matrices stored in those formats; column c at
    /// `c * halfStride` bytes.
    let halves: UnsafeMutableRawPointer
    let halfStride: Int

    /// - Parameter logitRows: how many sequences of one pass can want logits (one row of the vocabulary each).
    init(hyper: LlamaHyperparameters, batch: Int, logitRows: Int = 1, context: Int, threads: Int) {
        self.batch = batch
        let d = hyper.embeddingLength
        let q = hyper.headCount * hyper.headDim
        let kv = hyper.headCountKV * hyper.headDim
        let f = hyper.feedForwardLength
        x = FloatBuffer(count: batch * d)
        normed = FloatBuffer(count: batch * d)
        qkv = FloatBuffer(count: batch * (q + 2 * kv))
        attention = FloatBuffer(count: batch * q)
        projected = FloatBuffer(count: batch * d)
        gateUp = FloatBuffer(count: batch * 2 * f)
        hidden = FloatBuffer(count: batch * f)
        scores = FloatBuffer(count: threads * (context + 8))
        attentionLanes = FloatBuffer(count: threads * 32 * hyper.headDim)
        logits = FloatBuffer(count: logitRows * hyper.vocabularySize)
        let widest = max(d, q, f)
        quantized = .allocate(byteCount: batch * agora_act_bytes(Int32(widest)), alignment: 64)
        superblocks = .allocate(byteCount: batch * agora_act_k_bytes(Int32(widest)) + 64, alignment: 64)
        halfStride = (widest * 2 + 63) & ~63
        halves = .allocate(byteCount: batch * halfStride, alignment: 64)
    }

    deinit {
        quantized.deallocate()
        superblocks.deallocate()
        halves.deallocate()
    }
}
