/// The engine's random number generator: xoshiro256** (Blackman & Vigna, 2018), seeded by expanding the
/// 64-bit request seed with SplitMix64. Defined here, not taken from the platform, because a referee must
/// draw exactly the same numbers on any machine:
///
///     splitmix64(x): x += 0x9E3779B97F4A7C15; z = x
///                    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
///                    z = (z ^ (z >> 27)) * 0x94D049BB133111EB
///                    return z ^ (z >> 31)            (all arithmetic mod 2^64)
///     state s0..s3 = four successive splitmix64 outputs from x = seed
///     next():  result = rotl(s1 * 5, 7) * 9
///              t = s1 << 17; s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl(s3, 45)
///     uniform in [0, 1): Double(next() >> 11) * 2^-53
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable, Equatable {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64

    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix()
        s1 = splitMix()
        s2 = splitMix()
        s3 = splitMix()
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    public mutating func next() -> UInt64 {
        let result = Self.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = Self.rotl(s3, 45)
        return result
    }

    /// A uniform Double in [0, 1) from the top 53 bits of one draw.
    public mutating func nextUnitDouble() -> Double { Double(next() >> 11) * 0x1p-53 }
}
