import AgoraCore
import AgoraInference
import AgoraWire
import Foundation

/// The node's engine: a GGUF model loaded once (memory-mapped) with `AgoraInference`, named by the SHA-256 of
/// its file. Concurrent jobs share the engine's forward passes (continuous batching), each with its own KV
/// cache and sampler, so a job's output never depends on what else the node is serving.
public final class LocalCompletionEngine: CompletionEngine, @unchecked Sendable {
    public let engine: InferenceEngine
    public let modelName: String
    public let modelHash: Hash256
    public var engineVersion: String { "agora-\(AgoraInferenceVersion.engine)/k\(AgoraInferenceVersion.kernels)" }
    public var contextLength: Int { engine.contextLength }

    /// - Parameter verifiedHash: the file's SHA-256 when the caller has just checked it (the model store
    ///   verifies the default model against its known hash): the file is then not read a second time.
    /// - Parameter maxSequences: jobs that share each forward pass; more wait for a place.
    public init(
        modelURL: URL, threads: Int, maxSequences: Int = 16, chatTemplate: String? = nil, verifiedHash: Hash256? = nil
    ) throws {
        engine = try InferenceEngine(
            modelURL: modelURL,
            options: EngineOptions(threads: max(1, threads), maxSequences: maxSequences, chatTemplate: chatTemplate))
        modelHash = try verifiedHash ?? FileSHA256.digest(of: modelURL)
        modelName = Self.modelName(for: modelURL)
    }

    /// The name clients use for a model file: "SmolLM2-135M-Instruct.Q4_1.gguf" → "SmolLM2-135M-Instruct"
    /// (clients name the model, not the file).
    public static func modelName(for url: URL) -> String {
        let stem = url.deletingPathExtension().lastPathComponent
        return stem.split(separator: ".").first.map(String.init) ?? stem
    }

    public var vocabularySize: Int { engine.model.vocabularySize }
    /// Llama 3's template carries Llama 3.1's tool format; every other template gets the documented one.
    public var toolFormat: ToolFormat { engine.chatTemplate?.format == .llama3 ? .llama31 : .hermes }

    /// The grammar a job's answer follows and the text that switches it on (nil: from the first token),
    /// from its tools or response format; nil: free text.
    static func constraint(_ request: JobRequest, format: ToolFormat) throws(RequestError) -> (
        JSONGrammar, trigger: [UInt8]?
    )? {
        if request.isEmbeddings {
            throw RequestError(
                "this model generates text; embeddings are served by the node's embedding model (agora node --embeddings)",
                param: "model", code: "model_not_found")
        }
        if let tools = request.tools {
            let chosen: [ToolSpec]
            switch tools.choice {
            case .none: return nil
            case .auto, .required: chosen = tools.tools
            case .function(let name): chosen = tools.tools.filter { $0.name == name }
            }
            let specs = chosen.map { ($0.name, (try? JSONValue.parse($0.parameters)) ?? .object([])) }
            do {
                let grammar = try JSONGrammar.toolCalls(
                    specs, parallel: tools.parallel, framed: format == .hermes, argumentsKey: format.argumentsKey)
                return (grammar, tools.choice == .auto ? Array(format.trigger.utf8) : nil)
            } catch {
                // The error's path starts with the tool's index among those chosen.
                let parts = error.path.split(separator: "/").map(String.init)
                let index = parts.first.flatMap(Int.init).map { tools.tools.firstIndex(of: chosen[$0]) ?? $0 } ?? 0
                let path = (["tools", "\(index)", "function", "parameters"] + parts.dropFirst()).joined(separator: ".")
                throw RequestError("\(path): \(error.reason)", param: path, code: "unsupported_parameter")
            }
        }
        return try grammar(request).map { ($0, nil) }
    }

