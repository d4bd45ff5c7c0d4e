import AgoraCore
import AgoraLedger
import Foundation

/// A function the model may call (`tools[i].function`), normalized: what the canonical request holds.
public struct ToolSpec: Sendable, Equatable, Codable {
    public var name: String
    public var description: String
    /// The parameters' JSON Schema in canonical text; `{}` stands for an object of any members.
    public var parameters: String
    public var strict: Bool

    public init(name: String, description: String = "", parameters: String = "{}", strict: Bool = false) {
        self.name = name
        self.description = description
        self.parameters = parameters
        self.strict = strict
    }
}

/// `tool_choice`.
public enum ToolChoice: Sendable, Equatable, Codable {
    /// The model answers in text or calls tools, as it likes.
    case auto
    /// The model answers in text (tools are still shown to it).
    case none
    /// The model calls at least one tool.
    case required
    /// The model calls this function.
    case function(String)
}

/// A tool call in an assistant message (`tool_calls[i]`), as the client sends it back.
public struct ToolCall: Sendable, Equatable, Codable {
    public struct Function: Sendable, Equatable, Codable {
        public var name: String
        /// The arguments as JSON text, exactly as given.
        public var arguments: String

        public init(name: String, arguments: String) {
            self.name = name
            self.arguments = arguments
        }
    }

    public var id: String
    public var type: String = "function"
    public var function: Function

    public init(id: String, name: String, arguments: String) {
        self.id = id
        self.function = Function(name: name, arguments: arguments)
    }
}

/// The tools of a chat request: read from the body's JSON (a schema's member order matters), checked, and
/// written into the canonical request as option 9.
public struct ToolSet: Sendable, Equatable, Codable {
    public var tools: [ToolSpec]
    public var choice: ToolChoice
    public var parallel: Bool

    public init(tools: [ToolSpec], choice: ToolChoice = .auto, parallel: Bool = true) {
        self.tools = tools
        self.choice = choice
        self.parallel = parallel
    }

    /// Most tools per request (a call's name is matched among them in one 64-bit mask).
    public static let maxTools = 64

    /// Reads `tools`, `tool_choice` and `parallel_tool_calls` from a chat body; nil without tools.
    public static func from(body: JSONValue) throws(RequestError) -> ToolSet? {
        let choiceValue = body["tool_choice"].flatMap { $0 == .null ? nil : $0 }
        let parallelValue = body["parallel_tool_calls"].flatMap { $0 == .null ? nil : $0 }
        guard let list = body["tools"], list != .null else {
            if choiceValue != nil { throw RequestError("tool_choice needs tools", param: "tool_choice") }
            if parallelValue != nil {
                throw RequestError("parallel_tool_calls needs tools", param: "parallel_tool_calls")
            }
            return nil
        }
        guard let entries = list.arrayValue, !entries.isEmpty, entries.count <= maxTools else {
            throw RequestError("tools must be an array of 1 to \(maxTools) tools", param: "tools")
        }
        var tools: [ToolSpec] = []
        for (index, entry) in entries.enumerated() {
            let path = "tools.\(index)"
            guard case .object(let members) = entry, entry["type"]?.stringValue == "function",
                let function = entry["function"], case .object(let fields) = function
            else {
                throw RequestError("a tool must be {\"type\": \"function\", \"function\": {…}}", param: path)
            }
            try RequestError.refuseUnknown(members, allowed: ["type", "function"], path: path)
            try RequestError.refuseUnknown(
                fields, allowed: ["name", "description", "parameters", "strict"], path: path + ".function")
            guard let name = function["name"]?.stringValue, Self.isName(name) else {
                throw RequestError(
                    "a function name is 1 to 64 letters, digits, '_' or '-'", param: path + ".function.name")
            }
            guard !tools.contains(where: { $0.name == name }) else {
                throw RequestError("function '\(name)' is listed twice", param: path + ".function.name")
            }
            let description = function["description"]
            guard description == nil || description == .null || description?.stringValue != nil else {
                throw RequestError("description must be a string", param: path + ".function.description")
            }
            let strict = function["strict"]
            guard strict == nil || strict == .null || strict?.boolValue != nil else {
                throw RequestError("strict must be a boolean", param: path + ".function.strict")
            }
            var parameters = "{}"
            if let given = function["parameters"], given != .null {
                guard case .object = given else {
                    throw RequestError("parameters must be a JSON Schema object", param: path + ".function.parameters")
                }
                parameters = given.canonicalText
            }
            tools.append(
                ToolSpec(
                    name: name, description: description?.stringValue ?? "", parameters: parameters,
                    strict: strict?.boolValue ?? false))
        }
        var choice = ToolChoice.auto
        if let choiceValue {
            switch choiceValue {
            case .string("auto"): choice = .auto
            case .string("none"): choice = .none
            case .string("required"): choice = .required
            case .object(let members):
                try RequestError.refuseUnknown(members, allowed: ["type", "function"], path: "tool_choice")
                guard choiceValue["type"]?.stringValue == "function",
                    let name = choiceValue["function"]?["name"]?.stringValue
                else {
                    throw RequestError(
                        "tool_choice must be auto, none, required or {\"type\": \"function\", \"function\": {\"name\": …}}",
                        param: "tool_choice")
                }
                guard tools.contains(where: { $0.name == name }) else {
                    throw RequestError(
                        "tool_choice names '\(name)', which is not among the tools", param: "tool_choice")
                }
                choice = .function(name)
            default:
                throw RequestError("tool_choice must be auto, none, required or a function", param: "tool_choice")
            }
        }
        guard parallelValue == nil || parallelValue?.boolValue != nil else {
            throw RequestError("parallel_tool_calls must be a boolean", param: "parallel_tool_calls")
        }
        return ToolSet(tools: tools, choice: choice, parallel: parallelValue?.boolValue ?? true)
    }

