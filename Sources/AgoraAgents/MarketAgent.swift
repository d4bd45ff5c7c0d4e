import AgoraClient
import AgoraCore
import AgoraLedger
import AgoraNode
import AgoraWire
import Foundation

/// One job an agent paid for: what it asked, whom, and what it got back (receipt verified).
public struct HiredJob: Sendable {
    public var request: ChatCompletionRequest
    public var job: JobRequest
    public var node: PublicKey
    public var endpoint: String
    public var result: ClientCompletion
    public var receipt: JobReceipt { result.receipt }
}

/// A challenge the agent has decided to file, waiting for the disputed job to be settled on the ledger.
public struct PendingChallenge: Sendable {
    public var jobID: Hash256
    public var accused: PublicKey
    public var claimedOutputHash: Hash256
    /// The request, revealed to the referee so it can re-execute the job.
    public var revealed: JobRequest
    public var evidence: Hash256
}

/// What an audit found.
public struct AuditResult: Sendable {
    public var jobID: Hash256
    public var auditor: String
    public var matched: Bool
    /// Jobs found wrong (the audited one, or the auditor's own job when the tie-break sides with the original).
    public var challenges: [PendingChallenge]
}

/// Why an agent stopped.
public enum AgentError: Error, Sendable, Equatable, CustomStringConvertible {
    case budgetExhausted(spent: Amount, budget: Amount)
    case noEligibleNode
    /// An audit disagreed and neither a local engine nor a third node can say which run was right.
    case noTieBreaker
    case challengeRefused(TransactionError)

    public var description: String {
        switch self {
        case .budgetExhausted(let spent, let budget): return "budget exhausted: spent \(spent) of \(budget)"
        case .noEligibleNode: return "no eligible node serves the model"
        case .noTieBreaker: return "an audit disagreed, and no local engine or third node can break the tie"
        case .challengeRefused(let why): return "the ledger refused the challenge: \(why)"
        }
    }
}

/// An agent with a wallet: it hires nodes through the paid HTTP flow, never spends beyond its budget, keeps
/// every verified receipt, audits a fraction of its jobs by re-running them elsewhere with the same canonical
/// request, and turns a proven mismatch into a challenge on the ledger. One agent runs one job at a time.
public final class MarketAgent {
    /// The agent's secret key: signs vouchers and challenges, never leaves the agent.
    private let wallet: SigningKey
    public var address: PublicKey { wallet.publicKey }
    public let ledger: any LedgerAccess
    public let model: Hash256
    public let budget: Amount
    public let auditRate: Double
    public let selector: NodeSelector
    /// Used to break ties when an audit disagrees with the original (and for audits when no other node exists).
    public let localEngine: (any CompletionEngine)?
    public private(set) var spent = Amount.zero
    /// Every job of this run, with its receipt.
    public private(set) var jobs: [HiredJob] = []
    /// Where every job is also recorded durably, when given: evidence that outlives the process.
    public let receipts: ReceiptStore?
    public private(set) var audits: [AuditResult] = []
    public private(set) var pendingChallenges: [PendingChallenge] = []
    public private(set) var filedChallenges: [PendingChallenge] = []
    private var generator: SplitMix64
    private var rotation = 0

    public init(
        wallet: SigningKey, ledger: any LedgerAccess, model: Hash256, budget: Amount, auditRate: Double, seed: UInt64,
        localEngine: (any CompletionEngine)? = nil, receipts: ReceiptStore? = nil
    ) {
        self.receipts = receipts
        self.wallet = wallet
        self.ledger = ledger
        self.model = model
        self.budget = budget
        self.auditRate = min(max(auditRate, 0), 1)
        self.selector = NodeSelector(minimumStake: ledger.parameters.minimumNodeStake)
        self.localEngine = localEngine
        self.generator = SplitMix64(seed: seed)
    }

    /// The eligible nodes for the agent's model, best first.
    public func rankedNodes() async throws -> [NodeListing] {
        selector.rank(try await NodeSelector.listings(from: ledger, model: model))
    }

    /// Hires a node for one prompt. Nodes are taken in turn from the ranking (so work spreads over the good
    /// nodes and a slashed or under-staked node drops out as soon as the ledger shows it).
    public func hire(prompt: String, maxTokens: Int, temperature: Double = 0, seed: UInt64? = nil) async throws
        -> HiredJob
    {
        // A fully specified request: what an auditor re-runs must hash the same everywhere.
        let request = ChatCompletionRequest(
            messages: [OpenAIMessage(role: "user", content: prompt)], maxTokens: maxTokens, temperature: temperature,
            topP: 1, topK: 0, seed: seed ?? generator.next())
        return try await hire(request)
    }

