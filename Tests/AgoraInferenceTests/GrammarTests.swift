import AgoraCore
import Foundation
import Testing

@testable import AgoraInference

@Suite("Structured output: schema grammars, the matcher and token masks")
struct GrammarTests {
    static func grammar(_ schema: String) throws -> JSONGrammar { try JSONGrammar(schema: JSONValue.parse(schema)) }

    static func accepts(_ grammar: JSONGrammar, _ text: String) -> Bool {
        var matcher = GrammarMatcher(grammar: grammar)
        return matcher.advance(Array(text.utf8)) && matcher.acceptsEnd
    }

    static let person = """
        {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
         "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}, "maxItems": 2},
         "email": {"type": ["string", "null"]}, "score": {"type": "number"}},
         "required": ["name", "age"], "additionalProperties": false}
        """

    @Test("the matcher accepts the schema's instances and nothing else")
    func matcherFollowsTheSchema() throws {
        let person = try Self.grammar(Self.person)
        for text in [
            #"{"name":"Ann","age":31}"#, #"{"name": "Ann", "age": -0, "score": 1.5e-3}"#,
            #"{"name":"A\"n\u00e9","age":1,"tags":["a","b"],"email":null}"#, #"{"name":"Ünï ✓ 🙂","age":7,"email":"x"}"#,
            "{\n  \"name\": \"Ann\",\n  \"age\": 2\n}", #"{"name":"","age":0,"tags":[]}"#,
        ] {
            #expect(Self.accepts(person, text), "\(text)")
        }
        for text in [
            #"{"age":31,"name":"Ann"}"#, #"{"name":"Ann"}"#, #"{"name":"Ann","age":3.5}"#, #"{"name":"Ann","age":01}"#,
            #"{"name":"Ann","age":1,"tags":["c"]}"#, #"{"name":"Ann","age":1,"tags":["a","b","a"]}"#,
            #"{"name":"Ann","age":1,}"#, #"{"name":"Ann","age":1,"other":1}"#, #"{"name":"A\x","age":1}"#,
            "{\"name\":\"A\u{01}\",\"age\":1}", #"{"name":"Ann","age":1} "#, #"{"name":"Ann","age":1}}"#,
            #"{"name":"Ann","age":1e5}"#, #"{"name":"Ann","age":12345678901234567}"#,
        ] {
            #expect(!Self.accepts(person, text), "\(text)")
        }
        // Invalid UTF-8 never enters a string: a lone continuation byte, an overlong form, a surrogate.
        for bytes: [UInt8] in [[0x80], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80]] {
            var matcher = GrammarMatcher(grammar: try Self.grammar(#"{"type": "string"}"#))
            let opened = matcher.advance([UInt8(ascii: "\"")])
            let continued = matcher.advance(bytes)
            #expect(opened && !continued)
        }
        // json_object: any object, any nesting; a number at the top level ends with the text.
        #expect(Self.accepts(.anyObject, #"{"a":[1,{"b":null},"x",true],"c":{}}"#))
        #expect(!Self.accepts(.anyObject, "[1]") && !Self.accepts(.anyObject, "{"))
        #expect(Self.accepts(try Self.grammar(#"{"type": "number"}"#), "-12.5E+3"))
        #expect(Self.accepts(try Self.grammar(#"{"enum": [1, 12, "x"]}"#), "1"))
        #expect(Self.accepts(try Self.grammar(#"{"enum": [1, 12, "x"]}"#), "12"))
        #expect(!Self.accepts(try Self.grammar(#"{"enum": [1, 12, "x"]}"#), "2"))
    }

    @Test("anyOf, $ref (recursive too), maps and array bounds")
    func composition() throws {
        let tree = try Self.grammar(
            ##"{"$defs": {"Node": {"type": "object", "properties": {"v": {"type": "integer"}, "kids": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}, "required": ["v"]}}, "$ref": "#/$defs/Node"}"##
        )
        #expect(Self.accepts(tree, #"{"v":1,"kids":[{"v":2},{"v":3,"kids":[{"v":4}]}]}"#))
        #expect(!Self.accepts(tree, #"{"v":1,"kids":[{"kids":[]}]}"#))
        let union = try Self.grammar(
            #"{"anyOf": [{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}, {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "boolean"}}, "required": ["a", "b"]}]}"#
        )
        #expect(Self.accepts(union, #"{"a":"x"}"#) && Self.accepts(union, #"{"a":5,"b":false}"#))
        #expect(!Self.accepts(union, #"{"a":5}"#) && !Self.accepts(union, #"{"a":"x","b":true}"#))
        let map = try Self.grammar(#"{"type": "object", "additionalProperties": {"type": "integer"}}"#)
        #expect(Self.accepts(map, #"{"x":1,"y z":2}"#) && !Self.accepts(map, #"{"x":"1"}"#))
        let bounded = try Self.grammar(
            #"{"type": "array", "items": {"type": "boolean"}, "minItems": 2, "maxItems": 3}"#)
        #expect(!Self.accepts(bounded, "[true]") && Self.accepts(bounded, "[true,false]"))
        #expect(Self.accepts(bounded, "[true,false,true]") && !Self.accepts(bounded, "[true,false,true,true]"))
        // Twenty optional properties: the grammar stays linear (one node each), and any subset in order works.
        var properties: [String] = []
        for index in 0..<20 { properties.append(#""p\#(index)": {"type": "integer"}"#) }
        let wide = try Self.grammar(#"{"type": "object", "properties": {\#(properties.joined(separator: ","))}}"#)
        #expect(wide.nodes.count < JSONGrammar.helpers.count + 25)
        #expect(Self.accepts(wide, #"{"p3":1,"p17":2}"#) && Self.accepts(wide, "{}"))
        #expect(!Self.accepts(wide, #"{"p17":1,"p3":2}"#))
    }

    @Test("unsupported keywords are refused with their path")
    func refusals() {
        let cases: [(String, String)] = [
            (#"{"type": "string", "pattern": "^a"}"#, "/pattern"),
            (#"{"type": "object", "properties": {"n": {"type": "integer", "minimum": 3}}}"#, "/properties/n/minimum"),
            (#"{"type": "string", "format": "email"}"#, "/format"),
            (#"{"oneOf": [{"type": "string"}]}"#, "/oneOf"),
            (#"{"type": "strin"}"#, "/type"),
            (#"{"$ref": "http://example.com/s.json"}"#, "/$ref"),
            (##"{"$defs": {"A": {"$ref": "#/$defs/A"}}, "$ref": "#/$defs/A"}"##, "/$ref"),
            (#"{"type": "object", "required": ["x"]}"#, "/required"),
            (#"{"enum": []}"#, "/enum"),
            (#"{"type": "string", "items": {}}"#, "/items"),
            (#"{"allOf": [{"type": "string"}, {"type": "integer"}]}"#, "/allOf"),
            ("[1]", ""),
        ]
        for (schema, path) in cases {
            #expect(throws: SchemaError.self, "\(schema)") { try Self.grammar(schema) }
            do {
                _ = try Self.grammar(schema)
            } catch let error as SchemaError {
                #expect(error.path == path, "\(schema): \(error)")
            } catch {
                Issue.record("\(schema): \(error)")
            }
        }
    }

    @Test("the trie mask equals trying every token on its own, in every kind of state")
    func maskEqualsBruteForce() throws {
        let tokenizer = EngineTestEngine.engine.tokenizer
        let trie = tokenizer.vocabularyTrie
        let person = try Self.grammar(Self.person)
        for prefix in [
            "", "{", #"{"na"#, #"{"name":"A"#, #"{"name":"A\"#, #"{"name":"Ann","age":1"#, #"{"name":"Ann","age":1,"#,
            #"{"name":"Ann","age":1,"tags":["#, #"{"name":"Ann","age":1}"#, #"{"name":"Ann","age":-"#,
        ] {
            var matcher = GrammarMatcher(grammar: person)
            let advanced = matcher.advance(Array(prefix.utf8))
            #expect(advanced, "\(prefix)")
            var mask = TokenMask(vocabularySize: tokenizer.vocabularySize)
            mask.compute(matcher, trie: trie)
            var expected = [Bool](repeating: false, count: tokenizer.vocabularySize)
            for id in 0..<tokenizer.vocabularySize {
                let token = Int32(id)
                if tokenizer.isEndOfGeneration(token) {
                    expected[id] = matcher.acceptsEnd
                    continue
                }
                let kind = tokenizer.kinds[id]
                guard kind == .normal || kind == .byte || kind == .userDefined else { continue }
                let bytes = tokenizer.tokenBytes(token)
                var copy = matcher
                expected[id] = !bytes.isEmpty && copy.advance(bytes)
            }
            #expect(
                mask.allowed == expected, "\(prefix): \(zip(mask.allowed, expected).filter { $0 != $1 }.count) differ")
            #expect(mask.allowed.contains(true))
        }
    }
}

/// 200 random schemas from the supported subset; for each, an answer is generated through the real
/// vocabulary's token masks (tokens drawn at random among the allowed ones, leaning towards closing
/// strings and containers so answers end), then checked by an independent validator, Python's
/// `jsonschema`, after `json.loads`.
@Suite("Structured output: random schemas")
struct RandomSchemaTests {
    struct Generator {
        var random: Xoshiro256StarStar
        var names = 0

        mutating func chance(_ p: Double) -> Bool { random.nextUnitDouble() < p }
        mutating func pick(_ n: Int) -> Int { Int(random.next() % UInt64(n)) }

        mutating func name() -> String {
            names += 1
            let stems = ["name", "age", "id", "ünï", "a b", "q\"uote", "x", "count", "items", "tag"]
            return stems[pick(stems.count)] + "\(names)"
        }

        mutating func literal() -> String {
            switch pick(4) {
            case 0: return "\(Int(random.next() % 2000) - 1000)"
            case 1: return ["\"red\"", "\"green\"", "\"blue ✓\"", "\"\""][pick(4)]
            case 2: return ["true", "false", "null"][pick(3)]
            default: return "\"v\(pick(100))\""
            }
        }

        mutating func schema(depth: Int) -> String {
            // The top is a container (as tools' parameters are); leaves below depth 3.
            let kind = depth == 0 ? 6 + pick(4) : pick(depth >= 3 ? 6 : 10)
            switch kind {
            case 0: return #"{"type": "string"}"#
            case 1: return #"{"type": "integer"}"#
            case 2: return #"{"type": "number"}"#
            case 3: return #"{"type": "boolean"}"#
            case 4: return chance(0.5) ? #"{"type": ["string", "null"]}"# : #"{"type": "null"}"#
            case 5:
                var values: [String] = []
                for _ in 0..<(1 + pick(4)) {
                    let value = literal()
                    if !values.contains(value) { values.append(value) }
                }
                return chance(0.2) ? #"{"const": \#(values[0])}"# : #"{"enum": [\#(values.joined(separator: ", "))]}"#
            case 6, 7:
                var properties: [String] = []
                var required: [String] = []
                for _ in 0..<(1 + pick(4)) {
                    let key = name()
                    let quoted = String(decoding: try! JSONEncoder().encode(key), as: UTF8.self)
                    properties.append("\(quoted): \(schema(depth: depth + 1))")
                    if chance(0.6) { required.append(quoted) }
                }
                let closed = chance(0.5) ? #", "additionalProperties": false"# : ""
                return
                    #"{"type": "object", "properties": {\#(properties.joined(separator: ", "))}, "required": [\#(required.joined(separator: ", "))]\#(closed), "description": "d"}"#
            case 8:
                let minItems = pick(3)
                let bounds = chance(0.5) ? #", "maxItems": \#(minItems + pick(3))"# : ""
                return #"{"type": "array", "items": \#(schema(depth: depth + 1)), "minItems": \#(minItems)\#(bounds)}"#
            default:
                if chance(0.3) {
                    return #"{"type": "object", "additionalProperties": \#(schema(depth: depth + 1))}"#
                }
                return #"{"anyOf": [\#(schema(depth: depth + 1)), \#(schema(depth: depth + 1))]}"#
            }
        }
    }

    /// Draws an answer token by token from the masks; nil if it did not end within `limit` tokens.
    static func walk(_ grammar: JSONGrammar, tokenizer: Tokenizer, random: inout Xoshiro256StarStar, limit: Int)
        -> [UInt8]?
    {
        let trie = tokenizer.vocabularyTrie
        var matcher = GrammarMatcher(grammar: grammar)
        var mask = TokenMask(vocabularySize: tokenizer.vocabularySize)
        var text: [UInt8] = []
        let quote = tokenizer.encode("\"", parseSpecial: false)
        let closers = Set(
            ["}", "]", "\"", ",", "0", "1", "true", "false", "null"].flatMap {
                tokenizer.encode($0, parseSpecial: false)
            })
        for _ in 0..<limit {
            if matcher.acceptsEnd { return text }
            mask.compute(matcher, trie: trie)
            let allowed = mask.allowed.indices.filter { mask.allowed[$0] && !tokenizer.isEndOfGeneration(Int32($0)) }
            guard !allowed.isEmpty else { return nil }
            var choices = allowed
            let inString = matcher.threads.contains { if case .string(0) = $0.frame { true } else { false } }
            if inString, quote.count == 1, mask.allowed[Int(quote[0])], random.nextUnitDouble() < 0.35 {
                choices = [Int(quote[0])]
            } else if random.nextUnitDouble() < 0.6 {
                let closing = allowed.filter { closers.contains(Int32($0)) }
                if !closing.isEmpty { choices = closing }
            }
            let token = Int32(choices[Int(random.next() % UInt64(choices.count))])
            let bytes = tokenizer.tokenBytes(token)
            let advanced = matcher.advance(bytes)
            #expect(advanced)
            text += bytes
        }
        return nil
    }

    @Test("200 random schemas: every answer drawn through the masks validates with jsonschema")
    func randomSchemas() async throws {
        let tokenizer = EngineTestEngine.engine.tokenizer
        var generator = Generator(random: Xoshiro256StarStar(seed: 2026))
        var random = Xoshiro256StarStar(seed: 7)
        var lines: [String] = []
        var unfinished = 0
        while lines.count < 200 {
            let schema = generator.schema(depth: 0)
            let grammar = try JSONGrammar(schema: JSONValue.parse(schema))
            guard let text = Self.walk(grammar, tokenizer: tokenizer, random: &random, limit: 400) else {
                unfinished += 1
                continue
            }
            let record: [String: String] = ["schema": schema, "text": String(decoding: text, as: UTF8.self)]
            lines.append(String(decoding: try JSONEncoder().encode(record), as: UTF8.self))
        }
        // Walks that did not end within 400 tokens are redrawn: what matters is that every ending answer is
        // valid (the matcher never allows an ending outside the grammar); they stay rare.
        #expect(unfinished < 20)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("agora-schemas-\(UUID()).jsonl")
        try lines.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Clients/validate_schemas.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, file.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.contains("200 of 200 valid"), "\(text)")
    }
}
