import AgoraCore

/// A transaction whose signature has been checked, with its encoding and id computed once.
///
/// Only `check(_:)` makes one, so a value of this type is proof that the signature is valid: a sequencer
/// checks signatures on admission, on whatever core the submission arrived, and the block producer trusts
/// the type instead of checking again on its single sequential thread.
public struct VerifiedTransaction: Sendable, Hashable {
    public let transaction: Transaction
    public let id: Hash256
    /// The canonical encoding (what is stored and what `id` hashes).
    public let encoded: [UInt8]

    private init(transaction: Transaction, encoded: [UInt8]) {
        self.transaction = transaction
        self.encoded = encoded
        id = Transaction.id(ofEncoded: encoded)
    }

    /// The transaction with its proof of a valid signature, or nil when the signature does not verify.
    public static func check(_ transaction: Transaction) -> VerifiedTransaction? {
        guard transaction.hasValidSignature else { return nil }
        return VerifiedTransaction(transaction: transaction, encoded: transaction.canonicalBytes)
    }
}
