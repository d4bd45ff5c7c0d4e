import AgoraCore
import Crypto
import Foundation

/// A hash of the whole state that is updated in time proportional to what changed.
///
/// It is a lattice-based homomorphic multiset hash ("LtHash", Bellare–Micciancio; as used by Facebook and
/// Solana): each (key, value) leaf is expanded to 1024 16-bit lanes, and the accumulator is their sum
/// modulo 2¹⁶ lane by lane. Adding a leaf adds its lanes, removing one subtracts them, so a block that
/// changes k records costs O(k) whatever the size of the state, and the result is independent of order —
/// replaying the chain from genesis reproduces it exactly. Finding two states with the same accumulator is
/// as hard as a short-vector lattice problem at this width. The state root is a SHA-256 of the lanes.
///
/// No maintained Swift package implements a multiset hash, so it is written here; the expansion uses the
/// ChaCha20 keystream from swift-crypto keyed by the leaf's SHA-256.
public struct StateAccumulator: Hashable, Sendable {
    public static let laneCount = 1024
    public private(set) var lanes: [UInt16]

    public init() { lanes = [UInt16](repeating: 0, count: Self.laneCount) }

    /// Restores an accumulator saved with `bytes`.
    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.laneCount * 2 else { return nil }
        var lanes = [UInt16](repeating: 0, count: Self.laneCount)
        for index in 0..<Self.laneCount {
            lanes[index] = UInt16(bytes[2 * index]) | (UInt16(bytes[2 * index + 1]) << 8)
        }
        self.lanes = lanes
    }

    /// The lanes as little-endian bytes.
    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: Self.laneCount * 2)
        for index in 0..<Self.laneCount {
            out[2 * index] = UInt8(truncatingIfNeeded: lanes[index])
            out[2 * index + 1] = UInt8(truncatingIfNeeded: lanes[index] >> 8)
        }
        return out
    }

    /// The state root committed to in block headers.
    public var root: Hash256 { Hash256.tagged("agora-state-root-v1", bytes) }

    public mutating func insert(key: [UInt8], value: [UInt8]) { add(Self.leaf(key: key, value: value), sign: 1) }

    public mutating func remove(key: [UInt8], value: [UInt8]) { add(Self.leaf(key: key, value: value), sign: -1) }

    /// Applies precomputed leaves: `insert` those with `sign` +1, remove those with −1.
    mutating func add(_ leaf: [UInt16], sign: Int) {
        lanes.withUnsafeMutableBufferPointer { target in
            leaf.withUnsafeBufferPointer { source in
                if sign > 0 {
                    for index in 0..<Self.laneCount { target[index] &+= source[index] }
                } else {
                    for index in 0..<Self.laneCount { target[index] &-= source[index] }
                }
            }
        }
    }

    /// Merges another accumulator (the sum of two multisets).
    public mutating func merge(_ other: StateAccumulator) { add(other.lanes, sign: 1) }

    private static let zeros = Data(count: laneCount * 2)
    private static let nonce = try! ChaChaPoly.Nonce(data: [UInt8](repeating: 0, count: 12))

    /// Expands one leaf to its lanes.
    static func leaf(key: [UInt8], value: [UInt8]) -> [UInt16] {
        var hasher = SHA256()
        var header = CanonicalWriter()
        header.writeFixed(Array("agora-state-leaf-v1".utf8))
        header.writeBytes(key)
        header.write(UInt32(value.count))
        hasher.update(data: header.bytes)
        hasher.update(data: value)
        let seed = SymmetricKey(data: hasher.finalize())
        // The keystream is ChaCha20(seed) XOR zeros; the Poly1305 tag after it is not used.
        let stream = try! ChaChaPoly.seal(zeros, using: seed, nonce: nonce).ciphertext
        var lanes = [UInt16](repeating: 0, count: laneCount)
        stream.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            for index in 0..<laneCount {
                let low = UInt16(raw[2 * index])
                let high = UInt16(raw[2 * index + 1])
                lanes[index] = low | (high << 8)
            }
        }
        return lanes
    }

    /// Folds a block's changes in: removes each old leaf, inserts each new one. Leaves are expanded on all
    /// cores; the sum does not depend on the order.
    public mutating func apply(_ changes: [StateChange]) {
        if changes.count < 64 {
            for change in changes {
                if let old = change.oldValue { remove(key: change.key, value: old) }
                if let new = change.newValue { insert(key: change.key, value: new) }
            }
            return
        }
        let workers = Swift.max(1, Swift.min(ProcessInfo.processInfo.activeProcessorCount, 8))
        let partials = PartialSums(count: workers)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var partial = StateAccumulator()
            var index = worker
            while index < changes.count {
                let change = changes[index]
                if let old = change.oldValue { partial.remove(key: change.key, value: old) }
                if let new = change.newValue { partial.insert(key: change.key, value: new) }
                index += workers
            }
            partials.store(partial, at: worker)
        }
        for partial in partials.values { merge(partial) }
    }
}

/// Per-worker results of a parallel loop; each worker writes only its own slot.
private final class PartialSums: @unchecked Sendable {
    private(set) var values: [StateAccumulator]
    private let lock = NSLock()

    init(count: Int) { values = [StateAccumulator](repeating: StateAccumulator(), count: count) }

    func store(_ value: StateAccumulator, at index: Int) {
        lock.lock()
        values[index] = value
        lock.unlock()
    }
}