    /// The grammar a job's answer follows, compiled from its response format (nil: free text).
    static func grammar(_ request: JobRequest) throws(RequestError) -> JSONGrammar? {
        guard let format = request.responseFormat else { return nil }
        switch format.kind {
        case .jsonObject: return .anyObject
        case .jsonSchema:
            guard let schema = format.schemaValue else {
                throw RequestError("the schema is not JSON", param: "response_format.json_schema.schema")
            }
            do { return try JSONGrammar(schema: schema) } catch {
                let path = error.path.split(separator: "/").joined(separator: ".")
                throw RequestError(
                    "response_format.json_schema.schema\(path.isEmpty ? "" : "." + path): \(error.reason)",
                    param: "response_format.json_schema.schema" + (path.isEmpty ? "" : "." + path),
                    code: "unsupported_parameter")
            }
        }
    }

    public func check(_ request: JobRequest) throws(RequestError) {
        _ = try Self.constraint(request, format: toolFormat)
    }

    /// The engine's request for choice `choice` of a job: the job's settings with that choice's seed.
    func generationRequest(
        _ request: JobRequest, choice: Int = 0, constraint: (JSONGrammar, trigger: [UInt8]?)? = nil
    ) -> GenerationRequest {
        let input: GenerationRequest.Input
        switch request.input {
        case .chat(let messages) where request.tools != nil || messages.contains(where: \.usesTools):
            // Tools and tool turns in the documented text format (`ToolFormat`).
            input = .messages(
                toolFormat.render(messages, tools: request.tools).map {
                    ChatMessage(role: $0.role, content: $0.content)
                })
        case .chat(let messages): input = .messages(messages.map { ChatMessage(role: $0.role, content: $0.content) })
        case .text(let prompt): input = .prompt(prompt)
        // Refused by `constraint`, which every path runs first.
        case .embeddings: input = .prompt("")
        }
        let sampling = SamplingParameters(
            temperature: request.temperature, topK: request.topK, topP: request.topP,
            seed: request.seed(ofChoice: choice), minP: request.minP, repetitionPenalty: request.repetitionPenalty,
            presencePenalty: request.presencePenalty, frequencyPenalty: request.frequencyPenalty,
            logitBias: request.logitBias.map { LogitBias(token: $0.token, bias: $0.bias) })
        var generation = GenerationRequest(
            input: input, maxTokens: request.maxTokens, sampling: sampling, stop: request.stop,
            logprobs: request.logprobs, grammar: constraint?.0)
        generation.grammarTrigger = constraint?.trigger
        return generation
    }

    public func promptTokenCount(_ request: JobRequest) throws -> Int {
        try engine.promptTokens(for: generationRequest(request).input).count
    }

    public func memoryReservation(promptTokens: Int, maxTokens: Int) -> Int {
        (promptTokens + maxTokens) * engine.kvBytesPerPosition
    }

    /// Starts every choice at once: they share the engine's forward passes like any concurrent jobs, and each
    /// gets the bits it gets alone.
    public func start(
        _ request: JobRequest, shouldStop: @escaping @Sendable () -> Bool,
        onDelta: @escaping @Sendable (CompletionDelta) -> Void,
        onFinish: @escaping @Sendable (Result<CompletionOutcome, any Error>) -> Void
    ) {
        let prompt: [Int32]
        let constraint: (JSONGrammar, trigger: [UInt8]?)?
        do {
            prompt = try engine.promptTokens(for: generationRequest(request).input)
            constraint = try Self.constraint(request, format: toolFormat)
        } catch {
            onFinish(.failure(error))
            return
        }
        let choices = ChoiceCollector(count: request.n, onFinish: onFinish)
        for choice in 0..<request.n {
            engine.start(
                promptTokens: prompt, request: generationRequest(request, choice: choice, constraint: constraint),
                shouldStop: shouldStop,
                onChunk: { [self] chunk in onDelta(delta(chunk, choice: choice)) },
                onFinish: { [self] result in
                    choices.finish(
                        choice,
                        result.mapError { $0 as any Error }.map {
                            ($0, choiceOutcome($0, logprobs: request.logprobs != nil))
                        })
                }
            )
        }
    }

