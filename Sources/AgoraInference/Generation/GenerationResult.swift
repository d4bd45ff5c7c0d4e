/// Why generation ended.
public enum FinishReason: String, Sendable, Equatable, Codable {
    /// The model produced an end-of-generation token, or the text reached a stop string.
    case stop
    /// `maxTokens` tokens were generated.
    case length
    /// The caller asked generation to stop (its client went away): the output is a prefix of the job's.
    case cancelled
}

/// The outcome of one request.
public struct GenerationResult: Sendable, Equatable {
    /// Generated token ids, including a final end-of-generation token when there is one.
    public var tokens: [Int32]
    /// The generated text, without end-of-generation tokens and cut before any stop string.
    public var text: String
    public var promptTokenCount: Int
    public var completionTokenCount: Int { tokens.count }
    public var finishReason: FinishReason
    /// Each generated token's log-probability, when the request asked for them (empty otherwise).
    public var logprobs: [TokenLogprob]
    /// Seconds spent on the prompt (prefill) and on generated tokens (decode), for throughput figures.
    public var promptSeconds: Double
    public var generationSeconds: Double

    public init(
        tokens: [Int32], text: String, promptTokenCount: Int, finishReason: FinishReason, promptSeconds: Double = 0,
        generationSeconds: Double = 0, logprobs: [TokenLogprob] = []
    ) {
        self.logprobs = logprobs
        self.tokens = tokens
        self.text = text
        self.promptTokenCount = promptTokenCount
        self.finishReason = finishReason
        self.promptSeconds = promptSeconds
        self.generationSeconds = generationSeconds
    }

    /// Results are equal when their tokens, text, counts and finish reason are (timings are not output).
    public static func == (a: GenerationResult, b: GenerationResult) -> Bool {
        a.tokens == b.tokens && a.text == b.text && a.promptTokenCount == b.promptTokenCount
            && a.finishReason == b.finishReason && a.logprobs == b.logprobs
    }
}

/// One streamed step: a generated token and the text it made safe to show (possibly empty, when the token
/// ends inside a UTF-8 character or might begin a stop string).
public struct GenerationChunk: Sendable, Equatable {
    public var token: Int32
    public var text: String
    /// The token's log-probability, when the request asked for them.
    public var logprob: TokenLogprob?

    public init(token: Int32, text: String, logprob: TokenLogprob? = nil) {
        self.token = token
        self.text = text
        self.logprob = logprob
    }
}

/// Events of a streamed generation.
public enum GenerationEvent: Sendable, Equatable {
    case chunk(GenerationChunk)
    case finished(GenerationResult)
}
