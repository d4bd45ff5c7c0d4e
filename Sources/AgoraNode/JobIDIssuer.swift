import AgoraCore
import Crypto
import Foundation

/// Issues the job ids of a node's 402 terms and recognises them later, without remembering any.
///
/// A job id is `nonce ‖ expiry ‖ tag`: 8 random bytes (which a request without a seed takes its seed from,
/// docs/protocol.md §4.4), the terms' expiry (8 bytes, big-endian Unix seconds), and the first 16 bytes of
/// HMAC-SHA256 over the first 16 under a key derived from the node's signing key.
/// So a node can tell a job id it issued from one a client made up (`unknown_job`), and knows the expiry of
/// the terms it issued with it, across restarts and across processes that share the node key, with no table
/// that a flood of 402s could fill. Clients treat the id as opaque 32 bytes (docs/protocol.md §3.4).
public struct JobIDIssuer: Sendable {
    private let key: SymmetricKey

    public init(node: SigningKey) {
        // A key of its own, so the MAC never exposes anything about the signing seed.
        key = SymmetricKey(data: SHA256.hash(data: Array("agora-job-id-key-v1".utf8) + [0] + node.seed))
    }

    /// A fresh job id for terms that expire at `expiry`.
    public func issue(expiry: UInt64) -> Hash256 {
        var random = SystemRandomNumberGenerator()
        let head =
            withUnsafeBytes(of: random.next() as UInt64) { Array($0) }
            + withUnsafeBytes(of: expiry.bigEndian) { Array($0) }
        return Hash256(bytes: head + tag(head))!
    }

    /// The expiry of the terms this node issued `jobID` with, or nil when it did not issue it.
    public func expiry(of jobID: Hash256) -> UInt64? {
        let head = Array(jobID.bytes.prefix(16))
        // Compared in constant time: the tag is a MAC.
        let expected = tag(head)
        let given = Array(jobID.bytes.suffix(16))
        guard zip(expected, given).reduce(UInt8(0), { $0 | ($1.0 ^ $1.1) }) == 0 else { return nil }
        return head.suffix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    private func tag(_ head: [UInt8]) -> [UInt8] {
        Array(Array(HMAC<SHA256>.authenticationCode(for: head, using: key)).prefix(16))
    }
}
