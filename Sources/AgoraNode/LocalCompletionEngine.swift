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

    func generationRequest(_ request: JobRequest) -> GenerationRequest {
        let input: GenerationRequest.Input
        switch request.input {
        case .chat(let messages): input = .messages(messages.map { ChatMessage(role: $0.role, content: $0.content) })
        case .text(let prompt): input = .prompt(prompt)
        }
        return GenerationRequest(
            input: input, maxTokens: request.maxTokens, temperature: request.temperature, topP: request.topP,
            topK: request.topK, seed: request.seed, stop: request.stop)
    }

    public func promptTokenCount(_ request: JobRequest) throws -> Int {
        try engine.promptTokens(for: generationRequest(request).input).count
    }

    public func memoryReservation(promptTokens: Int, maxTokens: Int) -> Int {
        (promptTokens + maxTokens) * engine.kvBytesPerPosition
    }

    public func start(
        _ request: JobRequest, shouldStop: @escaping @Sendable () -> Bool,
        onText: @escaping @Sendable (String) -> Void,
        onFinish: @escaping @Sendable (Result<CompletionOutcome, any Error>) -> Void
    ) {
        let generation = generationRequest(request)
        let prompt: [Int32]
        do { prompt = try engine.promptTokens(for: generation.input) } catch {
            onFinish(.failure(error))
            return
        }
        engine.start(
            promptTokens: prompt, request: generation, shouldStop: shouldStop, onChunk: { onText($0.text) },
            onFinish: { result in onFinish(result.mapError { $0 as any Error }.flatMap(Self.outcome)) })
    }

    public func complete(
        _ request: JobRequest, shouldStop: @escaping @Sendable () -> Bool, onText: @Sendable (String) -> Void
    ) throws -> CompletionOutcome {
        let result = try engine.generate(generationRequest(request), shouldStop: shouldStop) { chunk in
            onText(chunk.text)
        }
        return try Self.outcome(result).get()
    }

    /// A finished generation as a job's outcome; a cancelled one is no job's output.
    private static func outcome(_ result: GenerationResult) -> Result<CompletionOutcome, any Error> {
        if result.finishReason == .cancelled {
            return .failure(CompletionCancelled(completionTokens: result.completionTokenCount))
        }
        return .success(
            CompletionOutcome(
                text: result.text, promptTokens: result.promptTokenCount,
                completionTokens: result.completionTokenCount, finishReason: result.finishReason.rawValue))
    }
}