    /// Hires the next node in turn for a full request.
    public func hire(_ request: ChatCompletionRequest) async throws -> HiredJob {
        let ranked = try await rankedNodes()
        guard !ranked.isEmpty else { throw AgentError.noEligibleNode }
        // Nodes that lost a challenge get work only when no clean node is left.
        let clean = ranked.filter { $0.record.challengesLost == 0 }
        let pool = clean.isEmpty ? ranked : clean
        let node = pool[rotation % pool.count]
        rotation += 1
        return try await hire(request, on: node)
    }

    func hire(_ request: ChatCompletionRequest, on node: NodeListing) async throws -> HiredJob {
        let remaining = try budget.subtracting(spent)
        guard !remaining.isZero else { throw AgentError.budgetExhausted(spent: spent, budget: budget) }
        guard let url = URL(string: node.endpoint) else { throw AgentError.noEligibleNode }
        let client = NodeClient(baseURL: url, wallet: wallet, maxPerJob: remaining)
        let result = try await client.chat(request)
        // A request without a seed ran with the one the node chose and signed in the receipt.
        let job = try RequestLimits(maxTokens: Int.max).job(from: request, chosenSeed: result.receipt.seed)
        let hired = HiredJob(request: request, job: job, node: node.key, endpoint: node.endpoint, result: result)
        spent = try spent.adding(result.receipt.amount)
        jobs.append(hired)
        if let receipts {
            // A SQLite write: off Swift's cooperative pool.
            let stored = StoredJob(hired)
            try await offCooperativePool { try receipts.record(stored) }
        }
        return hired
    }

    /// Whether to audit a job: a seeded draw at the audit rate.
    public func shouldAudit() -> Bool {
        Double(generator.next() >> 11) / Double(1 << 53) < auditRate
    }

    /// Re-runs a job on another eligible node; on a mismatch, breaks the tie with the local engine (or a third
    /// node) and queues a challenge against whichever job disagrees with it.
    public func audit(_ original: HiredJob) async throws -> AuditResult {
        let others = try await rankedNodes().filter { $0.key != original.node }
        let auditJob: HiredJob?
        let auditorName: String
        let auditHash: Hash256
        if let other = others.first {
            let rerun = try await hire(original.request, on: other)
            auditJob = rerun
            auditorName = "node \(other.key.address.description.prefix(12))…"
            auditHash = rerun.receipt.outputHash
        } else if let localEngine {
            auditJob = nil
            auditorName = "local engine"
            let job = original.job
            auditHash = try await offCooperativePool { try localEngine.complete(job) }.outputHash
        } else {
            throw AgentError.noEligibleNode
        }
        var result = AuditResult(
            jobID: original.receipt.jobID, auditor: auditorName, matched: auditHash == original.receipt.outputHash,
            challenges: [])
        if !result.matched {
            let truth = try await tieBreak(
                original, excluding: [original.node, auditJob?.node].compactMap { $0 }, others: others)
            for candidate in [Optional(original), auditJob].compactMap({ $0 })
            where candidate.receipt.outputHash != truth {
                result.challenges.append(
                    PendingChallenge(
                        jobID: candidate.receipt.jobID, accused: candidate.node, claimedOutputHash: truth,
                        revealed: candidate.job, evidence: Hash256.of(original.receipt.canonicalBytes)))
            }
        }
        audits.append(result)
        pendingChallenges.append(contentsOf: result.challenges)
        return result
    }

    /// The output two disagreeing runs should have had: the local engine's when the agent has one (it costs
    /// nothing and trusts no node), otherwise a third node's, hired at the job's price.
    private func tieBreak(_ job: HiredJob, excluding: [PublicKey], others: [NodeListing]) async throws -> Hash256 {
        if let localEngine {
            let request = job.job
            return try await offCooperativePool { try localEngine.complete(request) }.outputHash
        }
        guard let third = others.first(where: { !excluding.contains($0.key) }) else {
            throw AgentError.noTieBreaker
        }
        return try await hire(job.request, on: third).receipt.outputHash
    }

    /// Files the queued challenges whose jobs are now settled on the ledger (each locks the challenge bond
    /// and reveals the job's request, so the referee can re-run it).
    @discardableResult
    public func fileSettledChallenges() async throws -> [PendingChallenge] {
        var filed: [PendingChallenge] = []
        var waiting: [PendingChallenge] = []
        for challenge in pendingChallenges {
            guard let job = try await ledger.job(challenge.jobID), job.status == .settled else {
                waiting.append(challenge)
                continue
            }
            let result = try await ledger.signAndSubmit(
                .fileChallenge(
                    jobID: challenge.jobID, claimedOutputHash: challenge.claimedOutputHash,
                    evidence: challenge.evidence, revealedRequest: challenge.revealed.canonicalBytes),
                by: wallet
            ).result
            if let refusal = result.rejection { throw AgentError.challengeRefused(refusal) }
            filed.append(challenge)
        }
        pendingChallenges = waiting
        filedChallenges.append(contentsOf: filed)
        return filed
    }
}

/// SplitMix64: a tiny seeded generator, so an agent's choices are repeatable for a given seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
