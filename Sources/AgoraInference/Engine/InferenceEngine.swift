import AgoraCore
import Foundation

/// A model loaded once and ready to serve requests: weights, tokenizer, chat template and a continuous
/// batcher. Safe to share across tasks and threads: concurrent requests share forward passes
/// (`BatchScheduler`), each with its own KV cache and sampler, so no caller can influence another's result:
/// every answer is bit for bit what the request gets alone.
public final class InferenceEngine: @unchecked Sendable {
    public let model: LlamaModel
    public let tokenizer: Tokenizer
    /// Nil when the file has no usable chat template (raw prompts still work).
    public let chatTemplate: ChatTemplate?
    public let options: EngineOptions
    private let scheduler: BatchScheduler

    public init(gguf: GGUFFile, options: EngineOptions = EngineOptions()) throws(EngineLoadError) {
        do { model = try LlamaModel(gguf: gguf, contextLength: options.contextLength) } catch { throw .model(error) }
        do { tokenizer = try Tokenizer(gguf: gguf) } catch { throw .tokenizer("\(error)") }
        if let name = options.chatTemplate {
            // A format the operator named must exist: fail at load, not on the first chat request.
            do { chatTemplate = try ChatTemplate(gguf: gguf, override: name) } catch { throw .chatTemplate(error) }
        } else {
            chatTemplate = try? ChatTemplate(gguf: gguf)
        }
        self.options = options
        scheduler = BatchScheduler(
            model: model, tokenizer: tokenizer, threads: options.threads, stepTokens: options.batchSize,
            maxSequences: options.maxSequences, kernelPath: options.kernelPath)
    }

    public convenience init(modelURL: URL, options: EngineOptions = EngineOptions()) throws(EngineLoadError) {
        let gguf: GGUFFile
        do { gguf = try GGUFFile(url: modelURL) } catch { throw .gguf(error) }
        try self.init(gguf: gguf, options: options)
    }

    public var contextLength: Int { model.contextLength }

    /// Bytes of KV cache one position of one sequence takes: a request holds (prompt + max tokens) of them
    /// while it runs (what a node's memory budget admits by).
    public var kvBytesPerPosition: Int { KVCache.bytesPerPosition(of: model) }

    /// The prompt tokens of a request (chat template applied for messages).
    public func promptTokens(for input: GenerationRequest.Input) throws(GenerationError) -> [Int32] {
        switch input {
        case .prompt(let text):
            return tokenizer.encodePrompt(text)
        case .messages(let messages):
            guard let chatTemplate else { throw .noChatTemplate }
            return tokenizer.encodePrompt(chatTemplate.render(messages, addGenerationPrompt: true))
        }
    }

    /// Runs a request to completion, calling `onChunk` for every generated token as it is produced.
    public func generate(
        _ request: GenerationRequest, onChunk: (GenerationChunk) -> Void = { _ in }
    ) throws(GenerationError) -> GenerationResult {
        try generate(request, shouldStop: { false }, onChunk: onChunk)
    }

    /// Like `generate(_:onChunk:)`; `shouldStop` is polled between tokens, and true ends generation with finish
    /// reason `.cancelled` (the caller went away).
    public func generate(
        _ request: GenerationRequest, shouldStop: @escaping () -> Bool, onChunk: (GenerationChunk) -> Void
    ) throws(GenerationError) -> GenerationResult {
        let prompt = try promptTokens(for: request.input)
        return try generate(promptTokens: prompt, request: request, shouldStop: shouldStop, onChunk: onChunk)
    }

    /// Runs a request whose prompt is already tokenized (`request.input` is ignored), blocking the calling
    /// thread until it ends; it shares forward passes with whatever else the engine is serving. `onChunk`
    /// runs on the calling thread; `shouldStop` is polled from the engine's batch thread.
    public func generate(
        promptTokens prompt: [Int32], request: GenerationRequest, shouldStop: @escaping () -> Bool = { false },
        onChunk: (GenerationChunk) -> Void = { _ in }
    ) throws(GenerationError) -> GenerationResult {
        let mailbox = GenerationMailbox()
        let stop = UncheckedStopCheck(shouldStop)
        start(
            promptTokens: prompt, request: request, shouldStop: { stop.check() }, onChunk: { mailbox.post(.chunk($0)) },
            onFinish: { mailbox.post(.finished($0)) })
        while true {
            switch mailbox.take() {
            case .chunk(let chunk): onChunk(chunk)
            case .finished(let result): return try result.get()
            }
        }
    }

    /// Starts a request without blocking: `onChunk` gets every generated token as it is produced and
    /// `onFinish` the result, both on the engine's batch thread (they must return quickly).
    public func start(
        promptTokens prompt: [Int32], request: GenerationRequest, shouldStop: @escaping @Sendable () -> Bool,
        onChunk: @escaping @Sendable (GenerationChunk) -> Void,
        onFinish: @escaping @Sendable (Result<GenerationResult, GenerationError>) -> Void
    ) {
        scheduler.submit(
            BatchScheduler.Job(
                prompt: prompt, request: request, shouldStop: shouldStop, onChunk: onChunk, onFinish: onFinish))
    }

    /// Streams a request: chunks as tokens are produced, then `.finished` with the result. Cancelling the
    /// consumer stops generation at the next token.
    public func stream(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream<GenerationEvent, any Error>.makeStream()
        let cancelled = StopFlag()
        continuation.onTermination = { _ in cancelled.set() }
        let prompt: [Int32]
        do { prompt = try promptTokens(for: request.input) } catch {
            continuation.finish(throwing: error)
            return stream
        }
        start(
            promptTokens: prompt, request: request, shouldStop: { cancelled.isSet },
            onChunk: { continuation.yield(.chunk($0)) },
            onFinish: { result in
                switch result {
                case .success(let result):
                    continuation.yield(.finished(result))
                    continuation.finish()
                case .failure(let error):
                    continuation.finish(throwing: error)
                }
            })
        return stream
    }
}

/// What the batch thread hands a blocking `generate`'s caller, in order: the chunks, then the result. The
/// caller runs its own callback on its own thread, so a slow consumer never holds up the batch.
private final class GenerationMailbox: @unchecked Sendable {
    enum Message {
        case chunk(GenerationChunk)
        case finished(Result<GenerationResult, GenerationError>)
    }

    private let condition = NSCondition()
    private var messages: [Message] = []
    private var next = 0

    func post(_ message: Message) {
        condition.lock()
        messages.append(message)
        condition.signal()
        condition.unlock()
    }

    func take() -> Message {
        condition.lock()
        defer { condition.unlock() }
        while next == messages.count { condition.wait() }
        let message = messages[next]
        next += 1
        return message
    }
}

/// A blocking caller's stop check, polled from the batch thread. The engine has always asked it from
/// whichever thread runs the job; callers pass thread-safe checks (a `StopFlag`).
private struct UncheckedStopCheck: @unchecked Sendable {
    let check: () -> Bool
    init(_ check: @escaping () -> Bool) { self.check = check }
}
