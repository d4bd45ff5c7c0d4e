import AgoraCore

/// A JSON Schema compiled to the grammar a constrained answer follows: one node per schema (shared through
/// `$ref`, so recursive schemas stay finite), each saying what value may stand there.
///
/// The grammar only ever produces instances of the schema (a subset of them): object properties come in the
/// schema's order, each required one present, optional ones free to be left out, no properties beyond the
/// listed ones. Because a pushdown matcher (`GrammarMatcher`) runs it, optional properties cost nothing:
/// unlike a grammar that spells out every subset of them as alternatives (llama.cpp's
/// `json-schema-to-grammar`), its size is linear in the schema's.
public struct JSONGrammar: Sendable, Equatable {
    public indirect enum Node: Sendable, Equatable {
        /// Any JSON value.
        case any
        /// Properties in order; `extra` is the value node of keys beyond them (nil: no other keys). Only an
        /// object schema without `properties` gets extra keys (a map), so answers stay instances.
        case object(properties: [Property], extra: Int?)
        case array(items: Int, minItems: Int, maxItems: Int?)
        case string
        case number(integer: Bool)
        /// One of these exact texts (`enum`, `const`, `true`/`false`, `null`), in canonical JSON.
        case literals([[UInt8]])
        case anyOf([Int])
        /// These nodes one after the other (tool-call framing: literal text, a JSON value, literal text).
        case sequence([Int])
        /// `item`, then up to `maxCount - 1` more of `more` (at least once; nil: no limit).
        case repeated(item: Int, more: Int, maxCount: Int?)
    }

    public struct Property: Sendable, Equatable {
        public var name: String
        /// The key as it is written: the name in canonical JSON, closing quote included, opening one not.
        public var keyTail: [UInt8]
        public var value: Int
        public var required: Bool
    }

    public private(set) var nodes: [Node]
    public let root: Int

    /// Most literals one node may hold (`enum`): the matcher tracks them in one 64-bit mask.
    public static let maxLiterals = 64

    /// Nodes every grammar starts with, at these indices: any value (0), any object (1), any array (2), a
    /// string (3), a number (4), `true`/`false`/`null` (5). A value of node 0 is one of 1–5.
    static let helpers: [Node] = [
        .any, .object(properties: [], extra: 0), .array(items: 0, minItems: 0, maxItems: nil), .string,
        .number(integer: false), .literals([Array("true".utf8), Array("false".utf8), Array("null".utf8)]),
    ]
    static let anyValueNodes = [1, 2, 3, 4, 5]

    /// A grammar for "any JSON object" (`response_format: json_object`).
    public static let anyObject = JSONGrammar(nodes: helpers, root: 1)

    init(nodes: [Node], root: Int) {
        self.nodes = nodes
        self.root = root
    }

    /// The grammar of an answer that calls tools, in `ToolFormat`'s framing: `<tool_call>\n` + a JSON object
    /// `{"name": <one of the names>, "arguments": <an instance of that tool's parameters>}` + `\n</tool_call>`,
    /// then (when `parallel`) more such calls, each after a newline. `only` restricts the calls to one tool.
    /// With `framed: false` (Llama 3.1's format) the answer is one bare call object whose arguments go under
    /// `argumentsKey`.
    public static func toolCalls(
        _ tools: [(name: String, parameters: JSONValue)], parallel: Bool, framed: Bool = true,
        argumentsKey: String = "arguments"
    ) throws(SchemaError) -> JSONGrammar {
        var compiler = SchemaCompiler(root: .null)
        var calls: [Int] = []
        for (index, tool) in tools.enumerated() {
            compiler.begin(root: tool.parameters)
            let arguments: Int
            do { arguments = try compiler.compile(tool.parameters, path: "") } catch {
                throw SchemaError(path: "/\(index)" + error.path, error.reason)
            }
            let name = compiler.add(.literals([Array(JSONValue.string(tool.name).canonicalText.utf8)]))
            func key(_ text: String) -> [UInt8] { Array(text.utf8) + [UInt8(ascii: "\"")] }
            calls.append(
                compiler.add(
                    .object(
                        properties: [
                            Property(name: "name", keyTail: key("name"), value: name, required: true),
                            Property(name: argumentsKey, keyTail: key(argumentsKey), value: arguments, required: true),
                        ], extra: nil)))
        }
        let call = calls.count == 1 ? calls[0] : compiler.add(.anyOf(calls))
        guard framed else {
            let grammar = JSONGrammar(nodes: compiler.nodes, root: call)
            try grammar.checkCycles()
            return grammar
        }
        let open = compiler.add(.literals([Array("<tool_call>\n".utf8)]))
        let close = compiler.add(.literals([Array("\n</tool_call>".utf8)]))
        let block = compiler.add(.sequence([open, call, close]))
        let newline = compiler.add(.literals([[UInt8(ascii: "\n")]]))
        let more = compiler.add(.sequence([newline, block]))
        let root = compiler.add(.repeated(item: block, more: more, maxCount: parallel ? nil : 1))
        let grammar = JSONGrammar(nodes: compiler.nodes, root: root)
        try grammar.checkCycles()
        return grammar
    }

