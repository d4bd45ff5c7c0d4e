import AgoraCore
import AgoraLedger
import AgoraWire
import Foundation

/// Response bodies in the OpenAI format, with Agora's signed receipt added as `agora_receipt`.
enum CompletionResponses {
    struct ChatMessage: Encodable {
        var role = "assistant"
        /// `null` when the answer only calls tools.
        var content: String?
        var toolCalls: [ToolCall]?
        /// The answer's text as generated, when tools were offered: what the output hash covers (the
        /// calls are parsed from it).
        var agoraText: String?
        enum CodingKeys: String, CodingKey {
            case role, content
            case toolCalls = "tool_calls"
            case agoraText = "agora_text"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(role, forKey: .role)
            try container.encode(content, forKey: .content)
            try container.encodeIfPresent(toolCalls, forKey: .toolCalls)
            try container.encodeIfPresent(agoraText, forKey: .agoraText)
        }
    }

    /// A choice's answer as the chat endpoint shows it: with tools on offer (and `tool_choice` not
    /// `none`), the calls parsed from the text (`ToolFormat`), ids derived from the job, and the finish
    /// reason `tool_calls`.
    static func chatAnswer(
        _ choice: ChoiceOutcome, index: Int, job: JobRequest, jobID: Hash256, format: ToolFormat
    ) -> (
        message: ChatMessage, finishReason: String
    ) {
        guard let tools = job.tools else { return (ChatMessage(content: choice.text), choice.finishReason) }
        guard tools.choice != .none, let parsed = format.parse(choice.text) else {
            return (ChatMessage(content: choice.text, agoraText: choice.text), choice.finishReason)
        }
        let calls = parsed.calls.enumerated().map { number, call in
            ToolCall(id: "call_\(jobID.short)_\(index)_\(number)", name: call.name, arguments: call.arguments)
        }
        return (
            ChatMessage(
                content: parsed.content.isEmpty ? nil : parsed.content, toolCalls: calls, agoraText: choice.text),
            choice.finishReason == "stop" ? "tool_calls" : choice.finishReason
        )
    }

    struct ChatChoice: Encodable {
        var index = 0
        var message: ChatMessage
        var finishReason: String
        /// `null` unless the request asked for log-probabilities (as OpenAI sends it).
        var logprobs: ChatLogprobs?
        enum CodingKeys: String, CodingKey {
            case index, message, logprobs
            case finishReason = "finish_reason"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(index, forKey: .index)
            try container.encode(message, forKey: .message)
            try container.encode(finishReason, forKey: .finishReason)
            try container.encode(logprobs, forKey: .logprobs)
        }
    }

    /// Chat `logprobs`: `{"content": [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}]}`.
    /// `token` is the token's bytes as text (U+FFFD where they cut a character); `bytes` are exact.
    struct ChatLogprobs: Encodable, Sendable {
        struct Alternative: Encodable, Sendable {
            var token: String
            var logprob: Float
            var bytes: [UInt8]
        }

        struct Entry: Encodable, Sendable {
            var token: String
            var logprob: Float
            var bytes: [UInt8]
            var topLogprobs: [Alternative]
            enum CodingKeys: String, CodingKey {
                case token, logprob, bytes
                case topLogprobs = "top_logprobs"
            }
        }

        var content: [Entry]

        init(_ logprobs: [OutputLogprob]) {
            content = logprobs.map { entry in
                Entry(
                    token: String(decoding: entry.bytes, as: UTF8.self), logprob: entry.logprob, bytes: entry.bytes,
                    topLogprobs: entry.top.map {
                        Alternative(
                            token: String(decoding: $0.bytes, as: UTF8.self), logprob: $0.logprob, bytes: $0.bytes)
                    })
            }
        }
    }

    /// Legacy completions `logprobs`: parallel arrays, `top_logprobs` as token → logprob maps, `text_offset`
    /// in UTF-8 bytes of the tokens before each one. Agora adds `content`, the chat form: the legacy arrays
    /// lose bytes (a token that cuts a character) and alternatives (two that render alike), and the output
    /// hash needs both.
    struct TextLogprobs: Encodable, Sendable {
        var tokens: [String]
        var tokenLogprobs: [Float]
        var topLogprobs: [[String: Float]]
        var textOffset: [Int]
        var content: [ChatLogprobs.Entry]
        enum CodingKeys: String, CodingKey {
            case tokens, content
            case tokenLogprobs = "token_logprobs"
            case topLogprobs = "top_logprobs"
            case textOffset = "text_offset"
        }

        init(_ logprobs: [OutputLogprob], offset: Int) {
            content = ChatLogprobs(logprobs).content
            tokens = logprobs.map { String(decoding: $0.bytes, as: UTF8.self) }
            tokenLogprobs = logprobs.map(\.logprob)
            topLogprobs = logprobs.map { entry in
                // Two tokens may render as the same text (a cut character): the likelier (first) one is kept.
                var map: [String: Float] = [:]
                for alternative in entry.top {
                    let key = String(decoding: alternative.bytes, as: UTF8.self)
                    if map[key] == nil { map[key] = alternative.logprob }
                }
                return map
            }
            var position = offset
            textOffset = logprobs.map { entry in
                defer { position += entry.bytes.count }
                return position
            }
        }
    }

