import AgoraAgents
import AgoraClient
import AgoraCore
import AgoraLedger
import AgoraNode
import AgoraWire
import ArgumentParser
import Foundation

/// `agora agent`: a long-running buyer with its own wallet. It finds nodes on the ledger, hires them for each
/// job read from a file or stdin, verifies every receipt, audits a fraction of jobs by re-running them on
/// another node, files challenges (revealing the request) when runs disagree, waits for the referee's
/// verdicts, and prints a summary. It reaches the ledger only through `--ledger` (a folder or a URL).
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Hire the market's nodes for a list of jobs, within a budget; audit, challenge and summarize.",
        discussion: """
            Jobs come one per line from --jobs FILE (or stdin): a plain line is a user prompt; a line starting \
            with '{' is a full OpenAI chat request as JSON. Every job's request, answer, voucher and receipt go \
            to the receipt store. Exits 0 when every job ran; 1 when one failed or a challenge was refused.
            """)

    @OptionGroup var location: LedgerLocation
    @Option(help: "Agent key file (its wallet: the deposit pays).") var key: String = "agora.key"
    @Option(help: "Model to hire for: content hash, or registered name.") var model: String
    @Option(help: "Most to spend in all.") var budget: String = "5"
    @Option(help: "Fraction of jobs re-run on another node.") var auditRate: Double = 0.2
    @Option(help: "Jobs, one per line (default: stdin).") var jobs: String?
    @Option(help: "Tokens per answer, at most (for plain-prompt lines).") var maxTokens: Int = 64
    @Option(help: "Seed for the agent's choices and its requests' sampling seeds.") var seed: UInt64 = 1
    @Option(help: "Receipt store (SQLite).") var receipts: String = "agent-receipts.sqlite"
    @Option(help: "A GGUF file of the same model to break audit ties locally (default: a third node).")
    var localModel: String?
    @Option(help: "Engine threads for --local-model.") var threads: Int = 1
    @Option(help: "Seconds to wait for challenged jobs to be settled and then judged.") var challengeWait: Double = 120
    @Flag(help: "Print the summary as JSON on stdout.") var json = false

    struct Summary: Encodable {
        var jobs: Int
        var failedJobs: Int
        var spentMicroUnits: UInt64
        var budgetMicroUnits: UInt64
        var audits: Int
        var mismatches: Int
        var challengesFiled: Int
        var challenges: [ChallengeOutcome]
    }

    struct ChallengeOutcome: Encodable {
        var job: String
        var accused: String
        var status: String
    }

    func run() async throws {
        let ledger = try await location.submitter()
        let wallet = try KeyFileStore.load(URL(fileURLWithPath: key))
        guard let modelHash = try await ledger.resolveModel(model) else {
            throw ValidationError("no registered model '\(model)' on the ledger")
        }
        let localEngine: (any CompletionEngine)? = try localModel.map {
            try LocalCompletionEngine(modelURL: URL(fileURLWithPath: $0), threads: threads)
        }
        let agent = MarketAgent(
            wallet: wallet, ledger: ledger, model: modelHash, budget: try parseAmount(budget), auditRate: auditRate,
            seed: seed, localEngine: localEngine, receipts: try ReceiptStore(path: receipts))
        let deposit = try await ledger.account(wallet.publicKey).deposit
        printError(
            "agent \(wallet.address): deposit \(deposit), budget \(agent.budget), audits \(Int(auditRate * 100)) %")

        var failed = 0
        var index = 0
        for line in try jobLines() {
            index += 1
            do {
                let hired: HiredJob
                if line.hasPrefix("{") {
                    let request = try JSONDecoder().decode(ChatCompletionRequest.self, from: Data(line.utf8))
                    hired = try await agent.hire(request)
                } else {
                    hired = try await agent.hire(prompt: line, maxTokens: maxTokens)
                }
                let answer = hired.result.text.replacingOccurrences(of: "\n", with: " ")
                say("[\(index)] \(short(hired.node)): \(line.prefix(60))")
                say("     → \(answer.prefix(100))\(answer.count > 100 ? "…" : "")")
                say("     paid \(hired.receipt.amount); receipt verified")
                if agent.shouldAudit() {
                    let audit = try await agent.audit(hired)
                    say(
                        "     audit by \(audit.auditor): \(audit.matched ? "outputs match" : "MISMATCH — challenge queued against \(audit.challenges.map { short($0.accused) }.joined(separator: ", "))")"
                    )
                }
                for challenge in try await agent.fileSettledChallenges() {
                    say("     challenge filed against \(short(challenge.accused)) (job \(challenge.jobID.short)…)")
                }
            } catch AgentError.budgetExhausted(let spent, let budget) {
                printError("budget exhausted: spent \(spent) of \(budget); stopping")
                break
            } catch {
                failed += 1
                printError("job \(index) failed: \(error)")
            }
        }

        // Challenges wait for their jobs to be settled (nodes settle in batches), then for the referee.
        let deadline = Date().addingTimeInterval(challengeWait)
        while !agent.pendingChallenges.isEmpty, Date() < deadline {
            for challenge in try await agent.fileSettledChallenges() {
                say("challenge filed against \(short(challenge.accused)) (job \(challenge.jobID.short)…)")
            }
            if !agent.pendingChallenges.isEmpty { try await Task.sleep(for: .milliseconds(200)) }
        }
        var outcomes: [ChallengeOutcome] = []
        for challenge in agent.filedChallenges {
            var status = JobRecord.Status.challenged
            while Date() < deadline {
                status = try await ledger.job(challenge.jobID)?.status ?? .challenged
                if status != .challenged { break }
                _ = try await ledger.waitForHead(above: try await ledger.head().header.height, timeout: .seconds(2))
            }
            let text =
                switch status {
                case .nodeSlashed: "node slashed"
                case .challengeRejected: "challenge rejected"
                case .challenged: "not judged yet"
                case .settled: "settled"
                }
            say("verdict on job \(challenge.jobID.short)… against \(short(challenge.accused)): \(text)")
            outcomes.append(
                ChallengeOutcome(job: challenge.jobID.hex, accused: challenge.accused.address.description, status: text)
            )
        }
        let summary = Summary(
            jobs: agent.jobs.count, failedJobs: failed, spentMicroUnits: agent.spent.microUnits,
            budgetMicroUnits: agent.budget.microUnits, audits: agent.audits.count,
            mismatches: agent.audits.filter { !$0.matched }.count, challengesFiled: agent.filedChallenges.count,
            challenges: outcomes)
        if json {
            try printJSON(summary)
        } else {
            var table = TextTable(header: ["jobs", "spent", "audits", "mismatches", "challenges", "unresolved"])
            table.rows.append([
                String(summary.jobs), agent.spent.description, String(summary.audits), String(summary.mismatches),
                String(summary.challengesFiled),
                String(agent.pendingChallenges.count + outcomes.filter { $0.status == "not judged yet" }.count),
            ])
            say(table.render())
        }
        if failed > 0 { throw ExitCode.failure }
    }

    private func jobLines() throws -> [String] {
        let text: String
        if let jobs {
            text = try String(contentsOf: URL(fileURLWithPath: jobs), encoding: .utf8)
        } else {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        }
        return text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter {
            !$0.isEmpty
        }
    }

    private func short(_ key: PublicKey) -> String { String(key.address.description.prefix(14)) + "…" }
}