    /// Compiles a schema. Every keyword is either honoured, an annotation with no effect on validity
    /// (`title`, `description`, `default`, `examples`, `$schema`, `$id`, `$comment`, `deprecated`,
    /// `readOnly`, `writeOnly`), or refused with the path of the schema that uses it.
    public init(schema: JSONValue) throws(SchemaError) {
        var compiler = SchemaCompiler(root: schema)
        let root = try compiler.compile(schema, path: "")
        self.init(nodes: compiler.nodes, root: root)
        try checkCycles()
    }

    /// A value must start with a byte: an `anyOf` that reaches itself through `anyOf`s alone (a `$ref`
    /// to itself) never would.
    func checkCycles() throws(SchemaError) {
        for start in nodes.indices {
            var seen = Set<Int>()
            var stack = [start]
            while let node = stack.popLast() {
                // What a value of `node` starts with, without consuming a byte.
                let firsts: [Int]
                switch nodes[node] {
                case .anyOf(let alternatives): firsts = alternatives
                case .sequence(let elements): firsts = [elements[0]]
                case .repeated(let item, _, _): firsts = [item]
                default: continue
                }
                for next in firsts {
                    if next == start { throw SchemaError(path: "/$ref", "a schema that is only a reference to itself") }
                    if seen.insert(next).inserted { stack.append(next) }
                }
            }
        }
    }
}

/// Why a schema cannot be used for constrained decoding.
public struct SchemaError: Error, Sendable, Equatable, CustomStringConvertible {
    /// JSON-pointer-like path of the offending keyword inside the schema (`/properties/age/minimum`).
    public var path: String
    public var reason: String

    public init(path: String, _ reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path.isEmpty ? "/" : path): \(reason)" }
}

/// Turns schemas into grammar nodes, resolving `$ref`s to `#/$defs/…` or `#/definitions/…` once each.
struct SchemaCompiler {
    var root: JSONValue
    var nodes: [JSONGrammar.Node] = JSONGrammar.helpers
    /// Nodes of `$ref` targets, filled before their bodies so a recursive reference finds its own node.
    var references: [String: Int] = [:]

    static let annotations: Set<String> = [
        "title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly",
        "writeOnly", "$defs", "definitions",
    ]
    static let types = ["object", "array", "string", "number", "integer", "boolean", "null"]

    init(root: JSONValue) { self.root = root }

    /// Starts on another schema document (its own `$defs`).
    mutating func begin(root: JSONValue) {
        self.root = root
        references = [:]
    }

    mutating func add(_ node: JSONGrammar.Node) -> Int {
        nodes.append(node)
        return nodes.count - 1
    }

