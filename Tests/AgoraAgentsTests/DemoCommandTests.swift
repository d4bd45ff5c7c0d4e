import Foundation
import Testing

/// Runs the real `agora demo` executable (as CI and users do) on a small market: it must catch the cheater,
/// verify the chain and exit 0.
@Suite struct DemoCommandTests {
    static func agoraExecutable() throws -> URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("agora")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "build the agora executable first"])
    }

    @Test func smallDemoCatchesTheCheaterAndVerifies() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("agora-demo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: data) }
        let process = Process()
        process.executableURL = try Self.agoraExecutable()
        process.arguments = [
            "demo", "--data", data.path, "--jobs", "4", "--audit-rate", "1", "--cheat-rate", "1", "--max-tokens", "16",
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let text = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<String, any Error>) in
            DispatchQueue.global().async {
                do {
                    try process.run()
                    let data = output.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    continuation.resume(returning: String(decoding: data, as: UTF8.self))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
        #expect(process.terminationStatus == 0, "\(text.suffix(2_000))")
        #expect(text.contains("cheater    caught at job"))
        #expect(text.contains("OK: "))
        #expect(FileManager.default.fileExists(atPath: data.appendingPathComponent("ledger/ledger.sqlite").path))
    }
}
