import AgoraCore
import AgoraLedger
import AgoraWire
import Foundation

/// Why a payment was refused. Each maps to an HTTP status and an OpenAI-style error code.
public enum PaymentError: Error, Sendable, Equatable, CustomStringConvertible {
    case malformed(String)
    case wrongTerms(String)
    case badSignature
    case expired(expiry: UInt64, now: UInt64)
    /// The voucher stays valid longer than the terms' `maxTimeoutSeconds` allow.
    case expiryTooFar(expiry: UInt64, latest: UInt64)
    case jobAlreadyUsed(Hash256)
    case voucherBelowCost(max: Amount, cost: Amount)
    case insufficientDeposit(needed: Amount, available: Amount)
    case ledgerUnavailable(String)

    public var description: String {
        switch self {
        case .malformed(let why): return "malformed payment: \(why)"
        case .wrongTerms(let why): return "voucher does not match the terms: \(why)"
        case .badSignature: return "voucher signature is not the payer's"
        case .expired(let expiry, let now): return "voucher expired at \(expiry) (now \(now))"
        case .expiryTooFar(let expiry, let latest):
            return "voucher expiry \(expiry) is later than the terms allow (\(latest): now plus maxTimeoutSeconds)"
        case .jobAlreadyUsed(let id): return "job \(id.short)… was already paid for"
        case .voucherBelowCost(let max, let cost): return "voucher max \(max) is below the job's maximum cost \(cost)"
        case .insufficientDeposit(let needed, let available):
            return "payer deposit too low: needs \(needed) available, has \(available)"
        case .ledgerUnavailable(let why): return "ledger unavailable: \(why)"
        }
    }

    public var code: String {
        switch self {
        case .malformed: return "invalid_payment"
        case .wrongTerms: return "payment_terms_mismatch"
        case .badSignature: return "invalid_signature"
        case .expired: return "payment_expired"
        case .expiryTooFar: return "payment_expiry_too_far"
        case .jobAlreadyUsed: return "job_already_paid"
        case .voucherBelowCost: return "voucher_below_cost"
        case .insufficientDeposit: return "insufficient_deposit"
        case .ledgerUnavailable: return "ledger_unavailable"
        }
    }
}

/// Issues payment terms and checks vouchers against them and the ledger.
///
/// The deposit a voucher draws on is reserved here from the moment the voucher is accepted until its
/// settlement is on the ledger, so one deposit cannot back two jobs' maximum at the same time.
public final class PaymentGate: @unchecked Sendable {
    let node: SigningKey
    public let prices: NodePrices
    public let ledger: any LedgerReader
    /// How long a 402's terms stay valid.
    public let validitySeconds: UInt64
    /// How far a payer's clock may run ahead of the node's when it sets a voucher's expiry.
    public static let clockSkewSeconds: UInt64 = 60
    private let lock = NSLock()
    /// Job ids accepted and not yet on the ledger, with the amount reserved for each.
    private var reserved: [Hash256: (payer: PublicKey, amount: Amount)] = [:]
    /// Job ids whose settlement this node finished (settled or refused), until their voucher expires. Set
    /// when the node keeps its own index (`useLocalJobIndex`): only this node can settle a voucher payable to
    /// it, so a job it never finished and does not hold is not on the ledger, and the per-request ledger
    /// read of the job disappears (one network round trip with a remote ledger).
    private var finished: [Hash256: UInt64]?

    public init(node: SigningKey, prices: NodePrices, ledger: any LedgerReader, validitySeconds: UInt64 = 300) {
        self.node = node
        self.prices = prices
        self.ledger = ledger
        self.validitySeconds = validitySeconds
    }

    /// Replaces the per-request ledger read of the job by the node's own index of the jobs it finished,
    /// starting from `finished` (restored from the settlement queue, so a restart keeps refusing replays).
    public func useLocalJobIndex(_ finished: [Hash256: UInt64]) {
        lock.withLock { self.finished = finished }
    }

    /// Records jobs whose settlement finished, with their voucher's expiry.
    public func recordFinished(_ jobs: [Hash256: UInt64], now: UInt64) {
        lock.withLock {
            guard var index = finished else { return }
            index.merge(jobs) { _, new in new }
            // Expired vouchers are refused for their expiry: forget them.
            if index.count > 1_024 { index = index.filter { $0.value >= now } }
            finished = index
        }
    }

    public func maximumCost(promptTokens: Int, maxTokens: Int) -> Amount? {
        prices.cost(inputTokens: promptTokens, outputTokens: maxTokens)
    }

