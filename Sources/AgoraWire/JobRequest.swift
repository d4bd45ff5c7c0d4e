import AgoraCore
import AgoraLedger
import Foundation

/// The part of an OpenAI request that determines the output: what a receipt's input hash commits to and
/// what an auditor re-runs. Everything is normalized (defaults applied, floats as their 32-bit patterns, the
/// seed always present) so the same job always hashes the same, and a different job never does.
public struct JobRequest: Sendable, Equatable, CanonicalCodable {
    public enum Input: Sendable, Equatable {
        case chat([OpenAIMessage])
        case text(String)
        /// Inputs to embed (`POST /v1/embeddings`): one vector each, in order. Such a job generates nothing:
        /// its sampling fields stay at their neutral values and its output is the vectors.
        case embeddings([EmbeddingInput])
    }

    /// One input of an embeddings job: a text, or token ids the caller chose (OpenAI's token-array input).
    public enum EmbeddingInput: Sendable, Equatable {
        case text(String)
        case tokens([Int32])
    }

    /// Most inputs one embeddings job may carry (OpenAI's limit).
    public static let maxEmbeddingInputs = 2_048
    /// Most token ids one embeddings input may carry.
    public static let maxEmbeddingTokens = 1 << 16

    /// An embeddings job: the inputs, every generation setting neutral.
    public static func embeddings(_ inputs: [EmbeddingInput]) -> JobRequest {
        JobRequest(input: .embeddings(inputs), maxTokens: 0, temperature: 0, topP: 1, topK: 0, seed: 0, stop: [])
    }

    /// Whether this is an embeddings job.
    public var isEmbeddings: Bool {
        if case .embeddings = input { return true }
        return false
    }

    public var input: Input
    /// Most tokens per choice.
    public var maxTokens: Int
    public var temperature: Float
    public var topP: Float
    public var topK: Int
    public var seed: UInt64
    public var stop: [String]
    /// Choices to generate (`n`), each with its own seed (`seed(ofChoice:)`).
    public var n: Int = 1
    /// nil: no log-probabilities; k: each token's log-probability with the k most likely tokens.
    public var logprobs: Int?
    public var minP: Float = 0
    public var repetitionPenalty: Float = 1
    public var presencePenalty: Float = 0
    public var frequencyPenalty: Float = 0
    /// Bias per token id, in increasing id order, no id twice.
    public var logitBias: [LogitBiasEntry] = []
    /// What the answer must be (JSON, or an instance of a schema); nil: free text.
    public var responseFormat: ResponseFormat?
    /// Functions the model may call; nil: none.
    public var tools: ToolSet?

    public struct LogitBiasEntry: Sendable, Equatable, Codable {
        public var token: Int32
        public var bias: Float

        public init(token: Int32, bias: Float) {
            self.token = token
            self.bias = bias
        }
    }

    public init(
        input: Input, maxTokens: Int, temperature: Float, topP: Float, topK: Int, seed: UInt64, stop: [String]
    ) {
        self.input = input
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.seed = seed
        self.stop = stop
    }

    /// The input hash of this request for a given model: what vouchers and receipts name (and what the
    /// ledger checks a challenge's revealed request against).
    public func inputHash(modelHash: Hash256) -> Hash256 {
        RevealedRequest.inputHash(modelHash: modelHash, requestBytes: canonicalBytes)
    }

    /// Most tokens the job may generate over all its choices: what its price is capped by.
    public var maxOutputTokens: Int { maxTokens * n }

