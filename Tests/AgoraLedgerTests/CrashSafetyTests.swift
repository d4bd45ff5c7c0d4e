import AgoraCore
import AgoraLedger
import Foundation
import Testing

/// Kills a process that is committing blocks with SIGKILL at random moments, 24 times over the same data
/// directory. After each kill: every block the process reported as committed is still there, the ledger
/// reopens and resumes, the whole chain verifies, and the money balances.
@Suite struct CrashSafetyTests {
    /// The `agora` executable built next to this test bundle (`swift build` builds it; `.ci/run` does).
    static func agoraExecutable() throws -> URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("agora")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        let fallback = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/agora")
        guard FileManager.default.isExecutableFile(atPath: fallback.path) else {
            throw CocoaError(
                .fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "build the agora executable first (swift build)"]
            )
        }
        return fallback
    }

    @Test func killedWriterLosesNoCommittedBlock() throws {
        let executable = try Self.agoraExecutable()
        let directory = TestChain.temporaryDirectory()
        var generator = SystemRandomNumberGenerator()
        var lastReported: UInt64 = 0
        for trial in 0..<24 {
            let process = Process()
            process.executableURL = executable
            process.arguments = ["ledger", "stress", "--data", directory.path, "--blocks", "100000", "--batch", "16"]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            let collected = LineCollector()
            pipe.fileHandleForReading.readabilityHandler = { handle in collected.append(handle.availableData) }
            try process.run()
            // Let it commit a few blocks first (the first trial also creates the chain), then kill at a random moment.
            let deadline = Date().addingTimeInterval(20)
            while collected.lastHeight() == nil && Date() < deadline && process.isRunning { usleep(2_000) }
            usleep(UInt32.random(in: 5_000...150_000, using: &generator))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            pipe.fileHandleForReading.readabilityHandler = nil
            collected.append(pipe.fileHandleForReading.readDataToEndOfFile())
            #expect(process.terminationReason == .uncaughtSignal, "trial \(trial): the writer should have been killed")
            let reported = try #require(collected.lastHeight(), "trial \(trial): the writer committed nothing")
            #expect(reported >= lastReported)
            lastReported = reported

            let ledger = try Ledger.open(at: directory)
            #expect(
                ledger.head.header.height >= reported,
                "trial \(trial): block \(reported) was reported committed but is gone")
            let totals = try ledger.totals()
            #expect(try ledger.moneyHeld() == totals.supply.microUnits)
            let report = try ChainVerifier(directory: directory).verify()
            #expect(report.blocks > reported)
        }
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Collects a child's stdout and finds the last "committed N" line.
private final class LineCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    func append(_ chunk: Data) {
        lock.lock()
        data.append(chunk)
        lock.unlock()
    }

    func lastHeight() -> UInt64? {
        lock.lock()
        defer { lock.unlock() }
        let text = String(decoding: data, as: UTF8.self)
        // Only complete lines count: a line cut by the kill was never fully reported.
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        return lines.last { $0.hasPrefix("committed ") }.flatMap { UInt64($0.dropFirst("committed ".count)) }
    }
}
