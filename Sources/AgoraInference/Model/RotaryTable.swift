import Foundation

/// cos/sin of the rotary angles for every position and pair, computed once per model.
///
/// The angle of pair i at position p is p · base^(-2i/d) / f_i (f_i from `rope_freqs.weight` when the model
/// has one, as Llama 3.1 does; 1 otherwise, as llama.cpp divides), evaluated in Double and rounded to Float: with
/// correctly rounded double-precision cos/sin (glibc's are) the table is the same on every machine.
final class RotaryTable: @unchecked Sendable {
    let pairs: Int
    let positions: Int
    let style: LlamaHyperparameters.RotaryStyle
    /// [position][pair] interleaved as (cos, sin).
    private let table: FloatBuffer

    init(
        headDim: Int, base: Float, positions: Int, style: LlamaHyperparameters.RotaryStyle = .normal,
        frequencyFactors: [Float]? = nil
    ) {
        self.style = style
        pairs = headDim / 2
        self.positions = positions
        table = FloatBuffer(count: positions * pairs * 2)
        var frequencies: [Double] = []
        for i in 0..<pairs {
            let factor = Double(frequencyFactors?[i] ?? 1)
            frequencies.append(pow(Double(base), -Double(2 * i) / Double(headDim)) / factor)
        }
        let t = table.pointer
        for p in 0..<positions {
            for i in 0..<pairs {
                let angle = Double(p) * frequencies[i]
                t[(p * pairs + i) * 2] = Float(cos(angle))
                t[(p * pairs + i) * 2 + 1] = Float(sin(angle))
            }
        }
    }

    /// Rotates `heads` consecutive heads at `x` in place: adjacent pairs (x[2i], x[2i+1]) in llama.cpp's
    /// "normal" mode (arch `llama`), halves (x[i], x[i + d/2]) in "neox" mode (arch `qwen2`); pair i turns
    /// by the same angle in both.
    @inline(__always)
    func apply(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, position: Int) {
        let row = table.pointer + position * pairs * 2
        if style == .neox {
            for h in 0..<heads {
                let v = x + h * headDim
                for i in 0..<pairs {
                    let c = row[2 * i]
                    let s = row[2 * i + 1]
                    let x0 = v[i]
                    let x1 = v[i + pairs]
                    v[i] = x0 * c - x1 * s
                    v[i + pairs] = x0 * s + x1 * c
                }
            }
            return
        }
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
