import AgoraAgents
import AgoraClient
import AgoraCore
import AgoraLedger
import AgoraNode
import AgoraWire
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The market's participants as real OS processes of the `agora` executable, reaching the ledger only
/// through `--ledger DIR|URL`.
@Suite(.serialized) struct MarketProcessTests {
    /// A chain in a fresh folder: a funded agent (with a deposit), a funded node, a registered model.
    struct Chain {
        let root: URL
        let ledger: URL
        let agent = SigningKey(deterministicLabel: "process-agent")
        let node = SigningKey(deterministicLabel: "process-node")
        let sequencer = SigningKey(deterministicLabel: "process-sequencer")
        let referee = SigningKey(deterministicLabel: "process-referee")

        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("agora-proc-\(UUID().uuidString)")
            ledger = root.appendingPathComponent("ledger")
            let genesis = Genesis(
                parameters: ChainParameters(chainID: "agora-proc-test", referee: referee.publicKey),
                sequencer: sequencer.publicKey, timestamp: UInt64(Date().timeIntervalSince1970 * 1000),
                allocations: [
                    Allocation(account: agent.publicKey, amount: Amount(microUnits: 10_000_000)),
                    Allocation(account: node.publicKey, amount: Amount(microUnits: 500_000_000)),
                ])
            let chain = try Ledger.create(at: ledger, genesis: genesis, sequencerKey: sequencer)
            let engine = MarketTests.engine
            let outcome = try chain.produceBlock([
                Transaction.signed(
                    by: agent, chainID: genesis.chainID, nonce: 1, body: .deposit(amount: Amount(microUnits: 5_000_000))
                ),
                Transaction.signed(
                    by: agent, chainID: genesis.chainID, nonce: 2,
                    body: .registerModel(
                        ModelRegistration(
                            modelHash: engine.modelHash, name: engine.modelName, royaltyBasisPoints: 500,
                            shares: [Share(holder: agent.publicKey, basisPoints: 10_000)]))),
            ])
            precondition(outcome.rejected.isEmpty)
            for (name, key) in [("agent", agent), ("node", node)] {
                try KeyFileStore.write(key, to: root.appendingPathComponent("\(name).key"))
            }
        }

