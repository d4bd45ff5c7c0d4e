/// The vocabulary as a trie of token bytes: tokens that share a prefix share the work of checking it, and a
/// prefix the grammar refuses rules out every token below it at once.
public final class VocabularyTrie: Sendable {
    /// Children of node `n`: `childBytes/childNodes[childStart[n] ..< childStart[n + 1]]`, by byte.
    let childStart: [Int32]
    let childBytes: [UInt8]
    let childNodes: [Int32]
    /// Tokens whose bytes end at node `n`: `tokens[tokenStart[n] ..< tokenStart[n + 1]]`.
    let tokenStart: [Int32]
    let tokens: [Int32]
    /// End-of-generation tokens: allowed exactly when the grammar accepts the end.
    public let endTokens: [Int32]
    public let vocabularySize: Int

    /// Every token with bytes, except control and unused ones (never part of an answer's text).
    public convenience init(tokenizer: Tokenizer) {
        var entries: [(bytes: [UInt8], token: Int32)] = []
        for id in 0..<tokenizer.vocabularySize {
            let kind = tokenizer.kinds[id]
            guard kind == .normal || kind == .byte || kind == .userDefined else { continue }
            let bytes = tokenizer.tokenBytes(Int32(id))
            if !bytes.isEmpty { entries.append((bytes, Int32(id))) }
        }
        self.init(
            entries: entries, endTokens: tokenizer.endOfGeneration.sorted(), vocabularySize: tokenizer.vocabularySize)
    }

    init(entries: [(bytes: [UInt8], token: Int32)], endTokens: [Int32], vocabularySize: Int) {
        // Build with per-node dictionaries, then flatten breadth-first into arrays sorted by byte.
        var children: [[UInt8: Int32]] = [[:]]
        var ending: [[Int32]] = [[]]
        for entry in entries {
            var node = 0
            for byte in entry.bytes {
                if let child = children[node][byte] {
                    node = Int(child)
                } else {
                    children.append([:])
                    ending.append([])
                    children[node][byte] = Int32(children.count - 1)
                    node = children.count - 1
                }
            }
            ending[node].append(entry.token)
        }
        var order: [Int] = [0]
        var position = [Int32](repeating: 0, count: children.count)
        var index = 0
        while index < order.count {
            for (_, child) in children[order[index]].sorted(by: { $0.key < $1.key }) {
                position[Int(child)] = Int32(order.count)
                order.append(Int(child))
            }
            index += 1
        }
        var childStart: [Int32] = [0]
        var childBytes: [UInt8] = []
        var childNodes: [Int32] = []
        var tokenStart: [Int32] = [0]
        var tokens: [Int32] = []
        for node in order {
            for (byte, child) in children[node].sorted(by: { $0.key < $1.key }) {
                childBytes.append(byte)
                childNodes.append(position[Int(child)])
            }
            childStart.append(Int32(childBytes.count))
            tokens.append(contentsOf: ending[node].sorted())
            tokenStart.append(Int32(tokens.count))
        }
        self.childStart = childStart
        self.childBytes = childBytes
        self.childNodes = childNodes
        self.tokenStart = tokenStart
        self.tokens = tokens
        self.endTokens = endTokens
        self.vocabularySize = vocabularySize
    }

    public var nodeCount: Int { childStart.count - 1 }
}

/// Which tokens may come next under a grammar: every token whose bytes the matcher accepts from its
/// current state, plus the end-of-generation tokens when the answer may end there. The result depends only
/// on the matcher's state and the vocabulary, never on the logits, so a re-execution masks the same tokens.
public struct TokenMask {
    /// `allowed[token]` for the whole vocabulary.
    public private(set) var allowed: [Bool]
    private var pool: [GrammarMatcher.Thread] = []

    public init(vocabularySize: Int) {
        allowed = [Bool](repeating: false, count: vocabularySize)
    }

    /// Recomputes the mask for `matcher`'s state. If no token is possible (the grammar is complete and the
    /// vocabulary has no end token, or nothing continues), the end tokens are allowed so generation stops.
    public mutating func compute(_ matcher: GrammarMatcher, trie: VocabularyTrie) {
        for index in allowed.indices { allowed[index] = false }
        pool.removeAll(keepingCapacity: true)
        pool.append(contentsOf: matcher.threads)
        var any = false
        if !pool.isEmpty { any = visit(0, threads: 0..<pool.count, trie: trie, grammar: matcher.grammar) }
        if matcher.acceptsEnd || !any {
            for token in trie.endTokens where Int(token) < allowed.count { allowed[Int(token)] = true }
        }
    }

    /// Marks the tokens below trie node `node`, reached with the threads `pool[threads]`; true if any.
    private mutating func visit(_ node: Int, threads: Range<Int>, trie: VocabularyTrie, grammar: JSONGrammar) -> Bool {
        var any = false
        for child in Int(trie.childStart[node])..<Int(trie.childStart[node + 1]) {
            let byte = trie.childBytes[child]
            let start = pool.count
            for index in threads { GrammarMatcher.step(pool[index], byte, grammar, into: &pool) }
            guard pool.count > start else { continue }
            if pool.count - start > GrammarMatcher.maxThreads {
                pool.removeLast(pool.count - start - GrammarMatcher.maxThreads)
            }
            let target = Int(trie.childNodes[child])
            for slot in Int(trie.tokenStart[target])..<Int(trie.tokenStart[target + 1]) {
                allowed[Int(trie.tokens[slot])] = true
                any = true
            }
            if visit(target, threads: start..<pool.count, trie: trie, grammar: grammar) { any = true }
            pool.removeLast(pool.count - start)
        }
        return any
    }
}
