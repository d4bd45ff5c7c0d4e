/// Bounds the work a node accepts, by memory: a job holds its KV cache (prompt + max tokens positions) while
/// it runs, and the jobs running at once hold at most `memoryBudget` bytes and number at most `concurrency`
/// (the engine's batch). Jobs that do not fit wait in arrival order, at most `queueLimit` of them; a request
/// beyond that is refused at once (503 with Retry-After) instead of joining an unbounded backlog.
public actor AdmissionControl {
    public struct Overloaded: Error, Sendable {}

    public let concurrency: Int
    public let memoryBudget: Int
    public let queueLimit: Int
    private var running = 0
    private var reserved = 0
    private var waiters: [(bytes: Int, continuation: CheckedContinuation<Void, Never>)] = []

    public init(concurrency: Int, memoryBudget: Int = .max, queueLimit: Int) {
        self.concurrency = max(1, concurrency)
        self.memoryBudget = max(0, memoryBudget)
        self.queueLimit = max(0, queueLimit)
    }

    public var queueDepth: Int { waiters.count }
    public var runningCount: Int { running }
    /// Bytes held by the jobs running now.
    public var reservedBytes: Int { reserved }

    /// Whether a job of `bytes` could ever run here (the node refuses it as too large otherwise).
    public nonisolated func fitsAtAll(_ bytes: Int) -> Bool { bytes <= memoryBudget }

    /// Waits until the job's memory and a place in the batch are free, or throws `Overloaded` when the queue
    /// is full. Nobody overtakes a waiting job, so a large job is not starved by a stream of small ones.
    public func enter(bytes: Int) async throws(Overloaded) {
        if waiters.isEmpty && fits(bytes) {
            take(bytes)
            return
        }
        guard waiters.count < queueLimit else { throw Overloaded() }
        await withCheckedContinuation { waiters.append((bytes, $0)) }
    }

    /// Frees a job's place and memory, and lets in the waiting jobs that now fit, in order.
    public func leave(bytes: Int) {
        running -= 1
        reserved -= bytes
        while let first = waiters.first, fits(first.bytes) {
            waiters.removeFirst()
            take(first.bytes)
            first.continuation.resume()
        }
    }

    private func fits(_ bytes: Int) -> Bool {
        running < concurrency && bytes <= memoryBudget - reserved
    }

    private func take(_ bytes: Int) {
        running += 1
        reserved += bytes
    }
}
