import AgoraCore
import Foundation

/// A model loaded once and ready to serve requests: weights, tokenizer, chat template and one inference
/// state. Safe to share across tasks and threads: requests run one at a time (a lock serializes them), each
/// from an empty KV cache, so concurrent callers cannot influence one another's results.
public final class InferenceEngine: @unchecked Sendable {
    public let model: LlamaModel
    public let tokenizer: Tokenizer
    /// Nil when the file has no usable chat template (raw prompts still work).
    public let chatTemplate: ChatTemplate?
    public let options: EngineOptions
    private let state: LlamaState
    private let lock = NSLock()

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
        state = LlamaState(
            model: model, threads: options.threads, batchSize: options.batchSize, kernelPath: options.kernelPath)
    }

    public convenience init(modelURL: URL, options: EngineOptions = EngineOptions()) throws(EngineLoadError) {
        let gguf: GGUFFile
        do { gguf = try GGUFFile(url: modelURL) } catch { throw .gguf(error) }
        try self.init(gguf: gguf, options: options)
    }

    public var contextLength: Int { model.contextLength }

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

    /// Runs a request whose prompt is already tokenized (`request.input` is ignored).
    public func generate(
        promptTokens prompt: [Int32], request: GenerationRequest, shouldStop: @escaping () -> Bool = { false },
        onChunk: (GenerationChunk) -> Void = { _ in }
    ) throws(GenerationError) -> GenerationResult {
        lock.lock()
        defer { lock.unlock() }
        var generator = TokenGenerator(state: state, tokenizer: tokenizer)
        generator.shouldStop = shouldStop
        return try generator.run(prompt: prompt, request: request, onChunk: onChunk)
    }

    /// Streams a request: chunks as tokens are produced, then `.finished` with the result. The work runs on
    /// its own thread so it never blocks the cooperative pool; cancelling the consumer stops generation.
    public func stream(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream<GenerationEvent, any Error>.makeStream()
        let cancelled = StopFlag()
        continuation.onTermination = { _ in cancelled.set() }
        let thread = Thread { [self] in
            do {
                let prompt = try promptTokens(for: request.input)
                lock.lock()
                defer { lock.unlock() }
                var generator = TokenGenerator(state: state, tokenizer: tokenizer)
                generator.shouldStop = { cancelled.isSet }
                let result = try generator.run(prompt: prompt, request: request) { chunk in
                    continuation.yield(.chunk(chunk))
                }
                continuation.yield(.finished(result))
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        thread.stackSize = 1 << 20
        thread.start()
        return stream
    }
}
