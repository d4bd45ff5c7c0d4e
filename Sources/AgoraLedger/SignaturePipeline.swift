import Foundation

/// Checks the signatures of a block's transactions on background threads while the caller applies them in
/// order (or, for a sequencer, while it commits the previous block).
///
/// Ed25519 verification is the ledger's most expensive step and the only one that parallelizes: the state
/// transition must run in sequence. Verifying everything first and then applying leaves the other cores idle
/// while the block is applied and committed; here workers verify chunks ahead of the applying thread, and
/// that thread verifies a chunk itself instead of waiting when no worker has claimed it yet, so every core
/// stays busy until the block is done.
public final class SignaturePipeline: @unchecked Sendable {
    /// Transactions per unit of work: large enough that the lock is rare, small enough that the applying
    /// thread seldom waits for a chunk at the start.
    static let chunkSize = 32

    private let transactions: [Transaction]
    private let results: UnsafeMutableBufferPointer<VerifiedTransaction?>
    private let chunkCount: Int
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var nextChunk = 0
    private var finished: [Bool]
    private var cancelled = false
    // Touched only by the consuming thread: chunks below this are known to be finished.
    private var finishedPrefix = 0

    /// Starts verifying `transactions` on `workers` background threads (by default all cores but the
    /// caller's). Small batches are verified by the caller alone.
    public init(_ transactions: [Transaction], workers: Int? = nil) {
        self.transactions = transactions
        results = .allocate(capacity: transactions.count)
        results.initialize(repeating: nil)
        chunkCount = (transactions.count + Self.chunkSize - 1) / Self.chunkSize
        finished = Array(repeating: false, count: chunkCount)
        guard chunkCount > 1 else { return }
        let count = workers ?? Swift.max(1, ProcessInfo.processInfo.activeProcessorCount - 1)
        for _ in 0..<Swift.min(count, chunkCount - 1) {
            DispatchQueue.global(qos: .userInitiated).async { [self] in
                while let chunk = claim() { verify(chunk) }
            }
        }
    }

    deinit {
        results.deinitialize()
        results.deallocate()
    }

    /// Transaction `index` with its proof of a valid signature, or nil when the signature is bad; waits for
    /// (or does) the work if needed.
    public func verified(_ index: Int) -> VerifiedTransaction? {
        let chunk = index / Self.chunkSize
        if chunk >= finishedPrefix { waitFor(chunk) }
        return results[index]
    }

    /// Every result, in order (verifies on the calling thread too).
    public func allResults() -> [VerifiedTransaction?] {
        if chunkCount > 0 { waitFor(chunkCount - 1) }
        return Array(results)
    }

    /// Stops workers from claiming more chunks (the caller gave up on the block).
    public func cancel() {
        condition.lock()
        cancelled = true
        condition.unlock()
    }

    private func waitFor(_ chunk: Int) {
        condition.lock()
        while !finished[chunk] {
            if nextChunk <= chunk {
                // Nobody has this chunk (or one before it) yet: do it here rather than wait.
                let mine = nextChunk
                nextChunk += 1
                condition.unlock()
                verify(mine)
                condition.lock()
            } else {
                condition.wait()
            }
        }
        while finishedPrefix < chunkCount && finished[finishedPrefix] { finishedPrefix += 1 }
        condition.unlock()
    }

    private func claim() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        guard !cancelled, nextChunk < chunkCount else { return nil }
        nextChunk += 1
        return nextChunk - 1
    }

    private func verify(_ chunk: Int) {
        let start = chunk * Self.chunkSize
        let end = Swift.min(start + Self.chunkSize, transactions.count)
        // Each chunk's slots are written by exactly one thread, and read only after `finished` says so.
        for index in start..<end { results[index] = VerifiedTransaction.check(transactions[index]) }
        condition.lock()
        finished[chunk] = true
        condition.broadcast()
        condition.unlock()
    }
}
