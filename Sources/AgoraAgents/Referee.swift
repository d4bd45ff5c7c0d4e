import AgoraCore
import AgoraLedger
import AgoraNode
import AgoraWire
import Foundation

/// The referee's judgment of a challenged job.
public struct Verdict: Sendable, Equatable {
    public var jobID: Hash256
    public var nodeAtFault: Bool
    /// The output hash the referee computed by re-running the job.
    public var recomputedOutputHash: Hash256
}

/// Why the referee gives no verdict on a challenge. Every case is an abstention: the challenge stays open
/// (for a referee that can judge it), nobody is slashed and no bond moves.
public enum RefereeError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownJob(Hash256)
    case notChallenged(Hash256)
    /// The ledger checked the revealed request's hash when the challenge was filed; these bytes still do not
    /// decode as a request this engine understands.
    case undecodableRequest(String)
    case revealedInputMismatch
    /// The referee has no file for the job's model.
    case modelUnavailable(Hash256)
    /// The job ran on another engine version: its output may legitimately differ, so re-running it here
    /// proves nothing either way.
    case engineVersionMismatch(job: String, referee: String)
    case inferenceFailed(String)
    case ledger(LedgerAccessError)
    case refused(TransactionError)

    /// Whether the referee cannot judge this challenge at all (as opposed to a failure worth retrying: the
    /// ledger unreachable, a verdict refused for its nonce).
    public var isAbstention: Bool {
        switch self {
        case .undecodableRequest, .revealedInputMismatch, .modelUnavailable, .engineVersionMismatch,
            .inferenceFailed:
            return true
        case .unknownJob, .notChallenged, .ledger, .refused: return false
        }
    }

    public var description: String {
        switch self {
        case .unknownJob(let id): return "job \(id.short)… is not on the ledger"
        case .notChallenged(let id): return "job \(id.short)… has no open challenge"
        case .undecodableRequest(let why): return "the revealed request does not decode: \(why)"
        case .revealedInputMismatch: return "the revealed request does not hash to the job's input hash"
        case .modelUnavailable(let hash): return "the referee has no file for model \(hash.short)…"
        case .engineVersionMismatch(let job, let referee):
            return "the job ran on engine \(job), the referee runs \(referee)"
        case .inferenceFailed(let why): return "re-execution failed: \(why)"
        case .ledger(let error): return "\(error)"
        case .refused(let error): return "the ledger refused the verdict: \(error)"
        }
    }
}

/// Settles challenges by re-executing the disputed job with the registered model file. Because the engine is
/// bit-for-bit deterministic for one engine version, the referee's output hash is the truth: if it differs
/// from the node's receipt, the node was wrong; if it matches, the challenge had no merit and the challenger
/// loses the bond. The referee reaches the ledger only through the access protocols, so it runs as its own
/// process (`agora referee`), and without its key anyone can recompute its verdicts (`--dry-run`).
public struct Referee: Sendable {
    /// The chain's referee key; nil for a dry run (verdicts are computed, never submitted).
    private let key: SigningKey?
    /// Whether verdicts are only computed (no key to submit them).
    public var isDryRun: Bool { key == nil }
    /// The models this referee can re-run, by content hash.
    public let engines: [Hash256: any CompletionEngine]

    public init(key: SigningKey?, engines: [any CompletionEngine]) {
        self.key = key
        var byHash: [Hash256: any CompletionEngine] = [:]
        for engine in engines { byHash[engine.modelHash] = engine }
        self.engines = byHash
    }

    public init(key: SigningKey?, engine: any CompletionEngine) { self.init(key: key, engines: [engine]) }

    /// Re-runs a challenged job's revealed request and compares with what the node signed.
    public func judge(_ entry: ChallengeEntry) async throws(RefereeError) -> Verdict {
        let job = entry.job
        guard job.status == .challenged, entry.challenge.isOpen else { throw .notChallenged(entry.jobID) }
        guard let engine = engines[job.modelHash] else { throw .modelUnavailable(job.modelHash) }
        guard job.engineVersion == engine.engineVersion else {
            throw .engineVersionMismatch(job: job.engineVersion, referee: engine.engineVersion)
        }
        let revealed: JobRequest
        do { revealed = try JobRequest(canonicalBytes: entry.challenge.revealedRequest) } catch {
            throw .undecodableRequest("\(error)")
        }
        guard revealed.inputHash(modelHash: job.modelHash) == job.inputHash else { throw .revealedInputMismatch }
        let outcome: CompletionOutcome
        do {
            outcome = try await offCooperativePool { try engine.complete(revealed) }
        } catch { throw .inferenceFailed("\(error)") }
        let recomputed = outcome.outputHash
        return Verdict(jobID: entry.jobID, nodeAtFault: recomputed != job.outputHash, recomputedOutputHash: recomputed)
    }

    /// Judges the open challenge of `jobID` as the ledger has it now.
    public func judge(jobID: Hash256, on ledger: any LedgerReader) async throws(RefereeError) -> Verdict {
        try await judge(try await Self.entry(jobID, on: ledger))
    }

    /// Judges and records the verdict on the ledger (the referee's signed resolve transaction). A dry-run
    /// referee (no key) only judges.
    @discardableResult
    public func resolve(jobID: Hash256, on ledger: any LedgerAccess) async throws(RefereeError) -> Verdict {
        let verdict = try await judge(jobID: jobID, on: ledger)
        guard let key else { return verdict }
        let result: SubmissionResult
        do {
            result = try await ledger.signAndSubmit(
                .resolveChallenge(jobID: jobID, nodeAtFault: verdict.nodeAtFault), by: key
            ).result
        } catch { throw .ledger(error) }
        if let refusal = result.rejection { throw .refused(refusal) }
        return verdict
    }

    static func entry(_ jobID: Hash256, on ledger: any LedgerReader) async throws(RefereeError) -> ChallengeEntry {
        let job: JobRecord?
        let challenge: ChallengeRecord?
        do {
            job = try await ledger.job(jobID)
            challenge = try await ledger.challenge(jobID)
        } catch { throw .ledger(error) }
        guard let job else { throw .unknownJob(jobID) }
        guard let challenge, challenge.isOpen else { throw .notChallenged(jobID) }
        return ChallengeEntry(jobID: jobID, job: job, challenge: challenge)
    }
}
