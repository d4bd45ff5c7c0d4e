import CAgoraKernels

/// The mutable half of inference for one sequence: KV cache, scratch buffers and worker threads.
///
/// `evaluate` appends tokens and returns the logits of the last one. The prompt is processed in chunks of
/// up to `batchSize` tokens as matrix × matrix products; because each output element is one dot product in
/// a fixed order, the logits are bit-identical however the tokens are chunked and however many threads
/// run. Not thread-safe: one caller at a time (the engine serializes requests).
public final class LlamaState: @unchecked Sendable {
    public let model: LlamaModel
    public let batchSize: Int
    public var threadCount: Int { pool.threadCount }
    /// Tokens currently held in the KV cache.
    public private(set) var position = 0

    let cache: KVCache
    let scratch: ForwardScratch
    let pool: ComputePool

    /// The kernel path of this state's matrix products (any path gives the same bits).
    public let kernelPath: KernelPath

    /// Time by phase of every forward pass while set (nil: not measured).
    public var profile: ForwardProfile?

    public init(model: LlamaModel, threads: Int, batchSize: Int = 64, kernelPath: KernelPath = .current) {
        let hyper = model.hyperparameters
        self.model = model
        self.kernelPath = kernelPath.isSupported ? kernelPath : .scalar
        self.batchSize = max(1, batchSize)
        pool = ComputePool(threadCount: threads)
        cache = KVCache(
            layers: hyper.blockCount, capacity: model.contextLength, width: hyper.headCountKV * hyper.headDim)
        scratch = ForwardScratch(
            hyper: hyper, batch: self.batchSize, context: model.contextLength, threads: pool.threadCount)
    }

    /// Forgets the sequence (the cache is overwritten from position 0 by the next `evaluate`).
    public func reset() { position = 0 }

    /// Drops cached positions after `newPosition` (to reuse a shared prefix).
    public func truncate(to newPosition: Int) { position = min(position, max(0, newPosition)) }

    /// Appends `tokens` to the sequence and returns the logits after the last one. The buffer is valid until
    /// the next call.
    @discardableResult
    public func evaluate(_ tokens: [Int32]) throws(InferenceError) -> UnsafeBufferPointer<Float> {
        guard !tokens.isEmpty else { throw .emptyInput }
        guard position + tokens.count <= model.contextLength else {
            throw .contextFull(position: position, adding: tokens.count, capacity: model.contextLength)
        }
        let vocabulary = model.vocabularySize
        for token in tokens where token < 0 || Int(token) >= vocabulary {
            throw .invalidToken(token, vocabularySize: vocabulary)
        }
        tokens.withUnsafeBufferPointer { all in
            var start = 0
            while start < all.count {
                let n = min(batchSize, all.count - start)
                let chunk = UnsafeBufferPointer(rebasing: all[start..<start + n])
                forward(chunk, logits: start + n == all.count)
                position += n
                start += n
            }
        }
        return UnsafeBufferPointer(start: scratch.logits.pointer, count: vocabulary)
    }

    /// One chunk of tokens at positions [position, position + count).
    private func forward(_ tokens: UnsafeBufferPointer<Int32>, logits: Bool) {
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
        let p0 = position
        let s = scratch
        let x = s.x.pointer
        let normed = s.normed.pointer
        let qkv = s.qkv.pointer
        let projected = s.projected.pointer
        let gateUp = s.gateUp.pointer
        let hidden = s.hidden.pointer

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
            let keys = cache.keys(layer: l)
            let values = cache.values(layer: l)
            if let bias = layer.qkvBias?.pointer {
                for t in 0..<n {
                    let row = qkv + t * qkvRows
                    for i in 0..<qkvRows { row[i] = row[i] + bias[i] }
                }
            }
            for t in 0..<n {
                let row = qkv + t * qkvRows
                model.rotary.apply(row, heads: heads, headDim: headDim, position: p0 + t)
                model.rotary.apply(row + qRows, heads: kvHeads, headDim: headDim, position: p0 + t)
                (keys + (p0 + t) * kvWidth).update(from: row + qRows, count: kvWidth)
                (values + (p0 + t) * kvWidth).update(from: row + qRows + kvWidth, count: kvWidth)
            }
            profile?.lap(.elementwise)
            attend(count: n, start: p0, keys: keys, values: values)
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
        guard logits else { return }
        let last = x + (n - 1) * d
        VectorMath.rmsNorm(last, weight: weights.outputNorm.pointer, out: normed, count: d, epsilon: epsilon)
        weights.output.apply(
            input: normed, inputStride: d, count: 1, out: s.logits.pointer, outStride: hyper.vocabularySize,
            scratch: s, pool: pool, path: kernelPath)
        profile?.lap(.outputLayer)
    }

    /// Causal grouped-query attention for `count` new tokens starting at position `start`, in llama.cpp's
    /// float order (`agora_attend_head_on`). One task per (token, head), handed out round-robin; each task
    /// is computed entirely by one thread.
    private func attend(
        count n: Int, start p0: Int, keys: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>
    ) {
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
        pool.run { ith, nth in
            let scores = scoresBase + ith * scoreRow
            let lanes = lanesBase + ith * 32 * headDim
            var task = ith
            while task < n * heads {
                let t = task / heads
                let h = task % heads
                let kvOffset = (h / group) * headDim
                agora_attend_head_on(
                    path, qkv + t * qkvRows + h * headDim, keys + kvOffset, values + kvOffset, kvWidth,
                    Int32(p0 + t + 1), Int32(headDim), scale, scores, lanes, output + t * qRows + h * headDim)
                task += nth
            }
        }
    }
}