        func keyPath(_ name: String) -> String { root.appendingPathComponent("\(name).key").path }
    }

    /// `agora ledger show`, `nodes` and `models` on a copy of the folder without `sequencer.key`, and the
    /// same against `agora ledger serve`: the same answers. Submitting to the copy is refused (read-only);
    /// through the URL it commits; `ledger verify --ledger URL` replays the downloaded chain.
    @Test func readCommandsWorkOnAKeylessCopyAndOverAURL() async throws {
        let chain = try Chain()
        defer { try? FileManager.default.removeItem(at: chain.root) }
        let copy = chain.root.appendingPathComponent("copy")
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        for file in [Ledger.databaseFileName, Ledger.genesisFileName] {
            try FileManager.default.copyItem(
                at: chain.ledger.appendingPathComponent(file), to: copy.appendingPathComponent(file))
        }
        #expect(!FileManager.default.fileExists(atPath: copy.appendingPathComponent(Ledger.sequencerKeyFileName).path))

        let server = try AgoraProcess(["ledger", "serve", "--data", chain.ledger.path, "--port", "0"])
        defer { server.signal(SIGKILL) }
        let url = try await server.announcedURL("serving on").absoluteString

        let agentAddress = chain.agent.address.description
        for arguments in [
            ["ledger", "show", "totals", "--json"], ["ledger", "show", "account", agentAddress, "--json"],
            ["ledger", "show", "block", "1", "--json"], ["models", "--json"], ["nodes", "--json"],
        ] {
            let (copyStatus, copyOutput) = try await DemoCommandTests.runAgora(arguments + ["--ledger", copy.path])
            let (urlStatus, urlOutput) = try await DemoCommandTests.runAgora(arguments + ["--ledger", url])
            #expect(copyStatus == 0 && urlStatus == 0, "\(arguments): \(copyOutput) \(urlOutput)")
            #expect(copyOutput == urlOutput, "\(arguments)")
            #expect(!copyOutput.isEmpty)
        }
        let (_, models) = try await DemoCommandTests.runAgora(["models", "--json", "--ledger", url])
        #expect(models.contains(MarketTests.engine.modelHash.hex))

        // The copy reads but does not seal; the URL takes the transaction and gives its typed verdict.
        let transfer = [
            "ledger", "transfer", "--key", chain.keyPath("agent"), "--to", chain.node.address.description,
            "--amount", "1u", "--json",
        ]
        let (readOnlyStatus, readOnlyOutput) = try await DemoCommandTests.runAgora(transfer + ["--ledger", copy.path])
        #expect(readOnlyStatus != 0 && !readOnlyOutput.contains("committed"))
        let (status, output) = try await DemoCommandTests.runAgora(transfer + ["--ledger", url])
        #expect(status == 0 && output.contains("committed"), "\(output)")
        let (rejectedStatus, rejected) = try await DemoCommandTests.runAgora([
            "ledger", "transfer", "--key", chain.keyPath("agent"), "--to", chain.node.address.description,
            "--amount", "1000000", "--json", "--ledger", url,
        ])
        #expect(rejectedStatus == 2 && rejected.contains("insufficientBalance"), "\(rejected)")

        let (verifyStatus, verified) = try await DemoCommandTests.runAgora(["ledger", "verify", "--ledger", url])
        #expect(verifyStatus == 0 && verified.contains("OK: "), "\(verified)")
        await server.stop()
    }

    /// A node process settles through the ledger server: a node killed with SIGKILL in the middle of a job
    /// and started again settles the job it had answered (and charges nothing for the one cut short); a node
    /// stopped with SIGTERM flushes its pending settlements before it exits.
    @Test func aKilledNodeLosesNoSettlementAndSigtermFlushes() async throws {
        let chain = try Chain()
        defer { try? FileManager.default.removeItem(at: chain.root) }
        let server = try AgoraProcess([
            "ledger", "serve", "--data", chain.ledger.path, "--port", "0", "--block-interval-ms", "20",
        ])
        defer { server.signal(SIGKILL) }
        let url = try await server.announcedURL("serving on")
        let ledger = try await RemoteLedger.connect(to: url, timeout: 600)
        let state = chain.root.appendingPathComponent("node-state").path
        func startNode(settleEvery: String) throws -> AgoraProcess {
            try AgoraProcess([
                "node", "--ledger", url.absoluteString, "--key", chain.keyPath("node"), "--state", state, "--port",
                "0", "--register", "100", "--settle-every", settleEvery, "--threads", "1", "--max-tokens", "3000",
            ])
        }
        let wallet = chain.agent
        @Sendable func ask(_ node: URL, _ prompt: String, maxTokens: Int) async throws -> ClientCompletion {
            try await NodeClient(baseURL: node, wallet: wallet, maxPerJob: Amount(microUnits: 1_000_000)).chat(
                ChatCompletionRequest(
                    messages: [OpenAIMessage(role: "user", content: prompt)], maxTokens: maxTokens, temperature: 0))
        }

        // Settlements stay pending (an hour between batches) while the node answers a job.
        var node = try startNode(settleEvery: "3600")
        _ = try await node.waitFor("registered on the ledger")
        var nodeURL = try await node.announcedURL("serving")
        let answered = try await ask(nodeURL, "What is the capital of France?", maxTokens: 8)
        #expect(try await ledger.job(answered.receipt.jobID) == nil)

        // A long job runs; the node is killed in the middle of it.
        let longURL = nodeURL
        let long = Task { try await ask(longURL, "Write a very long story about the sea.", maxTokens: 2_500) }
        let metrics = nodeURL.appendingPathComponent("metrics")
        let deadline = Date().addingTimeInterval(600)
        while Date() < deadline {
            let (body, _) = try await URLSession.shared.data(from: metrics)
            if String(decoding: body, as: UTF8.self).contains("agora_running_jobs 1") { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        node.signal(SIGKILL)
        #expect(await node.waitForExit())
        await #expect(throws: (any Error).self) { _ = try await long.value }
        #expect(try await ledger.job(answered.receipt.jobID) == nil)

        // Started again, it settles what it answered before the kill.
        node = try startNode(settleEvery: "0.2")
        nodeURL = try await node.announcedURL("serving")
        let settledDeadline = Date().addingTimeInterval(600)
        var record = try await ledger.job(answered.receipt.jobID)
        while record == nil, Date() < settledDeadline {
            try await Task.sleep(for: .milliseconds(100))
            record = try await ledger.job(answered.receipt.jobID)
        }
        if record == nil { record = try await ledger.job(answered.receipt.jobID) }
        #expect(record?.amount == answered.receipt.amount)
        #expect(record?.engineVersion == answered.receipt.engineVersion)
        await node.stop()

        // SIGTERM flushes: with an hour between batches, only the shutdown flush can settle this job.
        node = try startNode(settleEvery: "3600")
        nodeURL = try await node.announcedURL("serving")
        let beforeTerm = try await ask(nodeURL, "Name a color.", maxTokens: 6)
        #expect(try await ledger.job(beforeTerm.receipt.jobID) == nil)
        node.signal(SIGTERM)
        #expect(await node.waitForExit(timeout: 600))
        #expect(node.output.contains("shutdown: settled 1 job(s)"), "\(node.output.suffix(2_000))")
        #expect(try await ledger.job(beforeTerm.receipt.jobID)?.amount == beforeTerm.receipt.amount)

        // Exactly the two answered jobs were charged; money is conserved on the whole chain.
        let agent = try await ledger.account(chain.agent.publicKey)
        let charged = answered.receipt.amount.microUnits + beforeTerm.receipt.amount.microUnits
        #expect(agent.deposit.microUnits == 5_000_000 - charged)
        let report = try await ChainDownload(source: ledger).verify()
        #expect(report.supply == Amount(microUnits: 510_000_000))
        await server.stop()
    }
}
