import AgoraCore

/// How a service offer is priced.
public enum OfferPricing: Hashable, Sendable, CanonicalCodable, Codable {
    /// A fixed amount per call.
    case perCall(Amount)
    /// An amount per token the service passes through the models it uses (input and output together).
    case perToken(Amount)

    public func encode(to writer: inout CanonicalWriter) {
        switch self {
        case .perCall(let amount):
            writer.write(UInt8(1))
            writer.write(amount)
        case .perToken(let amount):
            writer.write(UInt8(2))
            writer.write(amount)
        }
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        switch try reader.readUInt8() {
        case 1: self = .perCall(try reader.read())
        case 2: self = .perToken(try reader.read())
        case let tag: throw .invalidTag(type: "OfferPricing", tag: tag)
        }
    }

    public var amount: Amount {
        switch self {
        case .perCall(let amount), .perToken(let amount): amount
        }
    }
}

/// How a disputed output of an offer is judged.
public enum VerificationPolicy: Hashable, Sendable, CanonicalCodable, Codable {
    /// The service is a deterministic function of the request, the named models and its published pipeline
    /// (prompts, seeds, settings: the document this hash names), so anyone re-runs it, as for node jobs.
    case reexecute(pipeline: Hash256)
    /// The evaluator offer named here judges a disputed output; its verdict is recorded and paid.
    case evaluator(offer: Hash256)

    public func encode(to writer: inout CanonicalWriter) {
        switch self {
        case .reexecute(let pipeline):
            writer.write(UInt8(1))
            writer.write(pipeline)
        case .evaluator(let offer):
            writer.write(UInt8(2))
            writer.write(offer)
        }
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        switch try reader.readUInt8() {
        case 1: self = .reexecute(pipeline: try reader.read())
        case 2: self = .evaluator(offer: try reader.read())
        case let tag: throw .invalidTag(type: "VerificationPolicy", tag: tag)
        }
    }
}

/// What a seller (an agent, or any key) announces about a service: what it does, what it takes and gives
/// (JSON Schemas, kept as the text the seller wrote), its price, what it depends on and how a dispute over
/// its output is judged. The quality bond is not part of it: it is money, moved by the transactions.
public struct OfferRegistration: Hashable, Sendable, CanonicalCodable, Codable {
    public static let maximumNameBytes = 128
    public static let maximumDescriptionBytes = 4_096
    public static let maximumTags = 16
    public static let maximumTagBytes = 32
    public static let maximumSchemaBytes = 16_384
    public static let maximumEndpointBytes = 256
    public static let maximumDependencies = 32

    public var name: String
    public var description: String
    /// Lowercase words (`a-z`, `0-9`, `-`), each at most once: what search filters on.
    public var tags: [String]
    public var inputSchema: String
    public var outputSchema: String
    public var pricing: OfferPricing
    /// Models the service runs (registered ones: their royalties and provenance apply).
    public var models: [Hash256]
    /// Offers the service hires (live ones).
    public var offers: [Hash256]
    public var verification: VerificationPolicy
    /// Where the service answers (`agora agent serve`): an http(s) URL.
    public var endpoint: String

    public init(
        name: String, description: String, tags: [String], inputSchema: String, outputSchema: String,
        pricing: OfferPricing, models: [Hash256], offers: [Hash256], verification: VerificationPolicy,
        endpoint: String
    ) {
        self.name = name
        self.description = description
        self.tags = tags
        self.inputSchema = inputSchema
        self.outputSchema = outputSchema
        self.pricing = pricing
        self.models = models
        self.offers = offers
        self.verification = verification
        self.endpoint = endpoint
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(name)
        writer.write(description)
        writer.write(UInt32(tags.count))
        for tag in tags { writer.write(tag) }
        writer.write(inputSchema)
        writer.write(outputSchema)
        writer.write(pricing)
        writer.write(models)
        writer.write(offers)
        writer.write(verification)
        writer.write(endpoint)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        name = try reader.readString(limit: Self.maximumNameBytes)
        description = try reader.readString(limit: Self.maximumDescriptionBytes)
        let tagCount = try reader.readUInt32()
        guard tagCount <= Self.maximumTags else {
            throw .lengthOutOfBounds(declared: UInt64(tagCount), limit: Self.maximumTags)
        }
        var tags: [String] = []
        for _ in 0..<tagCount { tags.append(try reader.readString(limit: Self.maximumTagBytes)) }
        self.tags = tags
        inputSchema = try reader.readString(limit: Self.maximumSchemaBytes)
        outputSchema = try reader.readString(limit: Self.maximumSchemaBytes)
        pricing = try reader.read()
        models = try reader.readArray(limit: Self.maximumDependencies)
        offers = try reader.readArray(limit: Self.maximumDependencies)
        verification = try reader.read()
        endpoint = try reader.readString(limit: Self.maximumEndpointBytes)
    }

