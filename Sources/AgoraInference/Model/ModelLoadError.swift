/// Why a model could not be turned into a runnable network.
public enum ModelLoadError: Error, Sendable, Equatable, CustomStringConvertible {
    case gguf(GGUFError)
    case missingTensor(String)
    case invalidShape(name: String, reason: String)
    case unsupportedType(name: String, type: GGMLType)

    public var description: String {
        switch self {
        case .gguf(let error): error.description
        case .missingTensor(let name): "model has no tensor \(name)"
        case .invalidShape(let name, let reason): "tensor \(name) has an unexpected shape: \(reason)"
        case .unsupportedType(let name, let type): "tensor \(name) has type \(type.name), which the engine cannot run"
        }
    }
}
