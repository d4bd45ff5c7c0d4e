import AgoraCore
import Foundation

/// The inference a node sells. The node only needs these few operations, so the HTTP and payment code does
/// not depend on the engine's internals.
public protocol CompletionEngine: Sendable {
    /// The name clients use in `model`.
    var modelName: String { get }
    /// SHA-256 of the model file: what vouchers, receipts and the registry name.
    var modelHash: Hash256 { get }
    var engineVersion: String { get }
    var contextLength: Int { get }
    /// Tokens in the model's vocabulary (what `logit_bias` keys are checked against).
    var vocabularySize: Int { get }
    /// How tools are shown to this model and how its calls are written (by its chat template).
    var toolFormat: ToolFormat { get }
    /// The width of the vectors of an embedding model; nil for models that generate text.
    var embeddingDimensions: Int? { get }

    /// Refuses, before any payment, a request this engine cannot run as asked (a schema it cannot
    /// compile); the error names the parameter.
    func check(_ request: JobRequest) throws(RequestError)

    /// Prompt tokens of a request after the chat template (what the price of the input is computed from).
    func promptTokenCount(_ request: JobRequest) throws -> Int

    /// Bytes of memory a job holds while it runs (its KV cache): what a node's memory budget admits by.
    func memoryReservation(promptTokens: Int, maxTokens: Int) -> Int

    /// Runs the job (all its choices), calling `onDelta` with each piece of decoded text as it is generated.
    /// `shouldStop` is polled between tokens; when it turns true the job ends early with `CompletionCancelled`.
    func complete(
        _ request: JobRequest, shouldStop: @escaping @Sendable () -> Bool, onDelta: @Sendable (CompletionDelta) -> Void
    ) throws -> CompletionOutcome

    /// Starts the job without blocking the caller: `onDelta` as in `complete`, then `onFinish` once with the
    /// outcome or the error. Both may run on an engine thread and must return quickly.
    func start(
        _ request: JobRequest, shouldStop: @escaping @Sendable () -> Bool,
        onDelta: @escaping @Sendable (CompletionDelta) -> Void,
        onFinish: @escaping @Sendable (Result<CompletionOutcome, any Error>) -> Void)
}

extension CompletionEngine {
    /// The documented format, for engines that do not say otherwise.
    public var toolFormat: ToolFormat { .hermes }
    /// Engines generate text unless they say otherwise.
    public var embeddingDimensions: Int? { nil }

    /// Engines without request-specific limits accept every well-formed request.
    public func check(_ request: JobRequest) throws(RequestError) {}

    /// Runs the blocking `complete` on a thread of its own (engines without a scheduler of their own).
    public func start(
        _ request: JobRequest, shouldStop: @escaping @Sendable () -> Bool,
        onDelta: @escaping @Sendable (CompletionDelta) -> Void,
        onFinish: @escaping @Sendable (Result<CompletionOutcome, any Error>) -> Void
    ) {
        let thread = Thread {
            onFinish(Result { try complete(request, shouldStop: shouldStop, onDelta: onDelta) })
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Runs the job to its end.
    public func complete(_ request: JobRequest, onDelta: @Sendable (CompletionDelta) -> Void = { _ in }) throws
        -> CompletionOutcome
    {
        try complete(request, shouldStop: { false }, onDelta: onDelta)
    }
}

/// A job stopped before its end because its caller went away. Its partial output is no job's output (a
/// re-execution would run to the end), so it gets no receipt and is not charged.
public struct CompletionCancelled: Error, Sendable, Equatable {
    public var completionTokens: Int
    public init(completionTokens: Int) { self.completionTokens = completionTokens }
}
