import Foundation

/// cos/sin of the rotary angles for every position and pair, computed once per model.
///
/// The angles are llama.cpp's, bit for bit: θ₀ = p and θᵢ₊₁ = θᵢ · s in Float, with s = base^(-2/d) rounded
/// to Float, and pair i uses θᵢ / fᵢ (fᵢ from `rope_freqs.weight` when the model has one, as Llama 3.1 does).
/// cos, sin and the power are glibc's cosf/sinf/powf, the functions llama.cpp calls: they are not always
/// correctly rounded (about 1 entry in 50 differs from the correctly rounded value in the last bit), so no
/// other evaluation reproduces llama.cpp's table. They are the engine's only libm calls, evaluated once at
/// load; glibc computes them in portable C (double-precision polynomials), the same bits on every x86-64.
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
        let scale = Self.thetaScale(base: base, headDim: headDim)
        let t = table.pointer
        for p in 0..<positions {
            var theta = Float(p)
            for i in 0..<pairs {
                let angle = frequencyFactors.map { theta / $0[i] } ?? theta
                t[(p * pairs + i) * 2] = cos(angle)
                t[(p * pairs + i) * 2 + 1] = sin(angle)
                theta = theta * scale
            }
        }
    }

    /// base^(-2/d) as llama.cpp's `powf(freq_base, -2.0f/n_dims)` computes it.
    static func thetaScale(base: Float, headDim: Int) -> Float {
        pow(base, -2 / Float(headDim))
    }

    /// (cos, sin) of `pair` at `position`.
    func entry(position: Int, pair: Int) -> (cos: Float, sin: Float) {
        let i = (position * pairs + pair) * 2
        return (table.pointer[i], table.pointer[i + 1])
    }

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
                    v[i] = (-(x1 * s)).addingProduct(x0, c)
                    v[i + pairs] = (x1 * c).addingProduct(x0, s)
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
                v[2 * i] = (-(x1 * s)).addingProduct(x0, c)
                v[2 * i + 1] = (x1 * c).addingProduct(x0, s)
            }
        }
    }
}
