import Synchronization

/// The tokenizer of a GGUF file's `tokenizer.ggml.*` metadata, producing the same ids as llama.cpp: GPT-2-style
/// byte-level BPE (`gpt2`, with the supported pre-tokenizers) or SentencePiece-style merging by score with
/// byte fallback (`llama`).
///
/// Encoding: special tokens written in the text are split off first. BPE cuts the rest into words by the
/// pre-tokenizer and merges each word's UTF-8 bytes; SentencePiece writes spaces as "▁", puts one before text
/// that starts the prompt or follows a special token, and merges each stretch whole. Decoding maps each token
/// back to the bytes it stands for; a multi-byte character may be split across tokens, so streaming callers
/// should collect `tokenBytes` and decode complete UTF-8 sequences.
public final class Tokenizer: Sendable {
    public let vocabularySize: Int
    /// The beginning-of-sequence token, or -1 when the model has none.
    public let bosToken: Int32
    /// The end-of-sequence token, or -1 when the model has none.
    public let eosToken: Int32
    /// Whether the model expects a BOS token before a prompt (`tokenizer.ggml.add_bos_token`; SentencePiece
    /// vocabularies default to yes). `encode` never adds one; `encodePrompt` does.
    public let addsBOS: Bool
    /// The vocabulary's tokenizer family.
    public var usesSentencePiece: Bool { sentencePiece != nil }

    /// Byte values the vocabulary has no token for. Encoding drops them, as llama.cpp does (SmolLM2 lacks
    /// six control characters and the UTF-8 lead bytes 0xF1 and 0xF2, among bytes UTF-8 never uses), so
    /// `decode(encode(text))` reproduces exactly the text without these bytes.
    public let bytesWithoutToken: [UInt8]

    let preTokenizer: PreTokenizer
    let tokenTexts: [String]
    let kinds: [TokenKind]
    let tokenIDs: [String: Int32]
    let merger: BytePairMerger
    /// Set for SentencePiece vocabularies (`tokenizer.ggml.model = llama`), which then use it instead of BPE.
    let sentencePiece: SentencePieceMerger?
    /// Set for WordPiece vocabularies (`tokenizer.ggml.model = bert`).
    let wordPiece: WordPieceEncoder?
    let addSpacePrefix: Bool
    let splitter: SpecialTokenSplitter
    let endOfGeneration: Set<Int32>
    /// The bytes of every token, concatenated; token `i` is `decodedBytes[decodedOffsets[i]..<decodedOffsets[i+1]]`.
    private let decodedBytes: [UInt8]
    private let decodedOffsets: [Int]
    /// Words already merged, keyed by their bytes. Bounded: cleared when it grows past `cacheLimit` entries.
    private let cache = Mutex<[[UInt8]: [Int32]]>([:])
    /// The vocabulary trie of constrained decoding, built on first use (most engines never need it).
    private let trie = Mutex<VocabularyTrie?>(nil)
    private static let cacheLimit = 1 << 16
    private static let cachedWordLength = 48

