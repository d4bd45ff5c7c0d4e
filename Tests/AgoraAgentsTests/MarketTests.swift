import AgoraAgents
import AgoraClient
import AgoraCore
import AgoraInference
import AgoraLedger
import AgoraNode
import AgoraWire
import Foundation
import Testing

/// A small market on loopback with the real engine: two honest nodes and one that always cheats. The agent
/// audits every job; the cheater is challenged, the referee re-executes, and the ledger slashes it — never an
/// honest node — while money stays conserved and the chain verifies.
@Suite(.serialized) struct MarketTests {
    static let engine: LocalCompletionEngine = {
        do {
            return try LocalCompletionEngine(modelURL: try ModelStore().modelURL(.smolLM2), threads: 2)
        } catch {
            fatalError("the default model could not be loaded: \(error)")
        }
    }()

    @Test func auditsCatchAndSlashTheCheater() async throws {
        let engine = Self.engine
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "agora-market-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let sequencer = SigningKey(deterministicLabel: "market-sequencer")
        let agent = SigningKey(deterministicLabel: "market-agent")
        let nodes = (0..<3).map { SigningKey(deterministicLabel: "market-node-\($0)") }
        let genesis = Genesis(
            parameters: ChainParameters(chainID: "agora-market-test", referee: sequencer.publicKey),
            sequencer: sequencer.publicKey, timestamp: UInt64(Date().timeIntervalSince1970 * 1000),
            allocations: [Allocation(account: agent.publicKey, amount: Amount(microUnits: 50_000_000))]
                + nodes.map { Allocation(account: $0.publicKey, amount: Amount(microUnits: 500_000_000)) })
        let ledger = try Ledger.create(at: directory, genesis: genesis, sequencerKey: sequencer)
        var setup = [
            Transaction.signed(
                by: agent, chainID: genesis.chainID, nonce: 1, body: .deposit(amount: Amount(microUnits: 10_000_000)))
        ]
        var servers: [RunningNodeServer] = []
        var services: [NodeService] = []
        for (index, key) in nodes.enumerated() {
            let nodeEngine: any CompletionEngine = index == 2 ? CheatingEngine(honest: engine, cheatRate: 1) : engine
            let service = NodeService(
                engine: nodeEngine, key: key, configuration: .init(limits: RequestLimits(maxTokens: 24)),
                gate: PaymentGate(
                    node: key,
                    prices: NodePrices(perInputToken: Amount(microUnits: 1), perOutputToken: Amount(microUnits: 2)),
                    ledger: EmbeddedLedger(ledger)),
                settlements: try SettlementQueue(path: directory.appendingPathComponent("s\(index).sqlite").path))
            services.append(service)
            let server = try await RunningNodeServer.start(NodeHTTPServer(service: service, port: 0))
            servers.append(server)
            let port = server.port
            setup.append(
                Transaction.signed(
                    by: key, chainID: genesis.chainID, nonce: 1, body: .stake(amount: Amount(microUnits: 200_000_000))))
            setup.append(
                Transaction.signed(
                    by: key, chainID: genesis.chainID, nonce: 2,
                    body: .registerNode(
                        NodeRegistration(
                            endpoint: "http://127.0.0.1:\(port)", models: [engine.modelHash],
                            pricePerInputToken: Amount(microUnits: 1), pricePerOutputToken: Amount(microUnits: 2)))))
        }
        #expect(try ledger.produceBlock(setup).rejected.isEmpty)

        let receiptsPath = directory.appendingPathComponent("agent-receipts.sqlite").path
        let agentRuntime = MarketAgent(
            wallet: agent, ledger: EmbeddedLedger(ledger), model: engine.modelHash,
            budget: Amount(microUnits: 2_000_000), auditRate: 1,
            seed: 3, localEngine: engine, receipts: try ReceiptStore(path: receiptsPath))
        let referee = Referee(key: sequencer, engine: engine)
        var verdicts: [(PublicKey, Bool)] = []
        for prompt in ["What is the capital of France?", "Name a color.", "What is two plus two?"] {
            let hired = try await agentRuntime.hire(prompt: prompt, maxTokens: 24)
            _ = try await agentRuntime.audit(hired)
            for service in services { try await service.flushSettlements(to: EmbeddedLedger(ledger)) }
            for challenge in try await agentRuntime.fileSettledChallenges() {
                let verdict = try await referee.resolve(jobID: challenge.jobID, on: EmbeddedLedger(ledger))
                verdicts.append((challenge.accused, verdict.nodeAtFault))
            }
        }
        #expect(!verdicts.isEmpty, "the cheater was never challenged")
        #expect(
            verdicts.allSatisfy { $0.0 == nodes[2].publicKey && $0.1 },
            "only the cheater is accused, and always rightly")
        #expect(try ledger.account(nodes[2].publicKey).stake < Amount(microUnits: 200_000_000))
        #expect(try ledger.node(nodes[2].publicKey)?.challengesLost ?? 0 >= 1)
        for honest in nodes.prefix(2) {
            #expect(try ledger.account(honest.publicKey).stake == Amount(microUnits: 200_000_000))
        }
        #expect(agentRuntime.spent <= agentRuntime.budget)
        #expect(try ledger.moneyHeld() == (try ledger.totals()).supply.microUnits)
        _ = try ChainVerifier(directory: directory).verify()
        // After losing a challenge the cheater is no longer chosen while clean nodes remain.
        let next = try await agentRuntime.hire(prompt: "Say hello.", maxTokens: 4)
        #expect(next.node != nodes[2].publicKey)
        for server in servers { await server.stop() }
        // Every job (audits included) is in the agent's durable store, checked again on reading.
        let stored = try ReceiptStore(path: receiptsPath).jobs()
        #expect(stored.map(\.receipt) == agentRuntime.jobs.map(\.receipt))
        #expect(stored.map(\.text) == agentRuntime.jobs.map(\.result.text))
        #expect(stored.allSatisfy { $0.voucher != nil })
    }
}