    mutating func compile(_ schema: JSONValue, path: String) throws(SchemaError) -> Int {
        if case .bool(true) = schema { return 0 }
        guard case .object(let members) = schema else {
            throw SchemaError(path: path, "a schema must be an object (or true)")
        }
        let keys = Set(members.map(\.key))
        if let reference = schema["$ref"] {
            guard keys.subtracting(Self.annotations).subtracting(["$ref"]).isEmpty else {
                let other = keys.subtracting(Self.annotations).subtracting(["$ref"]).sorted()[0]
                throw SchemaError(path: path + "/" + other, "'\(other)' beside '$ref' is not supported")
            }
            return try resolve(reference, path: path + "/$ref")
        }
        if let variants = schema["anyOf"] ?? schema["allOf"] {
            let keyword = schema["anyOf"] != nil ? "anyOf" : "allOf"
            let rest = keys.subtracting(Self.annotations).subtracting([keyword])
            guard rest.isEmpty else {
                throw SchemaError(
                    path: path + "/" + rest.sorted()[0], "'\(rest.sorted()[0])' beside '\(keyword)' is not supported")
            }
            guard let list = variants.arrayValue, !list.isEmpty else {
                throw SchemaError(path: path + "/" + keyword, "must be a non-empty array")
            }
            if keyword == "allOf" {
                // One subschema is that subschema (what pydantic writes around a `$ref`); more would need
                // intersecting schemas.
                guard list.count == 1 else {
                    throw SchemaError(path: path + "/allOf", "'allOf' with more than one schema is not supported")
                }
                return try compile(list[0], path: path + "/allOf/0")
            }
            var alternatives: [Int] = []
            for (index, variant) in list.enumerated() {
                alternatives.append(try compile(variant, path: path + "/anyOf/\(index)"))
            }
            return alternatives.count == 1 ? alternatives[0] : add(.anyOf(alternatives))
        }
        if let values = schema["enum"] ?? schema["const"] {
            let keyword = schema["enum"] != nil ? "enum" : "const"
            let rest = keys.subtracting(Self.annotations).subtracting([keyword, "type"])
            guard rest.isEmpty else {
                throw SchemaError(
                    path: path + "/" + rest.sorted()[0], "'\(rest.sorted()[0])' beside '\(keyword)' is not supported")
            }
            let list = keyword == "enum" ? values.arrayValue : [values]
            guard let list, !list.isEmpty, list.count <= JSONGrammar.maxLiterals else {
                throw SchemaError(path: path + "/" + keyword, "must list 1 to \(JSONGrammar.maxLiterals) values")
            }
            if let type = schema["type"] {
                let allowed = try Self.typeNames(type, path: path + "/type")
                for (index, value) in list.enumerated() where !allowed.contains(where: { Self.value(value, is: $0) }) {
                    throw SchemaError(path: path + "/\(keyword)/\(index)", "the value is not of the schema's type")
                }
            }
            return add(.literals(list.map { Array($0.canonicalText.utf8) }))
        }
        for key in keys.sorted() where !Self.annotations.contains(key) && !Self.structural.contains(key) {
            throw SchemaError(path: path + "/" + key, "keyword '\(key)' is not supported")
        }
        guard let type = schema["type"] else {
            guard keys.isDisjoint(with: Self.structural) else {
                let key = keys.intersection(Self.structural).sorted()[0]
                throw SchemaError(path: path + "/" + key, "'\(key)' needs a 'type'")
            }
            return 0
        }
        let names = try Self.typeNames(type, path: path + "/type")
        var alternatives: [Int] = []
        for name in names { alternatives.append(try compile(type: name, schema, path: path)) }
        return alternatives.count == 1 ? alternatives[0] : add(.anyOf(alternatives))
    }

    /// Keywords that shape a typed schema.
    static let structural: Set<String> = [
        "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems",
    ]

    static func typeNames(_ type: JSONValue, path: String) throws(SchemaError) -> [String] {
        let names: [String]
        if let single = type.stringValue {
            names = [single]
        } else if let list = type.arrayValue, !list.isEmpty, list.allSatisfy({ $0.stringValue != nil }) {
            names = list.compactMap(\.stringValue)
        } else {
            throw SchemaError(path: path, "must be a type name or a non-empty array of them")
        }
        for name in names where !types.contains(name) { throw SchemaError(path: path, "unknown type '\(name)'") }
        guard Set(names).count == names.count else { throw SchemaError(path: path, "a type is listed twice") }
        return names
    }