    /// The seed a job uses when its request names none: derived from the job id, so the node needs no state
    /// between the 402 and the paid retry, and an auditor can recompute it.
    public static func seed(forJob jobID: Hash256) -> UInt64 {
        jobID.bytes.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    /// The seed of choice `index`: the job's seed for the first choice (so `n = 1` is the plain job), then
    /// the first 8 bytes (big-endian) of SHA-256("agora-choice-seed" ‖ 0x00 ‖ u64 seed ‖ u32 index).
    public func seed(ofChoice index: Int) -> UInt64 {
        guard index > 0 else { return seed }
        var writer = CanonicalWriter()
        writer.write(seed)
        writer.write(UInt32(clamping: index))
        return Hash256.tagged("agora-choice-seed", writer.bytes).bytes.prefix(8).reduce(UInt64(0)) {
            $0 << 8 | UInt64($1)
        }
    }

    /// Tags of the optional fields that follow the stop sequences in the canonical bytes. Each is written
    /// only when it differs from its neutral value, in increasing tag order, so a request without them
    /// encodes exactly as before they existed, and every job has one encoding.
    enum OptionTag: UInt8 {
        case n = 1
        case logprobs = 2
        case minP = 3
        case repetitionPenalty = 4
        case presencePenalty = 5
        case frequencyPenalty = 6
        case logitBias = 7
        case responseFormat = 8
        case tools = 9
    }

    /// Most `logit_bias` entries a request may carry.
    public static let maxLogitBias = 1_024

    /// Decodes a request revealed on the ledger. Limits follow what any node accepts (messages, text, stop
    /// sequences), so hostile bytes cannot make the decoder allocate without bound.
    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        switch try reader.readUInt8() {
        case 1: input = .chat(try Self.readMessages(&reader, withTools: false))
        case 2: input = .text(try reader.readString(limit: RevealedRequest.maxBytes))
        case 3:
            let messages = try Self.readMessages(&reader, withTools: true)
            guard messages.contains(where: \.usesTools) else {
                throw .invalidValue("a chat with tools (kind 3) has no tool call or result")
            }
            input = .chat(messages)
        case 4: input = .embeddings(try Self.readEmbeddingInputs(&reader))
        case let tag: throw .invalidTag(type: "JobRequest.Input", tag: tag)
        }
        maxTokens = Int(try reader.readUInt32())
        temperature = Float(bitPattern: try reader.readUInt32())
        topP = Float(bitPattern: try reader.readUInt32())
        topK = Int(try reader.readUInt32())
        seed = try reader.readUInt64()
        let stopCount = try reader.readUInt32()
        guard stopCount <= 64 else { throw .lengthOutOfBounds(declared: UInt64(stopCount), limit: 64) }
        var stop: [String] = []
        for _ in 0..<stopCount { stop.append(try reader.readString(limit: 4_096)) }
        self.stop = stop
        try readOptions(&reader)
        if isEmbeddings, self != .embeddings(inputsOf(self)) {
            throw .invalidValue("an embeddings job (kind 4) has generation settings")
        }
    }

    private func inputsOf(_ job: JobRequest) -> [EmbeddingInput] {
        if case .embeddings(let inputs) = job.input { return inputs }
        return []
    }

    /// Embeddings inputs (kind 4): u32 count, then each a tag (1 text, 2 token ids) and its value.
    private static func readEmbeddingInputs(_ reader: inout CanonicalReader) throws(CanonicalDecodingError)
        -> [EmbeddingInput]
    {
        let count = try reader.readUInt32()
        guard count >= 1, count <= maxEmbeddingInputs else {
            throw .lengthOutOfBounds(declared: UInt64(count), limit: maxEmbeddingInputs)
        }
        var inputs: [EmbeddingInput] = []
        for _ in 0..<count {
            switch try reader.readUInt8() {
            case 1: inputs.append(.text(try reader.readString(limit: RevealedRequest.maxBytes)))
            case 2:
                let length = try reader.readUInt32()
                guard length >= 1, length <= maxEmbeddingTokens else {
                    throw .lengthOutOfBounds(declared: UInt64(length), limit: maxEmbeddingTokens)
                }
                var tokens: [Int32] = []
                for _ in 0..<length {
                    let token = try reader.readUInt32()
                    guard token <= UInt32(Int32.max) else { throw .invalidValue("token id \(token)") }
                    tokens.append(Int32(token))
                }
                inputs.append(.tokens(tokens))
            case let tag: throw .invalidTag(type: "JobRequest.EmbeddingInput", tag: tag)
            }
        }
        return inputs
    }

