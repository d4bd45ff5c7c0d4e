/// Why a GGUF file could not be read or used. Every malformed input maps to one of these; the reader never
/// traps on file contents.
public enum GGUFError: Error, Sendable, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case notGGUF(magic: UInt32)
    case unsupportedVersion(UInt32)
    /// The file ends before a field that starts at `offset` and needs `needed` bytes.
    case truncated(offset: Int, needed: Int, context: String)
    /// A count or length is larger than the bytes left in the file could hold.
    case countTooLarge(context: String, count: UInt64, bytesLeft: Int)
    case invalidValueType(raw: UInt32, key: String)
    case nestingTooDeep(key: String)
    case duplicateKey(String)
    case duplicateTensor(String)
    case invalidAlignment(key: String, value: String)
    case invalidTensorShape(name: String, reason: String)
    case unknownTensorType(name: String, raw: UInt32)
    case unsupportedTensorType(name: String, type: GGMLType)
    case tensorOutOfBounds(name: String, offset: UInt64, byteCount: Int, fileSize: Int)
    case misalignedTensor(name: String, offset: UInt64, alignment: Int)
    case missingMetadata(key: String)
    case invalidMetadata(key: String, reason: String)
    case unsupportedArchitecture(String)
    case missingTensor(String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): "cannot open \(path): \(reason)"
        case .notGGUF(let magic): "not a GGUF file (magic 0x\(String(magic, radix: 16)))"
        case .unsupportedVersion(let v): "unsupported GGUF version \(v) (2 and 3 are supported)"
        case .truncated(let offset, let needed, let context):
            "GGUF file truncated: \(context) needs \(needed) bytes at offset \(offset)"
        case .countTooLarge(let context, let count, let left):
            "GGUF \(context): length or count \(count) exceeds what the \(left) bytes left in the file can hold"
        case .invalidValueType(let raw, let key): "GGUF metadata \(key) has unknown value type \(raw)"
        case .nestingTooDeep(let key): "GGUF metadata \(key) nests arrays too deeply"
        case .duplicateKey(let key): "GGUF metadata key \(key) appears twice"
        case .duplicateTensor(let name): "GGUF tensor \(name) appears twice"
        case .invalidAlignment(let key, let value): "GGUF \(key) = \(value) is not a power of two"
        case .invalidTensorShape(let name, let reason): "GGUF tensor \(name): \(reason)"
        case .unknownTensorType(let name, let raw): "GGUF tensor \(name) has unknown type \(raw)"
        case .unsupportedTensorType(let name, let type):
            "tensor \(name) has type \(type.name), which Agora cannot compute with (supported: F32, F16, Q8_0, Q4_0, Q4_1)"
        case .tensorOutOfBounds(let name, let offset, let count, let size):
            "GGUF tensor \(name) (\(count) bytes at data offset \(offset)) lies outside the \(size)-byte file"
        case .misalignedTensor(let name, let offset, let alignment):
            "GGUF tensor \(name) data offset \(offset) is not a multiple of \(alignment)"
        case .missingMetadata(let key): "GGUF metadata \(key) is missing"
        case .invalidMetadata(let key, let reason): "GGUF metadata \(key) is invalid: \(reason)"
        case .unsupportedArchitecture(let arch):
            "model architecture \(arch) is not supported (supported: llama, qwen2)"
        case .missingTensor(let name): "model has no tensor \(name)"
        }
    }
}
