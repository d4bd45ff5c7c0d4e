import AgoraCore
import AgoraLedger
import AgoraWire
import Foundation

/// `POST /v1/responses`, the stateless subset: a Responses request is rewritten as the chat request it
/// means, so it is the same job (same canonical request, input hash, price and receipt) and runs on the same
/// path; only the answer's shape differs. Nothing is stored: `store: true` and `previous_response_id` are
/// refused rather than pretended.
public enum ResponsesAPI {
    /// Top-level fields accepted (all others are refused by name).
    static let parameters: Set<String> = [
        "model", "input", "instructions", "max_output_tokens", "temperature", "top_p", "text", "tools", "tool_choice",
        "parallel_tool_calls", "stream", "store", "user", "seed", "top_k",
    ]

    /// The chat body a Responses body stands for, and whether it streams.
    public static func chatBody(_ data: Data) throws(RequestError) -> (body: Data, stream: Bool) {
        let body: JSONValue
        do { body = try JSONValue.parse(Array(data)) } catch { throw RequestError("the body is not valid JSON") }
        guard case .object(let members) = body else { throw RequestError("the body must be a JSON object") }
        for member in members where !parameters.contains(member.key) && member.value != .null {
            throw RequestError(
                "parameter '\(member.key)' is not supported by this node", param: member.key,
                code: "unsupported_parameter")
        }
        if let store = body["store"], store != .null, store != .bool(false) {
            throw RequestError(
                "this node keeps nothing: only store=false is supported", param: "store", code: "unsupported_parameter")
        }
        var chat: [(key: String, value: JSONValue)] = []
        if let model = body["model"] { chat.append(("model", model)) }
        chat.append(("messages", .array(try messages(body))))
        for (from, to) in [
            ("max_output_tokens", "max_tokens"), ("temperature", "temperature"), ("top_p", "top_p"), ("seed", "seed"),
            ("top_k", "top_k"), ("parallel_tool_calls", "parallel_tool_calls"),
        ] {
            if let value = body[from], value != .null { chat.append((to, value)) }
        }
        if let text = body["text"], text != .null { chat.append(("response_format", try responseFormat(text))) }
        if let tools = body["tools"], tools != .null { chat.append(("tools", try self.tools(tools))) }
        if let choice = body["tool_choice"], choice != .null { chat.append(("tool_choice", try toolChoice(choice))) }
        let stream = body["stream"]?.boolValue ?? false
        return (Data(JSONValue.object(chat).canonicalText.utf8), stream)
    }

    /// `instructions` and `input` as chat messages.
    static func messages(_ body: JSONValue) throws(RequestError) -> [JSONValue] {
        var messages: [JSONValue] = []
        if let instructions = body["instructions"], instructions != .null {
            guard instructions.stringValue != nil else {
                throw RequestError("instructions must be a string", param: "instructions")
            }
            messages.append(.object([("role", .string("system")), ("content", instructions)]))
        }
        guard let input = body["input"] else { throw RequestError("missing required field 'input'", param: "input") }
        if let text = input.stringValue {
            messages.append(.object([("role", .string("user")), ("content", .string(text))]))
            return messages
        }
        guard let items = input.arrayValue, !items.isEmpty else {
            throw RequestError("input must be a string or a non-empty array of items", param: "input")
        }
        for (index, item) in items.enumerated() {
            let path = "input.\(index)"
            switch item["type"]?.stringValue ?? "message" {
            case "message":
                guard let role = item["role"]?.stringValue, ["user", "system", "developer", "assistant"].contains(role)
                else {
                    throw RequestError("an input message needs role user, system, developer or assistant", param: path)
                }
                try refuse(item, allowed: ["type", "role", "content", "id", "status"], path: path)
                messages.append(
                    .object([
                        ("role", .string(role == "developer" ? "system" : role)),
                        ("content", .string(try text(item["content"], path: path + ".content"))),
                    ]))
            case "function_call":
                try refuse(item, allowed: ["type", "call_id", "name", "arguments", "id", "status"], path: path)
                guard let id = item["call_id"]?.stringValue, let name = item["name"]?.stringValue,
                    let arguments = item["arguments"]?.stringValue
                else { throw RequestError("a function_call needs call_id, name and arguments", param: path) }
                let call = JSONValue.object([
                    ("id", .string(id)), ("type", .string("function")),
                    ("function", .object([("name", .string(name)), ("arguments", .string(arguments))])),
                ])
                // Calls in a row are one assistant turn, as a chat request writes them.
                if case .object(var last) = messages.last ?? .null, last.first?.value == .string("assistant"),
                    let calls = messages.last?["tool_calls"]?.arrayValue
                {
                    last[last.count - 1] = ("tool_calls", .array(calls + [call]))
                    messages[messages.count - 1] = .object(last)
                } else {
                    messages.append(
                        .object([("role", .string("assistant")), ("content", .null), ("tool_calls", .array([call]))]))
                }
            case "function_call_output":
                try refuse(item, allowed: ["type", "call_id", "output", "id", "status"], path: path)
                guard let id = item["call_id"]?.stringValue, let output = item["output"]?.stringValue else {
                    throw RequestError("a function_call_output needs call_id and output", param: path)
                }
                messages.append(
                    .object([("role", .string("tool")), ("tool_call_id", .string(id)), ("content", .string(output))]))
            case let type:
                throw RequestError(
                    "input item type '\(type)' is not supported by this node", param: path + ".type",
                    code: "unsupported_parameter")
            }
        }
        return messages
    }

