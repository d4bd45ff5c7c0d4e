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
    }

    public var input: Input
    public var maxTokens: Int
    public var temperature: Float
    public var topP: Float
    public var topK: Int
    public var seed: UInt64
    public var stop: [String]

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

    /// The seed a job uses when its request names none: derived from the job id, so the node needs no state
    /// between the 402 and the paid retry, and an auditor can recompute it.
    public static func seed(forJob jobID: Hash256) -> UInt64 {
        jobID.bytes.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    /// Decodes a request revealed on the ledger. Limits follow what any node accepts (messages, text, stop
    /// sequences), so hostile bytes cannot make the decoder allocate without bound.
    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        switch try reader.readUInt8() {
        case 1:
            let count = try reader.readUInt32()
            guard count <= 4_096 else { throw .lengthOutOfBounds(declared: UInt64(count), limit: 4_096) }
            var messages: [OpenAIMessage] = []
            for _ in 0..<count {
                let role = try reader.readString(limit: 64)
                let content = try reader.readString(limit: RevealedRequest.maxBytes)
                messages.append(OpenAIMessage(role: role, content: content))
            }
            input = .chat(messages)
        case 2: input = .text(try reader.readString(limit: RevealedRequest.maxBytes))
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
    }

    public func encode(to writer: inout CanonicalWriter) {
        switch input {
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
        }
        writer.write(UInt32(clamping: maxTokens))
        writer.write(temperature.bitPattern)
        writer.write(topP.bitPattern)
        writer.write(UInt32(clamping: topK))
        writer.write(seed)
        writer.write(UInt32(stop.count))
        for sequence in stop { writer.write(sequence) }
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
}

/// Limits a node applies to every request.
public struct RequestLimits: Sendable {
    public var maxTokens: Int
    public var defaultMaxTokens: Int
    public var maxMessages: Int
    public var maxStopSequences: Int

    public init(maxTokens: Int = 512, defaultMaxTokens: Int = 128, maxMessages: Int = 256, maxStopSequences: Int = 4) {
        self.maxTokens = maxTokens
        self.defaultMaxTokens = defaultMaxTokens
        self.maxMessages = maxMessages
        self.maxStopSequences = maxStopSequences
    }

    /// Checks and normalizes sampling settings shared by both endpoints. `seed` is the node's choice when the
    /// request has none; it is written into the receipt so the job can be re-executed.
    func normalize(
        input: JobRequest.Input, maxTokens: Int?, temperature: Double?, topP: Double?, topK: Int?, seed: UInt64?,
        stop: [String]?, chosenSeed: UInt64
    ) throws(RequestError) -> JobRequest {
        let tokens = maxTokens ?? defaultMaxTokens
        guard tokens >= 1, tokens <= self.maxTokens else {
            throw RequestError("max_tokens must be between 1 and \(self.maxTokens)", param: "max_tokens")
        }
        let temperature = temperature ?? 1.0
        guard temperature.isFinite, temperature >= 0, temperature <= 2 else {
            throw RequestError("temperature must be between 0 and 2", param: "temperature")
        }
        let topP = topP ?? 1.0
        guard topP.isFinite, topP > 0, topP <= 1 else { throw RequestError("top_p must be in (0, 1]", param: "top_p") }
        let topK = topK ?? 0
        guard topK >= 0, topK <= 1_000_000 else { throw RequestError("top_k must be ≥ 0", param: "top_k") }
        let stop = stop ?? []
        guard stop.count <= maxStopSequences, stop.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 256 }) else {
            throw RequestError("at most \(maxStopSequences) non-empty stop sequences of ≤ 256 bytes", param: "stop")
        }
        return JobRequest(
            input: input, maxTokens: tokens, temperature: Float(temperature), topP: Float(topP), topK: topK,
            seed: seed ?? chosenSeed, stop: stop)
    }

    public func job(from request: ChatCompletionRequest, chosenSeed: UInt64) throws(RequestError) -> JobRequest {
        guard !request.messages.isEmpty else { throw RequestError("messages must not be empty", param: "messages") }
        guard request.messages.count <= maxMessages else {
            throw RequestError("at most \(maxMessages) messages", param: "messages")
        }
        for message in request.messages where !["system", "user", "assistant"].contains(message.role) {
            throw RequestError("unknown role '\(message.role)'", param: "messages")
        }
        return try normalize(
            input: .chat(request.messages), maxTokens: request.maxCompletionTokens ?? request.maxTokens,
            temperature: request.temperature, topP: request.topP, topK: request.topK, seed: request.seed,
            stop: request.stop?.values, chosenSeed: chosenSeed)
    }

    public func job(from request: TextCompletionRequest, chosenSeed: UInt64) throws(RequestError) -> JobRequest {
        try normalize(
            input: .text(request.prompt), maxTokens: request.maxTokens, temperature: request.temperature,
            topP: request.topP, topK: request.topK, seed: request.seed, stop: request.stop?.values,
            chosenSeed: chosenSeed)
    }
}

/// JSON form of a job request: how a challenger reveals the input to the referee.
extension JobRequest: Codable {
    enum CodingKeys: String, CodingKey {
        case messages, prompt, maxTokens, temperature, topP, topK, seed, stop
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let messages = try container.decodeIfPresent([OpenAIMessage].self, forKey: .messages) {
            input = .chat(messages)
        } else {
            input = .text(try container.decode(String.self, forKey: .prompt))
        }
        maxTokens = try container.decode(Int.self, forKey: .maxTokens)
        temperature = Float(bitPattern: try container.decode(UInt32.self, forKey: .temperature))
        topP = Float(bitPattern: try container.decode(UInt32.self, forKey: .topP))
        topK = try container.decode(Int.self, forKey: .topK)
        seed = try container.decode(UInt64.self, forKey: .seed)
        stop = try container.decode([String].self, forKey: .stop)
    }

    /// Floats travel as their bit patterns so the revealed request hashes exactly as the original.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch input {
        case .chat(let messages): try container.encode(messages, forKey: .messages)
        case .text(let prompt): try container.encode(prompt, forKey: .prompt)
        }
        try container.encode(maxTokens, forKey: .maxTokens)
        try container.encode(temperature.bitPattern, forKey: .temperature)
        try container.encode(topP.bitPattern, forKey: .topP)
        try container.encode(topK, forKey: .topK)
        try container.encode(seed, forKey: .seed)
        try container.encode(stop, forKey: .stop)
    }
}
