import CAgoraKernels

/// A run of consecutive tokens of one sequence inside a forward pass: they go to `cache` at positions
/// [position, position + count).
struct ForwardSegment {
    let cache: KVCache
    let position: Int
    let count: Int
    /// Whether the logits after the segment's last token are wanted (the end of a prompt, or a decode step).
    let wantsLogits: Bool
}

/// One forward pass over the tokens of one or more sequences, each with its own KV cache and position.
///
/// Why sequences can share a pass without changing anyone's bits: every output element of a matrix product
/// is one dot product in a fixed order, whatever the other columns are (the kernels' column tiles do the
/// same work per column as a single column), and attention reads only the token's own sequence. So a
/// sequence gets the same logits alone, chunked, or batched with others; continuous batching relies on it.
final class ForwardPass: @unchecked Sendable {
    let model: LlamaModel
    let scratch: ForwardScratch
    let pool: ComputePool
    let kernelPath: KernelPath
    var profile: ForwardProfile?

    /// Per token of the pass: its position and its sequence's cache (attention reads it).
    private let positions: UnsafeMutablePointer<Int>
    private let caches: UnsafeMutablePointer<Unmanaged<KVCache>>

    /// - Parameters:
    ///   - tokens: the most tokens one pass takes (all segments together).
    ///   - logitRows: the most segments of one pass that want logits.
    init(model: LlamaModel, threads: Int, tokens: Int, logitRows: Int, kernelPath: KernelPath) {
        self.model = model
        self.kernelPath = kernelPath.isSupported ? kernelPath : .scalar
        pool = ComputePool(threadCount: threads)
        scratch = ForwardScratch(
            hyper: model.hyperparameters, batch: max(1, tokens), logitRows: max(1, logitRows),
            context: model.contextLength, threads: pool.threadCount)
        positions = .allocate(capacity: max(1, tokens))
        caches = .allocate(capacity: max(1, tokens))
    }

    deinit {
        positions.deallocate()
        caches.deallocate()
    }

    /// The most tokens one pass takes.
    var capacity: Int { scratch.batch }

    /// Logits of the `row`-th segment that wanted them, valid until the next pass.
    func logits(row: Int) -> UnsafeBufferPointer<Float> {
        let vocabulary = model.vocabularySize
        return UnsafeBufferPointer(start: scratch.logits.pointer + row * vocabulary, count: vocabulary)
    }

