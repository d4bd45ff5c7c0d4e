import AgoraCore

/// Orders submitted transactions into blocks.
///
/// Submissions are checked cheaply at the door (size, chain id) and queued; `seal` turns the queue into the
/// next block through `Ledger.produceBlock`, which does the full checks. The queue is bounded so a flood of
/// submissions is refused rather than buffered without limit.
public actor Sequencer {
    public enum SubmitError: Error, Equatable, Sendable {
        case queueFull(limit: Int)
        case wrongChain(expected: String, got: String)
    }

    public let ledger: Ledger
    public let queueLimit: Int
    private var queue: [Transaction] = []

    public init(ledger: Ledger, queueLimit: Int = 100_000) {
        self.ledger = ledger
        self.queueLimit = queueLimit
    }

    public var pendingCount: Int { queue.count }

    /// Queues a transaction for the next block and returns its id.
    @discardableResult
    public func submit(_ transaction: Transaction) throws(SubmitError) -> Hash256 {
        guard transaction.chainID == ledger.chainID else {
            throw .wrongChain(expected: ledger.chainID, got: transaction.chainID)
        }
        guard queue.count < queueLimit else { throw .queueFull(limit: queueLimit) }
        queue.append(transaction)
        return transaction.id
    }

    /// Commits up to `maxTransactions` queued transactions as the next block.
    public func seal(maxTransactions: Int = 10_000, allowEmpty: Bool = false) throws(LedgerError) -> BlockOutcome {
        let batch = Array(queue.prefix(maxTransactions))
        queue.removeFirst(batch.count)
        return try ledger.produceBlock(batch, allowEmpty: allowEmpty)
    }
}
