/// Why a request was refused or failed.
public enum GenerationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The prompt plus `maxTokens` does not fit in the engine's context.
    case contextLimitExceeded(promptTokens: Int, maxTokens: Int, contextLength: Int)
    case emptyPrompt
    case invalidParameters(String)
    /// The model has no chat template, so `messages` input cannot be rendered.
    case noChatTemplate
    case inference(InferenceError)
    /// The engine shut down before the request ran.
    case engineStopped

    public var description: String {
        switch self {
        case .contextLimitExceeded(let prompt, let maxTokens, let context):
            "prompt of \(prompt) tokens plus max_tokens \(maxTokens) exceeds the context length \(context)"
        case .emptyPrompt: "the prompt is empty"
        case .invalidParameters(let reason): "invalid parameters: \(reason)"
        case .noChatTemplate: "the model has no chat template"
        case .inference(let error): error.description
        case .engineStopped: "the engine shut down before the request ran"
        }
    }
}
