import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A participant of `agora demo` running as its own OS process (this same executable with another
/// subcommand). Its stdout and stderr lines are printed as they come, prefixed with its name, and kept so the
/// demo can wait for a line (the port a server bound).
final class ChildProcess: @unchecked Sendable {
    let name: String
    private let process = Process()
    private let lock = NSLock()
    private var lines: [String] = []
    private var partial = Data()
    private var waiters: [(pattern: String, continuation: CheckedContinuation<String?, Never>)] = []
    private let prefixWidth: Int
    private let exited = DispatchSemaphore(value: 0)

    /// The path of the running executable, to spawn participants from.
    static var executable: URL {
        URL(
            fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                ?? CommandLine.arguments[0])
    }

    init(name: String, arguments: [String], prefixWidth: Int = 8) throws {
        self.name = name
        self.prefixWidth = prefixWidth
        process.executableURL = Self.executable
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self else { return }
            if data.isEmpty {
                handle.readabilityHandler = nil
                self.flushPartial()
            } else {
                self.receive(data)
            }
        }
        process.terminationHandler = { [weak self] _ in self?.exited.signal() }
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var exitStatus: Int32 { process.terminationStatus }

    private func receive(_ data: Data) {
        lock.lock()
        partial.append(data)
        var complete: [String] = []
        while let newline = partial.firstIndex(of: UInt8(ascii: "\n")) {
            complete.append(String(decoding: partial[partial.startIndex..<newline], as: UTF8.self))
            partial.removeSubrange(partial.startIndex...newline)
        }
        lock.unlock()
        for line in complete { deliver(line) }
    }

    private func flushPartial() {
        lock.lock()
        let rest = partial
        partial = Data()
        lock.unlock()
        if !rest.isEmpty { deliver(String(decoding: rest, as: UTF8.self)) }
        lock.lock()
        let pending = waiters
        waiters = []
        lock.unlock()
        for waiter in pending { waiter.continuation.resume(returning: nil) }
    }

    private func deliver(_ line: String) {
        let label = name.padding(toLength: max(prefixWidth, name.count), withPad: " ", startingAt: 0)
        say("\(label) | \(line)")
        lock.lock()
        lines.append(line)
        var matched: [CheckedContinuation<String?, Never>] = []
        waiters.removeAll { waiter in
            guard line.contains(waiter.pattern) else { return false }
            matched.append(waiter.continuation)
            return true
        }
        lock.unlock()
        for continuation in matched { continuation.resume(returning: line) }
    }

    /// The first line containing `pattern` (already printed or still to come); nil if the process's output
    /// ends without one.
    func line(containing pattern: String) async -> String? {
        await withCheckedContinuation { continuation in
            lock.lock()
            if let line = lines.first(where: { $0.contains(pattern) }) {
                lock.unlock()
                continuation.resume(returning: line)
                return
            }
            if !process.isRunning, partial.isEmpty {
                lock.unlock()
                continuation.resume(returning: nil)
                return
            }
            waiters.append((pattern, continuation))
            lock.unlock()
        }
    }

    /// The loopback URL a server child announced ("… on http://127.0.0.1:PORT").
    func announcedURL(_ marker: String) async throws -> URL {
        guard let line = await line(containing: marker),
            let range = line.range(of: #"http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression),
            let url = URL(string: String(line[range]))
        else { throw DemoError.participantFailed(name, "it never announced its address") }
        return url
    }

    func signal(_ signal: Int32) { if process.isRunning { kill(process.processIdentifier, signal) } }

    /// Waits for the process to exit, up to `timeout`; true when it did.
    func waitForExit(timeout: TimeInterval) async -> Bool {
        let exited = exited
        let done = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: exited.wait(timeout: .now() + timeout) == .success)
            }
        }
        if done { exited.signal() }  // leave it signalled for later waiters
        return done
    }

    /// Asks the process to stop (SIGTERM: servers flush and shut down gracefully), killing it if it does not
    /// within `timeout`.
    func stop(timeout: TimeInterval = 15) async {
        signal(SIGTERM)
        if await !waitForExit(timeout: timeout) {
            signal(SIGKILL)
            _ = await waitForExit(timeout: 5)
        }
    }
}

/// Why the multi-process demo stopped.
enum DemoError: Error, CustomStringConvertible {
    case participantFailed(String, String)
    case timedOut(String)

    var description: String {
        switch self {
        case .participantFailed(let name, let why): return "\(name) failed: \(why)"
        case .timedOut(let what): return "timed out: \(what)"
        }
    }
}

/// Prints a line at once (stdout is block-buffered into a pipe): the demo's own lines stay in order with its
/// children's.
func say(_ text: String) {
    print(text)
    fflush(nil)
}

func sayError(_ text: String) {
    fflush(nil)
    printError(text)
}
