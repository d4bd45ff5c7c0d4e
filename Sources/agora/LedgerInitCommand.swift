import AgoraCore
import AgoraLedger
import ArgumentParser
import Foundation

/// `agora ledger init`: genesis from a file or from flags.
struct LedgerInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a new chain: genesis from a JSON file or from flags.",
        discussion: """
            With --genesis, the file's sequencer must match --sequencer-key. Without it, a genesis is built \
            from the flags; the sequencer (and referee) key is created in the data directory unless given.
            Example: agora ledger init --alloc agr1...=1000 --alloc agr1...=250.5
            """)

    @OptionGroup var location: LedgerLocation
    @Option(help: "A genesis JSON file (as written to DATA/genesis.json).") var genesis: String?
    @Option(help: "Chain id.") var chainID: String = "agora-local"
    @Option(help: "Initial balance ADDRESS=AMOUNT (repeatable).") var alloc: [String] = []
    @Option(help: "Existing key file for the sequencer.") var sequencerKey: String?
    @Option(help: "Referee address (default: the sequencer).") var referee: String?
    @Option(help: "Blocks before unstaked stake is released.") var unbondingDelay: UInt64 = 10
    @Option(help: "Blocks before a deposit withdrawal is released.") var withdrawalDelay: UInt64 = 10
    @OptionGroup var format: OutputFormat

    func run() throws {
        let key: SigningKey
        if let sequencerKey {
            key = try KeyFileStore.load(URL(fileURLWithPath: sequencerKey))
        } else {
            key = SigningKey()
        }
        let document: Genesis
        if let genesis {
            document = try JSONDecoder.acceptingLegacyIdentifiers().decode(
                Genesis.self, from: Data(contentsOf: URL(fileURLWithPath: genesis)))
        } else {
            var allocations: [Allocation] = []
            for entry in alloc {
                let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { throw ValidationError("--alloc takes ADDRESS=AMOUNT, got '\(entry)'") }
                allocations.append(Allocation(account: try parseAddress(parts[0]), amount: try parseAmount(parts[1])))
            }
            let parameters = ChainParameters(
                chainID: chainID, referee: try referee.map(parseAddress) ?? key.publicKey,
                unbondingDelayBlocks: unbondingDelay, withdrawalDelayBlocks: withdrawalDelay)
            document = Genesis(
                parameters: parameters, sequencer: key.publicKey,
                timestamp: UInt64(Date().timeIntervalSince1970 * 1000), allocations: allocations)
        }
        let ledger = try Ledger.create(
            at: try location.directory(for: "ledger init"), genesis: document, sequencerKey: key)
        let head = ledger.head
        if format.json {
            try printJSON(
                InitSummary(
                    chainID: ledger.chainID, directory: location.data, sequencer: key.address.description,
                    supply: try document.supply(), genesisBlock: head.hash))
        } else {
            print("created chain '\(ledger.chainID)' in \(location.data)")
            print("sequencer \(key.address)")
            print("supply    \(try document.supply())")
            print("block 0   \(head.hash)")
        }
    }

    struct InitSummary: Encodable {
        var chainID: String
        var directory: String
        var sequencer: String
        var supply: Amount
        var genesisBlock: Hash256
    }
}