    /// The 402 body for a request.
    public func paymentRequired(
        jobID: Hash256, request: JobRequest, modelHash: Hash256, promptTokens: Int, resource: String, now: UInt64
    ) -> X402.PaymentRequired {
        let maxCost = maximumCost(promptTokens: promptTokens, maxTokens: request.maxTokens) ?? Amount(microUnits: .max)
        let terms = X402.AgoraTerms(
            jobId: jobID, modelHash: modelHash, inputHash: request.inputHash(modelHash: modelHash), seed: request.seed,
            chainId: ledger.chainID, pricePerInputToken: prices.perInputToken,
            pricePerOutputToken: prices.perOutputToken, promptTokens: promptTokens,
            maxOutputTokens: request.maxTokens, expiry: now + validitySeconds)
        let requirements = X402.PaymentRequirements(
            scheme: X402.scheme, network: X402.network(chainID: ledger.chainID), asset: X402.asset,
            amount: String(maxCost.microUnits), payTo: node.address.description,
            maxTimeoutSeconds: Int(validitySeconds), extra: terms)
        return X402.PaymentRequired(
            x402Version: X402.version, error: "payment required",
            resource: X402.ResourceInfo(
                url: resource, description: "Agora inference job", mimeType: "application/json"),
            accepts: [requirements])
    }

    /// Checks a voucher for a request and reserves its maximum against the payer's deposit. The caller must
    /// later `release` the reservation (after settlement, or when the job fails).
    public func accept(
        _ payload: X402.PaymentPayload, request: JobRequest, modelHash: Hash256, promptTokens: Int, now: UInt64
    ) async throws(PaymentError) -> Voucher {
        guard payload.x402Version == X402.version else { throw .malformed("x402Version must be 2") }
        let voucher = payload.payload.voucher
        guard payload.accepted.scheme == X402.scheme, payload.accepted.network == X402.network(chainID: ledger.chainID)
        else { throw .wrongTerms("scheme or network") }
        guard voucher.chainID == ledger.chainID else { throw .wrongTerms("chain id") }
        guard voucher.payee == node.publicKey else { throw .wrongTerms("payee is not this node") }
        guard voucher.modelHash == modelHash else { throw .wrongTerms("model") }
        guard voucher.inputHash == request.inputHash(modelHash: modelHash) else { throw .wrongTerms("input hash") }
        guard now <= voucher.expiry else { throw .expired(expiry: voucher.expiry, now: now) }
        // The terms promise service for `validitySeconds`; a voucher valid much longer would keep a node's
        // reservation (and the payer's exposure) open past what was offered. A minute of clock skew is allowed.
        let latest = now + validitySeconds + Self.clockSkewSeconds
        guard voucher.expiry <= latest else { throw .expiryTooFar(expiry: voucher.expiry, latest: latest) }
        guard voucher.hasValidSignature else { throw .badSignature }
        guard let cost = maximumCost(promptTokens: promptTokens, maxTokens: request.maxTokens) else {
            throw .wrongTerms("price overflow")
        }
        guard voucher.maxAmount >= cost else { throw .voucherBelowCost(max: voucher.maxAmount, cost: cost) }

        let deposit: Amount
        let settled: Bool
        let localIndex = lock.withLock { finished != nil }
        do {
            if localIndex {
                deposit = try await ledger.account(voucher.payer).deposit
                settled = false  // decided from the local index below, under the lock
            } else {
                async let account = ledger.account(voucher.payer)
                async let job = ledger.job(voucher.jobID)
                deposit = try await account.deposit
                settled = try await job != nil
            }
        } catch { throw .ledgerUnavailable("\(error)") }
        guard !settled else { throw .jobAlreadyUsed(voucher.jobID) }
        return try reserve(voucher, deposit: deposit)
    }

    private func reserve(_ voucher: Voucher, deposit: Amount) throws(PaymentError) -> Voucher {
        lock.lock()
        defer { lock.unlock() }
        guard reserved[voucher.jobID] == nil, finished?[voucher.jobID] == nil else {
            throw .jobAlreadyUsed(voucher.jobID)
        }
        let alreadyReserved = reserved.values.filter { $0.payer == voucher.payer }.reduce(UInt64(0)) {
            $0 &+ $1.amount.microUnits
        }
        let available = Amount(
            microUnits: deposit.microUnits >= alreadyReserved ? deposit.microUnits - alreadyReserved : 0)
        guard available >= voucher.maxAmount else {
            throw .insufficientDeposit(needed: voucher.maxAmount, available: available)
        }
        reserved[voucher.jobID] = (voucher.payer, voucher.maxAmount)
        return voucher
    }

    /// Lowers a reservation to what the job actually charged (kept until settled), or drops it.
    public func adjust(job: Hash256, to amount: Amount?) {
        lock.lock()
        defer { lock.unlock() }
        if let amount, let entry = reserved[job] {
            reserved[job] = (entry.payer, amount)
        } else {
            reserved[job] = nil
        }
    }

    /// Restores reservations for settlements still pending after a restart.
    public func restore(job: Hash256, payer: PublicKey, amount: Amount) {
        lock.lock()
        defer { lock.unlock() }
        reserved[job] = (payer, amount)
    }
}
