/// One message of a chat, in OpenAI's shape.
public struct ChatMessage: Sendable, Codable, Equatable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// Why a model's chat template cannot be used.
public enum ChatTemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    case missingTemplate
    /// The template is not one this engine renders; `excerpt` shows its start so the operator can tell which.
    case unsupportedTemplate(excerpt: String)

    public var description: String {
        switch self {
        case .missingTemplate: "the model has no tokenizer.chat_template"
        case .unsupportedTemplate(let excerpt):
            "the model's chat template is not ChatML, the only format supported; it begins: \(excerpt)"
        }
    }
}

/// Renders a conversation into prompt text in the model's chat format.
///
/// Agora does not run Jinja: the template in `tokenizer.chat_template` is recognised as a known format
/// (ChatML: `<|im_start|>role\ncontent<|im_end|>\n` per message) and rendered by code, so a hostile model file
/// cannot execute template logic. Anything else is refused by name. A default system message the template
/// inserts when the first message is not a system one (SmolLM2 does) is read from the template text.
public struct ChatTemplate: Sendable, Equatable {
    /// The system message written before a conversation that does not start with one, if the template has one.
    public let defaultSystemMessage: String?

    static let start = "<|im_start|>"
    static let end = "<|im_end|>"

    public init(gguf: GGUFFile) throws(ChatTemplateError) {
        guard let template = gguf.metadataString("tokenizer.chat_template") else { throw .missingTemplate }
        try self.init(template: template)
    }

    /// Recognises `template` (the Jinja source).
    public init(template: String) throws(ChatTemplateError) {
        let isChatML =
            template.contains(Self.start) && template.contains(Self.end) && template.contains("role")
            && template.contains("content") && template.contains("add_generation_prompt")
        guard isChatML else {
            let excerpt = template.prefix(120).replacingOccurrences(of: "\n", with: "\\n")
            throw .unsupportedTemplate(excerpt: String(excerpt))
        }
        // A literal system turn in the template is the default system message.
        let systemTurn = Self.start + "system\n"
        if let open = template.range(of: systemTurn),
            let close = template.range(of: Self.end, range: open.upperBound..<template.endIndex)
        {
            defaultSystemMessage = String(template[open.upperBound..<close.lowerBound])
        } else {
            defaultSystemMessage = nil
        }
    }

    /// ChatML with an explicit default system message (nil: none).
    public init(chatMLWithDefaultSystemMessage system: String?) {
        defaultSystemMessage = system
    }

    /// The prompt text of `messages`; with `addGenerationPrompt`, it ends with the opening of the
    /// assistant's turn so the model writes the answer next.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        var text = ""
        if let system = defaultSystemMessage, let first = messages.first, first.role != "system" {
            text += Self.start + "system\n" + system + Self.end + "\n"
        }
        for message in messages {
            text += Self.start + message.role + "\n" + message.content + Self.end + "\n"
        }
        if addGenerationPrompt { text += Self.start + "assistant\n" }
        return text
    }
}