    struct Chat: Encodable {
        var id: String
        var object = "chat.completion"
        var created: Int
        var model: String
        var choices: [ChatChoice]
        var usage: Usage
        var agoraReceipt: JobReceipt
        enum CodingKeys: String, CodingKey {
            case id, object, created, model, choices, usage
            case agoraReceipt = "agora_receipt"
        }
    }

    struct TextChoice: Encodable {
        var text: String
        var index = 0
        var finishReason: String
        var logprobs: TextLogprobs?
        enum CodingKeys: String, CodingKey {
            case text, index, logprobs
            case finishReason = "finish_reason"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(text, forKey: .text)
            try container.encode(index, forKey: .index)
            try container.encode(finishReason, forKey: .finishReason)
            try container.encode(logprobs, forKey: .logprobs)
        }
    }

    struct Text: Encodable {
        var id: String
        var object = "text_completion"
        var created: Int
        var model: String
        var choices: [TextChoice]
        var usage: Usage
        var agoraReceipt: JobReceipt
        enum CodingKeys: String, CodingKey {
            case id, object, created, model, choices, usage
            case agoraReceipt = "agora_receipt"
        }
    }

    struct Delta: Encodable, Sendable {
        var role: String?
        var content: String?
        var toolCalls: [ToolCallDelta]?
        enum CodingKeys: String, CodingKey {
            case role, content
            case toolCalls = "tool_calls"
        }
    }

    /// A streamed tool call (OpenAI's delta form): here each call comes whole, in one delta.
    struct ToolCallDelta: Encodable, Sendable {
        var index: Int
        var id: String
        var type = "function"
        var function: ToolCall.Function
    }

    /// A streamed piece's log-probabilities, in its endpoint's form.
    enum ChunkLogprobs: Encodable, Sendable {
        case chat(ChatLogprobs)
        case text(TextLogprobs)

        func encode(to encoder: any Encoder) throws {
            switch self {
            case .chat(let value): try value.encode(to: encoder)
            case .text(let value): try value.encode(to: encoder)
            }
        }
    }

    struct ChunkChoice: Encodable, Sendable {
        var index = 0
        var delta: Delta?
        var text: String?
        var logprobs: ChunkLogprobs?
        var finishReason: String?
        /// In a choice's closing chunk when tools were offered: the text as generated (`ChatMessage.agoraText`).
        var agoraText: String?
        enum CodingKeys: String, CodingKey {
            case index, delta, text, logprobs
            case finishReason = "finish_reason"
            case agoraText = "agora_text"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(index, forKey: .index)
            try container.encodeIfPresent(delta, forKey: .delta)
            try container.encodeIfPresent(text, forKey: .text)
            try container.encodeIfPresent(logprobs, forKey: .logprobs)
            try container.encode(finishReason, forKey: .finishReason)
            try container.encodeIfPresent(agoraText, forKey: .agoraText)
        }
    }

    struct Chunk: Encodable, Sendable {
        var id: String
        var object: String
        var created: Int
        var model: String
        var choices: [ChunkChoice]
        var usage: Usage?
        var agoraReceipt: JobReceipt?
        enum CodingKeys: String, CodingKey {
            case id, object, created, model, choices, usage
            case agoraReceipt = "agora_receipt"
        }
    }

    struct ModelEntry: Encodable {
        var id: String
        var object = "model"
        var created = 0
        var ownedBy = "agora"
        var agora: AgoraModelInfo
        enum CodingKeys: String, CodingKey {
            case id, object, created, agora
            case ownedBy = "owned_by"
        }
    }

    /// Agora's own object inside the OpenAI model entry: camelCase like every Agora and x402 object.
    struct AgoraModelInfo: Encodable {
        var modelHash: Hash256
        var node: String
        var chainId: String?
        var pricePerInputToken: Amount
        var pricePerOutputToken: Amount
        var contextLength: Int
        var engineVersion: String
        var free: Bool
        var hpke: HPKEInfo
        /// What a request may carry (`SupportedParameters`); anything else is refused by name.
        var supportedParameters = SupportedParametersInfo()
    }

    struct SupportedParametersInfo: Encodable {
        var chat = SupportedParameters.chat.sorted()
        var completions = SupportedParameters.completions.sorted()
        var embeddings = SupportedParameters.embeddings.sorted()
        var message = SupportedParameters.message.sorted()
        /// Accepted only at these values.
        var neutral = SupportedParameters.neutral
    }

    struct HPKEInfo: Codable {
        var suite: String
        var publicKey: String
    }

    struct ModelList: Encodable {
        var object = "list"
        var data: [ModelEntry]
    }

    static func json<Value: Encodable>(_ value: Value) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }
}
