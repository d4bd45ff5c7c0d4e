import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A long-running `agora` subcommand (a ledger server, a node) started by a test as a real OS process: its
/// output is collected line by line so the test can wait for the address it announces, and it can be
/// stopped with SIGTERM or killed with SIGKILL.
final class AgoraProcess: @unchecked Sendable {
    private let process = Process()
    private let lock = NSLock()
    private var text = ""
    private let exited = DispatchSemaphore(value: 0)

    init(_ arguments: [String]) throws {
        process.executableURL = try DemoCommandTests.agoraExecutable()
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                return
            }
            guard let self else { return }
            self.lock.lock()
            self.text += String(decoding: data, as: UTF8.self)
            self.lock.unlock()
        }
        process.terminationHandler = { [weak self] _ in self?.exited.signal() }
        try process.run()
    }

    var output: String {
        lock.lock()
        defer { lock.unlock() }
        return text
    }

    var exitStatus: Int32 { process.terminationStatus }

    /// Waits until the output contains `marker` (or the process exits, or 10 minutes pass: the test suite
    /// runs engine tests beside this one, and a starved task may wake long after its sleep ended, so the
    /// output is checked once more before giving up).
    func waitFor(_ marker: String) async throws -> String {
        func found() -> String? {
            output.split(separator: "\n").first(where: { $0.contains(marker) }).map(String.init)
        }
        let deadline = Date().addingTimeInterval(600)
        while Date() < deadline {
            if let line = found() { return line }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        if let line = found() { return line }
        throw CocoaError(
            .fileReadUnknown,
            userInfo: [NSLocalizedDescriptionKey: "never printed '\(marker)'; output:\n\(output.suffix(3_000))"])
    }

    /// The `http://127.0.0.1:PORT` a server announced on the line containing `marker`.
    func announcedURL(_ marker: String) async throws -> URL {
        let line = try await waitFor(marker)
        guard let range = line.range(of: #"http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression) else {
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "no address in '\(line)'"])
        }
        return URL(string: String(line[range]))!
    }

    func signal(_ signal: Int32) { if process.isRunning { kill(process.processIdentifier, signal) } }

    /// Waits for the process to exit; false after `timeout`.
    func waitForExit(timeout: TimeInterval = 60) async -> Bool {
        let exited = exited
        let process = process
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                let done = exited.wait(timeout: .now() + timeout) == .success
                if done {
                    exited.signal()
                    process.waitUntilExit()
                }
                continuation.resume(returning: done)
            }
        }
    }

    /// SIGTERM, then SIGKILL if it is still running after `timeout`.
    func stop(timeout: TimeInterval = 30) async {
        signal(SIGTERM)
        if await !waitForExit(timeout: timeout) { signal(SIGKILL) }
    }
}
