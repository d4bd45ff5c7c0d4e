/// SentencePiece-style merging (`tokenizer.ggml.model = llama`: Llama 2, TinyLlama, Mistral), in the order
/// llama.cpp's `llm_tokenizer_spm` applies it, so that both give the same ids.
///
/// The text (spaces already written as U+2581 "▁") starts as one symbol per UTF-8 character. Repeatedly, of
/// all adjacent pairs whose concatenation is a vocabulary token, the one whose token has the highest score
/// is merged (the leftmost among equal scores). Each remaining symbol is then its token, or, when the
/// vocabulary has no token for it, its bytes as `<0xXX>` byte tokens (byte fallback).
///
/// Unlike byte-level BPE there is no merge table: the vocabulary's scores are the merge priorities.
struct SentencePieceMerger: Sendable {
    /// Token text → id. A text that occurs twice maps to its last id, as llama.cpp's `token_to_id` does.
    let tokenIDs: [String: Int32]
    let scores: [Float]
    /// The token of each byte value for byte fallback (`<0xXX>`, else the byte's own one-character token),
    /// or `unknown` when the vocabulary has neither.
    let byteTokens: [Int32]
    /// The longest token text in bytes: a pair longer than this cannot be a token, so it is not looked up.
    let longestToken: Int

    init(tokens: [String], scores: [Float], unknown: Int32?) {
        var ids: [String: Int32] = [:]
        ids.reserveCapacity(tokens.count)
        var longest = 0
        for (id, text) in tokens.enumerated() {
            ids[text] = Int32(id)
            longest = max(longest, text.utf8.count)
        }
        tokenIDs = ids
        self.scores = scores
        longestToken = longest
        let hex = Array("0123456789ABCDEF".utf8)
        byteTokens = (0..<256).map { byte in
            let name = String(decoding: [0x3C, 0x30, 0x78, hex[byte >> 4], hex[byte & 15], 0x3E], as: UTF8.self)
            if let id = ids[name] { return id }
            if byte < 0x80, let id = ids[String(UnicodeScalar(UInt8(byte)))] { return id }
            return unknown ?? -1
        }
    }

    /// Reusable buffers for `encode`.
    struct Scratch {
        var starts: [Int32] = []
        var lengths: [Int32] = []
        var next: [Int32] = []
        var previous: [Int32] = []
        var heap = PriorityHeap<Candidate>()
    }

    /// A pair that can merge. Priority: higher score first, then the leftmost.
    struct Candidate: HeapPriority {
        var score: Float
        var left: Int32
        var right: Int32
        /// The pair's byte length when it was found: a later merge of either symbol changes it, which marks
        /// the candidate stale (llama.cpp's check).
        var length: Int32

        func precedes(_ other: Candidate) -> Bool {
            score > other.score || (score == other.score && left < other.left)
        }
    }

    /// Appends the tokens of `text` (already escaped: "▁" for spaces, the space prefix added) to `output`.
    func encode(_ text: UnsafeBufferPointer<UInt8>, scratch: inout Scratch, into output: inout [Int32]) {
        guard !text.isEmpty else { return }
        scratch.starts.removeAll(keepingCapacity: true)
        scratch.lengths.removeAll(keepingCapacity: true)
        scratch.next.removeAll(keepingCapacity: true)
        scratch.previous.removeAll(keepingCapacity: true)
        scratch.heap.removeAll()
        var offset = 0
        while offset < text.count {
            let length = min(Self.characterLength(text[offset]), text.count - offset)
            let index = Int32(scratch.starts.count)
            scratch.starts.append(Int32(offset))
            scratch.lengths.append(Int32(length))
            scratch.previous.append(index - 1)
            offset += length
            scratch.next.append(offset == text.count ? -1 : index + 1)
        }
        for right in 1..<scratch.starts.count {
            addCandidate(Int32(right - 1), Int32(right), text, &scratch)
        }
        while let candidate = scratch.heap.pop() {
            let left = Int(candidate.left)
            let right = Int(candidate.right)
            guard scratch.lengths[left] != 0, scratch.lengths[right] != 0,
                scratch.lengths[left] + scratch.lengths[right] == candidate.length
            else { continue }
            scratch.lengths[left] += scratch.lengths[right]
            scratch.lengths[right] = 0
            let after = scratch.next[right]
            scratch.next[left] = after
            if after >= 0 { scratch.previous[Int(after)] = candidate.left }
            addCandidate(scratch.previous[left], candidate.left, text, &scratch)
            addCandidate(candidate.left, after, text, &scratch)
        }
        var symbol: Int32 = 0
        while symbol >= 0 {
            let start = Int(scratch.starts[Int(symbol)])
            let piece = UnsafeBufferPointer(rebasing: text[start..<start + Int(scratch.lengths[Int(symbol)])])
            if let id = tokenIDs[String(decoding: piece, as: UTF8.self)] {
                output.append(id)
            } else {
                for byte in piece where byteTokens[Int(byte)] >= 0 { output.append(byteTokens[Int(byte)]) }
            }
            symbol = scratch.next[Int(symbol)]
        }
    }

    /// The bytes of the UTF-8 character that starts with `lead` (1 for a stray continuation byte), as
    /// llama.cpp's `unicode_len_utf8` counts them.
    static func characterLength(_ lead: UInt8) -> Int {
        switch lead >> 4 {
        case 0xC, 0xD: 2
        case 0xE: 3
        case 0xF: 4
        default: 1
        }
    }

    private func addCandidate(
        _ left: Int32, _ right: Int32, _ text: UnsafeBufferPointer<UInt8>, _ scratch: inout Scratch
    ) {
        guard left >= 0, right >= 0 else { return }
        let start = Int(scratch.starts[Int(left)])
        let length = Int(scratch.lengths[Int(left)] + scratch.lengths[Int(right)])
        guard length <= longestToken,
            let id = tokenIDs[
                String(decoding: UnsafeBufferPointer(rebasing: text[start..<start + length]), as: UTF8.self)]
        else { return }
        let candidate = Candidate(score: scores[Int(id)], left: left, right: right, length: Int32(length))
        scratch.heap.push(candidate)
    }
}
