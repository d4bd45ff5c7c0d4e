import AgoraCore

/// A signed instruction to the ledger from one account.
///
/// The chain id stops a transaction signed for a test chain from being replayed on another chain, and the
/// nonce (exactly one more than the sender's last) stops it from being replayed on the same chain.
public struct Transaction: Hashable, Sendable, CanonicalCodable {
    /// Upper bound on one encoded transaction; bigger input is refused before it is parsed.
    public static let maximumEncodedBytes = 64 * 1024

    public var chainID: String
    public var sender: PublicKey
    public var nonce: UInt64
    public var body: TransactionBody
    public var signature: Signature

    public init(chainID: String, sender: PublicKey, nonce: UInt64, body: TransactionBody, signature: Signature = .empty)
    {
        self.chainID = chainID
        self.sender = sender
        self.nonce = nonce
        self.body = body
        self.signature = signature
    }

    /// Builds and signs a transaction from `key`.
    public static func signed(by key: SigningKey, chainID: String, nonce: UInt64, body: TransactionBody) -> Transaction
    {
        var transaction = Transaction(chainID: chainID, sender: key.publicKey, nonce: nonce, body: body)
        transaction.signature = key.sign(transaction.signingBytes)
        return transaction
    }

    public var signingBytes: [UInt8] {
        var writer = CanonicalWriter(reservingCapacity: 256)
        writer.writeFixed(Array("agora-tx-v1".utf8))
        encodeUnsigned(to: &writer)
        return writer.bytes
    }

    public var hasValidSignature: Bool { sender.isValidSignature(signature, for: signingBytes) }

    /// The transaction id: SHA-256 of the whole signed encoding.
    public var id: Hash256 { Self.id(ofEncoded: canonicalBytes) }

    /// The id of a transaction from its canonical encoding.
    static func id(ofEncoded encoded: [UInt8]) -> Hash256 { Hash256.tagged("agora-txid-v1", encoded) }

    /// Decodes an untrusted encoded transaction, refusing oversized input before parsing.
    public static func decode(_ bytes: [UInt8]) throws(CanonicalDecodingError) -> Transaction {
        guard bytes.count <= maximumEncodedBytes else {
            throw .lengthOutOfBounds(declared: UInt64(bytes.count), limit: maximumEncodedBytes)
        }
        return try CanonicalReader.decode(Transaction.self, from: bytes)
    }

    private func encodeUnsigned(to writer: inout CanonicalWriter) {
        writer.write(chainID)
        writer.write(sender)
        writer.write(nonce)
        writer.write(body)
    }

    public func encode(to writer: inout CanonicalWriter) {
        encodeUnsigned(to: &writer)
        writer.write(signature)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        chainID = try reader.readString(limit: 64)
        sender = try reader.read()
        nonce = try reader.readUInt64()
        body = try reader.read()
        signature = try reader.read()
    }
}
