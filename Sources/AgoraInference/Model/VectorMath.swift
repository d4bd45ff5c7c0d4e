/// Float reductions in one fixed order, used by the forward pass wherever a sum crosses elements. The order
/// never depends on the thread count or the batch shape: this is part of the determinism contract.
enum VectorMath {
    /// The kernels' lane combination: ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)).
    @inline(__always)
    static func reduceLanes(_ v: SIMD8<Float>) -> Float {
        ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]))
    }

    /// Dot product with eight lanes (element i feeds lane i % 8), combined by `reduceLanes`.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= count {
            let x = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
            let y = UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
            acc = acc + x * y
            i += 8
        }
        while i < count {
            acc[i & 7] = acc[i & 7] + a[i] * b[i]
            i += 1
        }
        return reduceLanes(acc)
    }

    /// out[i] += a * x[i] (elementwise: each element is its own sequence of additions).
    @inline(__always)
    static func addScaled(_ out: UnsafeMutablePointer<Float>, _ a: Float, _ x: UnsafePointer<Float>, count: Int) {
        var i = 0
        let va = SIMD8<Float>(repeating: a)
        while i + 8 <= count {
            let o = UnsafeRawPointer(out + i).loadUnaligned(as: SIMD8<Float>.self)
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(out + i).storeBytes(of: o + va * v, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count {
            out[i] = out[i] + a * x[i]
            i += 1
        }
    }

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
