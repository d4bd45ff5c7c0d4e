import Foundation

/// Where forward passes spend their time, by phase: `agora bench engine --profile` turns it on for one state.
/// Off (nil on the state) it costs one nil check per phase boundary.
public struct ForwardProfile: Sendable {
    public enum Phase: String, CaseIterable, Sendable {
        /// The layers' quantized matrix products, activation quantization included.
        case matrixProducts = "matrix products"
        /// Scores, softmax and the weighted values.
        case attention
        /// Embedding lookup, RMS norms, rotary, SwiGLU, residual additions.
        case elementwise = "norms, rotary, SwiGLU, residuals"
        /// The final norm and the vocabulary-wide output product.
        case outputLayer = "output layer"
    }

    public private(set) var nanoseconds: [Phase: UInt64] = [:]
    private var last: UInt64 = 0

    public init() {}

    public var total: UInt64 { nanoseconds.values.reduce(0, +) }

    mutating func start() { last = DispatchTime.now().uptimeNanoseconds }

    /// Charges the time since the previous boundary to `phase`.
    mutating func lap(_ phase: Phase) {
        let now = DispatchTime.now().uptimeNanoseconds
        nanoseconds[phase, default: 0] += now - last
        last = now
    }
}
