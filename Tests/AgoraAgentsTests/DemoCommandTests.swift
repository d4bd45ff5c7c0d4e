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

    /// Runs `agora ARGS…` and returns its exit status and standard output.
    static func runAgora(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = try agoraExecutable()
        process.arguments = arguments
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
        return (process.terminationStatus, text)
    }

    /// `agora bench market` with a node that always cheats and an agent that audits everything: every trial
    /// must catch it within the first round of jobs, and the report's expectation must follow the measured
    /// shares.
    @Test func marketBenchCatchesAnAlwaysCheatingNodeInEveryTrial() async throws {
        struct Report: Decodable {
            struct Trial: Decodable {
                var caughtAtJob: Int?
                var jobs: Int
            }
            var caught: Int
            var expectedJobsToCatch: Double
            var cheaterShareOfJobs: Double
            var cheaterShareOfAudits: Double
            var trials: [Trial]
        }
        let (status, output) = try await Self.runAgora([
            "bench", "market", "--trials", "2", "--audit-rate", "1", "--cheat-rate", "1", "--max-tokens", "4",
            "--max-jobs", "6", "--json",
        ])
        #expect(status == 0, "\(output.suffix(2_000))")
        let report = try JSONDecoder().decode(Report.self, from: Data(output.utf8))
        #expect(report.trials.count == 2)
        #expect(report.caught == 2)
        for trial in report.trials {
            #expect((trial.caughtAtJob ?? 99) <= 3)
            #expect(trial.jobs == trial.caughtAtJob)
        }
        let p = report.cheaterShareOfJobs + (1 - report.cheaterShareOfJobs) * report.cheaterShareOfAudits
        #expect(abs(report.expectedJobsToCatch - 1 / p) < 1e-9)
    }

    /// The whole market as separate processes (ledger server, three nodes with one dishonest, the referee, the
    /// agent): the referee process slashes the cheater, and `ledger verify --ledger URL` replays the chain
    /// (every signature, root and the conservation of money).
    @Test func smallDemoCatchesTheCheaterAndVerifies() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("agora-demo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: data) }
        let (status, text) = try await Self.runAgora([
            "demo", "--data", data.path, "--jobs", "4", "--audit-rate", "1", "--cheat-rate", "1", "--max-tokens", "16",
        ])
        #expect(status == 0, "\(text.suffix(2_000))")
        #expect(text.contains("cheater    slashed by the referee process"))
        #expect(text.contains("verify   | OK: "))
        #expect(text.contains("referee  | job ") && text.contains("node at fault (slashed)"))
        #expect(text.contains("challenges open 0"))
        // Every participant was a process of its own, named in its lines.
        for name in ["ledger", "node-a", "node-b", "node-c", "referee", "agent"] {
            #expect(text.contains("\n\(name.padding(toLength: 8, withPad: " ", startingAt: 0)) | "), "\(name)")
        }
        #expect(FileManager.default.fileExists(atPath: data.appendingPathComponent("ledger/ledger.sqlite").path))
    }

    /// `agora bench engine --profile`: the phases account for the measured time, and the matrix products,
    /// attention and output layer all take some of it.
    @Test func engineBenchProfileAccountsForTheTime() async throws {
        struct Share: Decodable {
            var phase: String
            var prefillPercent: Double
            var decodePercent: Double
        }
        struct Row: Decodable { var test: String }
        struct Report: Decodable {
            var rows: [Row]
            var profile: [Share]?
        }
        let (status, text) = try await Self.runAgora([
            "bench", "engine", "--profile", "--json", "--repetitions", "1", "--threads", "1",
        ])
        #expect(status == 0, "\(text.suffix(2_000))")
        let report = try JSONDecoder().decode(Report.self, from: Data(text.utf8))
        #expect(report.rows.count == 2)
        let shares = try #require(report.profile)
        let decodeTotal = shares.reduce(0) { $0 + $1.decodePercent }
        let prefillTotal = shares.reduce(0) { $0 + $1.prefillPercent }
        #expect(abs(decodeTotal - 100) < 0.5 && abs(prefillTotal - 100) < 0.5)
        for phase in ["matrix products", "attention", "output layer"] {
            #expect((shares.first { $0.phase == phase }?.decodePercent ?? 0) > 0, "\(phase)")
        }
    }

    /// `agora bench engine --rounds 2 --llama-bench PATH`: the reference runs once per round, between Agora's
    /// measurements, and the ratio is the median of the rounds' ratios. The reference here is a script that
    /// answers in llama-bench's JSON with fixed speeds and counts its calls.
    @Test func engineBenchAlternatesRoundsWithTheReference() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "agora-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let calls = directory.appendingPathComponent("calls")
        let script = directory.appendingPathComponent("llama-bench")
        let entries =
            #"[{"n_prompt":64,"n_gen":0,"n_threads":1,"avg_ts":50.0},"#
            + #"{"n_prompt":0,"n_gen":32,"n_threads":1,"avg_ts":20.0}]"#
        try "#!/bin/sh\necho call >> '\(calls.path)'\necho '\(entries)'\n".write(
            to: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
        struct Row: Decodable {
            var test: String
            var agoraTokensPerSecond: Double
            var llamaCppTokensPerSecond: Double?
            var ratio: Double?
            var roundRatios: [Double]?
        }
        struct Report: Decodable {
            var rounds: Int
            var rows: [Row]
        }
        let (status, text) = try await Self.runAgora([
            "bench", "engine", "--json", "--repetitions", "1", "--threads", "1", "--rounds", "2", "--llama-bench",
            script.path,
        ])
        #expect(status == 0, "\(text.suffix(2_000))")
        let report = try JSONDecoder().decode(Report.self, from: Data(text.utf8))
        #expect(report.rounds == 2)
        #expect(try String(contentsOf: calls, encoding: .utf8) == "call\ncall\n")
        #expect(report.rows.map(\.test) == ["pp64", "tg32"])
        for row in report.rows {
            let reference = row.test == "pp64" ? 50.0 : 20.0
            #expect(row.llamaCppTokensPerSecond == reference)
            let ratios = try #require(row.roundRatios)
            #expect(ratios.count == 2 && ratios.allSatisfy { $0 > 0 })
            // The median of two rounds is their mean, and the rounds' mean speed over the reference's.
            #expect(abs((row.ratio ?? 0) - (ratios[0] + ratios[1]) / 2) < 1e-12)
            #expect(abs((row.ratio ?? 0) - row.agoraTokensPerSecond / reference) < 1e-9)
        }
    }
}
