/// Byte-pair merging over token ids, in the order llama.cpp applies merges: repeatedly the adjacent pair
/// with the lowest merge rank, the leftmost one among equals.
///
/// Symbols start as one per byte of the word (each byte's one-character token in the byte-level alphabet)
/// and are merged in id space: the merge table maps a pair of ids to its rank and the id of the merged
/// text. Merge parts or results that are not vocabulary tokens get "virtual" ids past the vocabulary, so the
/// merge sequence is exactly the one a string-based implementation would follow; a virtual symbol left at the
/// end is emitted byte by byte, as llama.cpp does.
struct BytePairMerger: Sendable {
    /// `left << 32 | right` → `rank << 32 | merged`.
    let merges: [UInt64: UInt64]
    /// The symbol id for each byte value.
    let byteSymbols: [Int32]
    /// Texts of virtual ids (index `id - vocabularySize`).
    let virtualTexts: [String]
    let vocabularySize: Int

    init(
        mergeTexts: [(String, String)], tokenIDs: [String: Int32], vocabularySize: Int
    ) {
        var virtualIDs: [String: Int32] = [:]
        var virtualTexts: [String] = []
        func id(_ text: String) -> Int32 {
            if let id = tokenIDs[text] ?? virtualIDs[text] { return id }
            let id = Int32(vocabularySize + virtualTexts.count)
            virtualIDs[text] = id
            virtualTexts.append(text)
            return id
        }
        byteSymbols = (0..<256).map { byte in
            id(String(Unicode.Scalar(ByteLevelAlphabet.scalarForByte[byte])!))
        }
        var merges: [UInt64: UInt64] = [:]
        merges.reserveCapacity(mergeTexts.count)
        for (rank, (left, right)) in mergeTexts.enumerated() {
            let key = UInt64(UInt32(id(left))) << 32 | UInt64(UInt32(id(right)))
            let value = UInt64(rank) << 32 | UInt64(UInt32(id(left + right)))
            // A repeated pair keeps its first (lowest) rank, as a rank lookup table built in order would.
            if merges[key] == nil { merges[key] = value }
        }
        self.merges = merges
        self.virtualTexts = virtualTexts
        self.vocabularySize = vocabularySize
    }

    /// Reusable buffers for `merge`, so encoding a long text allocates per call, not per word.
    struct Scratch {
        var ids: [Int32] = []
        var next: [Int32] = []
        var previous: [Int32] = []
        var heap = PriorityHeap<Candidate>()
    }

    struct Candidate: HeapPriority {
        /// `rank << 32 | left`: the heap order (lowest rank, then leftmost).
        var key: UInt64
        var right: Int32
        var leftID: Int32
        var rightID: Int32

        func precedes(_ other: Candidate) -> Bool { key < other.key }
    }

    /// Merges the bytes of one word and appends the resulting symbol ids (real or virtual) to `output`.
    func merge(_ bytes: UnsafeBufferPointer<UInt8>, scratch: inout Scratch, into output: inout [Int32]) {
        let n = bytes.count
        if n == 0 { return }
        if n == 1 {
            output.append(byteSymbols[Int(bytes[0])])
            return
        }
        scratch.ids.removeAll(keepingCapacity: true)
        scratch.next.removeAll(keepingCapacity: true)
        scratch.previous.removeAll(keepingCapacity: true)
        scratch.heap.removeAll()
        for i in 0..<n {
            scratch.ids.append(byteSymbols[Int(bytes[i])])
            scratch.next.append(i + 1 < n ? Int32(i + 1) : -1)
            scratch.previous.append(Int32(i - 1))
        }
        for i in 0..<n - 1 { push(left: Int32(i), right: Int32(i + 1), &scratch) }

        while let candidate = scratch.heap.pop() {
            let left = Int(candidate.key & 0xFFFF_FFFF)
            let right = Int(candidate.right)
            // Skip candidates made stale by an earlier merge of either symbol.
            guard scratch.ids[left] == candidate.leftID, scratch.ids[right] == candidate.rightID,
                scratch.next[left] == candidate.right
            else { continue }
            let merged = merges[UInt64(UInt32(candidate.leftID)) << 32 | UInt64(UInt32(candidate.rightID))]!
            scratch.ids[left] = Int32(truncatingIfNeeded: merged)
            scratch.ids[right] = -1
            let after = scratch.next[right]
            scratch.next[left] = after
            if after >= 0 { scratch.previous[Int(after)] = Int32(left) }
            let before = scratch.previous[left]
            if before >= 0 { push(left: before, right: Int32(left), &scratch) }
            if after >= 0 { push(left: Int32(left), right: after, &scratch) }
        }
        var i: Int32 = 0
        while i >= 0 {
            output.append(scratch.ids[Int(i)])
            i = scratch.next[Int(i)]
        }
    }

    private func push(left: Int32, right: Int32, _ scratch: inout Scratch) {
        let leftID = scratch.ids[Int(left)]
        let rightID = scratch.ids[Int(right)]
        guard let merged = merges[UInt64(UInt32(leftID)) << 32 | UInt64(UInt32(rightID))] else { return }
        let candidate = Candidate(
            key: (merged >> 32) << 32 | UInt64(UInt32(left)), right: right, leftID: leftID, rightID: rightID)
        scratch.heap.push(candidate)
    }
}