    /// Message content: a string, or text parts (`input_text`, `output_text`) joined with "\n".
    static func text(_ content: JSONValue?, path: String) throws(RequestError) -> String {
        if let text = content?.stringValue { return text }
        guard let parts = content?.arrayValue else {
            throw RequestError("content must be a string or an array of text parts", param: path)
        }
        var texts: [String] = []
        for (index, part) in parts.enumerated() {
            guard let type = part["type"]?.stringValue, type == "input_text" || type == "output_text",
                let text = part["text"]?.stringValue
            else {
                throw RequestError(
                    "content part \(index) is not supported by this node (only input_text and output_text are)",
                    param: "\(path).\(index).type", code: "unsupported_parameter")
            }
            try refuse(part, allowed: ["type", "text", "annotations"], path: "\(path).\(index)")
            texts.append(text)
        }
        return texts.joined(separator: "\n")
    }

    /// `text.format` as the chat `response_format`.
    static func responseFormat(_ text: JSONValue) throws(RequestError) -> JSONValue {
        try refuse(text, allowed: ["format"], path: "text")
        guard let format = text["format"], let type = format["type"]?.stringValue else {
            throw RequestError("text.format must be an object with a type", param: "text.format")
        }
        switch type {
        case "text", "json_object":
            try refuse(format, allowed: ["type"], path: "text.format")
            return .object([("type", .string(type))])
        case "json_schema":
            try refuse(format, allowed: ["type", "name", "schema", "strict"], path: "text.format")
            var spec: [(key: String, value: JSONValue)] = []
            for key in ["name", "schema", "strict"] { if let value = format[key] { spec.append((key, value)) } }
            return .object([("type", .string("json_schema")), ("json_schema", .object(spec))])
        default:
            throw RequestError(
                "text.format type '\(type)' is not supported", param: "text.format.type", code: "unsupported_parameter")
        }
    }

    /// Responses function tools (flat) as chat tools (nested under `function`).
    static func tools(_ tools: JSONValue) throws(RequestError) -> JSONValue {
        guard let list = tools.arrayValue else { throw RequestError("tools must be an array", param: "tools") }
        var out: [JSONValue] = []
        for (index, tool) in list.enumerated() {
            guard tool["type"]?.stringValue == "function" else {
                throw RequestError(
                    "only function tools are supported by this node", param: "tools.\(index).type",
                    code: "unsupported_parameter")
            }
            try refuse(tool, allowed: ["type", "name", "description", "parameters", "strict"], path: "tools.\(index)")
            var function: [(key: String, value: JSONValue)] = []
            for key in ["name", "description", "parameters", "strict"] {
                if let value = tool[key] { function.append((key, value)) }
            }
            out.append(.object([("type", .string("function")), ("function", .object(function))]))
        }
        return .array(out)
    }

    static func toolChoice(_ choice: JSONValue) throws(RequestError) -> JSONValue {
        if choice.stringValue != nil { return choice }
        guard choice["type"]?.stringValue == "function", let name = choice["name"] else {
            throw RequestError("tool_choice must be auto, none, required or a function", param: "tool_choice")
        }
        return .object([("type", .string("function")), ("function", .object([("name", name)]))])
    }

    static func refuse(_ value: JSONValue, allowed: Set<String>, path: String) throws(RequestError) {
        guard case .object(let members) = value else { return }
        try RequestError.refuseUnknown(members, allowed: allowed, path: path)
    }

    // MARK: The answer

    struct OutputText: Encodable {
        var type = "output_text"
        var text: String
        var annotations: [String] = []
    }

    /// An item of `output`: a message, or a function call.
    struct OutputItem: Encodable {
        var type: String
        var id: String
        var status: String
        var role: String?
        var content: [OutputText]?
        var callID: String?
        var name: String?
        var arguments: String?
        enum CodingKeys: String, CodingKey {
            case type, id, status, role, content, name, arguments
            case callID = "call_id"
        }
    }

    struct Usage: Encodable {
        struct InputDetails: Encodable {
            var cachedTokens = 0; enum CodingKeys: String, CodingKey { case cachedTokens = "cached_tokens" }
        }
        struct OutputDetails: Encodable {
            var reasoningTokens = 0
            enum CodingKeys: String, CodingKey { case reasoningTokens = "reasoning_tokens" }
        }
        var inputTokens: Int
        var outputTokens: Int
        var totalTokens: Int
        var inputTokensDetails = InputDetails()
        var outputTokensDetails = OutputDetails()
        enum CodingKeys: String, CodingKey {
            case inputTokens = "input_tokens"
            case outputTokens = "output_tokens"
            case totalTokens = "total_tokens"
            case inputTokensDetails = "input_tokens_details"
            case outputTokensDetails = "output_tokens_details"
        }
    }

