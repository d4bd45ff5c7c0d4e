/// Bounds the work a node accepts: at most `concurrency` jobs run at once and at most `queueLimit` wait.
/// A request beyond that is refused at once (503 with Retry-After) instead of joining an unbounded backlog.
public actor AdmissionControl {
    public struct Overloaded: Error, Sendable {}

    public let concurrency: Int
    public let queueLimit: Int
    private var running = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init(concurrency: Int, queueLimit: Int) {
        self.concurrency = max(1, concurrency)
        self.queueLimit = max(0, queueLimit)
    }

    public var queueDepth: Int { waiters.count }
    public var runningCount: Int { running }

    /// Waits for a slot, or throws `Overloaded` when the queue is full.
    public func enter() async throws(Overloaded) {
        if running < concurrency {
            running += 1
            return
        }
        guard waiters.count < queueLimit else { throw Overloaded() }
        await withCheckedContinuation { waiters.append($0) }
    }

    /// Frees a slot, handing it straight to the next waiter.
    public func leave() {
        if waiters.isEmpty {
            running -= 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}
