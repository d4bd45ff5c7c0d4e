/// Float reductions in one fixed order, used by the forward pass wherever a sum crosses elements. The order
/// never depends on the thread count or the batch shape: this is part of the determinism contract.
enum VectorMath {
    /// RMSNorm as ggml computes it: the float squares summed in double, in index order, then
    /// out = (x * (1 / sqrt(mean + eps))) * weight.
    @inline(__always)
    static func rmsNorm(
        _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, count: Int,
        epsilon: Float
    ) {
        var sum: Double = 0
        for i in 0..<count {
            let v = x[i] * x[i]
            sum += Double(v)
        }
        let mean = Float(sum / Double(count))
        let scale = 1 / (mean + epsilon).squareRoot()
        for i in 0..<count { out[i] = (x[i] * scale) * weight[i] }
    }
}