    struct Incomplete: Encodable { var reason: String }

    struct Response: Encodable {
        var id: String
        var object = "response"
        var createdAt: Int
        var status: String
        var model: String
        var output: [OutputItem]
        var usage: Usage?
        var incompleteDetails: Incomplete?
        var parallelToolCalls: Bool
        var toolChoice: String
        var tools: [String] = []
        var error: String? = nil
        var agoraReceipt: JobReceipt?
        /// The answer's text as generated: what the receipt's output hash covers.
        var agoraText: String?
        enum CodingKeys: String, CodingKey {
            case id, object, status, model, output, usage, tools, error
            case createdAt = "created_at"
            case incompleteDetails = "incomplete_details"
            case parallelToolCalls = "parallel_tool_calls"
            case toolChoice = "tool_choice"
            case agoraReceipt = "agora_receipt"
            case agoraText = "agora_text"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(object, forKey: .object)
            try container.encode(createdAt, forKey: .createdAt)
            try container.encode(status, forKey: .status)
            try container.encode(model, forKey: .model)
            try container.encode(output, forKey: .output)
            try container.encodeIfPresent(usage, forKey: .usage)
            try container.encode(incompleteDetails, forKey: .incompleteDetails)
            try container.encode(parallelToolCalls, forKey: .parallelToolCalls)
            try container.encode(toolChoice, forKey: .toolChoice)
            try container.encode(tools, forKey: .tools)
            try container.encode(error, forKey: .error)
            try container.encodeIfPresent(agoraReceipt, forKey: .agoraReceipt)
            try container.encodeIfPresent(agoraText, forKey: .agoraText)
        }
    }

    /// The `output` items of a finished answer: its text as a message, then its tool calls.
    static func output(_ choice: ChoiceOutcome, job: JobRequest, jobID: Hash256, format: ToolFormat) -> [OutputItem] {
        let answer = CompletionResponses.chatAnswer(choice, index: 0, job: job, jobID: jobID, format: format)
        var items: [OutputItem] = []
        if let content = answer.message.content, !content.isEmpty || answer.message.toolCalls == nil {
            items.append(
                OutputItem(
                    type: "message", id: "msg_" + jobID.short, status: "completed", role: "assistant",
                    content: [OutputText(text: content)]))
        }
        for call in answer.message.toolCalls ?? [] {
            items.append(
                OutputItem(
                    type: "function_call", id: "fc_" + call.id.dropFirst("call_".count), status: "completed",
                    callID: call.id, name: call.function.name, arguments: call.function.arguments))
        }
        return items
    }

    static func response(
        _ outcome: CompletionOutcome?, job: JobRequest, jobID: Hash256, created: Int, model: String,
        receipt: JobReceipt?, format: ToolFormat
    ) -> Response {
        let choice = outcome?.choices.first
        let incomplete = choice?.finishReason == "length"
        return Response(
            id: "resp_" + jobID.short, createdAt: created,
            status: outcome == nil ? "in_progress" : incomplete ? "incomplete" : "completed", model: model,
            output: choice.map { output($0, job: job, jobID: jobID, format: format) } ?? [],
            usage: outcome.map {
                Usage(
                    inputTokens: $0.promptTokens, outputTokens: $0.completionTokens,
                    totalTokens: $0.promptTokens + $0.completionTokens)
            },
            incompleteDetails: incomplete ? Incomplete(reason: "max_output_tokens") : nil,
            parallelToolCalls: job.tools?.parallel ?? true, toolChoice: Self.choiceName(job.tools?.choice),
            agoraReceipt: receipt, agoraText: choice?.text)
    }

    static func choiceName(_ choice: ToolChoice?) -> String {
        switch choice ?? .auto {
        case .auto: return "auto"
        case .none: return "none"
        case .required: return "required"
        case .function(let name): return name
        }
    }

    /// One Server-Sent Event of the Responses stream: `event: <type>` and the JSON with its `type` and
    /// `sequence_number`.
    static func event(_ type: String, sequence: Int, _ fields: [(String, any Encodable)]) -> Data {
        var object = "{\"type\":\(JSONValue.string(type).canonicalText),\"sequence_number\":\(sequence)"
        for (key, value) in fields {
            object += ",\(JSONValue.string(key).canonicalText):"
            object += String(decoding: CompletionResponses.json(AnyEncodable(value)), as: UTF8.self)
        }
        object += "}"
        return Data("event: \(type)\ndata: \(object)\n\n".utf8)
    }

    struct AnyEncodable: Encodable {
        let value: any Encodable
        init(_ value: any Encodable) { self.value = value }
        func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
    }
}