    /// Chat messages (input kinds 1 and 3); with tools, each also has its call id and its calls.
    private static func readMessages(_ reader: inout CanonicalReader, withTools: Bool) throws(CanonicalDecodingError)
        -> [OpenAIMessage]
    {
        let count = try reader.readUInt32()
        guard count <= 4_096 else { throw .lengthOutOfBounds(declared: UInt64(count), limit: 4_096) }
        var messages: [OpenAIMessage] = []
        for _ in 0..<count {
            let role = try reader.readString(limit: 64)
            let content = try reader.readString(limit: RevealedRequest.maxBytes)
            guard withTools else {
                messages.append(OpenAIMessage(role: role, content: content))
                continue
            }
            let id = try reader.readString(limit: 256)
            let callCount = try reader.readUInt32()
            guard callCount <= 64 else { throw .lengthOutOfBounds(declared: UInt64(callCount), limit: 64) }
            var calls: [ToolCall] = []
            for _ in 0..<callCount {
                let callID = try reader.readString(limit: 256)
                let name = try reader.readString(limit: 64)
                calls.append(
                    ToolCall(id: callID, name: name, arguments: try reader.readString(limit: RevealedRequest.maxBytes)))
            }
            messages.append(
                OpenAIMessage(
                    role: role, content: content, toolCalls: calls.isEmpty ? nil : calls,
                    toolCallID: id.isEmpty ? nil : id))
        }
        return messages
    }

    /// The optional fields: increasing tags, none at its neutral value (another spelling of the same job
    /// would hash differently, so it is refused).
    private mutating func readOptions(_ reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        var last: UInt8 = 0
        while !reader.isAtEnd {
            let raw = try reader.readUInt8()
            guard raw > last, let tag = OptionTag(rawValue: raw) else {
                throw .invalidTag(type: "JobRequest.Option", tag: raw)
            }
            last = raw
            var neutral = false
            switch tag {
            case .n:
                n = Int(try reader.readUInt32())
                neutral = n <= 1
            case .logprobs: logprobs = Int(try reader.readUInt32())
            case .minP:
                minP = Float(bitPattern: try reader.readUInt32())
                neutral = minP == 0
            case .repetitionPenalty:
                repetitionPenalty = Float(bitPattern: try reader.readUInt32())
                neutral = repetitionPenalty == 1
            case .presencePenalty:
                presencePenalty = Float(bitPattern: try reader.readUInt32())
                neutral = presencePenalty == 0
            case .frequencyPenalty:
                frequencyPenalty = Float(bitPattern: try reader.readUInt32())
                neutral = frequencyPenalty == 0
            case .logitBias:
                let count = try reader.readUInt32()
                guard count >= 1, count <= Self.maxLogitBias else {
                    throw .lengthOutOfBounds(declared: UInt64(count), limit: Self.maxLogitBias)
                }
                for _ in 0..<count {
                    let token = Int32(bitPattern: try reader.readUInt32())
                    let bias = Float(bitPattern: try reader.readUInt32())
                    if let previous = logitBias.last, previous.token >= token {
                        throw .invalidValue("logit_bias entries are not in increasing token order")
                    }
                    logitBias.append(LogitBiasEntry(token: token, bias: bias))
                }
            case .responseFormat: responseFormat = try ResponseFormat(from: &reader)
            case .tools: tools = try ToolSet(from: &reader)
            }
            if neutral { throw .invalidValue("option \(raw) of a job request is written at its neutral value") }
        }
    }