    /// OpenAI's rule for function and schema names: 1 to 64 of `[A-Za-z0-9_-]`.
    static func isName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count)
            && name.utf8.allSatisfy {
                (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0)
                    || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
            }
    }

    func encode(to writer: inout CanonicalWriter) {
        writer.write(UInt32(tools.count))
        for tool in tools {
            writer.write(tool.name)
            writer.write(tool.description)
            writer.write(tool.parameters)
            writer.write(tool.strict)
        }
        switch choice {
        case .auto: writer.write(UInt8(0))
        case .none: writer.write(UInt8(1))
        case .required: writer.write(UInt8(2))
        case .function(let name):
            writer.write(UInt8(3))
            writer.write(name)
        }
        writer.write(parallel)
    }

    init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        let count = try reader.readUInt32()
        guard count >= 1, count <= Self.maxTools else {
            throw .lengthOutOfBounds(declared: UInt64(count), limit: Self.maxTools)
        }
        tools = []
        for _ in 0..<count {
            let name = try reader.readString(limit: 64)
            let description = try reader.readString(limit: RevealedRequest.maxBytes)
            let parameters = try reader.readString(limit: RevealedRequest.maxBytes)
            guard (try? JSONValue.parse(parameters))?.canonicalText == parameters else {
                throw .invalidValue("a tool's parameters are not canonical JSON")
            }
            tools.append(
                ToolSpec(name: name, description: description, parameters: parameters, strict: try reader.readBool()))
        }
        switch try reader.readUInt8() {
        case 0: choice = .auto
        case 1: choice = .none
        case 2: choice = .required
        case 3: choice = .function(try reader.readString(limit: 64))
        case let tag: throw .invalidTag(type: "ToolChoice", tag: tag)
        }
        parallel = try reader.readBool()
    }
}

/// How tools are shown to a model and how its calls are written, by chat template.
///
/// - `hermes`: Qwen2.5's format, also the documented format for templates without one of their own (ChatML
///   models such as the default one, Llama 2, Zephyr): tools listed in the system message, calls written as
///   `<tool_call>\n{"name": …, "arguments": …}\n</tool_call>` (several, one per line), results given back in
///   a user turn as `<tool_response>\n…\n</tool_response>`.
/// - `llama31`: Llama 3.1's JSON tool calling: `Environment: ipython` in the system message, the functions
///   in the first user message, one call written as `{"name": …, "parameters": …}`, results in `ipython`
///   turns.
public enum ToolFormat: Sendable, Equatable {
    case hermes
    case llama31

    public static let callOpen = "<tool_call>"
    public static let callClose = "</tool_call>"

