/// Follows a `JSONGrammar` byte by byte: a pushdown automaton whose state is a small set of threads (one per
/// way the bytes so far can still be read: `anyOf` alternatives, a number that may go on or end), each a
/// frame plus a persistent stack of frames to return to. Copying a thread is copying a few words, which is
/// what lets `TokenMask` try every token of the vocabulary from one state.
///
/// What it accepts beyond the grammar's values: up to `maxWhitespace` consecutive spaces, tabs or newlines
/// before a value and between the tokens of the JSON text (none after the end); integer parts and fractions
/// of at most `maxDigits` digits, exponents of at most 3 (so an answer cannot grow a number forever).
public struct GrammarMatcher: Sendable {
    public let grammar: JSONGrammar
    private(set) var threads: [Thread]

    public static let maxWhitespace: UInt8 = 8
    public static let maxDigits: Int8 = 16
    /// Threads kept at most (the first ones, in a fixed order): a schema of many overlapping `anyOf`s
    /// cannot make a step's work grow without bound.
    static let maxThreads = 64

    public init(grammar: JSONGrammar) {
        self.grammar = grammar
        threads = [Thread(frame: .value(Int32(grammar.root)), rest: Link(frame: .done, next: nil), whitespace: 0)]
    }

    /// Whether the bytes so far are a complete answer (the end-of-generation token may come now).
    public var acceptsEnd: Bool { threads.contains { Self.acceptsEnd($0, grammar) } }

    /// Whether no continuation is possible (the bytes left the grammar).
    public var isDead: Bool { threads.isEmpty }

    /// Feeds `bytes`; returns false (and keeps the state) if they are not a possible continuation.
    @discardableResult
    public mutating func advance(_ bytes: [UInt8]) -> Bool {
        var current = threads
        var next: [Thread] = []
        for byte in bytes {
            next.removeAll(keepingCapacity: true)
            for thread in current { Self.step(thread, byte, grammar, into: &next) }
            if next.isEmpty { return false }
            if next.count > Self.maxThreads { next.removeLast(next.count - Self.maxThreads) }
            swap(&current, &next)
        }
        threads = current
        return true
    }

    // MARK: The automaton

    /// What a thread is in the middle of. Node and property indices are the grammar's.
    enum Frame: Sendable, Equatable {
        /// A value of `node` starts at the next byte that is not whitespace.
        case value(Int32)
        /// The whole answer is complete.
        case done
        /// After `{`, or after `,` (`comma`): a key, or `}` (not after a comma).
        case objectKey(node: Int32, next: Int32, comma: Bool)
        /// Inside a listed key, after its opening quote: the candidates are properties `base + bit`.
        case key(node: Int32, base: Int32, mask: UInt64, offset: Int32)
        /// After a key: `:`, then a value of `value`, then `objectAfter`.
        case colon(node: Int32, value: Int32, next: Int32)
        /// After a member's value: `,` or `}`.
        case objectAfter(node: Int32, next: Int32)
        /// After `[` (`count` 0) or after `,`: an item (or `]` right after `[`).
        case arrayItem(node: Int32, count: Int32, comma: Bool)
        /// After an item: `,` or `]`.
        case arrayAfter(node: Int32, count: Int32)
        /// Inside a string, after its opening quote (`state`: see `stepString`).
        case string(state: Int8)
        /// Inside a number (`state`: see `stepNumber`).
        case number(integer: Bool, state: Int8, digits: Int8)
        /// Inside one of a node's literals: the candidates are the bits of `mask`, `offset` bytes matched.
        case literal(node: Int32, mask: UInt64, offset: Int32)
        /// Element `index` of a sequence starts at the next byte.
        case sequence(node: Int32, index: Int32)
        /// After `count` items of a repetition: another (its `more` node), or the end of the repetition.
        case repeatAfter(node: Int32, count: Int32)
    }

    /// The frames to return to, innermost first; shared between threads and never mutated.
    final class Link: Sendable {
        let frame: Frame
        let next: Link?

        init(frame: Frame, next: Link?) {
            self.frame = frame
            self.next = next
        }
    }

    struct Thread: Sendable {
        var frame: Frame
        var rest: Link?
        /// Whitespace bytes in a row just before the next byte.
        var whitespace: UInt8

        /// The thread that continues with the frame below this one.
        var popped: Thread? {
            guard let rest else { return nil }
            return Thread(frame: rest.frame, rest: rest.next, whitespace: 0)
        }
    }