    public func encode(to writer: inout CanonicalWriter) {
        switch input {
        case .chat(let messages) where messages.contains(where: \.usesTools):
            writer.write(UInt8(3))
            writer.write(UInt32(messages.count))
            for message in messages {
                writer.write(message.role)
                writer.write(message.content)
                writer.write(message.toolCallID ?? "")
                writer.write(UInt32(message.toolCalls?.count ?? 0))
                for call in message.toolCalls ?? [] {
                    writer.write(call.id)
                    writer.write(call.function.name)
                    writer.write(call.function.arguments)
                }
            }
        case .chat(let messages):
            writer.write(UInt8(1))
            writer.write(UInt32(messages.count))
            for message in messages {
                writer.write(message.role)
                writer.write(message.content)
            }
        case .text(let prompt):
            writer.write(UInt8(2))
            writer.write(prompt)
        case .embeddings(let inputs):
            writer.write(UInt8(4))
            writer.write(UInt32(inputs.count))
            for input in inputs {
                switch input {
                case .text(let text):
                    writer.write(UInt8(1))
                    writer.write(text)
                case .tokens(let tokens):
                    writer.write(UInt8(2))
                    writer.write(UInt32(tokens.count))
                    for token in tokens { writer.write(UInt32(bitPattern: token)) }
                }
            }
        }
        writer.write(UInt32(clamping: maxTokens))
        writer.write(temperature.bitPattern)
        writer.write(topP.bitPattern)
        writer.write(UInt32(clamping: topK))
        writer.write(seed)
        writer.write(UInt32(stop.count))
        for sequence in stop { writer.write(sequence) }
        func option(_ tag: OptionTag, _ write: (inout CanonicalWriter) -> Void) {
            writer.write(tag.rawValue)
            write(&writer)
        }
        if n > 1 { option(.n) { $0.write(UInt32(clamping: n)) } }
        if let logprobs { option(.logprobs) { $0.write(UInt32(clamping: logprobs)) } }
        if minP != 0 { option(.minP) { $0.write(minP.bitPattern) } }
        if repetitionPenalty != 1 { option(.repetitionPenalty) { $0.write(repetitionPenalty.bitPattern) } }
        if presencePenalty != 0 { option(.presencePenalty) { $0.write(presencePenalty.bitPattern) } }
        if frequencyPenalty != 0 { option(.frequencyPenalty) { $0.write(frequencyPenalty.bitPattern) } }
        if !logitBias.isEmpty {
            option(.logitBias) { writer in
                writer.write(UInt32(logitBias.count))
                for entry in logitBias {
                    writer.write(UInt32(bitPattern: entry.token))
                    writer.write(entry.bias.bitPattern)
                }
            }
        }
        if let responseFormat { option(.responseFormat) { responseFormat.encode(to: &$0) } }
        if let tools { option(.tools) { tools.encode(to: &$0) } }
    }
}

/// Why a request body was refused before any work was done.
public struct RequestError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var param: String?
    public var code: String

    public init(_ message: String, param: String? = nil, code: String = "invalid_request") {
        self.message = message
        self.param = param
        self.code = code
    }

    public var description: String { message }

    /// Refuses the first member of `members` not in `allowed` (a JSON `null` counts as absent), naming it as
    /// `path.key`: a nested option the node would not apply must not pass silently.
    public static func refuseUnknown(
        _ members: [(key: String, value: JSONValue)], allowed: Set<String>, path: String
    ) throws(RequestError) {
        for member in members where !allowed.contains(member.key) && member.value != .null {
            throw RequestError(
                "parameter '\(path).\(member.key)' is not supported by this node", param: "\(path).\(member.key)",
                code: "unsupported_parameter")
        }
    }
}

/// Limits a node applies to every request.
public struct RequestLimits: Sendable {
    public var maxTokens: Int
    public var defaultMaxTokens: Int
    public var maxMessages: Int
    public var maxStopSequences: Int
    /// Most choices (`n`) per request.
    public var maxChoices: Int

    public init(
        maxTokens: Int = 512, defaultMaxTokens: Int = 128, maxMessages: Int = 256, maxStopSequences: Int = 4,
        maxChoices: Int = 8
    ) {
        self.maxTokens = maxTokens
        self.defaultMaxTokens = defaultMaxTokens
        self.maxMessages = maxMessages
        self.maxStopSequences = maxStopSequences
        self.maxChoices = maxChoices
    }

    /// The sampling controls both endpoints share, as the request gave them (nil: absent).
    public struct Controls: Sendable {
        var maxTokens: Int?
        var temperature: Double?
        var topP: Double?
        var topK: Int?
        var seed: UInt64?
        var stop: [String]?
        var n: Int?
        var logprobs: Int?
        var minP: Double?
        var repetitionPenalty: Double?
        var presencePenalty: Double?
        var frequencyPenalty: Double?
        var logitBias: [String: Double]?
        var responseFormat: ResponseFormat?
        var tools: ToolSet?
        /// The field that set `logprobs`, for errors: `top_logprobs` (chat) or `logprobs` (completions).
        var logprobsParam = "top_logprobs"
    }

