import AgoraCore
import AgoraLedger
import AgoraNode
import Foundation

/// The referee's judgment of a challenged job.
public struct Verdict: Sendable, Equatable {
    public var jobID: Hash256
    public var nodeAtFault: Bool
    /// The output hash the referee computed by re-running the job.
    public var recomputedOutputHash: Hash256
}

/// Why the referee could not judge a challenge.
public enum RefereeError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownJob(Hash256)
    case notChallenged(Hash256)
    case revealedInputMismatch
    case wrongModel(expected: Hash256, available: Hash256)
    case refused(String)

    public var description: String {
        switch self {
        case .unknownJob(let id): return "job \(id.short)… is not on the ledger"
        case .notChallenged(let id): return "job \(id.short)… has no open challenge"
        case .revealedInputMismatch: return "the revealed request does not hash to the job's input hash"
        case .wrongModel(let expected, let available):
            return "the job used model \(expected.short)…, the referee has \(available.short)…"
        case .refused(let why): return "the ledger refused the verdict: \(why)"
        }
    }
}

/// Settles challenges by re-executing the disputed job with the registered model file. Because the engine is
/// bit-for-bit deterministic, the referee's output hash is the truth: if it differs from the node's receipt,
/// the node was wrong; if it matches, the challenge had no merit and the challenger loses the bond.
public struct Referee: Sendable {
    public let key: SigningKey
    public let engine: any CompletionEngine

    public init(key: SigningKey, engine: any CompletionEngine) {
        self.key = key
        self.engine = engine
    }

    /// Re-runs the revealed request and compares with what the node signed.
    public func judge(jobID: Hash256, revealed: JobRequest, on ledger: Ledger) async throws -> Verdict {
        guard let job = try ledger.job(jobID) else { throw RefereeError.unknownJob(jobID) }
        guard job.status == .challenged else { throw RefereeError.notChallenged(jobID) }
        guard job.modelHash == engine.modelHash else {
            throw RefereeError.wrongModel(expected: job.modelHash, available: engine.modelHash)
        }
        guard revealed.inputHash(modelHash: job.modelHash) == job.inputHash else {
            throw RefereeError.revealedInputMismatch
        }
        let engine = self.engine
        let outcome = try await offCooperativePool { try engine.complete(revealed, onText: { _ in }) }
        let recomputed = ReceiptVerifier.outputHash(outcome.text)
        return Verdict(jobID: jobID, nodeAtFault: recomputed != job.outputHash, recomputedOutputHash: recomputed)
    }

    /// Judges and records the verdict on the ledger (the referee's signed resolve transaction).
    @discardableResult
    public func resolve(jobID: Hash256, revealed: JobRequest, on ledger: Ledger) async throws -> Verdict {
        let verdict = try await judge(jobID: jobID, revealed: revealed, on: ledger)
        let nonce = try ledger.account(key.publicKey).nonce + 1
        let transaction = Transaction.signed(
            by: key, chainID: ledger.chainID, nonce: nonce,
            body: .resolveChallenge(jobID: jobID, nodeAtFault: verdict.nodeAtFault))
        let outcome = try ledger.produceBlock([transaction])
        if let refusal = outcome.rejected.first { throw RefereeError.refused(refusal.error.description) }
        return verdict
    }
}
