/// One inference job: the input and every setting that decides its output. Together with the model file
/// and the engine version this is the canonical request a receipt commits to.
public struct GenerationRequest: Sendable, Equatable {
    public enum Input: Sendable, Equatable {
        /// Chat messages, rendered with the model's chat template plus the assistant prompt.
        case messages([ChatMessage])
        /// Text fed to the tokenizer as is (special tokens such as `<|im_start|>` are recognized).
        case prompt(String)
    }

    public var input: Input
    /// Most tokens to generate (the end-of-generation token counts as one).
    public var maxTokens: Int
    public var sampling: SamplingParameters
    /// Generation ends before the first occurrence of any of these; the stop text is not returned.
    public var stop: [String]
    /// nil: no log-probabilities; k: each generated token's log-probability with the k most likely tokens
    /// (0 ... `TokenLogprob.maxTop`).
    public var logprobs: Int?
    /// When set, every generated token keeps the text a prefix of a value of this grammar, and the answer
    /// ends only where the value does (constrained decoding).
    public var grammar: JSONGrammar?
    /// With a grammar: the text that switches it on. Until the answer contains it, tokens are free; from
    /// then on the grammar constrains, fed the answer from the trigger's first byte (so the grammar starts
    /// with the trigger). If the token that completed the trigger carried bytes the grammar refuses, the
    /// rest of the answer stays free. Nil: the grammar constrains from the first token.
    public var grammarTrigger: [UInt8]?

    public init(
        input: Input, maxTokens: Int = 256, temperature: Float = 0, topP: Float = 1, topK: Int = 0,
        seed: UInt64 = 0, stop: [String] = [], logprobs: Int? = nil
    ) {
        self.input = input
        self.maxTokens = maxTokens
        self.sampling = SamplingParameters(temperature: temperature, topK: topK, topP: topP, seed: seed)
        self.stop = stop
        self.logprobs = logprobs
    }

    public init(
        input: Input, maxTokens: Int, sampling: SamplingParameters, stop: [String], logprobs: Int?,
        grammar: JSONGrammar? = nil
    ) {
        self.input = input
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stop = stop
        self.logprobs = logprobs
        self.grammar = grammar
    }

    public static func messages(_ messages: [ChatMessage], maxTokens: Int = 256) -> GenerationRequest {
        GenerationRequest(input: .messages(messages), maxTokens: maxTokens)
    }

    public static func prompt(_ text: String, maxTokens: Int = 256) -> GenerationRequest {
        GenerationRequest(input: .prompt(text), maxTokens: maxTokens)
    }
}