    /// The text that switches constrained decoding on under `tool_choice: auto` (the grammar starts with it).
    public var trigger: String { self == .hermes ? Self.callOpen : #"{"name""# }

    /// The system text that presents the tools (`hermes`; appended to the request's system message).
    public static func systemText(_ tools: [ToolSpec]) -> String {
        var lines = [
            "# Tools", "", "You may call one or more functions to assist with the user query.", "",
            "You are provided with function signatures within <tools></tools> XML tags:", "<tools>",
        ]
        for tool in tools { lines.append(functionJSON(tool).canonicalText) }
        lines += [
            "</tools>", "",
            "For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:",
            "<tool_call>", #"{"name": <function-name>, "arguments": <args-json-object>}"#, "</tool_call>",
        ]
        return lines.joined(separator: "\n")
    }

    static func functionJSON(_ tool: ToolSpec) -> JSONValue {
        var function: [(key: String, value: JSONValue)] = [("name", .string(tool.name))]
        if !tool.description.isEmpty { function.append(("description", .string(tool.description))) }
        function.append(("parameters", (try? JSONValue.parse(tool.parameters)) ?? .object([])))
        return .object([("type", .string("function")), ("function", .object(function))])
    }

    /// The key a call's arguments go under.
    public var argumentsKey: String { self == .hermes ? "arguments" : "parameters" }

    /// The text of an earlier assistant turn that called tools.
    public func assistantText(content: String, calls: [ToolCall]) -> String {
        var text = content
        for call in calls {
            let json =
                "{\"name\":" + JSONValue.string(call.function.name).canonicalText + ",\"\(argumentsKey)\":"
                + call.function.arguments + "}"
            if !text.isEmpty { text += "\n" }
            text += self == .hermes ? Self.callOpen + "\n" + json + "\n" + Self.callClose : json
        }
        return text
    }

    /// The text of one tool result (`hermes`).
    public static func responseText(_ content: String) -> String {
        "<tool_response>\n" + content + "\n</tool_response>"
    }

    /// Chat messages with tools rendered as text, in the roles the chat template knows.
    public func render(_ messages: [OpenAIMessage], tools: ToolSet?) -> [(role: String, content: String)] {
        self == .hermes ? renderHermes(messages, tools: tools) : renderLlama31(messages, tools: tools)
    }

    private func renderHermes(_ messages: [OpenAIMessage], tools: ToolSet?) -> [(role: String, content: String)] {
        var out: [(role: String, content: String)] = []
        if let tools {
            let block = Self.systemText(tools.tools)
            if let first = messages.first, first.role == "system" {
                out.append(("system", first.content + "\n\n" + block))
            } else {
                out.append(("system", block))
            }
        }
        for (index, message) in messages.enumerated() {
            if index == 0, tools != nil, message.role == "system" { continue }
            switch message.role {
            case "assistant" where !(message.toolCalls ?? []).isEmpty:
                out.append(("assistant", assistantText(content: message.content, calls: message.toolCalls ?? [])))
            case "tool":
                // Consecutive results share one user turn, as Qwen2.5's template writes them.
                if let last = out.last, last.role == "user", index > 0, messages[index - 1].role == "tool" {
                    out[out.count - 1].content += "\n" + Self.responseText(message.content)
                } else {
                    out.append(("user", Self.responseText(message.content)))
                }
            default:
                out.append((message.role, message.content))
            }
        }
        return out
    }

    /// Llama 3.1's template with `tools_in_user_message`: the functions (as JSON, four-space indents in
    /// Meta's template; canonical here) ahead of the first user message.
    private func renderLlama31(_ messages: [OpenAIMessage], tools: ToolSet?) -> [(role: String, content: String)] {
        var out: [(role: String, content: String)] = []
        var rest = messages[...]
        var system = ""
        if let first = rest.first, first.role == "system" {
            system = first.content
            rest = rest.dropFirst()
        }
        if tools != nil || messages.contains(where: \.usesTools) {
            out.append(
                (
                    "system",
                    "Environment: ipython\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n" + system
                ))
        } else if !system.isEmpty {
            out.append(("system", system))
        }
        var toolsPending = tools
        for message in rest {
            switch message.role {
            case "user" where toolsPending != nil:
                var text =
                    "Given the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n\n"
                    + #"Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}."#
                    + "Do not use variables.\n\n"
                for tool in toolsPending?.tools ?? [] { text += Self.functionJSON(tool).canonicalText + "\n\n" }
                out.append(("user", text + message.content))
                toolsPending = nil
            case "assistant" where !(message.toolCalls ?? []).isEmpty:
                out.append(("assistant", assistantText(content: message.content, calls: message.toolCalls ?? [])))
            case "tool":
                out.append(("ipython", message.content))
            default:
                out.append((message.role, message.content))
            }
        }
        return out
    }

    /// What an answer says: the text before the first call, and its complete calls (arguments re-written as
    /// canonical JSON); a call cut short (by `max_tokens`) at the end is left out. Nil: no complete call.
    public func parse(_ text: String) -> (content: String, calls: [(name: String, arguments: String)])? {
        guard let first = text.range(of: trigger) else { return nil }
        let content = String(text[..<first.lowerBound]).trimmingCharacters(in: .whitespacesAndNewlines)
        if self == .llama31 {
            let body = text[first.lowerBound...].trimmingCharacters(in: .whitespacesAndNewlines)
            guard let value = try? JSONValue.parse(Array(body.utf8)), let name = value["name"]?.stringValue,
                let arguments = value[argumentsKey]
            else { return nil }
            return (content, [(name, arguments.canonicalText)])
        }
        var calls: [(name: String, arguments: String)] = []
        var rest = text[first.lowerBound...]
        while let open = rest.range(of: Self.callOpen) {
            guard let close = rest.range(of: Self.callClose, range: open.upperBound..<rest.endIndex) else { break }
            let body = rest[open.upperBound..<close.lowerBound]
            guard let value = try? JSONValue.parse(Array(body.utf8)), let name = value["name"]?.stringValue,
                let arguments = value["arguments"]
            else { break }
            calls.append((name, arguments.canonicalText))
            rest = rest[close.upperBound...]
        }
        return calls.isEmpty ? nil : (content, calls)
    }
}
