import AgoraCore
import Foundation
import Testing

@testable import AgoraLedger

@Suite("Sequencer and signature pipeline")
struct SequencerTests {
    /// `count` transfers from the chain's accounts (round robin, so nonces follow) with the signatures of the
    /// indices in `forged` broken.
    static func transfers(_ chain: TestChain, count: Int, forged: Set<Int> = []) -> [Transaction] {
        var nonces = [UInt64](repeating: 0, count: chain.accounts.count)
        return (0..<count).map { index in
            let sender = index % chain.accounts.count
            nonces[sender] += 1
            var transaction = chain.transaction(
                chain.accounts[sender], nonce: nonces[sender],
                .transfer(
                    to: chain.accounts[(sender + 1) % chain.accounts.count].publicKey, amount: Amount(microUnits: 1)))
            if forged.contains(index) {
                transaction.signature = chain.accounts[sender].sign([0x42])
            }
            return transaction
        }
    }

    @Test("the pipeline's results equal one-by-one checks, for any worker count and batch size")
    func pipelineMatchesDirectChecks() {
        let chain = TestChain(accounts: 5)
        var generator = SystemRandomNumberGenerator()
        for count in [0, 1, 31, 32, 33, 200] {
            let forged = Set((0..<count).filter { _ in Int.random(in: 0..<5, using: &generator) == 0 })
            let transactions = Self.transfers(chain, count: count, forged: forged)
            for workers in [0, 1, 3] {
                let pipeline = SignaturePipeline(transactions, workers: workers)
                // Ask in order, as a block producer does, then all at once.
                for index in 0..<count {
                    let verified = pipeline.verified(index)
                    #expect((verified == nil) == forged.contains(index), "index \(index) of \(count)")
                    #expect(verified.map { $0.id == transactions[index].id } ?? true)
                    #expect(verified.map { $0.encoded == transactions[index].canonicalBytes } ?? true)
                }
                #expect(pipeline.allResults().map { $0 == nil } == (0..<count).map { forged.contains($0) })
            }
        }
    }

    @Test("a cancelled pipeline still answers every index")
    func cancelledPipelineAnswers() {
        let chain = TestChain(accounts: 3)
        let transactions = Self.transfers(chain, count: 100, forged: [7, 64])
        let pipeline = SignaturePipeline(transactions, workers: 1)
        pipeline.cancel()
        let results = pipeline.allResults()
        #expect(results.count == 100)
        #expect(results.indices.filter { results[$0] == nil } == [7, 64])
    }

    @Test("a block with forged signatures refuses exactly those and commits the rest")
    func blockRefusesForgedSignatures() throws {
        let chain = TestChain(accounts: 4)
        let ledger = try chain.makeLedger()
        // Only the first transaction of each sender can be forged without breaking later nonces: forge the
        // last round, whose senders send nothing after it.
        let transactions = Self.transfers(chain, count: 100, forged: [96, 99])
        let outcome = try ledger.produceBlock(transactions)
        #expect(outcome.accepted == transactions[0..<96].map(\.id) + [transactions[97].id, transactions[98].id])
        #expect(outcome.rejected.map(\.id) == [transactions[96].id, transactions[99].id])
        #expect(outcome.rejected.allSatisfy { $0.error == .invalidSignature })
        #expect(try ledger.moneyHeld() == chain.supply)
        _ = try ChainVerifier(directory: ledger.directory).verify()
    }

    @Test("the sequencer checks signatures and chain at the door and seals in arrival order")
    func sequencerAdmissionAndOrder() async throws {
        let chain = TestChain(accounts: 4)
        let ledger = try chain.makeLedger()
        let sequencer = Sequencer(ledger: ledger, queueLimit: 50)
        let transactions = Self.transfers(chain, count: 50)
        var forged = transactions[0]
        forged.signature = chain.accounts[1].sign(forged.signingBytes)
        await #expect(throws: TransactionError.invalidSignature) { try await sequencer.submit(forged) }
        let otherChain = Transaction.signed(
            by: chain.accounts[0], chainID: "another-chain", nonce: 1,
            body: .transfer(to: chain.accounts[1].publicKey, amount: Amount(microUnits: 1)))
        await #expect(throws: TransactionError.wrongChain(expected: TestChain.chainID, got: "another-chain")) {
            try await sequencer.submit(otherChain)
        }
        #expect(await sequencer.pendingCount == 0)
        for transaction in transactions { try await sequencer.submit(transaction) }
        await #expect(throws: TransactionError.queueFull(limit: 50)) {
            try await sequencer.submit(transactions[0])
        }
        let first = try await sequencer.seal(maxTransactions: 20)
        let second = try await sequencer.seal(maxTransactions: 1_000)
        #expect(first.accepted == transactions[0..<20].map(\.id))
        #expect(second.accepted == transactions[20...].map(\.id))
        #expect(first.block?.header.height == 1 && second.block?.header.height == 2)
        #expect(await sequencer.pendingCount == 0)
        let empty = try await sequencer.seal()
        #expect(empty.block == nil && empty.accepted.isEmpty)
        #expect(try ledger.account(chain.accounts[0].publicKey).nonce == 13)
        _ = try ChainVerifier(directory: ledger.directory).verify()
    }

    @Test("background WAL checkpoints keep every block: the ledger reopens and verifies")
    func checkpointsKeepBlocks() throws {
        let chain = TestChain(accounts: 8)
        let ledger = try chain.makeLedger()
        var nonces = [UInt64](repeating: 0, count: 8)
        // Enough changes to cross the checkpoint threshold several times.
        for round in 0..<12 {
            let transactions = (0..<800).map { index -> Transaction in
                let sender = index % 8
                nonces[sender] += 1
                return chain.transaction(
                    chain.accounts[sender], nonce: nonces[sender],
                    .transfer(to: chain.accounts[(sender + round + 1) % 8].publicKey, amount: Amount(microUnits: 1)))
            }
            #expect(try ledger.produceBlock(transactions).rejected.isEmpty)
        }
        try ledger.store.checkpointer.checkpoint()
        let reopened = try Ledger.open(at: ledger.directory)
        #expect(reopened.head.header.height == 12)
        #expect(try reopened.account(chain.accounts[3].publicKey).nonce == 1_200)
        let report = try ChainVerifier(directory: ledger.directory).verify()
        #expect(report.blocks == 13)
    }

    @Test("init can be re-run after an interrupted one that left only the key file")
    func reinitAfterInterruptedInit() throws {
        let chain = TestChain()
        let directory = TestChain.temporaryDirectory()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try KeyFileStore.write(chain.sequencer, to: directory.appendingPathComponent(Ledger.sequencerKeyFileName))
        let ledger = try Ledger.create(at: directory, genesis: chain.genesis, sequencerKey: chain.sequencer)
        #expect(ledger.head.header.height == 0)

        let other = TestChain.temporaryDirectory()
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        try KeyFileStore.write(chain.referee, to: other.appendingPathComponent(Ledger.sequencerKeyFileName))
        #expect(throws: LedgerError.self) {
            try Ledger.create(at: other, genesis: chain.genesis, sequencerKey: chain.sequencer)
        }
        #expect(!FileManager.default.fileExists(atPath: other.appendingPathComponent(Ledger.databaseFileName).path))
    }
}
