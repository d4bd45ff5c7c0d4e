/// An owned, fixed-size float buffer: norm weights, activations, caches. Plain pointer access keeps the hot
/// loops free of bounds checks and copy-on-write, and the buffer is allocated once, never per token.
final class FloatBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { pointer.deallocate() }
}