    static func value(_ value: JSONValue, is type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object),
            ("number", .number):
            return true
        case ("integer", .number(let text)): return !text.contains { $0 == "." || $0 == "e" || $0 == "E" }
        default: return false
        }
    }

    mutating func compile(type: String, _ schema: JSONValue, path: String) throws(SchemaError) -> Int {
        func refuse(_ keys: [String]) throws(SchemaError) {
            for key in keys where schema[key] != nil {
                throw SchemaError(path: path + "/" + key, "'\(key)' does not apply to type '\(type)'")
            }
        }
        switch type {
        case "string":
            try refuse(["properties", "required", "additionalProperties", "items", "minItems", "maxItems"])
            return add(.string)
        case "number", "integer":
            try refuse(["properties", "required", "additionalProperties", "items", "minItems", "maxItems"])
            return add(.number(integer: type == "integer"))
        case "boolean":
            try refuse(["properties", "required", "additionalProperties", "items", "minItems", "maxItems"])
            return add(.literals([Array("true".utf8), Array("false".utf8)]))
        case "null":
            try refuse(["properties", "required", "additionalProperties", "items", "minItems", "maxItems"])
            return add(.literals([Array("null".utf8)]))
        case "array":
            try refuse(["properties", "required", "additionalProperties"])
            let minItems = try count(schema["minItems"], path: path + "/minItems") ?? 0
            let maxItems = try count(schema["maxItems"], path: path + "/maxItems")
            if let maxItems, maxItems < minItems {
                throw SchemaError(path: path + "/maxItems", "is below minItems")
            }
            let node = add(.any)
            let items = try schema["items"].map { item throws(SchemaError) in try compile(item, path: path + "/items") }
            nodes[node] = .array(items: items ?? 0, minItems: minItems, maxItems: maxItems)
            return node
        default:  // object
            try refuse(["items", "minItems", "maxItems"])
            let node = add(.any)
            var properties: [JSONGrammar.Property] = []
            var required = Set<String>()
            if let list = schema["required"] {
                guard let names = list.arrayValue, names.allSatisfy({ $0.stringValue != nil }) else {
                    throw SchemaError(path: path + "/required", "must be an array of property names")
                }
                required = Set(names.compactMap(\.stringValue))
            }
            let additional = schema["additionalProperties"]
            if let additional, additional.boolValue == nil {
                guard case .object = additional else {
                    throw SchemaError(path: path + "/additionalProperties", "must be a boolean or a schema")
                }
            }
            if let given = schema["properties"] {
                guard case .object(let members) = given else {
                    throw SchemaError(path: path + "/properties", "must be an object")
                }
                for member in members {
                    let value = try compile(member.value, path: path + "/properties/" + member.key)
                    var key = Array(JSONValue.string(member.key).canonicalText.utf8)
                    key.removeFirst()
                    properties.append(
                        .init(name: member.key, keyTail: key, value: value, required: required.contains(member.key)))
                }
            }
            for name in required.sorted() where !properties.contains(where: { $0.name == name }) {
                throw SchemaError(path: path + "/required", "'\(name)' is required but not among the properties")
            }
            var extra: Int?
            if schema["properties"] == nil, additional?.boolValue != false {
                // A map: keys of the model's choosing, values of `additionalProperties` (any when absent).
                extra =
                    try additional.flatMap { value throws(SchemaError) -> Int? in
                        value.boolValue == nil ? try compile(value, path: path + "/additionalProperties") : nil
                    } ?? 0
            }
            nodes[node] = .object(properties: properties, extra: extra)
            return node
        }
    }

    func count(_ value: JSONValue?, path: String) throws(SchemaError) -> Int? {
        guard let value else { return nil }
        guard let count = value.intValue, count >= 0 else {
            throw SchemaError(path: path, "must be a non-negative integer")
        }
        return count
    }

    mutating func resolve(_ reference: JSONValue, path: String) throws(SchemaError) -> Int {
        guard let text = reference.stringValue else { throw SchemaError(path: path, "must be a string") }
        if let node = references[text] { return node }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, parts[0] == "#", parts[1] == "$defs" || parts[1] == "definitions",
            let target = root[parts[1]]?[
                parts[2].replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")]
        else {
            throw SchemaError(path: path, "only references to '#/$defs/<name>' or '#/definitions/<name>' are supported")
        }
        // Reserve the node first: a schema that refers to itself reaches it through an `anyOf` of one.
        let node = add(.any)
        references[text] = node
        let body = try compile(target, path: "/" + parts[1] + "/" + parts[2])
        nodes[node] = .anyOf([body])
        return node
    }
}
