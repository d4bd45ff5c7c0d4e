import AgoraLedger
import Foundation
import ServiceLifecycle

/// Submits a node's pending settlements to the ledger every `interval`, and once more when the node shuts
/// down (SIGTERM/SIGINT trigger a graceful shutdown): the HTTP server stops first, so the jobs it finished
/// are queued, then this service flushes them, waiting at most `shutdownWait` for the ledger. What the
/// ledger did not take in time stays in the node's SQLite queue for the next start.
public struct SettlementService: Service {
    public let node: NodeService
    public let ledger: any LedgerAccess
    public let interval: Duration
    public let shutdownWait: Duration
    /// Called after every flush that settled or refused something (and after the final one, always).
    public let onReport: @Sendable (SettlementReport, _ final: Bool) -> Void

    public init(
        node: NodeService, ledger: any LedgerAccess, interval: Duration = .seconds(2),
        shutdownWait: Duration = .seconds(10),
        onReport: @escaping @Sendable (SettlementReport, _ final: Bool) -> Void = { _, _ in }
    ) {
        self.node = node
        self.ledger = ledger
        self.interval = interval
        self.shutdownWait = shutdownWait
        self.onReport = onReport
    }

    public func run() async throws {
        let node = node
        let ledger = ledger
        let interval = interval
        let onReport = onReport
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled else { break }
                if let report = try? await node.flushSettlements(to: ledger),
                    report.settled + report.refused.count > 0
                {
                    onReport(report, false)
                }
            }
        }
        // The final flush, bounded: a ledger that does not answer must not keep the node from exiting.
        let final = await withTaskGroup(of: SettlementReport?.self) { group in
            group.addTask { try? await node.flushSettlements(to: ledger) }
            group.addTask {
                try? await Task.sleep(for: shutdownWait)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        var report = final ?? SettlementReport()
        if final == nil { report.stillPending = node.settlements?.count ?? 0 }
        onReport(report, true)
    }
}
