import AgoraCore

/// Why the ledger refused a transaction. A refused transaction changes nothing and is not put in a block.
///
/// The one verdict type of every ledger implementation: the embedded ledger returns it, the ledger RPC carries
/// it as JSON (`Codable`, one key per case) and the remote client decodes the same value, so callers switch on
/// cases, never on strings. The first cases are the sequencer's door checks; the rest are the state machine's.
public enum TransactionError: Error, Equatable, Sendable, Codable, CustomStringConvertible {
    /// The bytes are not a transaction (bad base64, bad canonical encoding).
    case malformed(String)
    /// The sequencer's queue is full; the transaction was not queued and may be retried.
    case queueFull(limit: Int)
    /// The same transaction is already queued and awaited.
    case alreadyPending
    case invalidSignature
    case wrongChain(expected: String, got: String)
    case badNonce(expected: UInt64, got: UInt64)
    case zeroAmount
    case insufficientBalance(needed: Amount, available: Amount)
    case insufficientDeposit(needed: Amount, available: Amount)
    case insufficientStake(needed: Amount, available: Amount)
    case amountOverflow
    case invalidShareTable(String)
    case shareTableSum(UInt32)
    case invalidRoyalty(UInt16)
    case invalidRegistration(String)
    case modelAlreadyRegistered(Hash256)
    case modelNotFound(Hash256)
    case datasetAlreadyRegistered(Hash256)
    case datasetNotFound(Hash256)
    case insufficientShares(needed: UInt16, held: UInt16)
    case offerAlreadyRegistered(Hash256)
    case offerNotFound(Hash256)
    /// The offer is retired: it can no longer be changed, hired or depended on.
    case offerRetired(Hash256)
    /// Only the offer's seller may change or retire it.
    case notOfferSeller(Hash256)
    case voucherSignatureInvalid
    case receiptSignatureInvalid
    case voucherReceiptMismatch(String)
    case voucherExpired(expiry: UInt64, blockTime: UInt64)
    case amountAboveVoucherMax(amount: Amount, max: Amount)
    case jobAlreadySettled(Hash256)
    case jobNotFound(Hash256)
    case challengeWindowClosed(jobID: Hash256, closedAt: UInt64)
    case challengeAlreadyFiled(Hash256)
    case challengeNotFound(Hash256)
    case challengeClaimsSameOutput
    /// The request revealed with a challenge does not hash to the job's input hash.
    case revealedRequestMismatch
    case notReferee
    /// The state could not be read or decoded: a storage failure, not a fault of the transaction.
    case storage(String)

    public var description: String {
        switch self {
        case .malformed(let why): return "malformed transaction: \(why)"
        case .queueFull(let limit): return "the sequencer's queue is full (\(limit) transactions); retry later"
        case .alreadyPending: return "the same transaction is already queued"
        case .invalidSignature: return "invalid transaction signature"
        case .wrongChain(let expected, let got):
            return "wrong chain id: this chain is '\(expected)', the transaction says '\(got)'"
        case .badNonce(let expected, let got): return "bad nonce: expected \(expected), got \(got)"
        case .zeroAmount: return "amount must be positive"
        case .insufficientBalance(let needed, let available):
            return "insufficient balance: need \(needed), have \(available)"
        case .insufficientDeposit(let needed, let available):
            return "insufficient deposit: need \(needed), have \(available)"
        case .insufficientStake(let needed, let available):
            return "insufficient stake: need \(needed), have \(available)"
        case .amountOverflow: return "amount overflow"
        case .invalidShareTable(let why): return "invalid share table: \(why)"
        case .shareTableSum(let sum): return "share table sums to \(sum) basis points, not 10000"
        case .invalidRoyalty(let bps): return "royalty of \(bps) basis points is above 10000"
        case .invalidRegistration(let why): return "invalid registration: \(why)"
        case .modelAlreadyRegistered(let hash): return "model \(hash.short)… is already registered"
        case .modelNotFound(let hash): return "model \(hash.short)… is not registered"
        case .datasetAlreadyRegistered(let hash): return "dataset \(hash.short)… is already registered"
        case .datasetNotFound(let hash): return "dataset \(hash.short)… is not registered"
        case .insufficientShares(let needed, let held): return "insufficient shares: need \(needed) bps, hold \(held)"
        case .offerAlreadyRegistered(let id):
            return "offer \(id.short)… is already registered (update it, or choose another name)"
        case .offerNotFound(let id): return "offer \(id.short)… is not registered"
        case .offerRetired(let id): return "offer \(id.short)… is retired"
        case .notOfferSeller(let id): return "only the seller of offer \(id.short)… may change or retire it"
        case .voucherSignatureInvalid: return "voucher signature is not the payer's"
        case .receiptSignatureInvalid: return "receipt signature is not the node's"
        case .voucherReceiptMismatch(let field): return "voucher and receipt disagree on \(field)"
        case .voucherExpired(let expiry, let blockTime): return "voucher expired at \(expiry) (block time \(blockTime))"
        case .amountAboveVoucherMax(let amount, let max):
            return "receipt charges \(amount), above the voucher's max \(max)"
        case .jobAlreadySettled(let id): return "job \(id.short)… is already settled"
        case .jobNotFound(let id): return "job \(id.short)… was never settled"
        case .challengeWindowClosed(let id, let closedAt):
            return "challenge window of job \(id.short)… closed at block \(closedAt)"
        case .challengeAlreadyFiled(let id): return "job \(id.short)… is already challenged"
        case .challengeNotFound(let id): return "no open challenge for job \(id.short)…"
        case .challengeClaimsSameOutput: return "the challenge claims the output the node already reported"
        case .revealedRequestMismatch: return "the revealed request does not hash to the job's input hash"
        case .notReferee: return "only the chain's referee may resolve challenges"
        case .storage(let why): return "ledger storage failure: \(why)"
        }
    }
}

extension TransactionError {
    /// Refusals that say nothing about the transaction itself: the same transaction (or one re-signed with a
    /// fresh nonce) may be accepted later.
    public var isTransient: Bool {
        switch self {
        case .queueFull, .alreadyPending, .badNonce, .storage: return true
        default: return false
        }
    }
}

/// Why the ledger as a whole failed (opening, storing, verifying), as opposed to one transaction.
public enum LedgerError: Error, Equatable, Sendable, Codable, CustomStringConvertible {
    case invalidGenesis(String)
    case notInitialized(String)
    case alreadyInitialized(String)
    case storage(String)
    case corruptState(String)
    case invariantViolated(String)
    case keyFile(String)
    /// The ledger was opened without the sequencer key: it reads, it does not seal blocks.
    case readOnly(String)

    public var description: String {
        switch self {
        case .invalidGenesis(let why): return "invalid genesis: \(why)"
        case .notInitialized(let path): return "no ledger at \(path) (run `agora ledger init` first)"
        case .alreadyInitialized(let path): return "a ledger already exists at \(path)"
        case .storage(let why): return "ledger storage failure: \(why)"
        case .corruptState(let why): return "corrupt ledger state: \(why)"
        case .invariantViolated(let why): return "conservation invariant violated: \(why)"
        case .keyFile(let why): return "key file: \(why)"
        case .readOnly(let path):
            return "the ledger at \(path) is open read-only (no sequencer key): submit through `agora ledger serve`"
        }
    }
}
