import Foundation
import Synchronization

/// A sentence-embedding model loaded once and ready to serve: a BERT encoder with its WordPiece tokenizer.
///
/// Each input is tokenized as llama.cpp tokenizes it for `llama-embedding` ([CLS], the text with special tokens
/// parsed, [SEP]) and gets exactly the vector llama.cpp computes for it alone, whatever else shares the batch.
/// Safe to share: calls run one at a time on the engine's threads.
public final class EmbeddingEngine: @unchecked Sendable {
    public let hyperparameters: BertHyperparameters
    public let tokenizer: Tokenizer
    private let encoder: BertEncoder
    private let lock = Mutex(())
    private let classifierToken: Int32
    private let separatorToken: Int32

    public init(gguf: GGUFFile, threads: Int = EngineOptions().threads, kernelPath: KernelPath = .current)
        throws(EngineLoadError)
    {
        let weights: BertWeights
        do { weights = try BertWeights(gguf: gguf) } catch { throw .model(error) }
        guard weights.hyper.pooling != .none else {
            throw .gguf(
                .invalidMetadata(key: "bert.pooling_type", reason: "0 (no pooling) gives no sentence vector"))
        }
        let tokenizer: Tokenizer
        do { tokenizer = try Tokenizer(gguf: gguf) } catch { throw .tokenizer("\(error)") }
        func special(_ key: String, _ text: String) throws(EngineLoadError) -> Int32 {
            if let id = gguf.metadataInt(key), id >= 0, id < tokenizer.vocabularySize { return Int32(id) }
            guard let id = tokenizer.tokenIDs[text] else { throw .tokenizer("the vocabulary has no \(text) token") }
            return id
        }
        self.tokenizer = tokenizer
        classifierToken = try special("tokenizer.ggml.cls_token_id", "[CLS]")
        separatorToken = try special("tokenizer.ggml.seperator_token_id", "[SEP]")
        hyperparameters = weights.hyper
        encoder = BertEncoder(weights: weights, pool: ComputePool(threadCount: threads), path: kernelPath)
    }

    public convenience init(
        modelURL: URL, threads: Int = EngineOptions().threads, kernelPath: KernelPath = .current
    ) throws(EngineLoadError) {
        let gguf: GGUFFile
        do { gguf = try GGUFFile(url: modelURL) } catch { throw .gguf(error) }
        try self.init(gguf: gguf, threads: threads, kernelPath: kernelPath)
    }

    /// The length of every vector.
    public var dimensions: Int { hyperparameters.embeddingLength }
    /// The most tokens one input may have, [CLS] and [SEP] included.
    public var maximumTokens: Int { hyperparameters.contextLength }

    /// The model's tokens for `text` ([CLS] … [SEP]); `index` names the input in errors.
    public func tokens(for text: String, index: Int = 0) throws(EmbeddingError) -> [Int32] {
        guard !text.isEmpty else { throw .emptyInput(index: index) }
        return try wrapped(tokenizer.encode(text, parseSpecial: true), index: index)
    }

    /// Token ids given by the caller (OpenAI's token-array input), checked and wrapped in [CLS] … [SEP].
    public func tokens(forIDs ids: [Int], index: Int = 0) throws(EmbeddingError) -> [Int32] {
        guard !ids.isEmpty else { throw .emptyInput(index: index) }
        for id in ids where id < 0 || id >= tokenizer.vocabularySize {
            throw .tokenOutOfRange(index: index, token: id, vocabularySize: tokenizer.vocabularySize)
        }
        return try wrapped(ids.map { Int32($0) }, index: index)
    }

    private func wrapped(_ body: [Int32], index: Int) throws(EmbeddingError) -> [Int32] {
        let all = [classifierToken] + body + [separatorToken]
        guard all.count <= maximumTokens else { throw .tooLong(index: index, tokens: all.count, limit: maximumTokens) }
        return all
    }

    /// One unit-length vector per input (inputs from `tokens(for:)`), each exactly as llama.cpp computes it for
    /// that input alone.
    public func embed(_ inputs: [[Int32]]) -> [[Float]] {
        guard !inputs.isEmpty else { return [] }
        return lock.withLock { _ in encoder.encode(inputs) }
    }
}
