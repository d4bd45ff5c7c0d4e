import AgoraCore

/// What a node announces about itself: where to reach it, what it serves and at what price.
public struct NodeRegistration: Hashable, Sendable, CanonicalCodable, Codable {
    public static let maximumEndpointBytes = 256
    public static let maximumModels = 32

    public var endpoint: String
    public var models: [Hash256]
    public var pricePerInputToken: Amount
    public var pricePerOutputToken: Amount

    public init(endpoint: String, models: [Hash256], pricePerInputToken: Amount, pricePerOutputToken: Amount) {
        self.endpoint = endpoint
        self.models = models
        self.pricePerInputToken = pricePerInputToken
        self.pricePerOutputToken = pricePerOutputToken
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(endpoint)
        writer.write(models)
        writer.write(pricePerInputToken)
        writer.write(pricePerOutputToken)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        endpoint = try reader.readString(limit: Self.maximumEndpointBytes)
        models = try reader.readArray(limit: Self.maximumModels)
        pricePerInputToken = try reader.read()
        pricePerOutputToken = try reader.read()
    }
}

/// A model's entry in the registry: its content hash, its name, the royalty it takes from every job that
/// uses it, who shares that royalty, and the datasets it was trained or tuned on (its provenance).
public struct ModelRegistration: Hashable, Sendable, CanonicalCodable, Codable {
    public static let maximumNameBytes = 128
    public static let maximumDatasets = 32

    public var modelHash: Hash256
    public var name: String
    public var royaltyBasisPoints: UInt16
    public var shares: [Share]
    public var datasets: [Hash256]

    public init(modelHash: Hash256, name: String, royaltyBasisPoints: UInt16, shares: [Share], datasets: [Hash256] = [])
    {
        self.modelHash = modelHash
        self.name = name
        self.royaltyBasisPoints = royaltyBasisPoints
        self.shares = shares
        self.datasets = datasets
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(modelHash)
        writer.write(name)
        writer.write(royaltyBasisPoints)
        writer.write(shares)
        writer.write(datasets)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        modelHash = try reader.read()
        name = try reader.readString(limit: Self.maximumNameBytes)
        royaltyBasisPoints = try reader.readUInt16()
        shares = try reader.readArray(limit: ShareTable.maximumHolders)
        datasets = try reader.readArray(limit: Self.maximumDatasets)
    }
}

/// A dataset's entry: content hash, name and the contributors who share in what it earns.
public struct DatasetRegistration: Hashable, Sendable, CanonicalCodable, Codable {
    public var datasetHash: Hash256
    public var name: String
    public var shares: [Share]

    public init(datasetHash: Hash256, name: String, shares: [Share]) {
        self.datasetHash = datasetHash
        self.name = name
        self.shares = shares
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(datasetHash)
        writer.write(name)
        writer.write(shares)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        datasetHash = try reader.read()
        name = try reader.readString(limit: ModelRegistration.maximumNameBytes)
        shares = try reader.readArray(limit: ShareTable.maximumHolders)
    }
}
