import AgoraCore

/// The state as a block is being built: committed state underneath, this block's writes on top, and a
/// journal for the transaction being applied so a refused transaction can be undone completely.
public final class WorkingState {
    private let backend: any StateBackend
    /// Value at the start of the block of every key read or written (nil = absent).
    private var originals: [Key: [UInt8]?] = [:]
    /// This block's current value of every key written.
    private var current: [Key: [UInt8]?] = [:]
    /// For the open transaction: the previous entry in `current` of each key it wrote
    /// (`.some(nil)` = the key had no entry in `current`).
    private var journal: [Key: [UInt8]??] = [:]
    private var inTransaction = false

    public init(backend: any StateBackend) { self.backend = backend }

    public func value(_ key: StateKey) throws(TransactionError) -> [UInt8]? {
        try value(forKey: key.bytes)
    }

    public func value(forKey key: [UInt8]) throws(TransactionError) -> [UInt8]? {
        try value(forKey: Key(key))
    }

    private func value(forKey key: Key) throws(TransactionError) -> [UInt8]? {
        if let written = current[key] { return written }
        if let original = originals[key] { return original }
        let stored: [UInt8]?
        do { stored = try backend.value(forKey: key.bytes) } catch { throw .storage(error.description) }
        originals[key] = .some(stored)
        return stored
    }

    public func set(_ key: StateKey, _ value: [UInt8]?) throws(TransactionError) {
        let bytes = Key(key.bytes)
        if originals[bytes] == nil { _ = try self.value(forKey: bytes) }
        if inTransaction, journal[bytes] == nil { journal[bytes] = .some(current[bytes]) }
        current[bytes] = .some(value)
    }

    public func record<Record: CanonicalDecodable>(
        _ key: StateKey, as type: Record.Type = Record.self
    ) throws(TransactionError) -> Record? {
        guard let bytes = try value(key) else { return nil }
        do { return try Record(canonicalBytes: bytes) } catch { throw .storage("undecodable record: \(error)") }
    }

    public func setRecord<Record: CanonicalEncodable>(_ key: StateKey, _ record: Record?) throws(TransactionError) {
        try set(key, record?.canonicalBytes)
    }

    /// Entries under `prefix`, committed ones merged with this block's writes, in key order.
    public func entries(withPrefix prefix: [UInt8]) throws(TransactionError) -> [(key: [UInt8], value: [UInt8])] {
        var merged: [[UInt8]: [UInt8]] = [:]
        do {
            for entry in try backend.entries(withPrefix: prefix) { merged[entry.key] = entry.value }
        } catch { throw .storage(error.description) }
        for (key, value) in current where key.bytes.starts(with: prefix) { merged[key.bytes] = value }
        return merged.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { (key: $0.key, value: $0.value) }
    }

    public func beginTransaction() {
        precondition(!inTransaction, "transactions do not nest")
        inTransaction = true
        journal.removeAll(keepingCapacity: true)
    }

    public func commitTransaction() {
        inTransaction = false
        journal.removeAll(keepingCapacity: true)
    }

    /// Undoes every write since `beginTransaction`.
    public func rollbackTransaction() {
        for (key, previous) in journal {
            if let previous { current[key] = previous } else { current[key] = nil }
        }
        inTransaction = false
        journal.removeAll(keepingCapacity: true)
    }

    /// Every key whose value differs from the start of the block, in key order.
    public var changes: [StateChange] {
        current.compactMap { key, value -> StateChange? in
            let old = originals[key] ?? nil
            return old == value ? nil : StateChange(key: key.bytes, oldValue: old, newValue: value)
        }
        .sorted { $0.key.lexicographicallyPrecedes($1.key) }
    }

    /// A state key as a dictionary key: hashed as one block of bytes (the default `[UInt8]` hashing feeds
    /// the hasher byte by byte, which was the block producer's largest cost after SQLite).
    private struct Key: Hashable {
        let bytes: [UInt8]

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        func hash(into hasher: inout Hasher) {
            bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }
}
