/// Elementary functions computed from IEEE `+ - * /` and exact bit operations only, so every machine and
/// every C library gives the same bits (libm's `expf` differs between glibc versions).
enum DeterministicMath {
    /// e^x in Float, Cody–Waite range reduction and the Cephes minimax polynomial (about 1 ulp).
    @inline(__always)
    static func exp(_ x: Float) -> Float {
        if x > 88.72283 { return .infinity }
        if x < -103.97208 { return 0 }
        if x.isNaN { return x }
        let n = (x * 1.442_695_04).rounded(.toNearestOrEven)
        // ln 2 = c1 + c2, c1 with few mantissa bits so n * c1 is exact.
        var r = x - n * 0.693_359_375
        r = r + n * 2.121_944_40e-4
        let z = r * r
        var p: Float = 1.987_569_150_0e-4
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        let y = p * z + r + 1
        // Scale by 2^n in two exact power-of-two steps (n can be below the normal exponent range).
        let ni = Int32(n)
        let n1 = ni / 2
        let n2 = ni - n1
        return y * Float(bitPattern: UInt32(n1 + 127) << 23) * Float(bitPattern: UInt32(n2 + 127) << 23)
    }

    /// ln x in Double for finite x > 0: x = m · 2^e with m in [√½, √2) (exact bit operations), then
    /// ln m = 2·atanh(f), f = (m − 1)/(m + 1), by its series to f^23 (|f| < 0.172, so the next term is below
    /// 2^-57 of the result), evaluated by Horner's rule in the order written. Not correctly rounded, but every
    /// machine gives the same bits. Returns −∞ for 0, NaN for negative or NaN input, +∞ for +∞.
    static func log(_ x: Double) -> Double {
        if x.isNaN || x < 0 { return .nan }
        if x == 0 { return -.infinity }
        if x.isInfinite { return x }
        var e = Double(x.exponent)
        var m = x.significand
        if m > 1.414_213_562_373_095_1 {
            m = m / 2
            e = e + 1
        }
        let f = (m - 1) / (m + 1)
        let f2 = f * f
        var p = 1.0 / 23
        var k = 21.0
        while k >= 1 {
            p = p * f2 + 1.0 / k
            k = k - 2
        }
        let ln2 = 0.693_147_180_559_945_3
        return e * ln2 + 2 * f * p
    }
}
