import AgoraCore
import Dispatch

/// Orders submitted transactions into blocks.
///
/// Submissions are checked at the door — size of the queue, chain id and the signature — so the queue holds
/// only `VerifiedTransaction`s: the signature check, the one expensive step that parallelizes, runs on the
/// submitting task's thread (every core when submissions arrive concurrently) while earlier blocks are
/// applied and committed. `seal` turns the head of the queue into the next block through
/// `Ledger.produceBlock(verified:)`, which does every other check. The queue is bounded so a flood of
/// submissions is refused rather than buffered without limit.
public actor Sequencer {
    public let ledger: Ledger
    public let queueLimit: Int
    private var queue: [VerifiedTransaction] = []
    private var queueStart = 0
    /// Blocks are produced here, in the order their batches left the queue, off Swift's cooperative pool
    /// (a commit waits for the disk).
    private let producer = DispatchQueue(label: "agora.sequencer.producer")

    public init(ledger: Ledger, queueLimit: Int = 100_000) {
        self.ledger = ledger
        self.queueLimit = queueLimit
    }

    public var pendingCount: Int { queue.count - queueStart }

    /// Checks a transaction and queues it for a coming block; returns its id.
    @discardableResult
    public nonisolated func submit(_ transaction: Transaction) async throws(TransactionError) -> Hash256 {
        guard transaction.chainID == ledger.chainID else {
            throw .wrongChain(expected: ledger.chainID, got: transaction.chainID)
        }
        guard let verified = VerifiedTransaction.check(transaction) else { throw .invalidSignature }
        try await enqueue(verified)
        return verified.id
    }

    private func enqueue(_ transaction: VerifiedTransaction) throws(TransactionError) {
        guard pendingCount < queueLimit else { throw .queueFull(limit: queueLimit) }
        queue.append(transaction)
    }

    /// Commits up to `maxTransactions` queued transactions, in arrival order, as the next block.
    public func seal(maxTransactions: Int = 10_000, allowEmpty: Bool = false) async throws(LedgerError)
        -> BlockOutcome
    {
        let end = Swift.min(queueStart + Swift.max(maxTransactions, 0), queue.count)
        let batch = Array(queue[queueStart..<end])
        queueStart = end
        if queueStart == queue.count || queueStart > 4_096 {
            queue.removeFirst(queueStart)
            queueStart = 0
        }
        let ledger = ledger
        let result: Result<BlockOutcome, LedgerError> = await withCheckedContinuation { continuation in
            producer.async {
                do throws(LedgerError) {
                    continuation.resume(
                        returning: .success(try ledger.produceBlock(verified: batch, allowEmpty: allowEmpty)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }
}
