import AgoraAgents
import AgoraClient
import AgoraCore
import AgoraLedger
import AgoraNode
import AgoraWire
import ArgumentParser
import Foundation

/// `agora demo --in-process`: the same market with every participant in this one process (the embedded
/// ledger, nodes on loopback ports, the agent and the referee as objects). Kept to compare with the market
/// as processes, and shared with `agora bench market` through `DemoMarket`.
extension DemoCommand {
    func runInProcess() async throws {
        let root = URL(fileURLWithPath: data)
        try? FileManager.default.removeItem(at: root)

        step("loading the model")
        let engine = try EngineCommandSupport.completionEngine(model, threads: threads)
        print("model   \(engine.modelName)  sha256 \(engine.modelHash.short)…  engine \(engine.engineVersion)")

        step("genesis and registrations")
        let market = try await DemoMarket.start(
            root: root, engine: engine, cheatRate: cheatRate, seed: seed, maxTokens: maxTokens)
        let ledger = market.ledger
        let participants = market.participants
        let agr = DemoMarket.agr
        for participant in participants {
            print(
                "\(participant.name)  \(participant.endpoint)  stake 200 AGR\(participant.honest ? "" : "  (dishonest on \(Int(cheatRate * 100)) % of jobs)")"
            )
        }
        print("model   royalty 10 %: 70 % author, 30 % co-author")
        print("agent   deposit 20 AGR, budget 5 AGR, audits \(Int(auditRate * 100)) % of jobs")

        step("the agent hires the market for \(jobs) jobs")
        let referee = Referee(key: market.sequencer, engine: engine)
        let agentRuntime = MarketAgent(
            wallet: market.agent, ledger: market.access, model: engine.modelHash, budget: agr(5), auditRate: auditRate,
            seed: seed,
            localEngine: engine,
            receipts: try ReceiptStore(path: root.appendingPathComponent("agent-receipts.sqlite").path))
        let name = market.name
        var caughtAtJob: Int?
        var firstHand: [HiredJob] = []
        var jobTokens = 0
        var auditTokens = 0
        let started = Date()
        for index in 0..<max(jobs, 0) {
            let prompt = Self.prompts[index % Self.prompts.count]
            let hired = try await agentRuntime.hire(prompt: prompt, maxTokens: maxTokens)
            firstHand.append(hired)
            jobTokens += Int(hired.receipt.outputTokens)
            let answer = hired.result.text.replacingOccurrences(of: "\n", with: " ")
            print("[\(index + 1)] \(name(hired.node)): \(prompt)")
            print("     → \(answer.prefix(100))\(answer.count > 100 ? "…" : "")")
            print("     paid \(hired.receipt.amount); receipt verified")
            if agentRuntime.shouldAudit() {
                let before = agentRuntime.jobs.count
                let audit = try await agentRuntime.audit(hired)
                if agentRuntime.jobs.count > before { auditTokens += Int(agentRuntime.jobs.last!.receipt.outputTokens) }
                print(
                    "     audit by \(audit.auditor): \(audit.matched ? "outputs match" : "MISMATCH — challenge queued")"
                )
            }
            // Nodes settle their batches; the agent files challenges on settled jobs; the referee rules.
            for participant in participants { try await participant.service.flushSettlements(to: market.access) }
            for challenge in try await agentRuntime.fileSettledChallenges() {
                let verdict = try await referee.resolve(jobID: challenge.jobID, on: market.access)
                let accused = name(challenge.accused)
                print(
                    "     challenge against \(accused): referee re-ran the job → \(verdict.nodeAtFault ? "node at fault, slashed" : "no merit")"
                )
                if verdict.nodeAtFault, accused == "node-c", caughtAtJob == nil { caughtAtJob = index + 1 }
            }
        }
        let seconds = Date().timeIntervalSince(started)
        await market.stop()

        // The same first-hand jobs run directly on the engine: the market's total overhead (HTTP, payment,
        // receipts, settlement, audits, challenges) is the difference.
        let direct = Date()
        for hired in firstHand {
            let request = hired.job
            _ = try await offCooperativePool { try engine.complete(request) }
        }
        let directSeconds = Date().timeIntervalSince(direct)

        step("results")
        var table = TextTable(header: [
            "node", "honest", "jobs", "tokens", "earned", "stake before", "stake after", "challenges lost",
        ])
        for participant in participants {
            let record = try ledger.node(participant.key.publicKey)
            table.rows.append([
                participant.name, participant.honest ? "yes" : "no", String(record?.jobsSettled ?? 0),
                String(record?.tokensServed ?? 0), (record?.earned ?? .zero).description,
                participant.stakeBefore.description,
                try ledger.account(participant.key.publicKey).stake.description, String(record?.challengesLost ?? 0),
            ])
        }
        print(table.render())
        let modelRecord = try ledger.model(engine.modelHash)
        print("\nroyalties  \(modelRecord?.royaltiesPaid ?? .zero) over \(modelRecord?.jobs ?? 0) jobs")
        print("  author     balance \(try ledger.account(market.author.publicKey).balance)")
        print("  co-author  balance \(try ledger.account(market.coauthor.publicKey).balance)")
        print(
            "agent      spent \(agentRuntime.spent) of its 5 AGR budget on \(agentRuntime.jobs.count) jobs (\(agentRuntime.audits.count) audits)"
        )
        print("challenges filed \(agentRuntime.filedChallenges.count); burnt \(try ledger.totals().burnt)")
        let marketRate = Double(jobTokens) / seconds
        print(
            String(
                format:
                    "direct     the same %d jobs on the engine alone: %.2f jobs/s, %.1f tokens/s (market/direct time %.2f×)",
                jobs, Double(jobs) / directSeconds, Double(jobTokens) / directSeconds, seconds / directSeconds))
        print(
            String(
                format: "market     %.2f jobs/s, %.1f generated tokens/s (audits add %d tokens, %.0f %% of job tokens)",
                Double(jobs) / seconds, marketRate, auditTokens,
                jobTokens > 0 ? Double(auditTokens) * 100 / Double(jobTokens) : 0))
        if let caughtAtJob {
            print(
                "cheater    caught at job \(caughtAtJob) (one run; `agora bench market` averages many against the expectation)"
            )
        } else {
            print("cheater    not caught")
        }
        print("chain      height \(ledger.head.header.height)")

        step("verifying the whole chain from genesis")
        let verification = try ChainVerifier(directory: ledger.directory).verify()
        print(
            "OK: \(verification.blocks) blocks, \(verification.transactions) transactions, supply \(verification.supply) conserved (burnt \(verification.burnt))"
        )
        if cheatRate > 0, auditRate > 0, caughtAtJob == nil {
            printError("the dishonest node was not caught")
            throw ExitCode.failure
        }
    }

}
