/// How the next token is chosen from the logits. Part of the canonical request: the same parameters, seed
/// and logits always choose the same token.
public struct SamplingParameters: Sendable, Equatable, Hashable, Codable {
    /// 0 (or less) means greedy: the highest logit, the lowest token id among equals.
    public var temperature: Float
    /// Keep only the `topK` most likely tokens; 0 turns the filter off.
    public var topK: Int
    /// Keep the smallest set of most likely tokens whose probability reaches `topP`; 1 turns it off.
    public var topP: Float
    public var seed: UInt64
    /// Drop tokens whose weight is below `minP` times the top token's (after temperature); 0 turns it off.
    public var minP: Float
    /// Divides positive logits and multiplies negative ones of every token generated so far; 1 turns it off.
    public var repetitionPenalty: Float
    /// Subtracted once from the logit of every token generated so far; 0 turns it off.
    public var presencePenalty: Float
    /// Subtracted from a token's logit once per time it was generated so far; 0 turns it off.
    public var frequencyPenalty: Float
    /// Added to the named tokens' logits, in increasing token order, one entry per token.
    public var logitBias: [LogitBias]

    public init(
        temperature: Float = 0, topK: Int = 0, topP: Float = 1, seed: UInt64 = 0, minP: Float = 0,
        repetitionPenalty: Float = 1, presencePenalty: Float = 0, frequencyPenalty: Float = 0,
        logitBias: [LogitBias] = []
    ) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.logitBias = logitBias
    }

    public static let greedy = SamplingParameters()

    /// Whether sampling is the argmax (no random draw is made).
    public var isGreedy: Bool { temperature <= 0 || topK == 1 }

    /// Whether the logits are changed before any token is chosen (bias or a penalty is set).
    public var adjustsLogits: Bool {
        !logitBias.isEmpty || repetitionPenalty != 1 || presencePenalty != 0 || frequencyPenalty != 0
    }
}

/// One entry of `logit_bias`: a value added to one token's logit.
public struct LogitBias: Sendable, Equatable, Hashable, Codable {
    public var token: Int32
    public var bias: Float

    public init(token: Int32, bias: Float) {
        self.token = token
        self.bias = bias
    }
}
