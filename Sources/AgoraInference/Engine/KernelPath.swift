import CAgoraKernels

/// The instruction-set path of the matrix kernels. Every path gives bit-identical results (the integer
/// block sums are exact and the float accumulation order is fixed), so the choice only changes speed.
public enum KernelPath: String, Sendable, CaseIterable, CustomStringConvertible {
    case scalar
    case avx2
    case avx512

    var cValue: agora_path {
        switch self {
        case .scalar: AGORA_PATH_SCALAR
        case .avx2: AGORA_PATH_AVX2
        case .avx512: AGORA_PATH_AVX512
        }
    }

    /// Whether this CPU can run the path.
    public var isSupported: Bool { agora_path_supported(cValue) != 0 }

    /// The paths this CPU can run, slowest first.
    public static var supported: [KernelPath] { allCases.filter(\.isSupported) }

    /// The path in use: the best supported one unless `AGORA_KERNEL` or `force(_:)` chose another.
    public static var current: KernelPath {
        switch agora_current_path() {
        case AGORA_PATH_AVX512: .avx512
        case AGORA_PATH_AVX2: .avx2
        default: .scalar
        }
    }

    /// Selects a path for the whole process; returns false (and changes nothing) if the CPU lacks it.
    @discardableResult
    public static func force(_ path: KernelPath) -> Bool { agora_set_path(path.cValue) != 0 }

    public var description: String { rawValue }
}
