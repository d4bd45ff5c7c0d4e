import AgoraAgents
import AgoraCore
import AgoraLedger
import ArgumentParser
import Foundation

/// `agora ledger bench`: how close block production gets to the raw Ed25519 verification rate, which is the
/// ceiling for signed transactions (every transaction carries one signature to check).
///
/// The measured path is the sequencer's: submitters (one per core, each with its own senders, as clients
/// would) hand signed transfers to `Sequencer.submit`, which checks each signature on the submitting thread,
/// while a sealing task commits a block whenever `--batch` transfers are queued. The clock runs from the
/// first submission to the last commit.
struct LedgerBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure raw Ed25519 verifications/s and signed transfers applied and committed per second.")

    @Option(help: "Funded accounts.") var accounts: Int = 10_000
    @Option(help: "Transfers per measured run.") var transactions: Int = 20_000
    @Option(help: "Block sizes to measure (repeatable).") var batch: [Int] = [100, 1_000, 5_000]
    @OptionGroup var format: OutputFormat

    struct Row: Encodable {
        var batch: Int
        var transfersPerSecond: Double
        var ratioToRawOneCore: Double
        var ratioToRawAllCores: Double
    }

    struct Report: Encodable {
        var cores: Int
        var rawVerificationsPerSecondOneCore: Double
        var rawVerificationsPerSecondAllCores: Double
        var runs: [Row]
    }

    func run() async throws {
        guard accounts >= 2, transactions >= 1 else {
            throw ValidationError("need at least 2 accounts and 1 transaction")
        }
        let keys = (0..<accounts).map { SigningKey(deterministicLabel: "bench-\($0)") }
        printError("signing \(transactions) transfers from \(accounts) accounts…")
        let chainID = "agora-bench"
        var nonces = [UInt64](repeating: 0, count: accounts)
        var generator = SplitMix64(seed: 42)
        let amount = Amount(microUnits: 1)
        let signed: [Transaction] = (0..<transactions).map { index in
            let sender = index % accounts
            var recipient = Int(generator.next() % UInt64(accounts))
            if recipient == sender { recipient = (recipient + 1) % accounts }
            nonces[sender] += 1
            return Transaction.signed(
                by: keys[sender], chainID: chainID, nonce: nonces[sender],
                body: .transfer(to: keys[recipient].publicKey, amount: amount))
        }

        // Raw rate: signatures over pre-encoded messages, nothing else.
        let messages = signed.map(\.signingBytes)
        printError("measuring raw Ed25519 verification…")
        let oneCoreStart = Date()
        var valid = 0
        for (index, transaction) in signed.enumerated()
        where transaction.sender.isValidSignature(transaction.signature, for: messages[index]) {
            valid += 1
        }
        let rawOne = Double(signed.count) / Date().timeIntervalSince(oneCoreStart)
        guard valid == signed.count else { throw ValidationError("benchmark signatures failed to verify") }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let allCoresStart = Date()
        DispatchQueue.concurrentPerform(iterations: cores) { worker in
            var index = worker
            while index < signed.count {
                _ = signed[index].sender.isValidSignature(signed[index].signature, for: messages[index])
                index += cores
            }
        }
        let rawAll = Double(signed.count) / Date().timeIntervalSince(allCoresStart)

        var rows: [Row] = []
        for size in batch where size > 0 {
            printError("block size \(size): applying and committing \(transactions) transfers…")
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "agora-bench-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let sequencer = SigningKey(deterministicLabel: "bench-sequencer")
            let genesis = Genesis(
                parameters: ChainParameters(chainID: chainID, referee: sequencer.publicKey),
                sequencer: sequencer.publicKey,
                timestamp: 0,
                allocations: keys.map { Allocation(account: $0.publicKey, amount: Amount(microUnits: 1_000_000_000)) })
            let ledger = try Ledger.create(at: directory, genesis: genesis, sequencerKey: sequencer)
            let start = Date()
            try await Self.commitThroughSequencer(signed, accounts: accounts, blockSize: size, ledger: ledger)
            let rate = Double(signed.count) / Date().timeIntervalSince(start)
            rows.append(
                Row(
                    batch: size, transfersPerSecond: rate, ratioToRawOneCore: rate / rawOne,
                    ratioToRawAllCores: rate / rawAll))
        }

        let report = Report(
            cores: cores, rawVerificationsPerSecondOneCore: rawOne, rawVerificationsPerSecondAllCores: rawAll,
            runs: rows)
        if format.json {
            try printJSON(report)
            return
        }
        print("raw Ed25519 verifications/s: \(Int(rawOne)) on 1 core, \(Int(rawAll)) on \(cores) cores")
        var table = TextTable(header: ["block size", "transfers/s", "÷ raw 1 core", "÷ raw \(cores) cores"])
        for row in rows {
            table.rows.append([
                String(row.batch), String(Int(row.transfersPerSecond)), String(format: "%.2f", row.ratioToRawOneCore),
                String(format: "%.2f", row.ratioToRawAllCores),
            ])
        }
        print(table.render())
    }
}