    static func isWhitespace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x09 }

    /// Where whitespace may stand: between the tokens of the JSON text.
    static func allowsWhitespace(_ frame: Frame) -> Bool {
        switch frame {
        case .value, .objectKey, .colon, .objectAfter, .arrayItem, .arrayAfter: return true
        default: return false
        }
    }

    /// Whether the thread can end here: it is done, or what it is in can end without another byte and
    /// everything below it can too.
    static func acceptsEnd(_ thread: Thread, _ grammar: JSONGrammar) -> Bool {
        switch thread.frame {
        case .done: return true
        case .number(_, let state, _):
            return [1, 2, 4, 7].contains(state) && thread.popped.map { acceptsEnd($0, grammar) } == true
        case .literal(let node, let mask, let offset):
            guard case .literals(let list) = grammar.nodes[Int(node)],
                list.indices.contains(where: { mask & (1 << UInt64($0)) != 0 && list[$0].count == Int(offset) })
            else { return false }
            return thread.popped.map { acceptsEnd($0, grammar) } == true
        case .repeatAfter: return thread.popped.map { acceptsEnd($0, grammar) } == true
        default: return false
        }
    }

    /// Every thread that `thread` becomes after `byte`, appended to `out`.
    static func step(_ thread: Thread, _ byte: UInt8, _ grammar: JSONGrammar, into out: inout [Thread]) {
        if isWhitespace(byte), allowsWhitespace(thread.frame) {
            if thread.whitespace < maxWhitespace {
                var next = thread
                next.whitespace += 1
                out.append(next)
            }
            // Whitespace ends a number or a literal too; those are handled below.
            return
        }
        var next = thread
        next.whitespace = 0
        switch thread.frame {
        case .done:
            return
        case .value(let node):
            start(Int(node), rest: thread.rest, byte, grammar, into: &out)
        case .objectKey(let node, let index, let comma):
            guard case .object(let properties, let extra) = grammar.nodes[Int(node)] else { return }
            if byte == UInt8(ascii: "\"") {
                if let extra {
                    next.frame = .string(state: 0)
                    next.rest = Link(frame: .colon(node: node, value: Int32(extra), next: 0), next: thread.rest)
                    out.append(next)
                } else if let mask = candidates(properties, from: Int(index)) {
                    next.frame = .key(node: node, base: index, mask: mask, offset: 0)
                    out.append(next)
                }
            } else if byte == UInt8(ascii: "}"), !comma, canClose(properties, extra: extra, from: Int(index)) {
                if let popped = thread.popped { out.append(popped) }
            }
        case .key(let node, let base, let mask, let offset):
            guard case .object(let properties, _) = grammar.nodes[Int(node)] else { return }
            var remaining: UInt64 = 0
            var bits = mask
            while bits != 0 {
                let bit = bits.trailingZeroBitCount
                bits &= bits - 1
                let property = properties[Int(base) + bit]
                guard property.keyTail[Int(offset)] == byte else { continue }
                if property.keyTail.count == Int(offset) + 1 {
                    next.frame = .colon(node: node, value: Int32(property.value), next: base + Int32(bit) + 1)
                    out.append(next)
                    return
                }
                remaining |= 1 << UInt64(bit)
            }
            if remaining != 0 {
                next.frame = .key(node: node, base: base, mask: remaining, offset: offset + 1)
                out.append(next)
            }
        case .colon(let node, let value, let index):
            guard byte == UInt8(ascii: ":") else { return }
            next.frame = .value(value)
            next.rest = Link(frame: .objectAfter(node: node, next: index), next: thread.rest)
            out.append(next)
        case .objectAfter(let node, let index):
            guard case .object(let properties, let extra) = grammar.nodes[Int(node)] else { return }
            if byte == UInt8(ascii: ","), extra != nil || candidates(properties, from: Int(index)) != nil {
                next.frame = .objectKey(node: node, next: index, comma: true)
                out.append(next)
            } else if byte == UInt8(ascii: "}"), canClose(properties, extra: extra, from: Int(index)) {
                if let popped = thread.popped { out.append(popped) }
            }
        case .arrayItem(let node, let count, let comma):
            guard case .array(let items, let minItems, let maxItems) = grammar.nodes[Int(node)] else { return }
            if byte == UInt8(ascii: "]"), !comma, minItems == 0 {
                if let popped = thread.popped { out.append(popped) }
            } else if maxItems.map({ Int(count) < $0 }) ?? true {
                let rest = Link(frame: .arrayAfter(node: node, count: count + 1), next: thread.rest)
                start(items, rest: rest, byte, grammar, into: &out)
            }
        case .arrayAfter(let node, let count):
            guard case .array(_, let minItems, let maxItems) = grammar.nodes[Int(node)] else { return }
            if byte == UInt8(ascii: ","), maxItems.map({ Int(count) < $0 }) ?? true {
                next.frame = .arrayItem(node: node, count: count, comma: true)
                out.append(next)
            } else if byte == UInt8(ascii: "]"), Int(count) >= minItems {
                if let popped = thread.popped { out.append(popped) }
            }
        case .string(let state):
            if let after = stepString(state, byte) {
                next.frame = .string(state: after)
                out.append(next)
            } else if state == 0, byte == UInt8(ascii: "\""), let popped = thread.popped {
                out.append(popped)
            }
        case .number(let integer, let state, let digits):
            if let (after, count) = stepNumber(state, digits: digits, integer: integer, byte) {
                next.frame = .number(integer: integer, state: after, digits: count)
                out.append(next)
            } else if [1, 2, 4, 7].contains(state), let popped = thread.popped {
                // The number ends here: the byte belongs to what follows it.
                step(popped, byte, grammar, into: &out)
            }
        case .literal(let node, let mask, let offset):
            guard case .literals(let list) = grammar.nodes[Int(node)] else { return }
            var advancing: UInt64 = 0
            var complete = false
            var bits = mask
            while bits != 0 {
                let index = bits.trailingZeroBitCount
                bits &= bits - 1
                let literal = list[index]
                if literal.count == Int(offset) {
                    complete = true
                } else if literal[Int(offset)] == byte {
                    advancing |= 1 << UInt64(index)
                }
            }
            if advancing != 0 {
                next.frame = .literal(node: node, mask: advancing, offset: offset + 1)
                out.append(next)
            }
            if complete, let popped = thread.popped { step(popped, byte, grammar, into: &out) }
        case .sequence(let node, let index):
            guard case .sequence(let elements) = grammar.nodes[Int(node)] else { return }
            let rest =
                Int(index) + 1 < elements.count
                ? Link(frame: .sequence(node: node, index: index + 1), next: thread.rest) : thread.rest
            start(elements[Int(index)], rest: rest, byte, grammar, into: &out)
        case .repeatAfter(let node, let count):
            guard case .repeated(_, let more, let maxCount) = grammar.nodes[Int(node)] else { return }
            if maxCount.map({ Int(count) < $0 }) ?? true {
                let rest = Link(frame: .repeatAfter(node: node, count: count + 1), next: thread.rest)
                start(more, rest: rest, byte, grammar, into: &out)
            }
            // The repetition may also end here: the byte belongs to what follows it.
            if let popped = thread.popped { step(popped, byte, grammar, into: &out) }
        }
    }

    /// The threads a value of `node` begins with `byte`.
    static func start(_ node: Int, rest: Link?, _ byte: UInt8, _ grammar: JSONGrammar, into out: inout [Thread]) {
        func push(_ frame: Frame) { out.append(Thread(frame: frame, rest: rest, whitespace: 0)) }
        switch grammar.nodes[node] {
        case .any:
            for helper in JSONGrammar.anyValueNodes { start(helper, rest: rest, byte, grammar, into: &out) }
        case .object:
            if byte == UInt8(ascii: "{") { push(.objectKey(node: Int32(node), next: 0, comma: false)) }
        case .array:
            if byte == UInt8(ascii: "[") { push(.arrayItem(node: Int32(node), count: 0, comma: false)) }
        case .string:
            if byte == UInt8(ascii: "\"") { push(.string(state: 0)) }
        case .number(let integer):
            switch byte {
            case UInt8(ascii: "-"): push(.number(integer: integer, state: 0, digits: 0))
            case UInt8(ascii: "0"): push(.number(integer: integer, state: 2, digits: 1))
            case UInt8(ascii: "1")...UInt8(ascii: "9"): push(.number(integer: integer, state: 1, digits: 1))
            default: break
            }
        case .literals(let list):
            var mask: UInt64 = 0
            for (index, literal) in list.enumerated() where literal.first == byte { mask |= 1 << UInt64(index) }
            if mask != 0 { push(.literal(node: Int32(node), mask: mask, offset: 1)) }
        case .anyOf(let alternatives):
            for alternative in alternatives { start(alternative, rest: rest, byte, grammar, into: &out) }
        case .sequence(let elements):
            let next = elements.count > 1 ? Link(frame: .sequence(node: Int32(node), index: 1), next: rest) : rest
            start(elements[0], rest: next, byte, grammar, into: &out)
        case .repeated(let item, _, _):
            start(
                item, rest: Link(frame: .repeatAfter(node: Int32(node), count: 1), next: rest), byte, grammar,
                into: &out)
        }
    }

    /// The properties a key may name next: from `index` up to and including the first required one (at
    /// most 64 of them), as bits relative to `index`; nil when none is left.
    static func candidates(_ properties: [JSONGrammar.Property], from index: Int) -> UInt64? {
        guard index < properties.count else { return nil }
        var mask: UInt64 = 0
        for offset in 0..<min(64, properties.count - index) {
            mask |= 1 << UInt64(offset)
            if properties[index + offset].required { break }
        }
        return mask
    }

    static func canClose(_ properties: [JSONGrammar.Property], extra: Int?, from index: Int) -> Bool {
        extra != nil || !properties[min(index, properties.count)...].contains { $0.required }
    }

    /// String states: 0 plain; 1 after a backslash; 10 + k: k hex digits of `\u` to go; 20 + k: k UTF-8
    /// continuation bytes to go; 30–33: the second byte of a sequence whose range is narrowed (after E0,
    /// ED, F0, F4: no overlong forms, no surrogates, nothing above U+10FFFF). Nil: the byte does not
    /// continue the string (the closing quote is handled by the caller).
    static func stepString(_ state: Int8, _ byte: UInt8) -> Int8? {
        switch state {
        case 0:
            switch byte {
            case UInt8(ascii: "\""), 0x00..<0x20: return nil
            case UInt8(ascii: "\\"): return 1
            case 0x20..<0x80: return 0
            case 0xC2...0xDF: return 21
            case 0xE0: return 30
            case 0xED: return 31
            case 0xE1...0xEF: return 22
            case 0xF0: return 32
            case 0xF4: return 33
            case 0xF1...0xF3: return 23
            default: return nil
            }
        case 1:
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                return 0
            case UInt8(ascii: "u"): return 14
            default: return nil
            }
        case 11...14:
            let hex =
                (0x30...0x39).contains(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte)
            return hex ? (state == 11 ? 0 : state - 1) : nil
        case 21...23: return (0x80...0xBF).contains(byte) ? (state == 21 ? 0 : state - 1) : nil
        case 30: return (0xA0...0xBF).contains(byte) ? 21 : nil
        case 31: return (0x80...0x9F).contains(byte) ? 21 : nil
        case 32: return (0x90...0xBF).contains(byte) ? 22 : nil
        case 33: return (0x80...0x8F).contains(byte) ? 22 : nil
        default: return nil
        }
    }

    /// Number states: 0 after `-`; 1 integer digits (not starting with 0); 2 a leading 0; 3 after `.`;
    /// 4 fraction digits; 5 after `e`; 6 after the exponent's sign; 7 exponent digits. 1, 2, 4 and 7 may
    /// end. Nil: the byte does not continue the number.
    static func stepNumber(_ state: Int8, digits: Int8, integer: Bool, _ byte: UInt8) -> (Int8, Int8)? {
        let digit = (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        switch state {
        case 0:
            if byte == UInt8(ascii: "0") { return (2, 1) }
            return digit ? (1, 1) : nil
        case 1, 4:
            if digit { return digits < maxDigits ? (state, digits + 1) : nil }
            if integer { return nil }
            if state == 1, byte == UInt8(ascii: ".") { return (3, 0) }
            return byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") ? (5, 0) : nil
        case 2:
            if integer { return nil }
            if byte == UInt8(ascii: ".") { return (3, 0) }
            return byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") ? (5, 0) : nil
        case 3: return digit ? (4, 1) : nil
        case 5:
            if byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") { return (6, 0) }
            return digit ? (7, 1) : nil
        case 6: return digit ? (7, 1) : nil
        case 7: return digit && digits < 3 ? (7, digits + 1) : nil
        default: return nil
        }
    }
}