    /// Runs `tokens` (the segments' tokens, in segment order) through the model. The caller has checked
    /// that the tokens are in the vocabulary, fit in their caches and number at most `capacity`.
    func run(_ tokens: UnsafeBufferPointer<Int32>, segments: [ForwardSegment]) {
        let hyper = model.hyperparameters
        let weights = model.weights
        let n = tokens.count
        let d = hyper.embeddingLength
        let headDim = hyper.headDim
        let heads = hyper.headCount
        let kvHeads = hyper.headCountKV
        let qRows = heads * headDim
        let kvWidth = kvHeads * headDim
        let qkvRows = qRows + 2 * kvWidth
        let ffn = hyper.feedForwardLength
        let epsilon = hyper.rmsNormEpsilon
        let s = scratch
        let x = s.x.pointer
        let normed = s.normed.pointer
        let qkv = s.qkv.pointer
        let projected = s.projected.pointer
        let gateUp = s.gateUp.pointer
        let hidden = s.hidden.pointer

        var t0 = 0
        for segment in segments {
            for i in 0..<segment.count {
                positions[t0 + i] = segment.position + i
                caches[t0 + i] = Unmanaged.passUnretained(segment.cache)
            }
            t0 += segment.count
        }
        precondition(t0 == n && n <= capacity, "segments do not cover the tokens of the pass")

        profile?.start()
        for t in 0..<n { weights.tokenEmbedding.dequantizeRow(Int(tokens[t]), into: x + t * d) }

        for (l, layer) in weights.layers.enumerated() {
            // Attention block.
            for t in 0..<n {
                VectorMath.rmsNorm(
                    x + t * d, weight: layer.attentionNorm.pointer, out: normed + t * d, count: d, epsilon: epsilon)
            }
            profile?.lap(.elementwise)
            layer.qkv.apply(
                input: normed, inputStride: d, count: n, out: qkv, outStride: qkvRows, scratch: s,
                pool: pool, path: kernelPath)
            profile?.lap(.matrixProducts)
            if let bias = layer.qkvBias?.pointer {
                for t in 0..<n {
                    let row = qkv + t * qkvRows
                    for i in 0..<qkvRows { row[i] = row[i] + bias[i] }
                }
            }
            for t in 0..<n {
                let row = qkv + t * qkvRows
                let position = positions[t]
                let cache = caches[t].takeUnretainedValue()
                model.rotary.apply(row, heads: heads, headDim: headDim, position: position)
                model.rotary.apply(row + qRows, heads: kvHeads, headDim: headDim, position: position)
                (cache.keys(layer: l) + position * kvWidth).update(from: row + qRows, count: kvWidth)
                (cache.values(layer: l) + position * kvWidth).update(from: row + qRows + kvWidth, count: kvWidth)
            }
            profile?.lap(.elementwise)
            attend(count: n, layer: l)
            profile?.lap(.attention)
            layer.attentionOutput.apply(
                input: s.attention.pointer, inputStride: qRows, count: n, out: projected, outStride: d,
                scratch: s, pool: pool, path: kernelPath)
            profile?.lap(.matrixProducts)
            for i in 0..<n * d { x[i] = x[i] + projected[i] }

            // Feed-forward block (SwiGLU).
            for t in 0..<n {
                VectorMath.rmsNorm(
                    x + t * d, weight: layer.ffnNorm.pointer, out: normed + t * d, count: d, epsilon: epsilon)
            }
            profile?.lap(.elementwise)
            layer.gateUp.apply(
                input: normed, inputStride: d, count: n, out: gateUp, outStride: 2 * ffn, scratch: s,
                pool: pool, path: kernelPath)
            profile?.lap(.matrixProducts)
            for t in 0..<n {
                let g = gateUp + t * 2 * ffn
                agora_swiglu_on(kernelPath.cValue, g, g + ffn, hidden + t * ffn, Int32(ffn))
            }
            profile?.lap(.elementwise)
            layer.down.apply(
                input: hidden, inputStride: ffn, count: n, out: projected, outStride: d, scratch: s,
                pool: pool, path: kernelPath)
            profile?.lap(.matrixProducts)
            for i in 0..<n * d { x[i] = x[i] + projected[i] }
        }

        profile?.lap(.elementwise)
        // The output layer only for the last token of each segment that wants logits, as one product.
        var rows = 0
        var end = 0
        for segment in segments {
            end += segment.count
            guard segment.wantsLogits else { continue }
            VectorMath.rmsNorm(
                x + (end - 1) * d, weight: weights.outputNorm.pointer, out: normed + rows * d, count: d,
                epsilon: epsilon)
            rows += 1
        }
        guard rows > 0 else { return }
        weights.output.apply(
            input: normed, inputStride: d, count: rows, out: s.logits.pointer, outStride: hyper.vocabularySize,
            scratch: s, pool: pool, path: kernelPath)
        profile?.lap(.outputLayer)
    }

    /// Causal grouped-query attention of every token of the pass over its own sequence's cache, in llama.cpp's
    /// float order (`agora_attend_head_on`). One task per (token, head), handed out round-robin; each task
    /// is computed entirely by one thread.
    private func attend(count n: Int, layer: Int) {
        let hyper = model.hyperparameters
        let headDim = hyper.headDim
        let heads = hyper.headCount
        let group = heads / hyper.headCountKV
        let kvWidth = hyper.headCountKV * headDim
        let qRows = heads * headDim
        let qkvRows = qRows + 2 * kvWidth
        let scoreRow = model.contextLength + 8
        let scale = 1 / Float(headDim).squareRoot()
        let qkv = scratch.qkv.pointer
        let output = scratch.attention.pointer
        let scoresBase = scratch.scores.pointer
        let lanesBase = scratch.attentionLanes.pointer
        let path = kernelPath.cValue
        let positions = self.positions
        let caches = self.caches
        pool.run { ith, nth in
            let scores = scoresBase + ith * scoreRow
            let lanes = lanesBase + ith * 32 * headDim
            var task = ith
            while task < n * heads {
                let t = task / heads
                let h = task % heads
                let kvOffset = (h / group) * headDim
                let cache = caches[t].takeUnretainedValue()
                agora_attend_head_on(
                    path, qkv + t * qkvRows + h * headDim, cache.keys(layer: layer) + kvOffset,
                    cache.values(layer: layer) + kvOffset, kvWidth, Int32(positions[t] + 1), Int32(headDim), scale,
                    scores, lanes, output + t * qRows + h * headDim)
                task += nth
            }
        }
    }
}
