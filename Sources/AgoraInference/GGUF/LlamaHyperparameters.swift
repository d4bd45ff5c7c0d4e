/// The shape of a llama-family model, read from the `<arch>.*` metadata of its GGUF file.
///
/// One forward pass serves every architecture listed in `Architecture`: they differ only by switches read
/// here (rotary style, attention biases). Any other architecture is refused by name.
///
/// Values are bounded as well as read: a hostile file must not make the engine allocate a KV cache or a
/// scratch buffer sized by an absurd header field.
public struct LlamaHyperparameters: Sendable, Equatable {
    /// The architectures this engine runs, and what sets them apart.
    public enum Architecture: String, Sendable, CaseIterable {
        /// Llama 1/2/3, SmolLM, TinyLlama: rotary on adjacent pairs, no attention biases.
        case llama
        /// Qwen2 / Qwen2.5: biases on the Q, K and V projections, NeoX-style rotary (halves, not pairs).
        case qwen2

        /// llama.cpp's rope type for the architecture.
        public var rotaryStyle: RotaryStyle { self == .qwen2 ? .neox : .normal }
        public var hasAttentionBiases: Bool { self == .qwen2 }
    }

    /// How RoPE pairs the dimensions of a head.
    public enum RotaryStyle: Sendable, Equatable {
        /// (x[2i], x[2i+1]): llama.cpp's "normal" mode.
        case normal
        /// (x[i], x[i + d/2]): GPT-NeoX's layout, llama.cpp's "neox" mode.
        case neox
    }

    public let architecture: String
    public let family: Architecture
    public let blockCount: Int
    public let embeddingLength: Int
    public let feedForwardLength: Int
    public let headCount: Int
    public let headCountKV: Int
    public let headDim: Int
    public let contextLength: Int
    public let ropeFreqBase: Float
    public let rmsNormEpsilon: Float
    public let vocabularySize: Int

    /// Upper bounds far above any model this engine could run on a CPU, but low enough that products of them
    /// cannot overflow.
    static let maximumBlocks = 1024
    static let maximumWidth = 1 << 17
    static let maximumContext = 1 << 22
    static let maximumVocabulary = 1 << 22

    public init(gguf: GGUFFile) throws(GGUFError) {
        guard let arch = gguf.metadataString("general.architecture") else {
            throw .missingMetadata(key: "general.architecture")
        }
        guard let family = Architecture(rawValue: arch) else { throw .unsupportedArchitecture(arch) }
        architecture = arch
        self.family = family

        func integer(_ suffix: String, default fallback: Int? = nil, max: Int) throws(GGUFError) -> Int {
            let key = "\(arch).\(suffix)"
            guard let value = gguf.metadata[key] else {
                if let fallback { return fallback }
                throw .missingMetadata(key: key)
            }
            guard let n = value.asInt else { throw .invalidMetadata(key: key, reason: "not an integer") }
            guard n >= 1, n <= max else { throw .invalidMetadata(key: key, reason: "\(n) is not in 1...\(max)") }
            return n
        }
        func float(_ suffix: String, default fallback: Float) throws(GGUFError) -> Float {
            let key = "\(arch).\(suffix)"
            guard let value = gguf.metadata[key] else { return fallback }
            guard let x = value.asFloat, x.isFinite, x > 0 else {
                throw .invalidMetadata(key: key, reason: "not a positive finite number")
            }
            return x
        }

        blockCount = try integer("block_count", max: Self.maximumBlocks)
        embeddingLength = try integer("embedding_length", max: Self.maximumWidth)
        feedForwardLength = try integer("feed_forward_length", max: Self.maximumWidth * 8)
        headCount = try integer("attention.head_count", max: Self.maximumWidth)
        headCountKV = try integer("attention.head_count_kv", default: headCount, max: headCount)
        guard headCount % headCountKV == 0 else {
            throw .invalidMetadata(
                key: "\(arch).attention.head_count_kv", reason: "\(headCountKV) does not divide \(headCount) heads")
        }
        guard embeddingLength % headCount == 0 else {
            throw .invalidMetadata(
                key: "\(arch).attention.head_count", reason: "\(headCount) does not divide width \(embeddingLength)")
        }
        headDim = try integer(
            "attention.key_length", default: embeddingLength / headCount, max: Self.maximumWidth)
        guard headDim % 2 == 0 else {
            throw .invalidMetadata(key: "\(arch).attention.key_length", reason: "RoPE needs an even head size")
        }
        if let valueLength = gguf.metadata["\(arch).attention.value_length"], valueLength.asInt != headDim {
            throw .invalidMetadata(key: "\(arch).attention.value_length", reason: "differs from key_length")
        }
        contextLength = try integer("context_length", max: Self.maximumContext)
        ropeFreqBase = try float("rope.freq_base", default: 10_000)
        rmsNormEpsilon = try float("attention.layer_norm_rms_epsilon", default: 1e-5)

        let tokenCount = gguf.metadataArray("tokenizer.ggml.tokens")?.count
        if let declared = gguf.metadata["\(arch).vocab_size"] {
            guard let n = declared.asInt, n >= 1, n <= Self.maximumVocabulary else {
                throw .invalidMetadata(key: "\(arch).vocab_size", reason: "not in 1...\(Self.maximumVocabulary)")
            }
            vocabularySize = n
        } else if let tokenCount, tokenCount >= 1, tokenCount <= Self.maximumVocabulary {
            vocabularySize = tokenCount
        } else {
            throw .missingMetadata(key: "tokenizer.ggml.tokens")
        }
    }
}
