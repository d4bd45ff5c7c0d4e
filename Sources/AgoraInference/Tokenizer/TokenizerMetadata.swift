/// The tokenizer fields of a GGUF file, read and checked.
///
/// Everything is validated here, once, so the tokenizer itself never meets an out-of-range id or a
/// malformed merge: a hostile file gets a typed error, not a trap.
struct TokenizerMetadata: Sendable {
    /// The tokenizer family (`tokenizer.ggml.model`).
    enum Model: String, Sendable {
        /// GPT-2-style byte-level BPE with a merge table and a pre-tokenizer (Qwen2, Llama 3, SmolLM).
        case bytePair = "gpt2"
        /// SentencePiece-style merging by token score with byte fallback (Llama 2, TinyLlama, Mistral).
        case sentencePiece = "llama"
        /// BERT's WordPiece (`WordPieceEncoder`).
        case wordPiece = "bert"
    }

    var model: Model
    var tokens: [String]
    /// Per-token merge priority (`tokenizer.ggml.scores`; SentencePiece only, zero when absent).
    var scores: [Float]
    var kinds: [TokenKind]
    var merges: [(String, String)]
    var bos: Int32?
    var eos: Int32?
    var eot: Int32?
    var eom: Int32?
    var unknown: Int32?
    var addBOS: Bool
    /// SentencePiece: a space is put before text at the start and after each special token
    /// (`tokenizer.ggml.add_space_prefix`, default true as in llama.cpp).
    var addSpacePrefix: Bool
    var preTokenizer: PreTokenizer

    static let maximumVocabulary = 1 << 22

    init(gguf: GGUFFile) throws(TokenizerError) {
        let modelKey = "tokenizer.ggml.model"
        guard let modelName = gguf.metadataString(modelKey) else { throw .missingMetadata(key: modelKey) }
        guard let model = Model(rawValue: modelName) else { throw .unsupportedModel(modelName) }
        self.model = model

        if model == .bytePair {
            let preKey = "tokenizer.ggml.pre"
            let preName = gguf.metadataString(preKey) ?? "gpt2"
            guard let pre = PreTokenizer.byName[preName] else { throw .unsupportedPreTokenizer(preName) }
            preTokenizer = pre
        } else {
            // SentencePiece has no pre-tokenizer: the whole text is merged at once.
            preTokenizer = .gpt2
        }

        let tokensKey = "tokenizer.ggml.tokens"
        guard let tokenValues = gguf.metadataArray(tokensKey) else { throw .missingMetadata(key: tokensKey) }
        guard !tokenValues.isEmpty, tokenValues.count <= Self.maximumVocabulary else {
            throw .invalidMetadata(key: tokensKey, reason: "\(tokenValues.count) tokens")
        }
        var tokens: [String] = []
        tokens.reserveCapacity(tokenValues.count)
        for value in tokenValues {
            guard let text = value.asString else { throw .invalidMetadata(key: tokensKey, reason: "not strings") }
            tokens.append(text)
        }
        self.tokens = tokens

        let typesKey = "tokenizer.ggml.token_type"
        if let typeValues = gguf.metadataArray(typesKey) {
            guard typeValues.count == tokens.count else {
                throw .invalidMetadata(key: typesKey, reason: "\(typeValues.count) types for \(tokens.count) tokens")
            }
            var kinds: [TokenKind] = []
            kinds.reserveCapacity(typeValues.count)
            for value in typeValues {
                // Unknown or undefined kinds are read as normal tokens, as llama.cpp does.
                let raw = value.asInt.flatMap { Int32(exactly: $0) } ?? 1
                kinds.append(TokenKind(rawValue: raw) ?? .normal)
            }
            self.kinds = kinds
        } else {
            kinds = Array(repeating: .normal, count: tokens.count)
        }

        let scoresKey = "tokenizer.ggml.scores"
        if let scoreValues = gguf.metadataArray(scoresKey) {
            guard scoreValues.count == tokens.count else {
                throw .invalidMetadata(key: scoresKey, reason: "\(scoreValues.count) scores for \(tokens.count) tokens")
            }
            var scores: [Float] = []
            scores.reserveCapacity(scoreValues.count)
            for value in scoreValues {
                guard let score = value.asFloat else { throw .invalidMetadata(key: scoresKey, reason: "not numbers") }
                scores.append(score)
            }
            self.scores = scores
        } else {
            scores = Array(repeating: 0, count: tokens.count)
        }

        let mergesKey = "tokenizer.ggml.merges"
        var merges: [(String, String)] = []
        if let mergeValues = gguf.metadataArray(mergesKey) {
            merges.reserveCapacity(mergeValues.count)
            for value in mergeValues {
                guard let text = value.asString else { throw .invalidMetadata(key: mergesKey, reason: "not strings") }
                // "left right": the separator is the first space after the first character. A merge without
                // one keeps its rank but can never apply (llama.cpp stores it as an empty pair too).
                let scalars = text.unicodeScalars
                guard !scalars.isEmpty,
                    let space = scalars[scalars.index(after: scalars.startIndex)...].firstIndex(of: " ")
                else {
                    merges.append(("", ""))
                    continue
                }
                let left = String(scalars[..<space])
                let right = String(scalars[scalars.index(after: space)...])
                merges.append((left, right))
            }
        }
        self.merges = merges

        func tokenID(_ key: String) throws(TokenizerError) -> Int32? {
            guard let value = gguf.metadata[key] else { return nil }
            guard let id = value.asInt, id >= 0, id < tokens.count else {
                throw .invalidMetadata(key: key, reason: "not a token id")
            }
            return Int32(id)
        }
        bos = try tokenID("tokenizer.ggml.bos_token_id")
        eos = try tokenID("tokenizer.ggml.eos_token_id")
        eot = try tokenID("tokenizer.ggml.eot_token_id")
        eom = try tokenID("tokenizer.ggml.eom_token_id")
        unknown = try tokenID("tokenizer.ggml.unknown_token_id")
        // llama.cpp's defaults: SentencePiece vocabularies add BOS and a space prefix unless told otherwise.
        addBOS = gguf.metadataBool("tokenizer.ggml.add_bos_token") ?? (model == .sentencePiece)
        addSpacePrefix = gguf.metadataBool("tokenizer.ggml.add_space_prefix") ?? (model == .sentencePiece)
    }
}
