import AgoraCore

/// A node's signed statement of what it computed for a job and what it charged.
///
/// Everything a verifier needs to re-run the job is named here (model and input by hash, the seed, the
/// engine version), so a wrong output hash signed by the node is evidence against it.
public struct JobReceipt: Hashable, Sendable, CanonicalCodable, Codable {
    public var chainID: String
    public var jobID: Hash256
    public var node: PublicKey
    public var payer: PublicKey
    public var modelHash: Hash256
    /// Hash of the canonical request (messages, sampling settings and seed).
    public var inputHash: Hash256
    public var outputHash: Hash256
    public var inputTokens: UInt32
    public var outputTokens: UInt32
    public var amount: Amount
    /// The sampling seed actually used (chosen by the node when the request had none).
    public var seed: UInt64
    public var engineVersion: String
    /// Unix milliseconds when the node finished the job.
    public var timestamp: UInt64
    public var signature: Signature

    /// JSON spells identifiers `chainId` / `jobId`, like the x402 terms (docs/protocol.md §2.6).
    enum CodingKeys: String, CodingKey {
        case chainID = "chainId"
        case jobID = "jobId"
        case node
        case payer
        case modelHash
        case inputHash
        case outputHash
        case inputTokens
        case outputTokens
        case amount
        case seed
        case engineVersion
        case timestamp
        case signature
    }

    public init(
        chainID: String, jobID: Hash256, node: PublicKey, payer: PublicKey, modelHash: Hash256, inputHash: Hash256,
        outputHash: Hash256, inputTokens: UInt32, outputTokens: UInt32, amount: Amount, seed: UInt64,
        engineVersion: String, timestamp: UInt64, signature: Signature = .empty
    ) {
        self.chainID = chainID
        self.jobID = jobID
        self.node = node
        self.payer = payer
        self.modelHash = modelHash
        self.inputHash = inputHash
        self.outputHash = outputHash
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.amount = amount
        self.seed = seed
        self.engineVersion = engineVersion
        self.timestamp = timestamp
        self.signature = signature
    }

    public var signingBytes: [UInt8] {
        var writer = CanonicalWriter()
        writer.writeFixed(Array("agora-receipt-v1".utf8))
        encodeUnsigned(to: &writer)
        return writer.bytes
    }

    /// Returns a copy signed by `key`, which becomes the receipt's node.
    public func signed(by key: SigningKey) -> JobReceipt {
        var copy = self
        copy.node = key.publicKey
        copy.signature = key.sign(copy.signingBytes)
        return copy
    }

    public var hasValidSignature: Bool { node.isValidSignature(signature, for: signingBytes) }

    private func encodeUnsigned(to writer: inout CanonicalWriter) {
        writer.write(chainID)
        writer.write(jobID)
        writer.write(node)
        writer.write(payer)
        writer.write(modelHash)
        writer.write(inputHash)
        writer.write(outputHash)
        writer.write(inputTokens)
        writer.write(outputTokens)
        writer.write(amount)
        writer.write(seed)
        writer.write(engineVersion)
        writer.write(timestamp)
    }

    public func encode(to writer: inout CanonicalWriter) {
        encodeUnsigned(to: &writer)
        writer.write(signature)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        chainID = try reader.readString(limit: 64)
        jobID = try reader.read()
        node = try reader.read()
        payer = try reader.read()
        modelHash = try reader.read()
        inputHash = try reader.read()
        outputHash = try reader.read()
        inputTokens = try reader.readUInt32()
        outputTokens = try reader.readUInt32()
        amount = try reader.read()
        seed = try reader.readUInt64()
        engineVersion = try reader.readString(limit: 64)
        timestamp = try reader.readUInt64()
        signature = try reader.read()
    }
}
