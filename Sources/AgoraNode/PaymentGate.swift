import AgoraCore
import AgoraLedger
import AgoraWire
import Foundation

/// Why a payment was refused. Each has a documented code (docs/protocol.md §11.2), sent in the 402's
/// `extensions.agora.code`, and a message written for people.
public enum PaymentError: Error, Sendable, Equatable, CustomStringConvertible {
    case malformed(String)
    /// The voucher names a job id this node never issued (or one whose bytes were changed).
    case unknownJob(Hash256)
    /// The payload's `accepted` is not the terms this node issued for the job: `field` is its JSON path.
    case acceptedMismatch(field: String, issued: String, got: String)
    /// A voucher field disagrees with the issued terms: `field` is the voucher's JSON key.
    case wrongTerms(field: String, expected: String, got: String)
    case badSignature
    /// The terms (or the voucher) expired at `expiry`.
    case expired(expiry: UInt64, now: UInt64)
    /// The voucher stays valid longer than the terms it pays for.
    case expiryTooFar(expiry: UInt64, latest: UInt64)
    case jobAlreadyUsed(Hash256)
    case voucherBelowCost(max: Amount, cost: Amount)
    case insufficientDeposit(needed: Amount, available: Amount)
    case ledgerUnavailable(String)

    public var description: String {
        switch self {
        case .malformed(let why): return "malformed payment: \(why)"
        case .unknownJob(let id):
            return "job \(id.short)… was not issued by this node: pay the terms of a 402 from this node as they are"
        case .acceptedMismatch(let field, let issued, let got):
            return "'accepted.\(field)' is \(got), but the terms this node issued say \(issued)"
        case .wrongTerms(let field, let expected, let got):
            return "the voucher's '\(field)' is \(got), but the terms say \(expected)"
        case .badSignature: return "the voucher's signature is not the payer's"
        case .expired(let expiry, let now): return "the terms expired at \(expiry) (now \(now)): pay fresh terms"
        case .expiryTooFar(let expiry, let latest):
            return "the voucher's expiry \(expiry) is later than the terms' expiry \(latest)"
        case .jobAlreadyUsed(let id): return "job \(id.short)… was already paid for"
        case .voucherBelowCost(let max, let cost):
            return "the voucher's maxAmount \(max) is below the job's maximum cost \(cost)"
        case .insufficientDeposit(let needed, let available):
            return "the payer's deposit is too low: needs \(needed) available, has \(available)"
        case .ledgerUnavailable(let why): return "the ledger is unavailable: \(why)"
        }
    }

