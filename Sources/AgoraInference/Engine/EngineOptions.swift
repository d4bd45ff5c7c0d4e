/// How an engine runs a model. None of these change results (the determinism contract), only speed and
/// the longest sequence accepted.
public struct EngineOptions: Sendable, Equatable {
    /// Threads per forward pass (the caller's thread included).
    public var threads: Int
    /// Longest prompt + completion, at most the model's own context length; nil means the model's.
    public var contextLength: Int?
    /// Prompt tokens per forward pass (matrix × matrix): under load, what one pass reads of the waiting prompts
    /// beside the decoding sequences. 128 served 8–16 clients about 15 % faster than 64 (and with a lower p99
    /// time to first token), 256 no faster (`agora bench serve`, 2-vCPU Zen 4).
    public var batchSize: Int
    /// Requests that share each forward pass (continuous batching); more wait their turn.
    public var maxSequences: Int
    public var kernelPath: KernelPath
    /// A chat format to use instead of the one recognised in the model's metadata (`--chat-template NAME`).
    public var chatTemplate: String?

    public init(
        threads: Int = 2, contextLength: Int? = nil, batchSize: Int = 128, maxSequences: Int = 16,
        kernelPath: KernelPath = .current, chatTemplate: String? = nil
    ) {
        self.maxSequences = max(1, maxSequences)
        self.chatTemplate = chatTemplate
        self.threads = max(1, threads)
        self.contextLength = contextLength
        self.batchSize = max(1, batchSize)
        self.kernelPath = kernelPath
    }
}
