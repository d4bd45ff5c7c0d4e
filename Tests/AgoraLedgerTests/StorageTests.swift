import AgoraCore
import AgoraLedger
import Foundation
import GRDB
import Testing

@Suite struct StorageTests {
    let chain = TestChain()

    @Test func reopeningResumesFromTheLastBlock() throws {
        let ledger = try chain.makeLedger()
        for nonce in 1...3 as ClosedRange<UInt64> {
            #expect(
                try ledger.submitOne(
                    chain.transaction(
                        chain.accounts[0], nonce: nonce,
                        .transfer(to: chain.accounts[1].publicKey, amount: Amount(microUnits: 7)))) == nil)
        }
        let head = ledger.head
        let reopened = try Ledger.open(at: ledger.directory)
        #expect(reopened.head == head)
        #expect(try reopened.account(chain.accounts[0].publicKey).nonce == 3)
        #expect(
            try reopened.submitOne(
                chain.transaction(
                    chain.accounts[0], nonce: 4,
                    .transfer(to: chain.accounts[1].publicKey, amount: Amount(microUnits: 7)))) == nil)
        #expect(reopened.head.header.height == 4)
        #expect(reopened.head.header.previousHash == head.hash)
        let report = try ChainVerifier(directory: ledger.directory).verify()
        #expect(report.blocks == 5 && report.transactions == 4)
        #expect(throws: LedgerError.alreadyInitialized(ledger.directory.path)) {
            try Ledger.create(at: ledger.directory, genesis: chain.genesis, sequencerKey: chain.sequencer)
        }
        #expect(throws: LedgerError.notInitialized("/nonexistent/agora")) {
            try Ledger.open(at: URL(fileURLWithPath: "/nonexistent/agora"))
        }
    }

    /// Edits made behind the ledger's back are found by `verify`, which names the first bad block.
    @Test func verifyNamesTheFirstTamperedBlock() throws {
        let ledger = try chain.makeLedger()
        for nonce in 1...4 as ClosedRange<UInt64> {
            #expect(
                try ledger.submitOne(
                    chain.transaction(
                        chain.accounts[0], nonce: nonce,
                        .transfer(to: chain.accounts[1].publicKey, amount: Amount(microUnits: 7)))) == nil)
        }
        let path = ledger.directory.appendingPathComponent(Ledger.databaseFileName).path

        // 1. Swap a committed transaction for another validly signed one: block 2's transactions root breaks.
        let forged = chain.transaction(
            chain.accounts[0], nonce: 2, .transfer(to: chain.accounts[2].publicKey, amount: Amount(microUnits: 7)))
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(
                sql: "UPDATE transactions SET body = ? WHERE height = 2", arguments: [Data(forged.canonicalBytes)])
        }
        #expect {
            try ChainVerifier(directory: ledger.directory).verify()
        } throws: { error in
            (error as? VerificationFailure)?.height == 2 && "\(error)".contains("transactions root")
        }

        // 2. On another chain, credit an account in the state table: the stored state no longer matches.
        let fresh = try chain.makeLedger()
        #expect(
            try fresh.submitOne(
                chain.transaction(
                    chain.accounts[0], nonce: 1,
                    .transfer(to: chain.accounts[1].publicKey, amount: Amount(microUnits: 7)))) == nil)
        let freshQueue = try DatabaseQueue(path: fresh.directory.appendingPathComponent(Ledger.databaseFileName).path)
        var rich = try fresh.account(chain.accounts[3].publicKey)
        rich.balance = Amount(microUnits: 999_999_999_999)
        try freshQueue.write { db in
            try db.execute(
                sql: "UPDATE state SET value = ? WHERE key = ?",
                arguments: [Data(rich.canonicalBytes), Data(StateKey.account(chain.accounts[3].publicKey).bytes)])
        }
        #expect {
            try ChainVerifier(directory: fresh.directory).verify()
        } throws: { error in
            "\(error)".contains("stored state differs")
        }
    }

    @Test func keyFilesAreWrittenPrivateAndNeverOverwritten() throws {
        let directory = TestChain.temporaryDirectory()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent("k.key")
        let key = SigningKey()
        try KeyFileStore.write(key, to: url)
        let permissions = try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int
        #expect(permissions == 0o600)
        #expect(try KeyFileStore.load(url).publicKey == key.publicKey)
        #expect(throws: LedgerError.self) { try KeyFileStore.write(SigningKey(), to: url) }
        #expect(try KeyFileStore.load(url).publicKey == key.publicKey)
        try Data("{\"type\":\"ed25519\",\"address\":\"x\",\"seed\":\"00\"}".utf8).write(
            to: directory.appendingPathComponent("bad.key"))
        #expect(throws: LedgerError.self) { try KeyFileStore.load(directory.appendingPathComponent("bad.key")) }
    }
}
