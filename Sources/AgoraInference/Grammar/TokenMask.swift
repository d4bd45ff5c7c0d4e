import Synchronization

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
    /// Tokens with a `"` among their bytes (and those bytes): the only ones that can end a string.
    let quoteTokens: [(token: Int32, bytes: [UInt8])]
    /// Per string state: which tokens keep a string open from that state (`interior(_:)`), built on first use.
    private let interiors = Mutex<[Int8: [Bool]]>([:])

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
        quoteTokens = entries.filter { $0.bytes.contains(UInt8(ascii: "\"")) }.map { ($0.token, $0.bytes) }
            .sorted { $0.token < $1.token }
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

    /// The tokens whose every byte continues a string from string state `state` without ending it (a
    /// property of the vocabulary alone, so computed once per state).
    func interior(_ state: Int8) -> [Bool] {
        if let cached = interiors.withLock({ $0[state] }) { return cached }
        var allowed = [Bool](repeating: false, count: vocabularySize)
        func walk(_ node: Int, _ state: Int8) {
            for child in Int(childStart[node])..<Int(childStart[node + 1]) {
                guard let next = GrammarMatcher.stepString(state, childBytes[child]) else { continue }
                let target = Int(childNodes[child])
                for slot in Int(tokenStart[target])..<Int(tokenStart[target + 1]) { allowed[Int(tokens[slot])] = true }
                walk(target, next)
            }
        }
        walk(0, state)
        interiors.withLock { $0[state] = allowed }
        return allowed
    }
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
        if matcher.threads.count == 1, case .string(let state) = matcher.threads[0].frame {
            // Inside a string, the state most answer tokens are in: the tokens that stay inside are a fixed
            // set per string state; only the few with a quote can end it, and they are tried one by one.
            allowed = trie.interior(state)
            for (token, bytes) in trie.quoteTokens where !allowed[Int(token)] {
                var copy = matcher
                if copy.advance(bytes) { allowed[Int(token)] = true }
            }
            if matcher.acceptsEnd {
                for token in trie.endTokens where Int(token) < allowed.count { allowed[Int(token)] = true }
            }
            return
        }
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
        if threads.count == 1, case .string(let state) = pool[threads.lowerBound].frame {
            return visitString(node, state: state, thread: threads.lowerBound, trie: trie, grammar: grammar)
        }
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
            if mark(target, trie) { any = true }
            if visit(target, threads: start..<pool.count, trie: trie, grammar: grammar) { any = true }
            pool.removeLast(pool.count - start)
        }
        return any
    }

    /// Allows the tokens that end at trie node `node`; true if there are any.
    private mutating func mark(_ node: Int, _ trie: VocabularyTrie) -> Bool {
        let range = Int(trie.tokenStart[node])..<Int(trie.tokenStart[node + 1])
        for slot in range { allowed[Int(trie.tokens[slot])] = true }
        return !range.isEmpty
    }

    /// The walk inside a string, the state most of an answer's tokens are in and where nearly the whole
    /// vocabulary is allowed: only the string's small state changes from byte to byte, so no thread is
    /// copied until a byte ends the string (then the general walk takes over from the thread below it).
    private mutating func visitString(
        _ node: Int, state: Int8, thread: Int, trie: VocabularyTrie, grammar: JSONGrammar
    ) -> Bool {
        var any = false
        for child in Int(trie.childStart[node])..<Int(trie.childStart[node + 1]) {
            let byte = trie.childBytes[child]
            let target = Int(trie.childNodes[child])
            if let next = GrammarMatcher.stepString(state, byte) {
                if mark(target, trie) { any = true }
                if visitString(target, state: next, thread: thread, trie: trie, grammar: grammar) { any = true }
            } else if state == 0, byte == UInt8(ascii: "\""), let popped = pool[thread].popped {
                let start = pool.count
                pool.append(popped)
                if mark(target, trie) { any = true }
                if visit(target, threads: start..<pool.count, trie: trie, grammar: grammar) { any = true }
                pool.removeLast(pool.count - start)
            }
        }
        return any
    }
}
