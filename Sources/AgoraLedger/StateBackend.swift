import AgoraCore

/// Where committed state is read from: SQLite in production, a dictionary in some tests.
public protocol StateBackend {
    func value(forKey key: [UInt8]) throws(LedgerError) -> [UInt8]?
    /// All entries whose key starts with `prefix`, in key order.
    func entries(withPrefix prefix: [UInt8]) throws(LedgerError) -> [(key: [UInt8], value: [UInt8])]
}

/// A state held in a dictionary. Used for small in-process replays and tests; the ledger itself reads
/// through SQLite so large states never need to fit in memory.
public final class InMemoryStateBackend: StateBackend {
    public private(set) var storage: [[UInt8]: [UInt8]] = [:]

    public init() {}

    public func value(forKey key: [UInt8]) throws(LedgerError) -> [UInt8]? { storage[key] }

    public func entries(withPrefix prefix: [UInt8]) throws(LedgerError) -> [(key: [UInt8], value: [UInt8])] {
        storage.filter { $0.key.starts(with: prefix) }
            .sorted { $0.key.lexicographicallyPrecedes($1.key) }
            .map { (key: $0.key, value: $0.value) }
    }

    /// Applies a block's changes.
    public func apply(_ changes: [StateChange]) {
        for change in changes { storage[change.key] = change.newValue }
    }
}

/// One record changed by a block: its value before and after (nil when absent).
public struct StateChange: Sendable {
    public let key: [UInt8]
    public let oldValue: [UInt8]?
    public let newValue: [UInt8]?
}
