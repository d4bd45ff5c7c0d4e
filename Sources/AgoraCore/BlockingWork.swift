import Foundation

/// Runs blocking work — an engine job, a child process, a large file hash — on a GCD thread and awaits it.
///
/// Swift's cooperative pool has one thread per core (two here). Blocking one of them for seconds starves every
/// async HTTP handler in the process, and with two blocked threads an in-process node cannot answer at all.
public func offCooperativePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global(qos: .userInitiated).async {
            continuation.resume(with: Result { try body() })
        }
    }
}
