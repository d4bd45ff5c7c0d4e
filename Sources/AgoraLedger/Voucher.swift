import AgoraCore

/// A payer's signed promise to pay a node up to `maxAmount` for one job, drawn on the payer's deposit.
///
/// It names the job, the model and the exact input (by hash), so a node cannot reuse it for another job,
/// and the ledger pays each job id at most once.
public struct Voucher: Hashable, Sendable, CanonicalCodable, Codable {
    public var chainID: String
    public var payer: PublicKey
    public var payee: PublicKey
    public var jobID: Hash256
    public var modelHash: Hash256
    public var inputHash: Hash256
    public var maxAmount: Amount
    /// Unix seconds after which the node must not serve on this voucher; it may still settle it during the
    /// chain's settlement grace period.
    public var expiry: UInt64
    public var signature: Signature

    /// JSON spells identifiers `chainId` / `jobId`, like the x402 terms (docs/protocol.md §2.6).
    enum CodingKeys: String, CodingKey {
        case chainID = "chainId"
        case payer
        case payee
        case jobID = "jobId"
        case modelHash
        case inputHash
        case maxAmount
        case expiry
        case signature
    }

    public init(
        chainID: String, payer: PublicKey, payee: PublicKey, jobID: Hash256, modelHash: Hash256, inputHash: Hash256,
        maxAmount: Amount, expiry: UInt64, signature: Signature = .empty
    ) {
        self.chainID = chainID
        self.payer = payer
        self.payee = payee
        self.jobID = jobID
        self.modelHash = modelHash
        self.inputHash = inputHash
        self.maxAmount = maxAmount
        self.expiry = expiry
        self.signature = signature
    }

    /// The bytes the payer signs: a domain tag, then every field but the signature.
    public var signingBytes: [UInt8] {
        var writer = CanonicalWriter()
        writer.writeFixed(Array("agora-voucher-v1".utf8))
        encodeUnsigned(to: &writer)
        return writer.bytes
    }

    /// Returns a copy signed by `key`, which must be the payer's.
    public func signed(by key: SigningKey) -> Voucher {
        var copy = self
        copy.payer = key.publicKey
        copy.signature = key.sign(copy.signingBytes)
        return copy
    }

    public var hasValidSignature: Bool { payer.isValidSignature(signature, for: signingBytes) }

    private func encodeUnsigned(to writer: inout CanonicalWriter) {
        writer.write(chainID)
        writer.write(payer)
        writer.write(payee)
        writer.write(jobID)
        writer.write(modelHash)
        writer.write(inputHash)
        writer.write(maxAmount)
        writer.write(expiry)
    }

    public func encode(to writer: inout CanonicalWriter) {
        encodeUnsigned(to: &writer)
        writer.write(signature)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        chainID = try reader.readString(limit: 64)
        payer = try reader.read()
        payee = try reader.read()
        jobID = try reader.read()
        modelHash = try reader.read()
        inputHash = try reader.read()
        maxAmount = try reader.read()
        expiry = try reader.readUInt64()
        signature = try reader.read()
    }
}
