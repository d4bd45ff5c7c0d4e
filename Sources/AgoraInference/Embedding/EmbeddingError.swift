/// Why an input cannot be embedded; each names the input (its index in the request) it is about.
public enum EmbeddingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An empty string (or empty token list): there is nothing to embed.
    case emptyInput(index: Int)
    /// The input needs more positions than the model has (with [CLS] and [SEP]).
    case tooLong(index: Int, tokens: Int, limit: Int)
    /// A token id outside the model's vocabulary.
    case tokenOutOfRange(index: Int, token: Int, vocabularySize: Int)

    public var description: String {
        switch self {
        case .emptyInput(let index): "input \(index) is empty"
        case .tooLong(let index, let tokens, let limit):
            "input \(index) is \(tokens) tokens long with [CLS] and [SEP]; the model takes at most \(limit)"
        case .tokenOutOfRange(let index, let token, let size):
            "input \(index) has token id \(token), outside the vocabulary (0..<\(size))"
        }
    }
}
