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
    public var threadCount: Int { pass.pool.threadCount }
    /// Tokens currently held in the KV cache.
    public private(set) var position = 0

    let cache: KVCache
    let pass: ForwardPass

    /// The kernel path of this state's matrix products (any path gives the same bits).
    public var kernelPath: KernelPath { pass.kernelPath }

    /// Time by phase of every forward pass while set (nil: not measured).
    public var profile: ForwardProfile? {
        get { pass.profile }
        set { pass.profile = newValue }
    }

    public init(model: LlamaModel, threads: Int, batchSize: Int = 64, kernelPath: KernelPath = .current) {
        self.model = model
        self.batchSize = max(1, batchSize)
        pass = ForwardPass(
            model: model, threads: threads, tokens: self.batchSize, logitRows: 1, kernelPath: kernelPath)
        cache = KVCache(model: model, capacity: model.contextLength)
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
                pass.run(
                    chunk,
                    segments: [
                        ForwardSegment(cache: cache, position: position, count: n, wantsLogits: start + n == all.count)
                    ])
                position += n
                start += n
            }
        }
        return pass.logits(row: 0)
    }
}
