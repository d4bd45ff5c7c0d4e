import AgoraCore

/// The key of one record in the ledger state.
///
/// The whole state is one sorted key → value map (stored as one SQLite table), which gives a single uniform
/// leaf form for the state root and lets queries scan by prefix: every key starts with a kind byte, and
/// heights are big-endian so byte order is numeric order.
public enum StateKey: Hashable, Sendable {
    case totals
    case account(PublicKey)
    case unbonding(releaseHeight: UInt64, owner: PublicKey, kind: UInt8)
    case node(PublicKey)
    case model(Hash256)
    case dataset(Hash256)
    case job(Hash256)
    case challenge(Hash256)
    case offer(Hash256)

    public enum Prefix: UInt8, Sendable, CaseIterable {
        case totals = 0, account = 1, unbonding = 2, node = 3, model = 4, dataset = 5, job = 6, challenge = 7, offer = 8
    }

    public var bytes: [UInt8] {
        var writer = CanonicalWriter(reservingCapacity: 48)
        switch self {
        case .totals: writer.write(Prefix.totals.rawValue)
        case .account(let key):
            writer.write(Prefix.account.rawValue)
            writer.write(key)
        case .unbonding(let height, let owner, let kind):
            writer.write(Prefix.unbonding.rawValue)
            writer.write(height)
            writer.write(owner)
            writer.write(kind)
        case .node(let key):
            writer.write(Prefix.node.rawValue)
            writer.write(key)
        case .model(let hash):
            writer.write(Prefix.model.rawValue)
            writer.write(hash)
        case .dataset(let hash):
            writer.write(Prefix.dataset.rawValue)
            writer.write(hash)
        case .job(let id):
            writer.write(Prefix.job.rawValue)
            writer.write(id)
        case .challenge(let id):
            writer.write(Prefix.challenge.rawValue)
            writer.write(id)
        case .offer(let id):
            writer.write(Prefix.offer.rawValue)
            writer.write(id)
        }
        return writer.bytes
    }

    /// Keys of unbonding entries released at `height`.
    public static func unbondingPrefix(releaseHeight height: UInt64) -> [UInt8] {
        var writer = CanonicalWriter()
        writer.write(Prefix.unbonding.rawValue)
        writer.write(height)
        return writer.bytes
    }

    /// Parses key bytes read back from storage.
    public init(bytes: [UInt8]) throws(CanonicalDecodingError) {
        var reader = CanonicalReader(bytes)
        let tag = try reader.readUInt8()
        guard let prefix = Prefix(rawValue: tag) else { throw .invalidTag(type: "StateKey", tag: tag) }
        switch prefix {
        case .totals: self = .totals
        case .account: self = .account(try reader.read())
        case .unbonding:
            self = .unbonding(
                releaseHeight: try reader.readUInt64(), owner: try reader.read(), kind: try reader.readUInt8())
        case .node: self = .node(try reader.read())
        case .model: self = .model(try reader.read())
        case .dataset: self = .dataset(try reader.read())
        case .job: self = .job(try reader.read())
        case .challenge: self = .challenge(try reader.read())
        case .offer: self = .offer(try reader.read())
        }
        try reader.expectEnd()
    }
}
