import AgoraAgents
import AgoraClient
import AgoraCore
import AgoraLedger
import AgoraNode
import AgoraWire
import ArgumentParser
import Foundation

/// The demo's market, set up from nothing in a directory: a chain whose sequencer is also the referee; a
/// model author and co-author who register the model (10 % royalty, 70/30); an agent with a 20 AGR deposit;
/// three nodes that stake 200 AGR, register and serve the model over HTTP on loopback — the third one
/// dishonest on a seeded fraction of jobs. Used by `agora demo` and by `agora bench market`.
struct DemoMarket {
    struct Participant {
        var name: String
        var key: SigningKey
        var honest: Bool
        var service: NodeService
        var server: RunningNodeServer
        var endpoint: String
        var stakeBefore: Amount
    }

    static func agr(_ whole: UInt64) -> Amount { Amount(microUnits: whole * Amount.microUnitsPerAGR) }

    let ledger: Ledger
    /// The same ledger behind the access protocols, as the participants use it.
    var access: EmbeddedLedger { EmbeddedLedger(ledger) }
    let sequencer: SigningKey
    let author: SigningKey
    let coauthor: SigningKey
    let agent: SigningKey
    let participants: [Participant]

    /// The participant's name for a node key ("?" for an unknown key).
    func name(_ key: PublicKey) -> String { participants.first { $0.key.publicKey == key }?.name ?? "?" }

    /// The dishonest node.
    var cheater: Participant { participants[participants.count - 1] }

    static func start(
        root: URL, engine: LocalCompletionEngine, cheatRate: Double, seed: UInt64, maxTokens: Int
    ) async throws -> DemoMarket {
        let keys = root.appendingPathComponent("keys")
        try FileManager.default.createDirectory(at: keys, withIntermediateDirectories: true)
        func makeKey(_ name: String) throws -> SigningKey {
            let key = SigningKey()
            try KeyFileStore.write(key, to: keys.appendingPathComponent("\(name).key"))
            return key
        }
        let sequencer = try makeKey("sequencer")
        let author = try makeKey("author")
        let coauthor = try makeKey("coauthor")
        let agent = try makeKey("agent")
        let names = ["node-a", "node-b", "node-c"]
        let nodeKeys = try names.map { try makeKey($0) }

        let genesis = Genesis(
            parameters: ChainParameters(chainID: "agora-demo", referee: sequencer.publicKey, challengeBond: agr(1)),
            sequencer: sequencer.publicKey, timestamp: UInt64(Date().timeIntervalSince1970 * 1000),
            allocations: [
                Allocation(account: author.publicKey, amount: agr(100)),
                Allocation(account: coauthor.publicKey, amount: agr(100)),
                Allocation(account: agent.publicKey, amount: agr(500)),
            ] + nodeKeys.map { Allocation(account: $0.publicKey, amount: agr(1_000)) })
        let ledger = try Ledger.create(
            at: root.appendingPathComponent("ledger"), genesis: genesis, sequencerKey: sequencer)
        let prices = [
            NodePrices(perInputToken: Amount(microUnits: 5), perOutputToken: Amount(microUnits: 20)),
            NodePrices(perInputToken: Amount(microUnits: 6), perOutputToken: Amount(microUnits: 18)),
            NodePrices(perInputToken: Amount(microUnits: 4), perOutputToken: Amount(microUnits: 15)),
        ]
        var participants: [Participant] = []
        var setup: [Transaction] = [
            Transaction.signed(
                by: author, chainID: genesis.chainID, nonce: 1,
                body: .registerModel(
                    ModelRegistration(
                        modelHash: engine.modelHash, name: engine.modelName, royaltyBasisPoints: 1_000,
                        shares: [
                            Share(holder: author.publicKey, basisPoints: 7_000),
                            Share(holder: coauthor.publicKey, basisPoints: 3_000),
                        ]))),
            Transaction.signed(by: agent, chainID: genesis.chainID, nonce: 1, body: .deposit(amount: agr(20))),
        ]
        for (index, key) in nodeKeys.enumerated() {
            let honest = index < 2
            let nodeEngine: any CompletionEngine =
                honest ? engine : CheatingEngine(honest: engine, cheatRate: cheatRate, salt: seed)
            let service = NodeService(
                engine: nodeEngine, key: key, configuration: .init(limits: RequestLimits(maxTokens: max(maxTokens, 1))),
                gate: PaymentGate(node: key, prices: prices[index], ledger: EmbeddedLedger(ledger)),
                settlements: try SettlementQueue(
                    path: root.appendingPathComponent("node-\(index)-settlements.sqlite").path))
            let server = try await RunningNodeServer.start(NodeHTTPServer(service: service, port: 0))
            let endpoint = "http://127.0.0.1:\(server.port)"
            setup.append(
                Transaction.signed(by: key, chainID: genesis.chainID, nonce: 1, body: .stake(amount: agr(200))))
            setup.append(
                Transaction.signed(
                    by: key, chainID: genesis.chainID, nonce: 2,
                    body: .registerNode(
                        NodeRegistration(
                            endpoint: endpoint, models: [engine.modelHash],
                            pricePerInputToken: prices[index].perInputToken,
                            pricePerOutputToken: prices[index].perOutputToken))))
            participants.append(
                Participant(
                    name: names[index], key: key, honest: honest, service: service, server: server,
                    endpoint: endpoint, stakeBefore: agr(200)))
        }
        let outcome = try ledger.produceBlock(setup)
        guard outcome.rejected.isEmpty else { throw ValidationError("setup refused: \(outcome.rejected[0].error)") }
        return DemoMarket(
            ledger: ledger, sequencer: sequencer, author: author, coauthor: coauthor, agent: agent,
            participants: participants)
    }

    func stop() async {
        for participant in participants { await participant.server.stop() }
    }
}
