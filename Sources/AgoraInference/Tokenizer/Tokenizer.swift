import Synchronization

/// GPT-2-style byte-level BPE tokenizer built from a GGUF file's `tokenizer.ggml.*` metadata, producing the
/// same ids as llama.cpp for the supported pre-tokenizers.
///
/// Encoding: special tokens written in the text are split off first; the rest is cut into words by the
/// pre-tokenizer; each word's UTF-8 bytes are merged by BPE. Decoding maps each token back to the bytes it
/// stands for; a multi-byte character may be split across tokens, so streaming callers should collect
/// `tokenBytes` and decode complete UTF-8 sequences.
public final class Tokenizer: Sendable {
    public let vocabularySize: Int
    /// The beginning-of-sequence token, or -1 when the model has none.
    public let bosToken: Int32
    /// The end-of-sequence token, or -1 when the model has none.
    public let eosToken: Int32
    /// Whether the model expects a BOS token before a prompt (`tokenizer.ggml.add_bos_token`). `encode` never
    /// adds one by itself: the chat template writes its own control tokens.
    public let addsBOS: Bool

    /// Byte values the vocabulary has no token for. Encoding drops them, as llama.cpp does (SmolLM2 lacks
    /// six control characters and the UTF-8 lead bytes 0xF1 and 0xF2, among bytes UTF-8 never uses), so
    /// `decode(encode(text))` reproduces exactly the text without these bytes.
    public let bytesWithoutToken: [UInt8]

    let preTokenizer: PreTokenizer
    let tokenTexts: [String]
    let kinds: [TokenKind]
    let tokenIDs: [String: Int32]
    let merger: BytePairMerger
    let splitter: SpecialTokenSplitter
    let endOfGeneration: Set<Int32>
    /// The bytes of every token, concatenated; token `i` is `decodedBytes[decodedOffsets[i]..<decodedOffsets[i+1]]`.
    private let decodedBytes: [UInt8]
    private let decodedOffsets: [Int]
    /// Words already merged, keyed by their bytes. Bounded: cleared when it grows past `cacheLimit` entries.
    private let cache = Mutex<[[UInt8]: [Int32]]>([:])
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
        bytesWithoutToken = (0..<256).filter { Int(merger.byteSymbols[$0]) >= texts.count }.map { UInt8($0) }

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
            switch metadata.kinds[id] {
            case .control, .userDefined, .unknown: bytes.append(contentsOf: text.utf8)
            case .normal, .byte: bytes.append(contentsOf: ByteLevelAlphabet.decode(text))
            case .unused: break
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

    func encode(utf8: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [Int32] {
        var output: [Int32] = []
        output.reserveCapacity(utf8.count / 3 + 1)
        var state = EncodingState()
        for piece in splitter.split(utf8, parseSpecial: parseSpecial) {
            switch piece {
            case .token(let id): output.append(id)
            case .text(let range): encodePlain(utf8, range, &state, &output)
            }
        }
        return output
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

    /// Whether generating `token` ends the answer (EOS, end-of-turn and similar tokens).
    public func isEndOfGeneration(_ token: Int32) -> Bool { endOfGeneration.contains(token) }

    /// Whether `token` is a control token (never shown to a user as text).
    public func isControl(_ token: Int32) -> Bool {
        token >= 0 && Int(token) < vocabularySize && kinds[Int(token)] == .control
    }
}
