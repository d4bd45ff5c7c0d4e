import AgoraAgents
import AgoraClient
import AgoraCore
import AgoraInference
import AgoraLedger
import AgoraNode
import AgoraWire
import ArgumentParser
import Foundation

/// `agora demo`: the whole market on loopback, nothing to configure, every participant its own OS process.
///
/// Genesis with a sequencer and a referee; the ledger server (`agora ledger serve`); a model author and
/// co-author who register the default model with a royalty; three nodes (`agora node`) that stake, register
/// and serve it over HTTP for pay — one of them dishonest on a fraction of jobs; the referee (`agora
/// referee`) following the chain; an agent (`agora agent`) with a budget that hires the nodes for real
/// prompts, verifies every receipt, audits a fraction of jobs on another node and challenges mismatches.
/// The processes talk only over HTTP on loopback. It ends with tables read from the ledger and `agora ledger
/// verify --ledger URL`, and exits non-zero if the cheater was not slashed or the chain does not verify.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract:
            "Run a whole local market on loopback: nodes, a dishonest node, an agent that pays and audits, slashing.")

    @Option(help: "Where the demo writes its chain and keys (replaced on each run).") var data: String = "agora-data"
    @Option(help: "Number of jobs the agent runs.") var jobs: Int = 12
    @Option(help: "Fraction of jobs the agent audits.") var auditRate: Double = 0.5
    @Option(help: "Fraction of jobs the dishonest node cheats on.") var cheatRate: Double = 0.5
    @Option(help: "Seed for the agent's choices and the cheater's.") var seed: UInt64 = 7
    @Option(help: "Tokens per answer, at most.") var maxTokens: Int = 32
    @Option(help: "GGUF model (default: the default model, fetched on first run).") var model: String?
    @Option(help: "Engine threads.") var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "Run every participant inside this one process (the embedded ledger, no child processes).")
    var inProcess = false

    static let prompts = [
        "What is the capital of France?", "Give me three tips for staying focused.", "What is photosynthesis?",
        "Write a haiku about the sea.", "Why is the sky blue?", "Name three prime numbers.",
        "How do bees make honey?", "What is a black hole?", "Suggest a name for a cat.", "What does a CPU do?",
        "Explain gravity to a child.", "What is the boiling point of water?",
    ]

    func run() async throws {
        if inProcess { return try await runInProcess() }
        try await runAsProcesses()
    }

    func step(_ title: String) { say("\n== \(title)") }

    /// The market as separate processes spawned from this executable.
    func runAsProcesses() async throws {
        let started = Date()
        let root = URL(fileURLWithPath: data)
        try? FileManager.default.removeItem(at: root)
        let keys = root.appendingPathComponent("keys")
        try FileManager.default.createDirectory(at: keys, withIntermediateDirectories: true)
        func makeKey(_ name: String) throws -> SigningKey {
            let key = SigningKey()
            try KeyFileStore.write(key, to: keys.appendingPathComponent("\(name).key"))
            return key
        }
        func keyPath(_ name: String) -> String { keys.appendingPathComponent("\(name).key").path }

        step("model")
        let (modelURL, verifiedHash) = try EngineCommandSupport.model(model)
        let modelHash = try verifiedHash ?? FileSHA256.digest(of: modelURL)
        let modelName = LocalCompletionEngine.modelName(for: modelURL)
        say("model   \(modelName)  sha256 \(modelHash.short)…")

        step("genesis")
        let sequencer = try makeKey("sequencer")
        let referee = try makeKey("referee")
        let author = try makeKey("author")
        let coauthor = try makeKey("coauthor")
        let agent = try makeKey("agent")
        let nodeNames = ["node-a", "node-b", "node-c"]
        let nodeKeys = try nodeNames.map { try makeKey($0) }
        let agr = DemoMarket.agr
        let genesis = Genesis(
            parameters: ChainParameters(chainID: "agora-demo", referee: referee.publicKey, challengeBond: agr(1)),
            sequencer: sequencer.publicKey, timestamp: UInt64(Date().timeIntervalSince1970 * 1000),
            allocations: [
                Allocation(account: author.publicKey, amount: agr(100)),
                Allocation(account: coauthor.publicKey, amount: agr(100)),
                Allocation(account: agent.publicKey, amount: agr(500)),
                Allocation(account: referee.publicKey, amount: agr(10)),
            ] + nodeKeys.map { Allocation(account: $0.publicKey, amount: agr(1_000)) })
        let ledgerDirectory = root.appendingPathComponent("ledger")
        _ = try Ledger.create(at: ledgerDirectory, genesis: genesis, sequencerKey: sequencer)
        say("chain   agora-demo, genesis \(genesis.hash.short)…; sequencer and referee keys in \(keys.path)")

        var children: [ChildProcess] = []
        func spawn(_ name: String, _ arguments: [String]) throws -> ChildProcess {
            let child = try ChildProcess(name: name, arguments: arguments)
            children.append(child)
            return child
        }
        do {
            step("starting the market: every participant is its own process")
            let ledgerProcess = try spawn(
                "ledger",
                ["ledger", "serve", "--data", ledgerDirectory.path, "--port", "0", "--block-interval-ms", "50"])
            let ledgerURL = try await ledgerProcess.announcedURL("serving on")
            let ledger = try await RemoteLedger.connect(to: ledgerURL)

            // The model's owners register it; the agent funds its deposit: plain transactions over the RPC.
            let registration = ModelRegistration(
                modelHash: modelHash, name: modelName, royaltyBasisPoints: 1_000,
                shares: [
                    Share(holder: author.publicKey, basisPoints: 7_000),
                    Share(holder: coauthor.publicKey, basisPoints: 3_000),
                ])
            for (body, signer) in [
                (TransactionBody.registerModel(registration), author), (.deposit(amount: agr(20)), agent),
            ] {
                if let error = try await ledger.signAndSubmit(body, by: signer).result.rejection {
                    throw DemoError.participantFailed("setup", "\(body.kind) refused: \(error)")
                }
            }
            say("model   registered: royalty 10 %, 70 % author, 30 % co-author; agent deposit 20 AGR")

            let prices = [("5u", "20u"), ("6u", "18u"), ("4u", "15u")]
            var nodes: [ChildProcess] = []
            for (index, name) in nodeNames.enumerated() {
                var arguments = [
                    "node", "--ledger", ledgerURL.absoluteString, "--key", keyPath(name), "--state",
                    root.appendingPathComponent(name).path, "--port", "0", "--register", "200", "--price-in",
                    prices[index].0, "--price-out", prices[index].1, "--max-tokens", String(max(maxTokens, 1)),
                    "--threads", String(threads), "--settle-every", "0.5",
                ]
                if let model { arguments += ["--model", model] }
                if index == 2, cheatRate > 0 { arguments += ["--demo-cheat-rate", String(cheatRate)] }
                nodes.append(try spawn(name, arguments))
            }
            for node in nodes where await node.line(containing: "registered on the ledger") == nil {
                throw DemoError.participantFailed(node.name, "it exited before registering")
            }

            var refereeArguments = [
                "referee", "--ledger", ledgerURL.absoluteString, "--key", keyPath("referee"), "--threads",
                String(threads),
            ]
            if let model { refereeArguments += ["--model", model] }
            let refereeProcess = try spawn("referee", refereeArguments)
            guard await refereeProcess.line(containing: "following the chain") != nil else {
                throw DemoError.participantFailed("referee", "it exited before following the chain")
            }

            step("the agent hires the market for \(jobs) jobs")
            let jobsFile = root.appendingPathComponent("jobs.txt")
            try (0..<max(jobs, 0)).map { Self.prompts[$0 % Self.prompts.count] }.joined(separator: "\n").write(
                to: jobsFile, atomically: true, encoding: .utf8)
            let agentProcess = try spawn(
                "agent",
                [
                    "agent", "--ledger", ledgerURL.absoluteString, "--key", keyPath("agent"), "--model", modelHash.hex,
                    "--budget", "5", "--audit-rate", String(auditRate), "--jobs", jobsFile.path, "--max-tokens",
                    String(maxTokens), "--seed", String(seed), "--receipts",
                    root.appendingPathComponent("agent-receipts.sqlite").path,
                ])
            guard await agentProcess.waitForExit(timeout: 1_800) else { throw DemoError.timedOut("the agent's jobs") }
            guard agentProcess.exitStatus == 0 else {
                throw DemoError.participantFailed("agent", "exit status \(agentProcess.exitStatus)")
            }
            let marketSeconds = Date().timeIntervalSince(started)

            step("stopping the participants (SIGTERM: nodes flush their pending settlements)")
            await refereeProcess.stop()
            for node in nodes { await node.stop() }

            step("results, read from the ledger")
            var table = TextTable(header: [
                "node", "honest", "jobs", "tokens", "earned", "stake before", "stake after", "challenges lost",
            ])
            var cheaterSlashed = false
            for (index, key) in nodeKeys.enumerated() {
                let record = try await ledger.node(key.publicKey)
                let honest = index < 2 || cheatRate == 0
                if !honest, (record?.challengesLost ?? 0) > 0 { cheaterSlashed = true }
                table.rows.append([
                    nodeNames[index], honest ? "yes" : "no", String(record?.jobsSettled ?? 0),
                    String(record?.tokensServed ?? 0), (record?.earned ?? .zero).description, agr(200).description,
                    try await ledger.account(key.publicKey).stake.description, String(record?.challengesLost ?? 0),
                ])
            }
            say(table.render())
            let modelRecord = try await ledger.model(modelHash)
            say("\nroyalties  \(modelRecord?.royaltiesPaid ?? .zero) over \(modelRecord?.jobs ?? 0) jobs")
            say("  author     balance \(try await ledger.account(author.publicKey).balance)")
            say("  co-author  balance \(try await ledger.account(coauthor.publicKey).balance)")
            let agentAccount = try await ledger.account(agent.publicKey)
            say("agent      deposit left \(agentAccount.deposit) of 20 AGR")
            say(
                "challenges open \(try await ledger.allOpenChallenges().count); burnt \(try await ledger.totals().burnt)"
            )
            say(String(format: "wall time  %.1f s (processes started, jobs run, challenges judged)", marketSeconds))
            say("chain      height \(try await ledger.head().header.height)")

            step("agora ledger verify --ledger \(ledgerURL.absoluteString)")
            let verify = try spawn("verify", ["ledger", "verify", "--ledger", ledgerURL.absoluteString])
            _ = await verify.waitForExit(timeout: 600)
            let verified = verify.exitStatus == 0
            await ledgerProcess.stop()
            guard verified else { throw DemoError.participantFailed("verify", "the chain does not verify") }
            if cheatRate > 0, auditRate > 0, !cheaterSlashed {
                sayError("the dishonest node was not slashed")
                throw ExitCode.failure
            }
            say(cheatRate > 0 && auditRate > 0 ? "cheater    slashed by the referee process" : "no cheater this run")
        } catch {
            for child in children where child.isRunning { child.signal(SIGKILL) }
            throw error
        }
    }
}
