import AgoraCore
import AgoraLedger
import Foundation

/// Why an offer spec file was refused: the field at fault (a JSON path) and what is wrong with it.
public struct OfferSpecError: Error, Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var reason: String

    public init(_ field: String, _ reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { field.isEmpty ? reason : "\(field): \(reason)" }
}

/// An offer as a seller writes it (`agora ledger register-offer --spec FILE`, and later `agora agent serve
/// --spec FILE`): JSON with the schemas as JSON objects and amounts as `12.5` / `50u`. Every field is checked
/// and named when wrong; unknown fields are refused, so a misspelt key never registers an offer without it.
///
/// ```json
/// {"name": "translate-and-check", "description": "…", "tags": ["translation"],
///  "inputSchema": {"type": "object", …}, "outputSchema": {"type": "object", …},
///  "price": {"perCall": "50u"}, "models": ["<sha-256>"], "offers": [],
///  "verification": {"reexecute": "<pipeline sha-256>"}, "endpoint": "http://127.0.0.1:9000"}
/// ```
public enum OfferSpec {
    static let fields: Set<String> = [
        "name", "description", "tags", "inputSchema", "outputSchema", "price", "models", "offers", "verification",
        "endpoint",
    ]

    /// The registration a spec describes; `parseAmount` reads amounts as the CLI does.
    public static func registration(
        _ data: Data, parseAmount: (String) throws -> Amount
    ) throws(OfferSpecError) -> OfferRegistration {
        let document: JSONValue
        do { document = try JSONValue.parse(Array(data)) } catch {
            throw OfferSpecError("", "the spec is not JSON: \(error)")
        }
        guard case .object(let members) = document else { throw OfferSpecError("", "the spec must be a JSON object") }
        var values: [String: JSONValue] = [:]
        for (key, value) in members {
            guard fields.contains(key) else { throw OfferSpecError(key, "unknown field") }
            guard values.updateValue(value, forKey: key) == nil else { throw OfferSpecError(key, "given twice") }
        }
        func string(_ key: String, required: Bool = true) throws(OfferSpecError) -> String {
            guard let value = values[key] else {
                if required { throw OfferSpecError(key, "missing") }
                return ""
            }
            guard case .string(let text) = value else { throw OfferSpecError(key, "must be a string") }
            return text
        }
        func strings(_ key: String) throws(OfferSpecError) -> [String] {
            guard let value = values[key] else { return [] }
            guard case .array(let items) = value else { throw OfferSpecError(key, "must be an array of strings") }
            var result: [String] = []
            for (index, item) in items.enumerated() {
                guard case .string(let text) = item else { throw OfferSpecError("\(key).\(index)", "must be a string") }
                result.append(text)
            }
            return result
        }
        func hashes(_ key: String) throws(OfferSpecError) -> [Hash256] {
            var result: [Hash256] = []
            for (index, text) in try strings(key).enumerated() {
                guard let hash = Hash256(hex: text) else {
                    throw OfferSpecError("\(key).\(index)", "must be a SHA-256 in hex")
                }
                result.append(hash)
            }
            return result
        }
        func schema(_ key: String) throws(OfferSpecError) -> String {
            guard let value = values[key] else { throw OfferSpecError(key, "missing") }
            guard case .object = value else { throw OfferSpecError(key, "must be a JSON Schema object") }
            return value.canonicalText
        }
        func single(_ key: String) throws(OfferSpecError) -> (String, JSONValue) {
            guard case .object(let members)? = values[key], members.count == 1 else {
                throw OfferSpecError(key, "must be an object with exactly one member")
            }
            return (members[0].key, members[0].value)
        }

        let (priceKind, priceValue) = try single("price")
        guard case .string(let priceText) = priceValue else {
            throw OfferSpecError("price.\(priceKind)", "must be an amount string such as \"50u\" or \"0.5\"")
        }
        let amount: Amount
        do { amount = try parseAmount(priceText) } catch {
            throw OfferSpecError("price.\(priceKind)", "\(error)")
        }
        let pricing: OfferPricing
        switch priceKind {
        case "perCall": pricing = .perCall(amount)
        case "perToken": pricing = .perToken(amount)
        default: throw OfferSpecError("price.\(priceKind)", "unknown pricing (perCall or perToken)")
        }
        let (policyKind, policyValue) = try single("verification")
        guard case .string(let policyText) = policyValue, let policyHash = Hash256(hex: policyText) else {
            throw OfferSpecError("verification.\(policyKind)", "must be a SHA-256 in hex")
        }
        let verification: VerificationPolicy
        switch policyKind {
        case "reexecute": verification = .reexecute(pipeline: policyHash)
        case "evaluator": verification = .evaluator(offer: policyHash)
        default: throw OfferSpecError("verification.\(policyKind)", "unknown policy (reexecute or evaluator)")
        }
        let registration = OfferRegistration(
            name: try string("name"), description: try string("description", required: false),
            tags: try strings("tags"), inputSchema: try schema("inputSchema"), outputSchema: try schema("outputSchema"),
            pricing: pricing, models: try hashes("models"), offers: try hashes("offers"), verification: verification,
            endpoint: try string("endpoint"))
        // The limits the ledger's decoder enforces, named here rather than as a malformed transaction.
        for (key, text, limit) in [
            ("name", registration.name, OfferRegistration.maximumNameBytes),
            ("description", registration.description, OfferRegistration.maximumDescriptionBytes),
            ("inputSchema", registration.inputSchema, OfferRegistration.maximumSchemaBytes),
            ("outputSchema", registration.outputSchema, OfferRegistration.maximumSchemaBytes),
            ("endpoint", registration.endpoint, OfferRegistration.maximumEndpointBytes),
        ] where text.utf8.count > limit {
            throw OfferSpecError(key, "longer than \(limit) bytes")
        }
        guard registration.tags.count <= OfferRegistration.maximumTags else {
            throw OfferSpecError("tags", "more than \(OfferRegistration.maximumTags) tags")
        }
        for (index, tag) in registration.tags.enumerated() where tag.utf8.count > OfferRegistration.maximumTagBytes {
            throw OfferSpecError("tags.\(index)", "longer than \(OfferRegistration.maximumTagBytes) bytes")
        }
        for key in ["models", "offers"]
        where (values[key].map { if case .array(let a) = $0 { a.count } else { 0 } } ?? 0)
            > OfferRegistration.maximumDependencies
        {
            throw OfferSpecError(key, "more than \(OfferRegistration.maximumDependencies) entries")
        }
        do { try registration.validate() } catch {
            if case .invalidRegistration(let why) = error { throw OfferSpecError("", why) }
            throw OfferSpecError("", "\(error)")
        }
        return registration
    }
}
