import AgoraCore
import AgoraLedger
import Foundation

/// `response_format` of a chat request, normalized: what the answer must be. Part of the canonical request
/// (option tag 8), so the schema a receipt vouches for is the one the buyer sent, byte for byte in canonical
/// JSON (`JSONValue.canonicalText`, members in the order written).
public struct ResponseFormat: Sendable, Equatable, Codable {
    public enum Kind: UInt8, Sendable, Codable {
        /// Any JSON object.
        case jsonObject = 1
        /// An instance of `schema`.
        case jsonSchema = 2
    }

    public var kind: Kind
    /// The schema's name (`json_schema.name`); empty for `json_object`.
    public var name: String
    /// `json_schema.strict`. Answers are constrained the same way either way (they always follow the
    /// schema); it is kept because the buyer asked for it.
    public var strict: Bool
    /// The schema in canonical JSON text; empty for `json_object`.
    public var schema: String

    public init(kind: Kind, name: String = "", strict: Bool = false, schema: String = "") {
        self.kind = kind
        self.name = name
        self.strict = strict
        self.schema = schema
    }

    /// The schema as a value (it was canonical JSON when this was made).
    public var schemaValue: JSONValue? { kind == .jsonSchema ? try? JSONValue.parse(schema) : nil }

    /// Reads `response_format` from a request body's JSON: nil for absent, `null` or `{"type": "text"}`.
    /// Every other key is refused by name: a schema option the node would not apply must not pass.
    public static func from(_ value: JSONValue?) throws(RequestError) -> ResponseFormat? {
        guard let value, value != .null else { return nil }
        guard case .object(let members) = value, let type = value["type"]?.stringValue else {
            throw RequestError("response_format must be an object with a string 'type'", param: "response_format")
        }
        switch type {
        case "text":
            try RequestError.refuseUnknown(members, allowed: ["type"], path: "response_format")
            return nil
        case "json_object":
            try RequestError.refuseUnknown(members, allowed: ["type"], path: "response_format")
            return ResponseFormat(kind: .jsonObject)
        case "json_schema":
            try RequestError.refuseUnknown(members, allowed: ["type", "json_schema"], path: "response_format")
            guard let spec = value["json_schema"], case .object(let fields) = spec else {
                throw RequestError(
                    "response_format.json_schema must be an object", param: "response_format.json_schema")
            }
            try RequestError.refuseUnknown(
                fields, allowed: ["name", "schema", "strict"], path: "response_format.json_schema")
            guard let name = spec["name"]?.stringValue, ToolSet.isName(name) else {
                throw RequestError(
                    "response_format.json_schema.name must be 1 to 64 letters, digits, '_' or '-'",
                    param: "response_format.json_schema.name")
            }
            let strict = spec["strict"]
            guard strict == nil || strict == .null || strict?.boolValue != nil else {
                throw RequestError(
                    "response_format.json_schema.strict must be a boolean", param: "response_format.json_schema.strict")
            }
            guard let schema = spec["schema"], case .object = schema else {
                throw RequestError(
                    "response_format.json_schema.schema must be a JSON Schema object",
                    param: "response_format.json_schema.schema")
            }
            return ResponseFormat(
                kind: .jsonSchema, name: name, strict: strict?.boolValue ?? false, schema: schema.canonicalText)
        default:
            throw RequestError(
                "response_format type '\(type)' is not supported (text, json_object or json_schema)",
                param: "response_format.type", code: "unsupported_parameter")
        }
    }

    func encode(to writer: inout CanonicalWriter) {
        writer.write(kind.rawValue)
        guard kind == .jsonSchema else { return }
        writer.write(name)
        writer.write(strict)
        writer.write(schema)
    }

    init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        let raw = try reader.readUInt8()
        guard let kind = Kind(rawValue: raw) else { throw .invalidTag(type: "ResponseFormat", tag: raw) }
        self.kind = kind
        guard kind == .jsonSchema else {
            (name, strict, schema) = ("", false, "")
            return
        }
        name = try reader.readString(limit: 64)
        strict = try reader.readBool()
        schema = try reader.readString(limit: RevealedRequest.maxBytes)
        // One encoding per job: the schema text must be its own canonical form.
        guard (try? JSONValue.parse(schema))?.canonicalText == schema else {
            throw .invalidValue("a response format's schema is not canonical JSON")
        }
    }
}
