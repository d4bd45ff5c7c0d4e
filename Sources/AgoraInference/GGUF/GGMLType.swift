/// The tensor element encodings of ggml, with the raw values GGUF files store.
///
/// Only `supportedByEngine` types can be loaded; the others are listed so a refusal can name them
/// ("this model uses Q6_K") instead of reporting an opaque number.
public enum GGMLType: UInt32, Sendable, CaseIterable {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    case q5_0 = 6
    case q5_1 = 7
    case q8_0 = 8
    case q8_1 = 9
    case q2_K = 10
    case q3_K = 11
    case q4_K = 12
    case q5_K = 13
    case q6_K = 14
    case q8_K = 15
    case bf16 = 30

    /// Elements per block: 1 for the plain float types, 32 for the legacy quants, 256 for K-quants.
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1: 32
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K: 256
        }
    }

    /// Bytes per block, as ggml lays the block structs out (no padding).
    public var bytesPerBlock: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .q4_0: 18  // f16 scale + 16 bytes of nibbles
        case .q4_1: 20  // f16 scale + f16 min + 16 bytes of nibbles
        case .q5_0: 22  // f16 scale + 4 bytes high bits + 16 bytes of nibbles
        case .q5_1: 24  // f16 scale + f16 min + 4 + 16
        case .q8_0: 34  // f16 scale + 32 int8
        case .q8_1: 36  // f16 scale + f16 sum + 32 int8
        case .q2_K: 84
        case .q3_K: 110
        case .q4_K: 144
        case .q5_K: 176
        case .q6_K: 210
        case .q8_K: 292
        }
    }

    /// The name llama.cpp prints for this type.
    public var name: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .q4_0: "Q4_0"
        case .q4_1: "Q4_1"
        case .q5_0: "Q5_0"
        case .q5_1: "Q5_1"
        case .q8_0: "Q8_0"
        case .q8_1: "Q8_1"
        case .q2_K: "Q2_K"
        case .q3_K: "Q3_K"
        case .q4_K: "Q4_K"
        case .q5_K: "Q5_K"
        case .q6_K: "Q6_K"
        case .q8_K: "Q8_K"
        case .bf16: "BF16"
        }
    }

    /// Whether Agora's kernels can compute with tensors of this type.
    ///
    /// A file holding any other type is refused when it is opened, so a node never advertises a model it
    /// cannot run.
    public var isSupportedByEngine: Bool {
        switch self {
        case .f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K: true
        default: false
        }
    }
}
