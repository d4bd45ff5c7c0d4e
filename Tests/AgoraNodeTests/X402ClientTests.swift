import AgoraClient
import AgoraCore
import AgoraLedger
import AgoraNode
import AgoraWire
import Foundation
import Testing

/// The Python package `clients/python`, written from docs/protocol.md and driven by the x402 Foundation's own
/// client (`x402` from PyPI, installed by `.ci/run`), pays a node for chat and completions, plain and
/// streamed, checking every receipt; its refusals (over budget, an edited offer) are tested too. Then every
/// receipt it logged is checked here with the Swift verifier, re-run with the engine, and settled on the
/// ledger.
@Suite(.serialized) struct X402ClientTests {
    struct LogEntry: Decodable {
        var receipt: JobReceipt
        var voucher: Voucher
        var terms: X402.PaymentRequirements
    }

    @Test func thePythonPackagePaysThroughTheOfficialSDKAndEveryJobSettles() async throws {
        let harness = try NodeHarness()
        try await harness.start()
        let log = harness.directory.appendingPathComponent("python-receipts.jsonl")
        let (status, text) = try await PythonPackage.runTests(
            "test_node.py",
            environment: [
                "AGORA_NODE_URL": harness.baseURL.absoluteString, "AGORA_AGENT_SEED": Hex.encode(harness.agent.seed),
                "AGORA_RECEIPT_LOG": log.path,
            ])
        #expect(status == 0, "\(text)")
        #expect(text.contains("OK") && !text.contains("skipped"), "\(text)")

        let entries = try String(contentsOf: log, encoding: .utf8).split(separator: "\n").map {
            try JSONDecoder().decode(LogEntry.self, from: Data($0.utf8))
        }
        // Chat, streamed chat, completion, streamed completion, the plain function's chat, two choices with
        // logprobs and every control, a streamed completion with two choices and logprobs, and a json_schema
        // answer, and a tool call.
        #expect(entries.count == 9)
        for entry in entries {
            #expect(entry.voucher.hasValidSignature && entry.voucher.payer == harness.agent.publicKey)
            #expect(entry.receipt.hasValidSignature && entry.receipt.jobID == entry.terms.extra.jobId)
            #expect(entry.receipt.amount <= entry.voucher.maxAmount)
        }
        let settled = try await harness.service.flushSettlements(to: EmbeddedLedger(harness.ledger))
        #expect(settled.settled == entries.count && settled.refused.isEmpty)
        for entry in entries {
            #expect(try harness.ledger.job(entry.receipt.jobID)?.amount == entry.receipt.amount)
        }
        await harness.stop()
    }
}
