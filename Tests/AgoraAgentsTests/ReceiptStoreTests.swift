import AgoraClient
import AgoraCore
import AgoraLedger
import AgoraNode
import AgoraWire
import Foundation
import GRDB
import Testing

@testable import AgoraAgents

@Suite("Agent receipt store")
struct ReceiptStoreTests {
    static let node = SigningKey(deterministicLabel: "store-node")
    static let payer = SigningKey(deterministicLabel: "store-payer")

    /// A job as a node would have answered it: a voucher signed by the payer, a receipt signed by the node.
    static func job(_ index: Int, text: String) -> StoredJob {
        let request = ChatCompletionRequest(
            messages: [OpenAIMessage(role: "user", content: "question \(index)")], maxTokens: 8, temperature: 0,
            topP: 1, topK: 0, seed: UInt64(index))
        let jobID = Hash256.tagged("store-test-job", Array("\(index)".utf8))
        let inputHash = Hash256.tagged("store-test-input", Array("\(index)".utf8))
        let model = Hash256.tagged("store-test-model", [])
        let voucher = Voucher(
            chainID: "agora-test", payer: payer.publicKey, payee: node.publicKey, jobID: jobID, modelHash: model,
            inputHash: inputHash, maxAmount: Amount(microUnits: 1_000), expiry: 4_000_000_000
        ).signed(by: payer)
        let receipt = JobReceipt(
            chainID: "agora-test", jobID: jobID, node: node.publicKey, payer: payer.publicKey, modelHash: model,
            inputHash: inputHash, outputHash: ReceiptVerifier.outputHash(text), inputTokens: 5, outputTokens: 3,
            amount: Amount(microUnits: 100 + UInt64(index)), seed: UInt64(index), engineVersion: "test",
            timestamp: 1_700_000_000
        ).signed(by: node)
        return StoredJob(
            request: request, node: node.publicKey, endpoint: "http://127.0.0.1:9", text: text, receipt: receipt,
            voucher: voucher, recordedAt: 1_700_000_000_000 + UInt64(index))
    }

    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("agora-receipts-\(UUID().uuidString).sqlite").path
    }

    @Test("jobs survive reopening, in order, owner-only file, recording twice is a no-op")
    func roundTrip() throws {
        let path = Self.temporaryPath()
        let jobs = (0..<5).map { Self.job($0, text: "answer \($0) ✓") }
        do {
            let store = try ReceiptStore(path: path)
            for job in jobs { try store.record(job) }
            try store.record(jobs[2])
        }
        let reopened = try ReceiptStore(path: path)
        #expect(try reopened.jobs() == jobs)
        #expect(try reopened.job(jobs[3].receipt.jobID) == jobs[3])
        #expect(try reopened.job(Hash256.tagged("nope", [])) == nil)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test("an edited row is reported as tampered, never returned")
    func tamperedRowsAreRefused() throws {
        let path = Self.temporaryPath()
        let store = try ReceiptStore(path: path)
        let job = Self.job(1, text: "the real answer")
        try store.record(job)
        let database = try DatabaseQueue(path: path)
        for edit in [
            "UPDATE jobs SET text = 'a different answer'",
            "UPDATE jobs SET receipt = substr(receipt, 1, length(receipt) - 1) || x'00'",
            "UPDATE jobs SET voucher = x'0102'",
        ] {
            try database.write { db in try db.execute(sql: "DELETE FROM jobs") }
            try store.record(job)
            try database.write { db in try db.execute(sql: edit) }
            #expect(throws: ReceiptStoreError.self, "\(edit)") { try store.jobs() }
            #expect(throws: ReceiptStoreError.self, "\(edit)") { try store.job(job.receipt.jobID) }
        }
    }

    @Test("a path that cannot be opened gives a typed error")
    func unopenablePath() {
        #expect(throws: ReceiptStoreError.self) { try ReceiptStore(path: "/nonexistent-dir/receipts.sqlite") }
    }
}
