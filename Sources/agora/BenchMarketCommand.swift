import AgoraAgents
import AgoraClient
import AgoraCore
import AgoraLedger
import AgoraNode
import AgoraWire
import ArgumentParser
import Foundation

/// `agora bench market`: how many jobs the market takes to catch a dishonest node, on average.
///
/// Each trial is a fresh demo market (new chain, three nodes on loopback, the third dishonest at
/// `--cheat-rate`) and an agent auditing at `--audit-rate` with its own seed; the agent hires until the
/// referee finds the dishonest node at fault. One trial is one draw from a roughly geometric distribution,
/// so only the mean over many trials can be compared with the expectation.
///
/// The expectation has to count both ways a cheat is seen. A job on the cheater is caught when it cheats
/// and is audited (cheat × audit); but the cheater also re-runs other nodes' jobs as an auditor, and a
/// cheated audit answer disagrees with the original, so the tie-break convicts it (cheat × audit again, for
/// the audited job). With s₁ the share of jobs the cheater serves and s₂ the share of the other nodes'
/// audited jobs it re-runs, both measured, the chance per job is cheat × audit × (s₁ + (1 − s₁) s₂).
struct BenchMarketCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "market",
        abstract: "Jobs needed to catch a dishonest node, averaged over independent market runs, vs expectation.")

    @Option(help: "Independent market runs.") var trials: Int = 20
    @Option(help: "Fraction of jobs the agent audits.") var auditRate: Double = 0.5
    @Option(help: "Fraction of its jobs the dishonest node cheats on.") var cheatRate: Double = 0.5
    @Option(help: "Jobs per trial at most (a trial that reaches it counts as not caught).") var maxJobs: Int = 200
    @Option(help: "Tokens per answer, at most.") var maxTokens: Int = 8
    @Option(help: "Seed of the first trial (trial i uses seed + i).") var seed: UInt64 = 1
    @Option(help: "GGUF model (default: the default model).") var model: String?
    @Option(help: "Engine threads.") var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @OptionGroup var format: OutputFormat

    struct Trial: Encodable {
        var seed: UInt64
        var caughtAtJob: Int?
        var jobs: Int
        var audits: Int
        /// First-hand jobs served by the dishonest node.
        var jobsOnCheater: Int
        /// Audits of the honest nodes' jobs, and how many of them the dishonest node re-ran.
        var auditsOfOthers: Int
        var auditsRunByCheater: Int
    }

    struct Report: Encodable {
        var auditRate: Double
        var cheatRate: Double
        /// s₁ and s₂ (see the type's documentation), measured over all trials.
        var cheaterShareOfJobs: Double
        var cheaterShareOfAudits: Double
        var expectedJobsToCatch: Double
        /// 1 / (cheat × audit × ⅓): the expectation if the cheater were never an auditor.
        var expectedIgnoringAudits: Double
        var meanJobsToCatch: Double?
        var medianJobsToCatch: Double?
        var caught: Int
        var trials: [Trial]
    }

    func validate() throws {
        guard trials >= 1, maxJobs >= 1 else { throw ValidationError("--trials and --max-jobs must be at least 1") }
        guard (0...1).contains(auditRate), (0...1).contains(cheatRate), auditRate > 0, cheatRate > 0 else {
            throw ValidationError("--audit-rate and --cheat-rate must be in (0, 1]")
        }
    }

    func run() async throws {
        let engine = try EngineCommandSupport.completionEngine(model, threads: threads)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "agora-bench-market-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var results: [Trial] = []
        for index in 0..<trials {
            let trialSeed = seed &+ UInt64(index)
            let trial = try await Self.runTrial(
                root: directory.appendingPathComponent("trial-\(index)"), engine: engine, seed: trialSeed,
                auditRate: auditRate, cheatRate: cheatRate, maxJobs: maxJobs, maxTokens: maxTokens)
            results.append(trial)
            printError(
                "trial \(index + 1)/\(trials): \(trial.caughtAtJob.map { "caught at job \($0)" } ?? "not caught in \(trial.jobs) jobs")"
            )
        }
        let s1 = Double(results.map(\.jobsOnCheater).reduce(0, +)) / Double(max(1, results.map(\.jobs).reduce(0, +)))
        let s2 =
            Double(results.map(\.auditsRunByCheater).reduce(0, +))
            / Double(max(1, results.map(\.auditsOfOthers).reduce(0, +)))
        let caught = results.compactMap(\.caughtAtJob).sorted()
        let mean = caught.isEmpty ? nil : Double(caught.reduce(0, +)) / Double(caught.count)
        let middle = median(caught.map(Double.init))
        let report = Report(
            auditRate: auditRate, cheatRate: cheatRate, cheaterShareOfJobs: s1, cheaterShareOfAudits: s2,
            expectedJobsToCatch: 1 / (cheatRate * auditRate * (s1 + (1 - s1) * s2)),
            expectedIgnoringAudits: 3 / (cheatRate * auditRate), meanJobsToCatch: mean,
            medianJobsToCatch: middle, caught: caught.count, trials: results)
        if format.json {
            try printJSON(report)
            return
        }
        var table = TextTable(header: ["trial", "seed", "caught at job", "jobs", "on cheater", "audits"])
        for (index, trial) in results.enumerated() {
            table.rows.append([
                String(index + 1), String(trial.seed), trial.caughtAtJob.map(String.init) ?? "not caught",
                String(trial.jobs), String(trial.jobsOnCheater), String(trial.audits),
            ])
        }
        print(table.render())
        print(
            String(
                format: "caught in %d of %d trials; jobs to catch: mean %@, median %@",
                caught.count, results.count, mean.map { String(format: "%.1f", $0) } ?? "–",
                middle.map { String(format: "%.1f", $0) } ?? "–"))
        print(
            String(
                format:
                    "expected 1/(cheat × audit × (s₁ + (1 − s₁)·s₂)) = 1/(%.2f × %.2f × (%.2f + %.2f × %.2f)) = %.1f jobs",
                cheatRate, auditRate, s1, 1 - s1, s2, report.expectedJobsToCatch))
        print(
            String(
                format: "(s₁ = cheater's share of jobs, s₂ = its share of audits of other nodes' jobs; "
                    + "ignoring audits it would be 1/(⅓ × cheat × audit) = %.1f)", report.expectedIgnoringAudits))
    }

    /// One market run: hire, audit at the rate, settle, challenge, until the referee slashes the cheater.
    static func runTrial(
        root: URL, engine: LocalCompletionEngine, seed: UInt64, auditRate: Double, cheatRate: Double, maxJobs: Int,
        maxTokens: Int
    ) async throws -> Trial {
        let market = try await DemoMarket.start(
            root: root, engine: engine, cheatRate: cheatRate, seed: seed, maxTokens: maxTokens)
        let agent = MarketAgent(
            wallet: market.agent, ledger: market.access, model: engine.modelHash, budget: DemoMarket.agr(10),
            auditRate: auditRate, seed: seed, localEngine: engine)
        let referee = Referee(key: market.sequencer, engine: engine)
        var caughtAtJob: Int?
        var jobs = 0
        var jobsOnCheater = 0
        var auditsOfOthers = 0
        var auditsRunByCheater = 0
        let cheater = market.cheater.key.publicKey
        do {
            jobLoop: for index in 0..<maxJobs {
                let prompt = DemoCommand.prompts[index % DemoCommand.prompts.count]
                let hired = try await agent.hire(prompt: prompt, maxTokens: maxTokens)
                jobs += 1
                if hired.node == cheater { jobsOnCheater += 1 }
                if agent.shouldAudit() {
                    let before = agent.jobs.count
                    _ = try await agent.audit(hired)
                    if hired.node != cheater {
                        auditsOfOthers += 1
                        if agent.jobs.count > before, agent.jobs[before].node == cheater { auditsRunByCheater += 1 }
                    }
                }
                for participant in market.participants {
                    try await participant.service.flushSettlements(to: market.access)
                }
                for challenge in try await agent.fileSettledChallenges() {
                    let verdict = try await referee.resolve(jobID: challenge.jobID, on: market.access)
                    if verdict.nodeAtFault, challenge.accused == cheater {
                        caughtAtJob = index + 1
                        break jobLoop
                    }
                }
            }
        } catch {
            await market.stop()
            throw error
        }
        await market.stop()
        return Trial(
            seed: seed, caughtAtJob: caughtAtJob, jobs: jobs, audits: agent.audits.count, jobsOnCheater: jobsOnCheater,
            auditsOfOthers: auditsOfOthers, auditsRunByCheater: auditsRunByCheater)
    }
}
