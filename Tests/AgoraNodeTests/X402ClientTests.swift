import AgoraClient
import AgoraCore
import AgoraLedger
import AgoraNode
import AgoraWire
import Foundation
import Testing

/// The x402 Foundation's Python client (`x402` from PyPI, installed by `.ci/run`) pays a node: it decodes our
/// PAYMENT-REQUIRED header, builds the PaymentPayload through a small scheme plugin that signs Agora's voucher,
/// and decodes our PAYMENT-RESPONSE. The payment then settles on the ledger.
@Suite(.serialized) struct X402ClientTests {
    struct Report: Decodable {
        var text: String
        var receipt: JobReceipt
        var settle_success: Bool
        var settle_transaction: String
        var settle_network: String
        var settle_amount: String?
        var offered_amount: String
    }

    @Test func officialX402ClientPaysAndTheJobSettles() async throws {
        let harness = try NodeHarness()
        try await harness.start()
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Clients/x402_pay.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, harness.baseURL.absoluteString, Hex.encode(harness.agent.seed)]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        // The child talks to this process's server: wait for it off the cooperative pool.
        let (data, errorText) = try await offCooperativePool {
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (data, errorText)
        }
        #expect(process.terminationStatus == 0, "x402 client failed: \(errorText)")
        let report = try JSONDecoder().decode(Report.self, from: data)
        let expected = try SharedEngine.engine.complete(
            try RequestLimits().job(
                from: ChatCompletionRequest(
                    messages: [OpenAIMessage(role: "user", content: "What is the capital of France?")], maxTokens: 12,
                    temperature: 0),
                chosenSeed: report.receipt.seed),
            onText: { _ in })
        #expect(report.text == expected.text && !report.text.isEmpty)
        #expect(report.receipt.hasValidSignature)
        #expect(report.receipt.payer == harness.agent.publicKey)
        #expect(report.receipt.outputHash == ReceiptVerifier.outputHash(report.text))
        #expect(report.settle_success && report.settle_network == "agora:agora-node-test")
        #expect(report.settle_transaction == report.receipt.jobID.hex)
        #expect(report.settle_amount == String(report.receipt.amount.microUnits))
        #expect(report.receipt.amount.microUnits <= UInt64(report.offered_amount)!)

        let settled = try await harness.service.flushSettlements(to: EmbeddedLedger(harness.ledger))
        #expect(settled.settled == 1)
        #expect(try harness.ledger.job(report.receipt.jobID)?.payer == harness.agent.publicKey)
        await harness.stop()
    }
}