    /// Checks and normalizes sampling settings shared by both endpoints. `seed` is the node's choice when the
    /// request has none; it is written into the receipt so the job can be re-executed.
    func normalize(input: JobRequest.Input, _ controls: Controls, chosenSeed: UInt64) throws(RequestError)
        -> JobRequest
    {
        let tokens = controls.maxTokens ?? defaultMaxTokens
        guard tokens >= 1, tokens <= self.maxTokens else {
            throw RequestError("max_tokens must be between 1 and \(self.maxTokens)", param: "max_tokens")
        }
        let temperature = controls.temperature ?? 1.0
        guard temperature.isFinite, temperature >= 0, temperature <= 2 else {
            throw RequestError("temperature must be between 0 and 2", param: "temperature")
        }
        let topP = controls.topP ?? 1.0
        guard topP.isFinite, topP > 0, topP <= 1 else { throw RequestError("top_p must be in (0, 1]", param: "top_p") }
        let topK = controls.topK ?? 0
        guard topK >= 0, topK <= 1_000_000 else { throw RequestError("top_k must be ≥ 0", param: "top_k") }
        let stop = controls.stop ?? []
        guard stop.count <= maxStopSequences, stop.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 256 }) else {
            throw RequestError("at most \(maxStopSequences) non-empty stop sequences of ≤ 256 bytes", param: "stop")
        }
        var job = JobRequest(
            input: input, maxTokens: tokens, temperature: Float(temperature), topP: Float(topP), topK: topK,
            seed: controls.seed ?? chosenSeed, stop: stop)
        let n = controls.n ?? 1
        guard n >= 1, n <= maxChoices else { throw RequestError("n must be between 1 and \(maxChoices)", param: "n") }
        job.n = n
        if let top = controls.logprobs {
            guard top >= 0, top <= TokenLogprobLimit.maxTop else {
                throw RequestError(
                    "\(controls.logprobsParam) must be between 0 and \(TokenLogprobLimit.maxTop)",
                    param: controls.logprobsParam)
            }
            job.logprobs = top
        }
        job.minP = try Self.float(controls.minP, "min_p", neutral: 0, in: 0...1)
        job.repetitionPenalty = try Self.float(
            controls.repetitionPenalty, "repetition_penalty", neutral: 1, in: 0...10, open: true)
        job.presencePenalty = try Self.float(controls.presencePenalty, "presence_penalty", neutral: 0, in: -2...2)
        job.frequencyPenalty = try Self.float(controls.frequencyPenalty, "frequency_penalty", neutral: 0, in: -2...2)
        job.logitBias = try Self.logitBias(controls.logitBias)
        job.responseFormat = controls.responseFormat
        job.tools = controls.tools
        if controls.tools != nil, controls.responseFormat != nil {
            throw RequestError("tools and response_format cannot be combined", param: "response_format")
        }
        return job
    }

    /// A float control in `range` (`open`: the lower bound excluded), as Float, with -0 made +0 (one
    /// encoding per job).
    private static func float(
        _ value: Double?, _ name: String, neutral: Float, in range: ClosedRange<Double>, open: Bool = false
    ) throws(RequestError) -> Float {
        guard let value else { return neutral }
        guard value.isFinite, range.contains(value), !open || value > range.lowerBound else {
            throw RequestError(
                "\(name) must be in \(open ? "(" : "[")\(range.lowerBound), \(range.upperBound)]", param: name)
        }
        let float = Float(value)
        return float == 0 ? 0 : float
    }

    /// `logit_bias`: token ids (decimal strings) to biases in [-100, 100], sorted by id; a bias of 0 is
    /// dropped (it changes nothing). Ids beyond the vocabulary are refused by the node, which knows it.
    private static func logitBias(_ map: [String: Double]?) throws(RequestError) -> [JobRequest.LogitBiasEntry] {
        guard let map else { return [] }
        guard map.count <= JobRequest.maxLogitBias else {
            throw RequestError("at most \(JobRequest.maxLogitBias) logit_bias entries", param: "logit_bias")
        }
        var entries: [JobRequest.LogitBiasEntry] = []
        for (key, bias) in map {
            guard let token = Int32(key), token >= 0, String(token) == key else {
                throw RequestError("logit_bias keys must be token ids (got '\(key)')", param: "logit_bias")
            }
            guard bias.isFinite, bias >= -100, bias <= 100 else {
                throw RequestError("logit_bias values must be between -100 and 100", param: "logit_bias.\(key)")
            }
            let value = Float(bias)
            if value != 0 { entries.append(.init(token: token, bias: value)) }
        }
        return entries.sorted { $0.token < $1.token }
    }

    public func job(from request: ChatCompletionRequest, chosenSeed: UInt64) throws(RequestError) -> JobRequest {
        guard !request.messages.isEmpty else { throw RequestError("messages must not be empty", param: "messages") }
        guard request.messages.count <= maxMessages else {
            throw RequestError("at most \(maxMessages) messages", param: "messages")
        }
        for (index, message) in request.messages.enumerated() {
            guard ["system", "user", "assistant", "tool"].contains(message.role) else {
                throw RequestError("unknown role '\(message.role)'", param: "messages")
            }
            guard (message.role == "tool") == (message.toolCallID != nil) else {
                throw RequestError(
                    "a 'tool' message, and only one, carries tool_call_id", param: "messages.\(index).tool_call_id")
            }
            guard message.toolCalls == nil || message.role == "assistant" else {
                throw RequestError("only assistant messages carry tool_calls", param: "messages.\(index).tool_calls")
            }
            for call in message.toolCalls ?? [] where call.id.isEmpty || call.type != "function" {
                throw RequestError("a tool call needs an id and type 'function'", param: "messages.\(index).tool_calls")
            }
            guard (message.toolCalls?.count ?? 0) <= 64, (message.toolCallID?.utf8.count ?? 0) <= 256,
                (message.toolCalls ?? []).allSatisfy({ $0.id.utf8.count <= 256 && $0.function.name.utf8.count <= 64 })
            else {
                throw RequestError("at most 64 tool calls, ids of ≤ 256 bytes", param: "messages.\(index).tool_calls")
            }
        }
        // OpenAI's pair: `logprobs: true` turns them on, `top_logprobs` asks for alternatives and needs it.
        if request.topLogprobs != nil, request.logprobs != true {
            throw RequestError("top_logprobs requires logprobs: true", param: "top_logprobs")
        }
        let logprobs = request.logprobs == true ? (request.topLogprobs ?? 0) : nil
        // An empty `tool_calls` is no call: one spelling per job.
        let messages = request.messages.map { message in
            var message = message
            if message.toolCalls?.isEmpty == true { message.toolCalls = nil }
            return message
        }
        return try normalize(
            input: .chat(messages),
            Controls(
                maxTokens: request.maxCompletionTokens ?? request.maxTokens, temperature: request.temperature,
                topP: request.topP, topK: request.topK, seed: request.seed, stop: request.stop?.values, n: request.n,
                logprobs: logprobs, minP: request.minP, repetitionPenalty: request.repetitionPenalty,
                presencePenalty: request.presencePenalty, frequencyPenalty: request.frequencyPenalty,
                logitBias: request.logitBias, responseFormat: request.responseFormat, tools: request.tools),
            chosenSeed: chosenSeed)
    }

    public func job(from request: TextCompletionRequest, chosenSeed: UInt64) throws(RequestError) -> JobRequest {
        try normalize(
            input: .text(request.prompt),
            Controls(
                maxTokens: request.maxTokens, temperature: request.temperature, topP: request.topP, topK: request.topK,
                seed: request.seed, stop: request.stop?.values, n: request.n, logprobs: request.logprobs,
                minP: request.minP, repetitionPenalty: request.repetitionPenalty,
                presencePenalty: request.presencePenalty, frequencyPenalty: request.frequencyPenalty,
                logitBias: request.logitBias, logprobsParam: "logprobs"),
            chosenSeed: chosenSeed)
    }
}

/// The largest `top_logprobs` (OpenAI's limit; the engine's `TokenLogprob.maxTop`).
public enum TokenLogprobLimit {
    public static let maxTop = 20
}

/// JSON form of a job request: how a challenger reveals the input to the referee.
extension JobRequest: Codable {
    enum CodingKeys: String, CodingKey {
        case messages, prompt, embeddings, maxTokens, temperature, topP, topK, seed, stop, n, logprobs, minP,
            repetitionPenalty, presencePenalty, frequencyPenalty, logitBias, responseFormat, tools
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let messages = try container.decodeIfPresent([OpenAIMessage].self, forKey: .messages) {
            input = .chat(messages)
        } else if let inputs = try container.decodeIfPresent([EmbeddingInput].self, forKey: .embeddings) {
            input = .embeddings(inputs)
        } else {
            input = .text(try container.decode(String.self, forKey: .prompt))
        }
        maxTokens = try container.decode(Int.self, forKey: .maxTokens)
        temperature = Float(bitPattern: try container.decode(UInt32.self, forKey: .temperature))
        topP = Float(bitPattern: try container.decode(UInt32.self, forKey: .topP))
        topK = try container.decode(Int.self, forKey: .topK)
        seed = try container.decode(UInt64.self, forKey: .seed)
        stop = try container.decode([String].self, forKey: .stop)
        n = try container.decodeIfPresent(Int.self, forKey: .n) ?? 1
        logprobs = try container.decodeIfPresent(Int.self, forKey: .logprobs)
        func bits(_ key: CodingKeys, _ neutral: Float) throws -> Float {
            try container.decodeIfPresent(UInt32.self, forKey: key).map(Float.init(bitPattern:)) ?? neutral
        }
        minP = try bits(.minP, 0)
        repetitionPenalty = try bits(.repetitionPenalty, 1)
        presencePenalty = try bits(.presencePenalty, 0)
        frequencyPenalty = try bits(.frequencyPenalty, 0)
        logitBias =
            try container.decodeIfPresent([BiasBits].self, forKey: .logitBias)?.map {
                LogitBiasEntry(token: $0.token, bias: Float(bitPattern: $0.bias))
            } ?? []
        responseFormat = try container.decodeIfPresent(ResponseFormat.self, forKey: .responseFormat)
        tools = try container.decodeIfPresent(ToolSet.self, forKey: .tools)
    }

    /// A `logit_bias` entry with its float as a bit pattern.
    private struct BiasBits: Codable {
        var token: Int32
        var bias: UInt32
    }

    /// Floats travel as their bit patterns so the revealed request hashes exactly as the original; optional
    /// fields are written only away from their neutral values, as in the canonical bytes.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch input {
        case .chat(let messages): try container.encode(messages, forKey: .messages)
        case .text(let prompt): try container.encode(prompt, forKey: .prompt)
        case .embeddings(let inputs): try container.encode(inputs, forKey: .embeddings)
        }
        try container.encode(maxTokens, forKey: .maxTokens)
        try container.encode(temperature.bitPattern, forKey: .temperature)
        try container.encode(topP.bitPattern, forKey: .topP)
        try container.encode(topK, forKey: .topK)
        try container.encode(seed, forKey: .seed)
        try container.encode(stop, forKey: .stop)
        if n > 1 { try container.encode(n, forKey: .n) }
        try container.encodeIfPresent(logprobs, forKey: .logprobs)
        if minP != 0 { try container.encode(minP.bitPattern, forKey: .minP) }
        if repetitionPenalty != 1 { try container.encode(repetitionPenalty.bitPattern, forKey: .repetitionPenalty) }
        if presencePenalty != 0 { try container.encode(presencePenalty.bitPattern, forKey: .presencePenalty) }
        if frequencyPenalty != 0 { try container.encode(frequencyPenalty.bitPattern, forKey: .frequencyPenalty) }
        if !logitBias.isEmpty {
            try container.encode(
                logitBias.map { BiasBits(token: $0.token, bias: $0.bias.bitPattern) }, forKey: .logitBias)
        }
        try container.encodeIfPresent(responseFormat, forKey: .responseFormat)
        try container.encodeIfPresent(tools, forKey: .tools)
    }
}

/// JSON form of an embeddings input: a string, or an array of token ids (as in OpenAI's request).
extension JobRequest.EmbeddingInput: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self = .text(text)
        } else {
            self = .tokens(try container.decode([Int32].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let text): try container.encode(text)
        case .tokens(let tokens): try container.encode(tokens)
        }
    }
}
