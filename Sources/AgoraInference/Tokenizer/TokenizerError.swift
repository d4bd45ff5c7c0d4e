/// Why a tokenizer could not be built from a model's metadata.
public enum TokenizerError: Error, Sendable, Equatable, CustomStringConvertible {
    case missingMetadata(key: String)
    case invalidMetadata(key: String, reason: String)
    /// `tokenizer.ggml.model` names a tokenizer family this engine does not implement.
    case unsupportedModel(String)
    /// `tokenizer.ggml.pre` names a pre-tokenizer this engine does not implement.
    case unsupportedPreTokenizer(String)

    public var description: String {
        switch self {
        case .missingMetadata(let key): "tokenizer metadata \(key) is missing"
        case .invalidMetadata(let key, let reason): "tokenizer metadata \(key) is invalid: \(reason)"
        case .unsupportedModel(let name):
            "tokenizer model \(name) is not supported (supported: gpt2 byte-level BPE, llama SentencePiece)"
        case .unsupportedPreTokenizer(let name):
            "pre-tokenizer \(name) is not supported (supported: \(PreTokenizer.supportedNames.joined(separator: ", ")))"
        }
    }
}
