/// Why a forward pass was refused. The checks run before any state changes.
public enum InferenceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The tokens would not fit in the context: `position` already used, `adding` more, `capacity` in all.
    case contextFull(position: Int, adding: Int, capacity: Int)
    case invalidToken(Int32, vocabularySize: Int)
    case emptyInput

    public var description: String {
        switch self {
        case .contextFull(let position, let adding, let capacity):
            "context full: \(position) tokens held + \(adding) new > \(capacity)"
        case .invalidToken(let token, let size): "token \(token) is outside the vocabulary of \(size)"
        case .emptyInput: "no tokens to evaluate"
        }
    }
}
