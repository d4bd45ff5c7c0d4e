/// Why an engine could not be created from a model file.
public enum EngineLoadError: Error, Sendable, CustomStringConvertible {
    case gguf(GGUFError)
    case model(ModelLoadError)
    case tokenizer(String)
    case chatTemplate(ChatTemplateError)

    public var description: String {
        switch self {
        case .gguf(let error): error.description
        case .model(let error): error.description
        case .tokenizer(let reason): "cannot build the tokenizer: \(reason)"
        case .chatTemplate(let error): error.description
        }
    }
}