extension LedgerBenchCommand {
    /// Submits every transfer through a `Sequencer` from one task per core and seals blocks of `blockSize`
    /// as they fill; returns when all are committed.
    static func commitThroughSequencer(
        _ signed: [Transaction], accounts: Int, blockSize: Int, ledger: Ledger
    ) async throws {
        let sequencer = Sequencer(ledger: ledger, queueLimit: signed.count)
        let submitters = max(1, ProcessInfo.processInfo.activeProcessorCount)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for shard in 0..<submitters {
                group.addTask {
                    // Transfer i is sent by account i % accounts: a shard owns whole senders, so each
                    // sender's nonces arrive in order.
                    for index in signed.indices where (index % accounts) % submitters == shard {
                        try await sequencer.submit(signed[index])
                    }
                }
            }
            group.addTask {
                var committed = 0
                while committed < signed.count {
                    let pending = await sequencer.pendingCount
                    guard pending >= blockSize || committed + pending == signed.count else {
                        try await Task.sleep(for: .microseconds(200))
                        continue
                    }
                    let outcome = try await sequencer.seal(maxTransactions: blockSize)
                    guard outcome.rejected.isEmpty else {
                        throw ValidationError("benchmark transfer refused: \(outcome.rejected[0].error)")
                    }
                    committed += outcome.accepted.count
                }
            }
            try await group.waitForAll()
        }
    }
}

/// `agora ledger stress`: commits blocks of transfers in a loop, printing each committed height. The
/// crash-safety test kills it at random moments and checks nothing committed was lost.
struct LedgerStressCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stress", abstract: "Commit blocks of random transfers continuously (crash-safety testing).",
        shouldDisplay: false)

    @OptionGroup var location: LedgerLocation
    @Option(help: "Blocks to commit before exiting.") var blocks: Int = 1_000
    @Option(help: "Transfers per block.") var batch: Int = 20
    @Option(help: "Funded accounts.") var accounts: Int = 32

    func run() throws {
        let keys = (0..<accounts).map { SigningKey(deterministicLabel: "stress-\($0)") }
        let ledger: Ledger
        if FileManager.default.fileExists(atPath: location.url.appendingPathComponent(Ledger.databaseFileName).path) {
            ledger = try Ledger.open(at: try location.directory(for: "ledger stress"))
        } else {
            let sequencer = SigningKey(deterministicLabel: "stress-sequencer")
            let genesis = Genesis(
                parameters: ChainParameters(
                    chainID: "agora-stress", referee: sequencer.publicKey, unbondingDelayBlocks: 3),
                sequencer: sequencer.publicKey, timestamp: 0,
                allocations: keys.map { Allocation(account: $0.publicKey, amount: Amount(microUnits: 1_000_000_000)) })
            ledger = try Ledger.create(at: location.url, genesis: genesis, sequencerKey: sequencer)
        }
        var generator = SplitMix64(seed: ledger.head.header.height)
        for _ in 0..<blocks {
            var nonces: [Int: UInt64] = [:]
            var batchTransactions: [Transaction] = []
            for _ in 0..<batch {
                let sender = Int(generator.next() % UInt64(accounts))
                let recipient = Int(generator.next() % UInt64(accounts))
                let nonce = try nonces[sender] ?? ledger.account(keys[sender].publicKey).nonce
                nonces[sender] = nonce + 1
                let body: TransactionBody =
                    generator.next() % 5 == 0
                    ? .stake(amount: Amount(microUnits: 1 + generator.next() % 1_000))
                    : .transfer(
                        to: keys[recipient].publicKey, amount: Amount(microUnits: 1 + generator.next() % 10_000))
                batchTransactions.append(
                    Transaction.signed(by: keys[sender], chainID: ledger.chainID, nonce: nonce + 1, body: body))
            }
            let outcome = try ledger.produceBlock(batchTransactions)
            if let block = outcome.block {
                print("committed \(block.header.height)")
                fflush(nil)
            }
        }
    }
}
