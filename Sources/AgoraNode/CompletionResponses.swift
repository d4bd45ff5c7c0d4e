import AgoraCore
import AgoraLedger
import AgoraWire
import Foundation

/// Response bodies in the OpenAI format, with Agora's signed receipt added as `agora_receipt`.
enum CompletionResponses {
    struct ChatMessage: Encodable {
        var role = "assistant"
        var content: String
    }

    struct ChatChoice: Encodable {
        var index = 0
        var message: ChatMessage
        var finishReason: String
        enum CodingKeys: String, CodingKey {
            case index, message
            case finishReason = "finish_reason"
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
        enum CodingKeys: String, CodingKey {
            case text, index
            case finishReason = "finish_reason"
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
    }

    struct ChunkChoice: Encodable, Sendable {
        var index = 0
        var delta: Delta?
        var text: String?
        var finishReason: String?
        enum CodingKeys: String, CodingKey {
            case index, delta, text
            case finishReason = "finish_reason"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(index, forKey: .index)
            try container.encodeIfPresent(delta, forKey: .delta)
            try container.encodeIfPresent(text, forKey: .text)
            try container.encode(finishReason, forKey: .finishReason)
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
