import AgoraAgents
import AgoraCore
import AgoraLedger
import Foundation
import Testing

/// Offer spec files: a complete spec becomes the registration it describes; every malformed one is refused
/// with the field at fault.
@Suite struct OfferSpecTests {
    static let model = String(repeating: "ab", count: 32)
    static let valid = """
        {"name": "best-of-n", "description": "Three nodes answer; an evaluator picks one.",
         "tags": ["chat", "best-of-n"],
         "inputSchema": {"type": "object", "properties": {"prompt": {"type": "string"}}, "required": ["prompt"]},
         "outputSchema": {"type": "object"},
         "price": {"perCall": "50u"}, "models": ["\(model)"], "offers": [],
         "verification": {"reexecute": "\(String(repeating: "01", count: 32))"},
         "endpoint": "http://127.0.0.1:9100"}
        """

    static func amount(_ text: String) throws -> Amount {
        guard text.hasSuffix("u"), let micro = UInt64(text.dropLast()) else {
            struct Bad: Error, CustomStringConvertible { var description: String }
            throw Bad(description: "not an amount: \(text)")
        }
        return Amount(microUnits: micro)
    }

    static func parse(_ text: String) throws(OfferSpecError) -> OfferRegistration {
        try OfferSpec.registration(Data(text.utf8), parseAmount: amount)
    }

    @Test func aCompleteSpecIsItsRegistration() throws {
        let registration = try Self.parse(Self.valid)
        #expect(registration.name == "best-of-n" && registration.tags == ["chat", "best-of-n"])
        #expect(registration.pricing == .perCall(Amount(microUnits: 50)))
        #expect(registration.models == [Hash256(hex: Self.model)!] && registration.offers.isEmpty)
        #expect(registration.verification == .reexecute(pipeline: Hash256(hex: String(repeating: "01", count: 32))!))
        // Schemas are kept as canonical JSON text (members in the order written).
        #expect(
            registration.inputSchema
                == #"{"type":"object","properties":{"prompt":{"type":"string"}},"required":["prompt"]}"#)
        #expect(try OfferRegistration(canonicalBytes: registration.canonicalBytes) == registration)
    }

    @Test func malformedSpecsNameTheField() {
        func replacing(_ old: String, _ new: String) -> String { Self.valid.replacingOccurrences(of: old, with: new) }
        let cases: [(String, OfferSpecError)] = [
            ("[]", OfferSpecError("", "the spec must be a JSON object")),
            (replacing(#""endpoint""#, #""endpiont""#), OfferSpecError("endpiont", "unknown field")),
            (replacing(#""name": "best-of-n", "#, ""), OfferSpecError("name", "missing")),
            (replacing(#""name": "best-of-n""#, #""name": 3"#), OfferSpecError("name", "must be a string")),
            (
                replacing(#""tags": ["chat", "best-of-n"]"#, #""tags": ["chat", 1]"#),
                OfferSpecError("tags.1", "must be a string")
            ),
            (
                replacing(#""outputSchema": {"type": "object"}"#, #""outputSchema": "object""#),
                OfferSpecError("outputSchema", "must be a JSON Schema object")
            ),
            (
                replacing(#""perCall": "50u""#, #""perMonth": "50u""#),
                OfferSpecError("price.perMonth", "unknown pricing (perCall or perToken)")
            ),
            (
                replacing(#""perCall": "50u""#, #""perCall": 50"#),
                OfferSpecError("price.perCall", #"must be an amount string such as "50u" or "0.5""#)
            ),
            (
                replacing(#""perCall": "50u""#, #""perCall": "fifty""#),
                OfferSpecError("price.perCall", "not an amount: fifty")
            ),
            (
                replacing(#""models": ["\#(Self.model)"]"#, #""models": ["xyz"]"#),
                OfferSpecError("models.0", "must be a SHA-256 in hex")
            ),
            (
                replacing(#""verification": {"reexecute""#, #""verification": {"vote""#),
                OfferSpecError("verification.vote", "unknown policy (reexecute or evaluator)")
            ),
            (
                replacing(#""tags": ["chat", "best-of-n"]"#, #""tags": ["Chat"]"#),
                OfferSpecError("", "tag 'Chat' is not lowercase letters, digits and '-'")
            ),
            (
                replacing(#""endpoint": "http://127.0.0.1:9100""#, #""endpoint": "127.0.0.1:9100""#),
                OfferSpecError("", "the endpoint must be an http(s) URL")
            ),
            (
                replacing(#""name": "best-of-n""#, #""name": "\#(String(repeating: "n", count: 200))""#),
                OfferSpecError("name", "longer than 128 bytes")
            ),
        ]
        for (text, error) in cases {
            #expect(throws: error, "\(error)") { try Self.parse(text) }
        }
        #expect(throws: OfferSpecError.self) { try Self.parse("{") }
    }
}
