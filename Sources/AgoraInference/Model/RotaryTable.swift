import Foundation

/// cos/sin of the rotary angles for every position and pair, computed once per model.
///
/// The angle of pair i at position p is p · base^(-2i/d), evaluated in Double and rounded to Float: with
/// correctly rounded double-precision cos/sin (glibc's are) the table is the same on every machine.
final class RotaryTable: @unchecked Sendable {
    let pairs: Int
    let positions: Int
    /// [position][pair] interleaved as (cos, sin).
    private let table: FloatBuffer

    init(headDim: Int, base: Float, positions: Int) {
        pairs = headDim / 2
        self.positions = positions
        table = FloatBuffer(count: positions * pairs * 2)
        var frequencies: [Double] = []
        for i in 0..<pairs { frequencies.append(pow(Double(base), -Double(2 * i) / Double(headDim))) }
        let t = table.pointer
        for p in 0..<positions {
            for i in 0..<pairs {
                let angle = Double(p) * frequencies[i]
                t[(p * pairs + i) * 2] = Float(cos(angle))
                t[(p * pairs + i) * 2 + 1] = Float(sin(angle))
            }
        }
    }

    /// Rotates `heads` consecutive heads at `x` in place, llama.cpp's "normal" mode for arch `llama`:
    /// adjacent pairs (x[2i], x[2i+1]), not NeoX halves.
    @inline(__always)
    func apply(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, position: Int) {
        let row = table.pointer + position * pairs * 2
        for h in 0..<heads {
            let v = x + h * headDim
            for i in 0..<pairs {
                let c = row[2 * i]
                let s = row[2 * i + 1]
                let x0 = v[2 * i]
                let x1 = v[2 * i + 1]
                v[2 * i] = x0 * c - x1 * s
                v[2 * i + 1] = x0 * s + x1 * c
            }
        }
    }
}
