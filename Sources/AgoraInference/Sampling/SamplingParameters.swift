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

    public init(temperature: Float = 0, topK: Int = 0, topP: Float = 1, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
    }

    public static let greedy = SamplingParameters()

    /// Whether sampling is the argmax (no random draw is made).
    public var isGreedy: Bool { temperature <= 0 || topK == 1 }
}
