import AgoraCore
import AgoraInference
import AgoraWire
import Foundation

/// The node's sentence-embedding model (`agora node --embeddings`): a BERT GGUF loaded with `AgoraInference`,
/// named by the SHA-256 of its file, selling embeddings jobs (`JobRequest.Input.embeddings`) through the same
/// payment, receipt and referee path as generation. Its vectors equal llama.cpp's `llama-embedding` bit for bit,
/// and each input's vector is the same whatever else is embedded with it, so a referee reproduces a receipt's
/// output hash by re-running the revealed request.
public final class LocalEmbeddingEngine: CompletionEngine, @unchecked Sendable {
    public let engine: EmbeddingEngine
    public let modelName: String
    public let modelHash: Hash256
    public var engineVersion: String { "agora-\(AgoraInferenceVersion.engine)/k\(AgoraInferenceVersion.kernels)" }
    public var contextLength: Int { engine.maximumTokens }
    public var vocabularySize: Int { engine.tokenizer.vocabularySize }
    public var embeddingDimensions: Int? { engine.dimensions }

    public init(modelURL: URL, threads: Int, verifiedHash: Hash256? = nil) throws {
        engine = try EmbeddingEngine(modelURL: modelURL, threads: max(1, threads))
        modelHash = try verifiedHash ?? FileSHA256.digest(of: modelURL)
        modelName = LocalCompletionEngine.modelName(for: modelURL)
    }

    /// Every input's tokens ([CLS] … [SEP]); the error names the input (`input.N`).
    func tokens(_ request: JobRequest) throws(RequestError) -> [[Int32]] {
        guard case .embeddings(let inputs) = request.input else {
            throw RequestError(
                "'\(modelName)' is an embedding model: it serves POST /v1/embeddings only", param: "model",
                code: "model_not_found")
        }
        var all: [[Int32]] = []
        for (index, input) in inputs.enumerated() {
            do throws(EmbeddingError) {
                switch input {
                case .text(let text): all.append(try engine.tokens(for: text, index: index))
                case .tokens(let ids): all.append(try engine.tokens(forIDs: ids.map { Int($0) }, index: index))
                }
            } catch {
                throw RequestError(error.description, param: inputs.count == 1 ? "input" : "input.\(index)")
            }
        }
        return all
    }

    public func check(_ request: JobRequest) throws(RequestError) { _ = try tokens(request) }

    public func promptTokenCount(_ request: JobRequest) throws -> Int {
        try tokens(request).reduce(0) { $0 + $1.count }
    }

    /// The activations of a batch (hidden states, Q/K/V, feed-forward) per token: what the job holds.
    public func memoryReservation(promptTokens: Int, maxTokens: Int) -> Int {
        let h = engine.hyperparameters
        return promptTokens * (7 * h.embeddingLength + h.feedForwardLength) * MemoryLayout<Float>.size
    }

    public func complete(
        _ request: JobRequest, shouldStop: @escaping @Sendable () -> Bool, onDelta: @Sendable (CompletionDelta) -> Void
    ) throws -> CompletionOutcome {
        let inputs = try tokens(request)
        if shouldStop() { throw CompletionCancelled(completionTokens: 0) }
        return CompletionOutcome(embeddings: engine.embed(inputs), promptTokens: inputs.reduce(0) { $0 + $1.count })
    }
}