    /// Runs the choices one after another on the calling thread (the referee's and auditors' path: same bits
    /// as the concurrent path, no engine thread calling back).
    public func complete(
        _ request: JobRequest, shouldStop: @escaping @Sendable () -> Bool, onDelta: @Sendable (CompletionDelta) -> Void
    ) throws -> CompletionOutcome {
        var outcomes: [(GenerationResult, ChoiceOutcome)] = []
        let constraint = try Self.constraint(request, format: toolFormat)
        for choice in 0..<request.n {
            let generation = generationRequest(request, choice: choice, constraint: constraint)
            let result = try engine.generate(generation, shouldStop: shouldStop) {
                onDelta(delta($0, choice: choice))
            }
            outcomes.append((result, choiceOutcome(result, logprobs: request.logprobs != nil)))
        }
        return try Self.outcome(outcomes).get()
    }

    /// A streamed step as the node sees it: the choice, its text and (when asked) the token's log-probability.
    private func delta(_ chunk: GenerationChunk, choice: Int) -> CompletionDelta {
        let logprobs = chunk.logprob.flatMap(outputLogprob).map { [$0] } ?? []
        return CompletionDelta(choice: choice, text: chunk.text, logprobs: logprobs)
    }

    /// A token's log-probability with its bytes; nil for end-of-generation tokens, which are not part of
    /// the text (OpenAI lists only the tokens the answer is made of).
    private func outputLogprob(_ value: TokenLogprob) -> OutputLogprob? {
        let tokenizer = engine.tokenizer
        guard !tokenizer.isEndOfGeneration(value.token) else { return nil }
        return OutputLogprob(
            token: value.token, bytes: tokenizer.tokenBytes(value.token), logprob: value.logprob,
            top: value.top.map { .init(token: $0.token, bytes: tokenizer.tokenBytes($0.token), logprob: $0.logprob) })
    }

    private func choiceOutcome(_ result: GenerationResult, logprobs: Bool) -> ChoiceOutcome {
        ChoiceOutcome(
            text: result.text, completionTokens: result.completionTokenCount,
            finishReason: result.finishReason.rawValue,
            logprobs: logprobs ? result.logprobs.compactMap(outputLogprob) : nil)
    }

    /// Finished choices as a job's outcome; a cancelled one makes the job no job's output.
    fileprivate static func outcome(_ choices: [(GenerationResult, ChoiceOutcome)]) -> Result<
        CompletionOutcome, any Error
    > {
        if choices.contains(where: { $0.0.finishReason == .cancelled }) {
            return .failure(CompletionCancelled(completionTokens: choices.reduce(0) { $0 + $1.0.completionTokenCount }))
        }
        return .success(
            CompletionOutcome(choices: choices.map(\.1), promptTokens: choices.first?.0.promptTokenCount ?? 0))
    }
}

/// Gathers the choices of one job as they finish (in any order, on the engine's thread) and reports the job
/// once, when the last one is in.
private final class ChoiceCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Result<(GenerationResult, ChoiceOutcome), any Error>?]
    private let onFinish: @Sendable (Result<CompletionOutcome, any Error>) -> Void

    init(count: Int, onFinish: @escaping @Sendable (Result<CompletionOutcome, any Error>) -> Void) {
        results = Array(repeating: nil, count: count)
        self.onFinish = onFinish
    }

    func finish(_ choice: Int, _ result: Result<(GenerationResult, ChoiceOutcome), any Error>) {
        lock.lock()
        results[choice] = result
        let done = results.allSatisfy { $0 != nil }
        lock.unlock()
        guard done else { return }
        do {
            onFinish(LocalCompletionEngine.outcome(try results.map { try $0!.get() }))
        } catch {
            onFinish(.failure(error))
        }
    }
}