    /// The offer id a seller's offer of this name has: one offer per (seller, name), so a seller knows the
    /// id before the ledger answers, and an update keeps it.
    public static func id(seller: PublicKey, name: String) -> Hash256 {
        var writer = CanonicalWriter()
        writer.write(seller)
        writer.write(name)
        return Hash256.tagged("agora-offer", writer.bytes)
    }

    /// The checks that need no ledger state; each failure says what is wrong.
    public func validate() throws(TransactionError) {
        guard !name.isEmpty, !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else { throw .invalidRegistration("an offer needs a name without control characters") }
        var seen: Set<String> = []
        for tag in tags {
            guard !tag.isEmpty,
                tag.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D })
            else { throw .invalidRegistration("tag '\(tag)' is not lowercase letters, digits and '-'") }
            guard seen.insert(tag).inserted else { throw .invalidRegistration("tag '\(tag)' is listed twice") }
        }
        for (field, schema) in [("input", inputSchema), ("output", outputSchema)] {
            guard case .object = try? JSONValue.parse(schema) else {
                throw .invalidRegistration("the \(field) schema is not a JSON object")
            }
        }
        guard pricing.amount > .zero else { throw .invalidRegistration("an offer's price must be positive") }
        guard Set(models).count == models.count else { throw .invalidRegistration("a model is listed twice") }
        guard Set(offers).count == offers.count else { throw .invalidRegistration("an offer is listed twice") }
        guard endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://") else {
            throw .invalidRegistration("the endpoint must be an http(s) URL")
        }
    }
}

/// An offer's record in the market: who sells it, its bond, and what it has done.
public struct OfferRecord: Hashable, Sendable, CanonicalCodable, Codable {
    public var seller: PublicKey
    public var registration: OfferRegistration
    /// The quality bond: money held by the offer, slashable while it lives; on retirement it unbonds to the
    /// seller with the chain's unbonding delay.
    public var bond: Amount
    public var registeredHeight: UInt64
    /// Set once the offer is retired (it takes no more work; its bond is unbonding).
    public var retiredHeight: UInt64?
    public var jobsSettled: UInt64 = 0
    public var earned: Amount = .zero
    public var challengesLost: UInt64 = 0

    public init(seller: PublicKey, registration: OfferRegistration, bond: Amount, registeredHeight: UInt64) {
        self.seller = seller
        self.registration = registration
        self.bond = bond
        self.registeredHeight = registeredHeight
    }

    public var isLive: Bool { retiredHeight == nil }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(seller)
        writer.write(registration)
        writer.write(bond)
        writer.write(registeredHeight)
        writer.write(retiredHeight ?? 0)
        writer.write(jobsSettled)
        writer.write(earned)
        writer.write(challengesLost)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        seller = try reader.read()
        registration = try reader.read()
        bond = try reader.read()
        registeredHeight = try reader.readUInt64()
        let retired = try reader.readUInt64()
        retiredHeight = retired == 0 ? nil : retired
        jobsSettled = try reader.readUInt64()
        earned = try reader.read()
        challengesLost = try reader.readUInt64()
    }
}

/// An offer with its id, as listed.
public struct OfferEntry: Hashable, Sendable, Codable {
    public var id: Hash256
    public var record: OfferRecord

    public init(id: Hash256, record: OfferRecord) {
        self.id = id
        self.record = record
    }
}
