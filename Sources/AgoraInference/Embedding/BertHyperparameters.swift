/// The shape of a BERT encoder (`general.architecture = bert`), read and bounded from its GGUF metadata.
///
/// Only what llama.cpp's `bert` graph supports is accepted: bidirectional attention, learned absolute
/// positions, LayerNorm, a GELU feed-forward network, and mean, CLS or no pooling. A file that asks for anything
/// else (causal attention, rank pooling) is refused by name rather than run differently.
public struct BertHyperparameters: Sendable, Equatable {
    /// How token vectors become one sentence vector (`bert.pooling_type`, llama.cpp's numbering).
    public enum Pooling: Int, Sendable, Equatable {
        /// Each token's vector (`/v1/embeddings` needs one vector, so the server refuses such a model).
        case none = 0
        /// The average over the sentence's tokens (sentence-transformers' default; all-MiniLM-L6-v2).
        case mean = 1
        /// The first ([CLS]) token's vector.
        case cls = 2
    }

    public let blockCount: Int
    public let embeddingLength: Int
    public let feedForwardLength: Int
    public let headCount: Int
    public let headDim: Int
    /// Positions the model has embeddings for: the longest input it can encode.
    public let contextLength: Int
    public let layerNormEpsilon: Float
    public let pooling: Pooling
    public let vocabularySize: Int
    public let tokenTypeCount: Int

    public init(gguf: GGUFFile) throws(GGUFError) {
        guard let arch = gguf.metadataString("general.architecture") else {
            throw .missingMetadata(key: "general.architecture")
        }
        guard arch == "bert" else { throw .unsupportedArchitecture(arch) }
        func integer(_ key: String, max: Int) throws(GGUFError) -> Int {
            guard let value = gguf.metadata[key] else { throw .missingMetadata(key: key) }
            guard let n = value.asInt else { throw .invalidMetadata(key: key, reason: "not an integer") }
            guard n >= 1, n <= max else { throw .invalidMetadata(key: key, reason: "\(n) is not in 1...\(max)") }
            return n
        }
        blockCount = try integer("bert.block_count", max: LlamaHyperparameters.maximumBlocks)
        embeddingLength = try integer("bert.embedding_length", max: LlamaHyperparameters.maximumWidth)
        feedForwardLength = try integer("bert.feed_forward_length", max: LlamaHyperparameters.maximumWidth * 8)
        headCount = try integer("bert.attention.head_count", max: LlamaHyperparameters.maximumWidth)
        guard embeddingLength % headCount == 0 else {
            throw .invalidMetadata(
                key: "bert.attention.head_count", reason: "\(headCount) does not divide width \(embeddingLength)")
        }
        headDim = embeddingLength / headCount
        // tinyBLAS's eight-lane chains need every product's length to be a multiple of 8.
        guard embeddingLength % 8 == 0, feedForwardLength % 8 == 0 else {
            throw .invalidMetadata(key: "bert.embedding_length", reason: "widths must be multiples of 8")
        }
        contextLength = try integer("bert.context_length", max: 1 << 16)
        guard let epsilon = gguf.metadataFloat("bert.attention.layer_norm_epsilon"), epsilon.isFinite, epsilon >= 0
        else {
            throw .invalidMetadata(key: "bert.attention.layer_norm_epsilon", reason: "missing or not a finite number")
        }
        layerNormEpsilon = epsilon
        if let causal = gguf.metadataBool("bert.attention.causal"), causal {
            throw .invalidMetadata(key: "bert.attention.causal", reason: "a causal BERT is not supported")
        }
        let poolingValue = gguf.metadataInt("bert.pooling_type") ?? Pooling.none.rawValue
        guard let pooling = Pooling(rawValue: poolingValue) else {
            throw .invalidMetadata(
                key: "bert.pooling_type", reason: "\(poolingValue) (supported: 0 none, 1 mean, 2 cls)")
        }
        self.pooling = pooling
        guard let tokens = gguf.metadataArray("tokenizer.ggml.tokens"), !tokens.isEmpty else {
            throw .missingMetadata(key: "tokenizer.ggml.tokens")
        }
        vocabularySize = tokens.count
        tokenTypeCount = gguf.tensors["token_types.weight"].map { $0.dimensions.count == 2 ? $0.dimensions[1] : 0 } ?? 0
    }
}
