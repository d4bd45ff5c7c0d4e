/// Keys and values of every layer for positions [0, capacity), in f32 (exact copies of the computed
/// vectors, so a cached prefix and a recomputed one are indistinguishable).
///
/// Layout per layer: [position][kv head][head dim]. The memory is reserved once; pages are touched only as
/// positions fill, so a long context costs address space, not resident memory, until it is used.
final class KVCache: @unchecked Sendable {
    let layers: Int
    let capacity: Int
    let width: Int
    private let keys: UnsafeMutablePointer<Float>
    private let values: UnsafeMutablePointer<Float>

    init(layers: Int, capacity: Int, width: Int) {
        self.layers = layers
        self.capacity = capacity
        self.width = width
        keys = .allocate(capacity: layers * capacity * width)
        values = .allocate(capacity: layers * capacity * width)
    }

    /// A cache for `capacity` positions of `model`.
    convenience init(model: LlamaModel, capacity: Int) {
        let hyper = model.hyperparameters
        self.init(layers: hyper.blockCount, capacity: capacity, width: hyper.headCountKV * hyper.headDim)
    }

    /// Bytes one position takes in a cache of `model` (keys and values of every layer, f32).
    static func bytesPerPosition(of model: LlamaModel) -> Int {
        let hyper = model.hyperparameters
        return 2 * hyper.blockCount * hyper.headCountKV * hyper.headDim * MemoryLayout<Float>.size
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    @inline(__always)
    func keys(layer: Int) -> UnsafeMutablePointer<Float> { keys + layer * capacity * width }

    @inline(__always)
    func values(layer: Int) -> UnsafeMutablePointer<Float> { values + layer * capacity * width }
}