    /// Token texts that end a generation, besides the EOS token (llama.cpp's end-of-generation list).
    static let endOfGenerationTexts: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>",
        "<|end_of_text|>", "<end_of_utterance>",
    ]

    public convenience init(gguf: GGUFFile) throws(TokenizerError) {
        try self.init(metadata: TokenizerMetadata(gguf: gguf))
    }

    init(metadata: TokenizerMetadata) {
        let texts = metadata.tokens
        vocabularySize = texts.count
        tokenTexts = texts
        kinds = metadata.kinds
        bosToken = metadata.bos ?? -1
        eosToken = metadata.eos ?? -1
        addsBOS = metadata.addBOS
        preTokenizer = metadata.preTokenizer

        var ids: [String: Int32] = [:]
        ids.reserveCapacity(texts.count)
        for (id, text) in texts.enumerated() where ids[text] == nil { ids[text] = Int32(id) }
        tokenIDs = ids
        let merger = BytePairMerger(mergeTexts: metadata.merges, tokenIDs: ids, vocabularySize: texts.count)
        self.merger = merger
        addSpacePrefix = metadata.addSpacePrefix
        wordPiece = metadata.model == .wordPiece ? WordPieceEncoder(tokens: texts, unknown: metadata.unknown) : nil
        if metadata.model == .sentencePiece {
            let spm = SentencePieceMerger(tokens: texts, scores: metadata.scores, unknown: metadata.unknown)
            sentencePiece = spm
            bytesWithoutToken = (0..<256).filter { spm.byteTokens[$0] < 0 }.map { UInt8($0) }
        } else {
            sentencePiece = nil
            bytesWithoutToken = (0..<256).filter { Int(merger.byteSymbols[$0]) >= texts.count }.map { UInt8($0) }
        }

        var entries: [SpecialTokenSplitter.Entry] = []
        var endOfGeneration: Set<Int32> = []
        for (id, kind) in metadata.kinds.enumerated() {
            if kind == .control || kind == .userDefined || kind == .unknown {
                entries.append(.init(id: Int32(id), bytes: Array(texts[id].utf8), alwaysMatched: kind == .userDefined))
            }
            if Self.endOfGenerationTexts.contains(texts[id]) { endOfGeneration.insert(Int32(id)) }
        }
        for id in [metadata.eos, metadata.eot, metadata.eom] {
            if let id { endOfGeneration.insert(id) }
        }
        splitter = SpecialTokenSplitter(entries: entries)
        self.endOfGeneration = endOfGeneration

        var bytes: [UInt8] = []
        var offsets: [Int] = [0]
        offsets.reserveCapacity(texts.count + 1)
        for (id, text) in texts.enumerated() {
            switch (metadata.kinds[id], metadata.model) {
            case (.control, _), (.userDefined, _), (.unknown, _): bytes.append(contentsOf: text.utf8)
            case (.normal, .bytePair), (.byte, .bytePair): bytes.append(contentsOf: ByteLevelAlphabet.decode(text))
            case (.normal, .sentencePiece), (.normal, .wordPiece), (.byte, .wordPiece):
                bytes.append(contentsOf: Self.unescapeSpaces(text))
            case (.byte, .sentencePiece): bytes.append(contentsOf: Self.byteTokenValue(text).map { [$0] } ?? [])
            case (.unused, _): break
            }
            offsets.append(bytes.count)
        }
        decodedBytes = bytes
        decodedOffsets = offsets
    }

    // MARK: Encoding

    /// The token ids of `text`. With `parseSpecial`, control tokens written in the text (`<|im_start|>`) become
    /// those tokens, as llama.cpp does for prompts; without it they are tokenized as plain text. No BOS is
    /// added.
    public func encode(_ text: String, parseSpecial: Bool = true) -> [Int32] {
        var text = text
        return text.withUTF8 { encode(utf8: $0, parseSpecial: parseSpecial) }
    }

    /// The token ids of a prompt: `encode(text)` with the model's BOS token first when the vocabulary asks
    /// for one and the text does not already start with it (llama.cpp's tokenization with `add_special`;
    /// chat templates leave BOS to this).
    public func encodePrompt(_ text: String) -> [Int32] {
        let tokens = encode(text, parseSpecial: true)
        guard addsBOS, bosToken >= 0, tokens.first != bosToken else { return tokens }
        return [bosToken] + tokens
    }

    func encode(utf8: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [Int32] {
        var output: [Int32] = []
        output.reserveCapacity(utf8.count / 3 + 1)
        let pieces = splitter.split(utf8, parseSpecial: parseSpecial)
        if let sentencePiece {
            encodeSentencePiece(utf8, pieces, sentencePiece, &output)
            return output
        }
        if let wordPiece {
            for piece in pieces {
                switch piece {
                case .token(let id): output.append(id)
                case .text(let range):
                    wordPiece.encode(
                        Substring(String(decoding: UnsafeBufferPointer(rebasing: utf8[range]), as: UTF8.self)),
                        into: &output)
                }
            }
            return output
        }
        var state = EncodingState()
        for piece in pieces {
            switch piece {
            case .token(let id): output.append(id)
            case .text(let range): encodePlain(utf8, range, &state, &output)
            }
        }
        return output
    }

    /// SentencePiece: each stretch of text is escaped ("▁" for every space, one more in front when it starts
    /// the text or follows a special token and the vocabulary asks for a space prefix) and merged whole.
    private func encodeSentencePiece(
        _ utf8: UnsafeBufferPointer<UInt8>, _ pieces: [SpecialTokenSplitter.Piece], _ merger: SentencePieceMerger,
        _ output: inout [Int32]
    ) {
        var scratch = SentencePieceMerger.Scratch()
        var escaped: [UInt8] = []
        var afterSpecial = true
        for piece in pieces {
            switch piece {
            case .token(let id):
                output.append(id)
                afterSpecial = true
            case .text(let range):
                guard !range.isEmpty else { continue }
                escaped.removeAll(keepingCapacity: true)
                if addSpacePrefix && afterSpecial { escaped.append(contentsOf: Self.escapedSpace) }
                for byte in UnsafeBufferPointer(rebasing: utf8[range]) {
                    if byte == 0x20 { escaped.append(contentsOf: Self.escapedSpace) } else { escaped.append(byte) }
                }
                escaped.withUnsafeBufferPointer { merger.encode($0, scratch: &scratch, into: &output) }
                afterSpecial = false
            }
        }
    }

    /// U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's written space.
    static let escapedSpace: [UInt8] = [0xE2, 0x96, 0x81]

    /// A SentencePiece token's text with "▁" turned back into spaces.
    static func unescapeSpaces(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        let utf8 = Array(text.utf8)
        var i = 0
        while i < utf8.count {
            if i + 2 < utf8.count, utf8[i] == 0xE2, utf8[i + 1] == 0x96, utf8[i + 2] == 0x81 {
                bytes.append(0x20)
                i += 3
            } else {
                bytes.append(utf8[i])
                i += 1
            }
        }
        return bytes
    }

    /// The byte of a byte token's text `<0xXX>`, nil for any other text.
    static func byteTokenValue(_ text: String) -> UInt8? {
        let utf8 = Array(text.utf8)
        guard utf8.count == 6, utf8[0] == 0x3C, utf8[1] == 0x30, utf8[2] == 0x78, utf8[5] == 0x3E else { return nil }
        return UInt8(String(decoding: utf8[3..<5], as: UTF8.self), radix: 16)
    }

    /// Buffers reused across the words of one `encode` call.
    private struct EncodingState {
        var scalars: [UInt32] = []
        var classes: [UInt8] = []
        var starts: [Int] = []
        var symbols: [Int32] = []
        var scratch = BytePairMerger.Scratch()
    }

    private func encodePlain(
        _ utf8: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ state: inout EncodingState,
        _ output: inout [Int32]
    ) {
        state.scalars.removeAll(keepingCapacity: true)
        state.classes.removeAll(keepingCapacity: true)
        state.starts.removeAll(keepingCapacity: true)
        UTF8Scalars.decode(utf8, range) { scalar, start in
            state.scalars.append(scalar)
            state.classes.append(ScalarClass.of(scalar))
            state.starts.append(start)
        }
        let scalarCount = state.scalars.count
        preTokenizer.split(state.scalars, state.classes) { word in
            let byteStart = state.starts[word.lowerBound]
            let byteEnd = word.upperBound < scalarCount ? state.starts[word.upperBound] : range.upperBound
            encodeWord(UnsafeBufferPointer(rebasing: utf8[byteStart..<byteEnd]), &state, &output)
        }
    }

    private func encodeWord(
        _ word: UnsafeBufferPointer<UInt8>, _ state: inout EncodingState, _ output: inout [Int32]
    ) {
        if preTokenizer.ignoresMerges, let id = tokenIDs[ByteLevelAlphabet.encode(word)] {
            output.append(id)
            return
        }
        let cacheable = word.count > 1 && word.count <= Self.cachedWordLength
        let key = cacheable ? Array(word) : []
        if cacheable, let hit = cache.withLock({ $0[key] }) {
            output.append(contentsOf: hit)
            return
        }
        state.symbols.removeAll(keepingCapacity: true)
        merger.merge(word, scratch: &state.scratch, into: &state.symbols)
        let first = output.count
        for symbol in state.symbols {
            if Int(symbol) < vocabularySize {
                output.append(symbol)
            } else {
                appendFallback(merger.virtualTexts[Int(symbol) - vocabularySize], &output)
            }
        }
        if cacheable {
            let tokens = Array(output[first...])
            cache.withLock { cache in
                if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
                cache[key] = tokens
            }
        }
    }

    /// A merged symbol that is not a vocabulary token is written byte by byte, keeping the bytes that are
    /// themselves tokens (llama.cpp's fallback; unreachable with a well-formed vocabulary).
    private func appendFallback(_ text: String, _ output: inout [Int32]) {
        for byte in text.utf8 where byte < 0x80 {
            if let id = tokenIDs[String(UnicodeScalar(byte))] { output.append(id) }
        }
    }

    // MARK: Decoding

    /// The bytes token `token` stands for; control tokens give their text. Empty for an id outside the
    /// vocabulary. A UTF-8 character may be split across consecutive tokens.
    public func tokenBytes(_ token: Int32) -> [UInt8] {
        guard token >= 0, Int(token) < vocabularySize else { return [] }
        return Array(decodedBytes[decodedOffsets[Int(token)]..<decodedOffsets[Int(token) + 1]])
    }

    /// The text of `tokens`; with `renderSpecial: false`, control tokens are left out. Bytes that do not form
    /// valid UTF-8 (a character cut at the end) become U+FFFD.
    public func decode(_ tokens: [Int32], renderSpecial: Bool = true) -> String {
        var bytes: [UInt8] = []
        for token in tokens where token >= 0 && Int(token) < vocabularySize {
            if !renderSpecial && (kinds[Int(token)] == .control || kinds[Int(token)] == .unknown) { continue }
            bytes.append(contentsOf: decodedBytes[decodedOffsets[Int(token)]..<decodedOffsets[Int(token) + 1]])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The vocabulary text of a token (in the byte-level alphabet for normal tokens), for diagnostics.
    public func tokenText(_ token: Int32) -> String? {
        token >= 0 && Int(token) < vocabularySize ? tokenTexts[Int(token)] : nil
    }

    /// The vocabulary as a byte trie, for grammar masks (built once, on first use).
    public var vocabularyTrie: VocabularyTrie {
        trie.withLock { cached in
            if let cached { return cached }
            let built = VocabularyTrie(tokenizer: self)
            cached = built
            return built
        }
    }

    /// Whether generating `token` ends the answer (EOS, end-of-turn and similar tokens).
    public func isEndOfGeneration(_ token: Int32) -> Bool { endOfGeneration.contains(token) }

    /// Whether `token` is a control token (never shown to a user as text).
    public func isControl(_ token: Int32) -> Bool {
        token >= 0 && Int(token) < vocabularySize && kinds[Int(token)] == .control
    }
}
