import Foundation

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
    /// `--chat-template NAME` named no format this engine knows.
    case unknownName(String)

    public var description: String {
        switch self {
        case .missingTemplate: "the model has no tokenizer.chat_template"
        case .unsupportedTemplate(let excerpt):
            "the model's chat template is none of the supported formats (\(ChatTemplate.Format.names)); "
                + "it begins: \(excerpt) — pass --chat-template NAME to choose one"
        case .unknownName(let name):
            "unknown chat template '\(name)'; known: \(ChatTemplate.Format.names)"
        }
    }
}

/// Renders a conversation into prompt text in the model's chat format.
///
/// Agora does not run Jinja: the template in `tokenizer.chat_template` is recognised as one of a few known
/// formats and rendered by code, so a hostile model file cannot execute template logic, and a template that
/// is none of them is refused by name (an operator can still pick a format with `--chat-template NAME`).
/// The formats, written as llama.cpp writes them (`llm_chat_apply_template`), so prompts tokenize the same:
/// - `chatml` (SmolLM2, Qwen2.5): `<|im_start|>role\ncontent<|im_end|>\n` per message; a default system
///   message the template inserts when the first message is not a system one is read from the template.
/// - `llama2` (Llama 2, TinyLlama chat, Mistral's `[INST]`): `[INST] <<SYS>>\nsystem\n<</SYS>>\n\nuser [/INST]`,
///   each assistant answer closed by `</s>`, the next turn opened by `<s>[INST] ` (the tokenizer adds the
///   first BOS).
/// - `llama3` (Llama 3.x): `<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>` per message, the
///   content trimmed (the tokenizer adds `<|begin_of_text|>`).
/// - `zephyr` (TinyLlama chat, Zephyr): `<|role|>\ncontent` + end + `\n` per message, then `<|assistant|>\n`;
///   the end is `<|endoftext|>` where the template writes it (llama.cpp's form), else the model's EOS text
///   (`</s>` for TinyLlama, whose template writes `eos_token`).
public struct ChatTemplate: Sendable, Equatable {
    public enum Format: String, Sendable, Equatable, CaseIterable {
        case chatML = "chatml"
        case llama2 = "llama2"
        case llama3 = "llama3"
        case zephyr = "zephyr"

        static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
    }

    public let format: Format
    /// The system message written before a conversation that does not start with one, if the template has one
    /// (ChatML only).
    public let defaultSystemMessage: String?
    /// What closes each message in the `zephyr` format.
    public let endOfMessage: String

    static let start = "<|im_start|>"
    static let end = "<|im_end|>"

    /// The model's template, or the format named by `override` (`--chat-template NAME`) when given.
    public init(gguf: GGUFFile, override: String? = nil) throws(ChatTemplateError) {
        let template = gguf.metadataString("tokenizer.chat_template")
        let eosText = gguf.metadata["tokenizer.ggml.eos_token_id"]?.asInt.flatMap { id in
            gguf.metadataArray("tokenizer.ggml.tokens").flatMap { id >= 0 && id < $0.count ? $0[id].asString : nil }
        }
        if let override {
            guard let format = Format(rawValue: override.lowercased()) else { throw .unknownName(override) }
            // Keep the model's own reading (default system message, end text) when the named format is its own.
            if let template, let own = try? ChatTemplate(template: template, eosText: eosText), own.format == format {
                self = own
            } else if format == .zephyr {
                self.init(format: format, endOfMessage: eosText ?? "<|endoftext|>")
            } else {
                self.init(format: format)
            }
            return
        }
        guard let template else { throw .missingTemplate }
        try self.init(template: template, eosText: eosText)
    }

    /// Recognises `template` (the Jinja source); `eosText` is the model's EOS token text, which a template
    /// may write as `eos_token`.
    public init(template: String, eosText: String? = nil) throws(ChatTemplateError) {
        if template.contains(Self.start) && template.contains(Self.end) && template.contains("role")
            && template.contains("content") && template.contains("add_generation_prompt")
        {
            // A literal system turn in the template is the default system message.
            let systemTurn = Self.start + "system\n"
            if let open = template.range(of: systemTurn),
                let close = template.range(of: Self.end, range: open.upperBound..<template.endIndex)
            {
                self.init(chatMLWithDefaultSystemMessage: String(template[open.upperBound..<close.lowerBound]))
            } else {
                self.init(chatMLWithDefaultSystemMessage: nil)
            }
        } else if template.contains("<|start_header_id|>") && template.contains("<|end_header_id|>")
            && template.contains("<|eot_id|>")
        {
            self.init(format: .llama3)
        } else if template.contains("[INST]") && template.contains("[/INST]") {
            self.init(format: .llama2)
        } else if template.contains("<|user|>") && template.contains("<|assistant|>") {
            let end = template.contains("<|endoftext|>") ? "<|endoftext|>" : eosText ?? "</s>"
            self.init(format: .zephyr, endOfMessage: end)
        } else {
            let excerpt = template.prefix(120).replacingOccurrences(of: "\n", with: "\\n")
            throw .unsupportedTemplate(excerpt: String(excerpt))
        }
    }

    /// A format with no default system message.
    public init(format: Format, endOfMessage: String = "<|endoftext|>") {
        self.format = format
        defaultSystemMessage = nil
        self.endOfMessage = endOfMessage
    }

    /// ChatML with an explicit default system message (nil: none).
    public init(chatMLWithDefaultSystemMessage system: String?) {
        format = .chatML
        defaultSystemMessage = system
        endOfMessage = Self.end
    }

    /// The prompt text of `messages`; with `addGenerationPrompt`, it ends with the opening of the
    /// assistant's turn so the model writes the answer next.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        switch format {
        case .chatML: return renderChatML(messages, addGenerationPrompt: addGenerationPrompt)
        case .llama2: return renderLlama2(messages)
        case .llama3: return renderLlama3(messages, addGenerationPrompt: addGenerationPrompt)
        case .zephyr: return renderZephyr(messages, addGenerationPrompt: addGenerationPrompt)
        }
    }

    private func renderZephyr(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        var text = ""
        for message in messages { text += "<|" + message.role + "|>\n" + message.content + endOfMessage + "\n" }
        if addGenerationPrompt { text += "<|assistant|>\n" }
        return text
    }

    private func renderChatML(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
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

    /// The `[INST]` format always ends a user turn with `[/INST]`, which is where the answer starts.
    private func renderLlama2(_ messages: [ChatMessage]) -> String {
        var text = "[INST] "
        var insideTurn = true
        for message in messages {
            if !insideTurn {
                insideTurn = true
                text += "<s>[INST] "
            }
            switch message.role {
            case "system": text += "<<SYS>>\n" + message.content + "\n<</SYS>>\n\n"
            case "user": text += message.content + " [/INST]"
            default:
                text += message.content + "</s>"
                insideTurn = false
            }
        }
        return text
    }

    private func renderLlama3(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        var text = ""
        for message in messages {
            text +=
                "<|start_header_id|>" + message.role + "<|end_header_id|>\n\n"
                + message.content.trimmingCharacters(in: .whitespacesAndNewlines) + "<|eot_id|>"
        }
        if addGenerationPrompt { text += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        return text
    }
}
