import CAgoraKernels

/// llama.cpp's `bert` graph (flash attention off) on a batch of sentences, giving each sentence exactly the
/// bits llama.cpp gives it when that sentence is encoded alone.
///
/// Sentences share the weight products: an F32 product's output is one tinyBLAS chain whatever the other columns
/// are (see encoder.c), so batching changes speed, never results. Attention, pooling and normalization are per
/// sentence. Every sentence must have at least two tokens ([CLS] and [SEP] guarantee it): llama.cpp multiplies a
/// lone column with ggml_vec_dot_f32 instead of tinyBLAS.
final class BertEncoder: @unchecked Sendable {
    let weights: BertWeights
    let pool: ComputePool
    let path: KernelPath

    init(weights: BertWeights, pool: ComputePool, path: KernelPath) {
        self.weights = weights
        self.pool = pool
        self.path = path
    }

    /// The pooled, L2-normalized vector of each sentence (token ids, each list 2...contextLength long, every id
    /// below the vocabulary size).
    func encode(_ sentences: [[Int32]]) -> [[Float]] {
        let h = weights.hyper
        let d = h.embeddingLength
        let f = h.feedForwardLength
        let total = sentences.reduce(0) { $0 + $1.count }
        var starts: [Int] = []
        var offset = 0
        for sentence in sentences {
            precondition(sentence.count >= 2 && sentence.count <= h.contextLength, "sentence length out of range")
            starts.append(offset)
            offset += sentence.count
        }
        let hidden = FloatBuffer(count: total * d)
        let scratch = FloatBuffer(count: total * d)
        let qkv = FloatBuffer(count: total * 3 * d)
        let attention = FloatBuffer(count: total * d)
        let ffn = FloatBuffer(count: total * f)

        // Token + type 0, then + position; the embedding LayerNorm.
        for (s, sentence) in sentences.enumerated() {
            for (p, token) in sentence.enumerated() {
                precondition(token >= 0 && Int(token) < h.vocabularySize, "token id out of range")
                let x = scratch.pointer + (starts[s] + p) * d
                let tok = weights.tokenEmbedding.pointer + Int(token) * d
                let pos = weights.positionEmbedding.pointer + p * d
                for i in 0..<d { x[i] = (tok[i] + weights.tokenType.pointer[i]) + pos[i] }
            }
        }
        layerNorm(
            scratch.pointer, rows: total, weight: weights.embeddingNorm, bias: weights.embeddingNormBias,
            into: hidden.pointer)

        for layer in weights.layers {
            // Attention: Q, K, V for every token, then each sentence's heads.
            gemm(layer.qkv, rows: 3 * d, k: d, hidden.pointer, columns: total, into: qkv.pointer)
            addBias(layer.qkvBias, to: qkv.pointer, rows: total, width: 3 * d)
            attend(qkv.pointer, sentences: sentences, starts: starts, into: attention.pointer)
            gemm(layer.output, rows: d, k: d, attention.pointer, columns: total, into: scratch.pointer)
            addBias(layer.outputBias, to: scratch.pointer, rows: total, width: d)
            add(hidden.pointer, to: scratch.pointer, count: total * d)
            layerNorm(
                scratch.pointer, rows: total, weight: layer.attentionNorm, bias: layer.attentionNormBias,
                into: hidden.pointer)
            // Feed-forward: up, GELU, down, then the residual and the output LayerNorm.
            gemm(layer.up, rows: f, k: d, hidden.pointer, columns: total, into: ffn.pointer)
            addBias(layer.upBias, to: ffn.pointer, rows: total, width: f)
            pool.run { ith, nth in
                let (lo, hi) = Self.share(total, ith, nth)
                if lo < hi { agora_gelu(ffn.pointer + lo * f, ffn.pointer + lo * f, Int32((hi - lo) * f)) }
            }
            gemm(layer.down, rows: d, k: f, ffn.pointer, columns: total, into: scratch.pointer)
            addBias(layer.downBias, to: scratch.pointer, rows: total, width: d)
            add(hidden.pointer, to: scratch.pointer, count: total * d)
            layerNorm(
                scratch.pointer, rows: total, weight: layer.outputNorm, bias: layer.outputNormBias,
                into: hidden.pointer)
        }

        return sentences.indices.map { s in
            normalized(pooled(hidden.pointer + starts[s] * d, count: sentences[s].count))
        }
    }

