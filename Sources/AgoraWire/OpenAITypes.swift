import AgoraCore
import Foundation

/// One chat message in the OpenAI format.
public struct OpenAIMessage: Codable, Sendable, Equatable {
    public var role: String
    /// The text. Content given as an array of text parts (`[{"type": "text", "text": …}]`) is joined with
    /// "\n", as llama.cpp's server does for templates that take plain strings; the joined text is what the
    /// canonical request holds, so both spellings of a message are the same job. An assistant message that
    /// only calls tools may have `null` content, which is the empty text.
    public var content: String
    /// The calls an earlier assistant turn made (`tool_calls`).
    public var toolCalls: [ToolCall]?
    /// The call a `tool` message answers (`tool_call_id`).
    public var toolCallID: String?

    public init(role: String, content: String, toolCalls: [ToolCall]? = nil, toolCallID: String? = nil) {
        self.role = role
        self.content = content
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
    }

    /// Whether the message needs the tool-aware encoding (input kind 3).
    public var usesTools: Bool { toolCalls != nil || toolCallID != nil }

    enum CodingKeys: String, CodingKey {
        case role, content
        case toolCalls = "tool_calls"
        case toolCallID = "tool_call_id"
    }

    /// A text part; other part types are refused before decoding (`SupportedParameters`).
    struct TextPart: Decodable {
        var type: String
        var text: String
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        role = try container.decode(String.self, forKey: .role)
        toolCalls = try container.decodeIfPresent([ToolCall].self, forKey: .toolCalls)
        toolCallID = try container.decodeIfPresent(String.self, forKey: .toolCallID)
        if toolCalls != nil, try container.decodeNil(forKey: .content) {
            content = ""
        } else if let text = try? container.decode(String.self, forKey: .content) {
            content = text
        } else {
            let parts = try container.decode([TextPart].self, forKey: .content)
            guard parts.allSatisfy({ $0.type == "text" }) else {
                throw DecodingError.typeMismatch(
                    String.self,
                    .init(codingPath: container.codingPath + [CodingKeys.content], debugDescription: "only text parts"))
            }
            content = parts.map(\.text).joined(separator: "\n")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(role, forKey: .role)
        try container.encode(content, forKey: .content)
        try container.encodeIfPresent(toolCalls, forKey: .toolCalls)
        try container.encodeIfPresent(toolCallID, forKey: .toolCallID)
    }
}

/// `stop` may be a string or an array of strings in the OpenAI API.
public struct StopSequences: Codable, Sendable, Equatable {
    public var values: [String]

    public init(_ values: [String]) { self.values = values }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            values = []
        } else if let single = try? container.decode(String.self) {
            values = [single]
        } else {
            values = try container.decode([String].self)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(values)
    }
}

/// `POST /v1/chat/completions` body (the fields Agora honours; the node refuses any other field first, see
/// `SupportedParameters`).
public struct ChatCompletionRequest: Codable, Sendable, Equatable {
    public var model: String?
    public var messages: [OpenAIMessage]
    public var maxTokens: Int?
    public var maxCompletionTokens: Int?
    public var temperature: Double?
    public var topP: Double?
    public var topK: Int?
    public var seed: UInt64?
    public var stop: StopSequences?
    public var stream: Bool?
    public var n: Int?
    public var logprobs: Bool?
    public var topLogprobs: Int?
    public var minP: Double?
    public var repetitionPenalty: Double?
    public var presencePenalty: Double?
    public var frequencyPenalty: Double?
    public var logitBias: [String: Double]?
    /// `response_format`, read from the body's JSON text by `decode(_:)` (a schema's member order matters,
    /// and `Decodable` loses it), so not among the coding keys.
    public var responseFormat: ResponseFormat?
    /// `tools`, `tool_choice` and `parallel_tool_calls`, read like `responseFormat`.
    public var tools: ToolSet?

    enum CodingKeys: String, CodingKey {
        case model, messages, temperature, seed, stop, stream, n, logprobs
        case maxTokens = "max_tokens"
        case maxCompletionTokens = "max_completion_tokens"
        case topP = "top_p"
        case topK = "top_k"
        case topLogprobs = "top_logprobs"
        case minP = "min_p"
        case repetitionPenalty = "repetition_penalty"
        case presencePenalty = "presence_penalty"
        case frequencyPenalty = "frequency_penalty"
        case logitBias = "logit_bias"
    }

    public init(
        model: String? = nil, messages: [OpenAIMessage], maxTokens: Int? = nil, temperature: Double? = nil,
        topP: Double? = nil, topK: Int? = nil, seed: UInt64? = nil, stop: [String]? = nil, stream: Bool? = nil
    ) {
        self.model = model
        self.messages = messages
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.seed = seed
        self.stop = stop.map(StopSequences.init)
        self.stream = stream
    }
}

extension ChatCompletionRequest {
    /// Decodes a request body, `response_format` included.
    public static func decode(_ body: Data) throws -> ChatCompletionRequest {
        var request = try JSONDecoder().decode(ChatCompletionRequest.self, from: body)
        let value = try JSONValue.parse(Array(body))
        if let format = value["response_format"] { request.responseFormat = try ResponseFormat.from(format) }
        request.tools = try ToolSet.from(body: value)
        return request
    }
}

/// `POST /v1/completions` body.
public struct TextCompletionRequest: Codable, Sendable, Equatable {
    public var model: String?
    public var prompt: String
    public var maxTokens: Int?
    public var temperature: Double?
    public var topP: Double?
    public var topK: Int?
    public var seed: UInt64?
    public var stop: StopSequences?
    public var stream: Bool?
    public var n: Int?
    /// The number of alternatives per token (OpenAI's legacy form: an integer, not a boolean).
    public var logprobs: Int?
    public var minP: Double?
    public var repetitionPenalty: Double?
    public var presencePenalty: Double?
    public var frequencyPenalty: Double?
    public var logitBias: [String: Double]?

    enum CodingKeys: String, CodingKey {
        case model, prompt, temperature, seed, stop, stream, n, logprobs
        case maxTokens = "max_tokens"
        case topP = "top_p"
        case topK = "top_k"
        case minP = "min_p"
        case repetitionPenalty = "repetition_penalty"
        case presencePenalty = "presence_penalty"
        case frequencyPenalty = "frequency_penalty"
        case logitBias = "logit_bias"
    }
}

/// Token counts, as OpenAI reports them.
public struct Usage: Codable, Sendable, Equatable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
        case totalTokens = "total_tokens"
    }

    public init(promptTokens: Int, completionTokens: Int) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.totalTokens = promptTokens + completionTokens
    }
}

/// An OpenAI-style error body: `{"error": {"message", "type", "code"}}`.
public struct OpenAIErrorBody: Codable, Sendable {
    public struct Detail: Codable, Sendable {
        public var message: String
        public var type: String
        public var code: String?
        public var param: String?
    }

    public var error: Detail

    public init(message: String, type: String, code: String? = nil, param: String? = nil) {
        error = Detail(message: message, type: type, code: code, param: param)
    }
}
