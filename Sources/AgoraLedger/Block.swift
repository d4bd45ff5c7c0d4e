import AgoraCore

/// What a block commits to. The sequencer signs it; anyone can check it by replaying the chain.
public struct BlockHeader: Hashable, Sendable, CanonicalCodable, Codable {
    public var chainID: String
    public var height: UInt64
    public var previousHash: Hash256
    /// For block 0, the genesis hash; otherwise a hash over the ids of the block's transactions in order.
    public var transactionsRoot: Hash256
    /// Commits to the entire state after this block (see `StateAccumulator`).
    public var stateRoot: Hash256
    /// Unix milliseconds; never less than the previous block's.
    public var timestamp: UInt64
    public var transactionCount: UInt32
    public var sequencer: PublicKey

    /// JSON spells identifiers `chainId` / `jobId`, like the x402 terms (docs/protocol.md §2.6).
    enum CodingKeys: String, CodingKey {
        case chainID = "chainId"
        case height
        case previousHash
        case transactionsRoot
        case stateRoot
        case timestamp
        case transactionCount
        case sequencer
    }

    public init(
        chainID: String, height: UInt64, previousHash: Hash256, transactionsRoot: Hash256, stateRoot: Hash256,
        timestamp: UInt64, transactionCount: UInt32, sequencer: PublicKey
    ) {
        self.chainID = chainID
        self.height = height
        self.previousHash = previousHash
        self.transactionsRoot = transactionsRoot
        self.stateRoot = stateRoot
        self.timestamp = timestamp
        self.transactionCount = transactionCount
        self.sequencer = sequencer
    }

    /// The block hash: what the next block links to and what the sequencer signs.
    public var hash: Hash256 { Hash256.tagged("agora-block-v1", canonicalBytes) }

    public static func transactionsRoot(_ ids: [Hash256]) -> Hash256 {
        var writer = CanonicalWriter(reservingCapacity: 32 * ids.count + 4)
        writer.write(ids)
        return Hash256.tagged("agora-tx-list-v1", writer.bytes)
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(chainID)
        writer.write(height)
        writer.write(previousHash)
        writer.write(transactionsRoot)
        writer.write(stateRoot)
        writer.write(timestamp)
        writer.write(transactionCount)
        writer.write(sequencer)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        chainID = try reader.readString(limit: 64)
        height = try reader.readUInt64()
        previousHash = try reader.read()
        transactionsRoot = try reader.read()
        stateRoot = try reader.read()
        timestamp = try reader.readUInt64()
        transactionCount = try reader.readUInt32()
        sequencer = try reader.read()
    }
}

/// A header with the sequencer's signature over its hash.
public struct SignedBlockHeader: Hashable, Sendable, Codable {
    public var header: BlockHeader
    public var signature: Signature

    public init(header: BlockHeader, signature: Signature) {
        self.header = header
        self.signature = signature
    }

    public init(header: BlockHeader, signedBy key: SigningKey) {
        self.header = header
        self.signature = key.sign(header.hash.bytes)
    }

    public var hash: Hash256 { header.hash }
    public var hasValidSignature: Bool { header.sequencer.isValidSignature(signature, for: header.hash.bytes) }
}
