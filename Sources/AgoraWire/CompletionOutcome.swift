import AgoraCore
import Foundation

/// A generated token's log-probability as a node reports it: the engine's value with the token's bytes, so
/// the HTTP layer can render OpenAI's `logprobs` without the tokenizer.
public struct OutputLogprob: Sendable, Equatable {
    public struct Alternative: Sendable, Equatable {
        public var token: Int32
        public var bytes: [UInt8]
        public var logprob: Float

        public init(token: Int32, bytes: [UInt8], logprob: Float) {
            self.token = token
            self.bytes = bytes
            self.logprob = logprob
        }
    }

    public var token: Int32
    public var bytes: [UInt8]
    public var logprob: Float
    /// The most likely tokens at this step, best first (as many as the request's `top_logprobs`).
    public var top: [Alternative]

    public init(token: Int32, bytes: [UInt8], logprob: Float, top: [Alternative]) {
        self.token = token
        self.bytes = bytes
        self.logprob = logprob
        self.top = top
    }
}

/// One choice of a finished job.
public struct ChoiceOutcome: Sendable, Equatable {
    public var text: String
    public var completionTokens: Int
    /// `stop` (end of generation or a stop sequence) or `length` (max tokens reached).
    public var finishReason: String
    /// One entry per generated token except end-of-generation ones, when the request asked for them.
    public var logprobs: [OutputLogprob]?

    public init(text: String, completionTokens: Int, finishReason: String, logprobs: [OutputLogprob]? = nil) {
        self.text = text
        self.completionTokens = completionTokens
        self.finishReason = finishReason
        self.logprobs = logprobs
    }
}

/// What a finished job produced: one choice per `n`.
public struct CompletionOutcome: Sendable, Equatable {
    public var choices: [ChoiceOutcome]
    /// Tokens of the prompt, counted once however many choices share it (as OpenAI's usage does).
    public var promptTokens: Int
    /// An embeddings job's vectors, one per input in order (no choices then); nil for generation jobs.
    public var embeddings: [[Float]]?

    public init(choices: [ChoiceOutcome], promptTokens: Int) {
        self.choices = choices
        self.promptTokens = promptTokens
    }

    /// An embeddings job's outcome.
    public init(embeddings: [[Float]], promptTokens: Int) {
        self.choices = []
        self.promptTokens = promptTokens
        self.embeddings = embeddings
    }

    /// A one-choice outcome.
    public init(text: String, promptTokens: Int, completionTokens: Int, finishReason: String) {
        self.init(
            choices: [ChoiceOutcome(text: text, completionTokens: completionTokens, finishReason: finishReason)],
            promptTokens: promptTokens)
    }

    /// The first choice's text (the only one unless the request set `n`).
    public var text: String { choices.first?.text ?? "" }
    /// Generated tokens over all choices: what the job is charged for.
    public var completionTokens: Int { choices.reduce(0) { $0 + $1.completionTokens } }
    /// The first choice's finish reason.
    public var finishReason: String {
        get { choices.first?.finishReason ?? "stop" }
        set { if !choices.isEmpty { choices[0].finishReason = newValue } }
    }

    /// What the receipt's output hash commits to (`ReceiptVerifier.outputHash(_:)`).
    public var outputHash: Hash256 { ReceiptVerifier.outputHash(self) }
}

/// A piece of a running job's output: text of one choice, with the log-probabilities of the tokens it came
/// from when the request asked for them.
public struct CompletionDelta: Sendable, Equatable {
    public var choice: Int
    public var text: String
    public var logprobs: [OutputLogprob]

    public init(choice: Int = 0, text: String, logprobs: [OutputLogprob] = []) {
        self.choice = choice
        self.text = text
        self.logprobs = logprobs
    }
}