    public var code: String {
        switch self {
        case .malformed: return "invalid_payment"
        case .unknownJob: return "unknown_job"
        case .acceptedMismatch: return "accepted_mismatch"
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

    /// The JSON path of the field at fault, where one is.
    public var field: String? {
        switch self {
        case .acceptedMismatch(let field, _, _): return "accepted.\(field)"
        case .wrongTerms(let field, _, _): return "payload.voucher.\(field)"
        case .unknownJob: return "payload.voucher.jobId"
        case .expiryTooFar: return "payload.voucher.expiry"
        case .voucherBelowCost: return "payload.voucher.maxAmount"
        case .badSignature: return "payload.voucher.signature"
        default: return nil
        }
    }

    /// What the 402 carries in `extensions.agora`.
    public var refusal: X402.Refusal { X402.Refusal(code: code, message: description, field: field) }
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
    /// Where payers can look a settlement up (`GET {ledgerURL}/v1/ledger/jobs/{jobId}`), when the node
    /// settles on a ledger reachable over HTTP.
    public let ledgerURL: String?
    let jobIDs: JobIDIssuer
    private let lock = NSLock()
    /// Job ids accepted and not yet on the ledger, with the amount reserved for each.
    private var reserved: [Hash256: (payer: PublicKey, amount: Amount)] = [:]
    /// Job ids whose settlement this node finished (settled or refused), until their voucher expires. Set
    /// when the node keeps its own index (`useLocalJobIndex`): only this node can settle a voucher payable to
    /// it, so a job it never finished and does not hold is not on the ledger, and the per-request ledger
    /// read of the job disappears (one network round trip with a remote ledger).
    private var finished: [Hash256: UInt64]?

    public init(
        node: SigningKey, prices: NodePrices, ledger: any LedgerReader, validitySeconds: UInt64 = 300,
        ledgerURL: String? = nil
    ) {
        self.node = node
        self.prices = prices
        self.ledger = ledger
        self.validitySeconds = validitySeconds
        self.ledgerURL = ledgerURL
        self.jobIDs = JobIDIssuer(node: node)
    }

    /// A job id for fresh terms issued at `now`.
    public func issueJobID(now: UInt64) -> Hash256 { jobIDs.issue(expiry: now + validitySeconds) }

    /// The expiry of the terms this node issued `jobID` with; nil when it never issued it.
    public func issuedExpiry(of jobID: Hash256) -> UInt64? { jobIDs.expiry(of: jobID) }

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

    /// The terms this node issues for a job: what `accepted` must equal when the job is paid.
    public func requirements(jobID: Hash256, request: JobRequest, modelHash: Hash256, promptTokens: Int)
        -> X402.PaymentRequirements
    {
        let maxCost =
            maximumCost(promptTokens: promptTokens, maxTokens: request.maxOutputTokens) ?? Amount(microUnits: .max)
        let expiry = jobIDs.expiry(of: jobID) ?? 0
        let terms = X402.AgoraTerms(
            jobId: jobID, modelHash: modelHash, inputHash: request.inputHash(modelHash: modelHash), seed: request.seed,
            chainId: ledger.chainID, pricePerInputToken: prices.perInputToken,
            pricePerOutputToken: prices.perOutputToken, promptTokens: promptTokens,
            maxOutputTokens: request.maxOutputTokens, expiry: expiry)
        return X402.PaymentRequirements(
            scheme: X402.scheme, network: X402.network(chainID: ledger.chainID), asset: X402.asset,
            amount: String(maxCost.microUnits), payTo: node.address.description,
            maxTimeoutSeconds: Int(validitySeconds), extra: terms)
    }

    /// The 402 body for a request whose job id this node issued, with the reason an earlier payment was
    /// refused, if one was.
    public func paymentRequired(
        jobID: Hash256, request: JobRequest, modelHash: Hash256, promptTokens: Int, resource: String,
        refusal: PaymentError?
    ) -> X402.PaymentRequired {
        X402.PaymentRequired(
            x402Version: X402.version, error: refusal?.description ?? "payment required",
            resource: X402.ResourceInfo(
                url: resource, description: "Agora inference job", mimeType: "application/json"),
            accepts: [requirements(jobID: jobID, request: request, modelHash: modelHash, promptTokens: promptTokens)],
            extensions: refusal.map { X402.PaymentRequiredExtensions(agora: $0.refusal) })
    }

    /// Checks a payment against the terms this node issued for its job (`issued`, from `requirements`) and
    /// the ledger, and reserves the voucher's cap against the payer's deposit. The caller must later
    /// `adjust` the reservation (after settlement, or when the job fails).
    public func accept(_ payload: X402.PaymentPayload, issued: X402.PaymentRequirements, now: UInt64)
        async throws(PaymentError) -> Voucher
    {
        guard payload.x402Version == X402.version else { throw .malformed("x402Version must be 2") }
        let voucher = payload.payload.voucher
        guard let termsExpiry = jobIDs.expiry(of: voucher.jobID) else { throw .unknownJob(voucher.jobID) }
        guard now <= termsExpiry else { throw .expired(expiry: termsExpiry, now: now) }
        if let difference = payload.accepted.firstDifference(from: issued) {
            throw .acceptedMismatch(field: difference.field, issued: difference.expected, got: difference.got)
        }
        let terms = issued.extra
        func check(_ field: String, _ expected: String, _ got: String) throws(PaymentError) {
            guard expected == got else { throw .wrongTerms(field: field, expected: expected, got: got) }
        }
        try check("chainId", terms.chainId, voucher.chainID)
        try check("payee", issued.payTo, voucher.payee.address.description)
        try check("modelHash", terms.modelHash.hex, voucher.modelHash.hex)
        try check("inputHash", terms.inputHash.hex, voucher.inputHash.hex)
        guard now <= voucher.expiry else { throw .expired(expiry: voucher.expiry, now: now) }
        // The terms promise service until their expiry; a voucher valid longer would keep the node's
        // reservation (and the payer's exposure) open past what was offered.
        guard voucher.expiry <= termsExpiry else { throw .expiryTooFar(expiry: voucher.expiry, latest: termsExpiry) }
        guard let cost = UInt64(issued.amount).map(Amount.init(microUnits:)) else {
            throw .malformed("the job's maximum cost overflows")
        }
        guard voucher.maxAmount >= cost else { throw .voucherBelowCost(max: voucher.maxAmount, cost: cost) }
        // A larger cap would reserve more of the payer's deposit than the job can cost.
        try check("maxAmount", issued.amount, String(voucher.maxAmount.microUnits))
        guard voucher.hasValidSignature else { throw .badSignature }

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