    // MARK: Steps

    private func gemm(
        _ w: FloatBuffer, rows: Int, k: Int, _ x: UnsafeMutablePointer<Float>, columns: Int,
        into out: UnsafeMutablePointer<Float>
    ) {
        pool.gemmF32(
            path: path, weights: w.pointer, rows: rows, k: k, activations: x, activationStride: k, columns: columns,
            out: out, outStride: rows)
    }

    /// ggml_add of a bias row to every token's row.
    private func addBias(_ bias: FloatBuffer, to x: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
        for r in 0..<rows {
            let row = x + r * width
            for i in 0..<width { row[i] = row[i] + bias.pointer[i] }
        }
    }

    /// The residual: `x += y` elementwise (ggml_add).
    private func add(_ y: UnsafeMutablePointer<Float>, to x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] = x[i] + y[i] }
    }

    private func layerNorm(
        _ x: UnsafeMutablePointer<Float>, rows: Int, weight: FloatBuffer, bias: FloatBuffer,
        into out: UnsafeMutablePointer<Float>
    ) {
        let d = weights.hyper.embeddingLength
        let eps = weights.hyper.layerNormEpsilon
        pool.run { ith, nth in
            let (lo, hi) = Self.share(rows, ith, nth)
            for r in lo..<hi {
                agora_layer_norm_on(path.cValue, x + r * d, Int32(d), eps, weight.pointer, bias.pointer, out + r * d)
            }
        }
    }

    /// Every (sentence, head) pair is one task; the pool's threads take them in a fixed interleave.
    private func attend(
        _ qkv: UnsafeMutablePointer<Float>, sentences: [[Int32]], starts: [Int], into out: UnsafeMutablePointer<Float>
    ) {
        let h = weights.hyper
        let d = h.embeddingLength
        let hd = h.headDim
        let scale = 1 / Float(hd).squareRoot()
        let longest = sentences.map(\.count).max() ?? 0
        let scratchPerThread = hd * longest + longest
        let scratch = FloatBuffer(count: scratchPerThread * pool.threadCount)
        let tasks = sentences.count * h.headCount
        pool.run { ith, nth in
            var task = ith
            let mine = scratch.pointer + ith * scratchPerThread
            while task < tasks {
                let s = task / h.headCount
                let head = task % h.headCount
                let base = qkv + starts[s] * 3 * d + head * hd
                agora_encoder_attend_head_on(
                    path.cValue, base, base + d, base + 2 * d, 3 * d, Int32(sentences[s].count), Int32(hd), scale,
                    mine, out + starts[s] * d + head * hd, d)
                task += nth
            }
        }
    }

    /// Mean pooling is llama.cpp's product of the transposed token vectors with a column of 1/n (one column:
    /// ggml_vec_dot_f32 order); CLS pooling takes the first token's vector.
    private func pooled(_ tokens: UnsafeMutablePointer<Float>, count n: Int) -> [Float] {
        let d = weights.hyper.embeddingLength
        switch weights.hyper.pooling {
        case .cls, .none:
            return Array(UnsafeBufferPointer(start: tokens, count: d))
        case .mean:
            let divisor = [Float](repeating: 1 / Float(n), count: n)
            var column = [Float](repeating: 0, count: n)
            var result = [Float](repeating: 0, count: d)
            for e in 0..<d {
                for p in 0..<n { column[p] = tokens[p * d + e] }
                result[e] = agora_dot_f32_on(path.cValue, column, divisor, Int32(n))
            }
            return result
        }
    }

    /// common_embd_normalize's Euclidean norm: the float squares summed in double, one float factor.
    private func normalized(_ v: [Float]) -> [Float] {
        var sum = 0.0
        for x in v { sum += Double(x * x) }
        sum = sum.squareRoot()
        let factor: Float = sum > 0 ? Float(1 / sum) : 0
        return v.map { $0 * factor }
    }

    /// Rows [lo, hi) of `count` for thread `ith` of `nth` (contiguous shares).
    static func share(_ count: Int, _ ith: Int, _ nth: Int) -> (Int, Int) {
        let per = (count + nth - 1) / nth
        return (min(count, ith * per), min(count, (ith + 1) * per))
    }
}
