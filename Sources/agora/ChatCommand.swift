import AgoraAgents
import AgoraClient
import AgoraCore
import AgoraLedger
import AgoraNode
import AgoraWire
import ArgumentParser
import Foundation

/// `agora chat`: one paid (or free) chat completion from a node, with the receipt checked.
struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Ask a node a question, paying per request with a signed voucher; verifies the node's receipt.")

    @Option(help: "Node URL.") var node: String = "http://127.0.0.1:8080"
    @Option(help: "Agent key file (the wallet whose deposit pays).") var key: String = "agora.key"
    @Option(help: "Most to pay for this job.") var budget: String = "1"
    @Option(help: "Maximum tokens to generate.") var maxTokens: Int = 128
    @Option(help: "Sampling temperature (0 = greedy).") var temperature: Double = 0
    @Option(help: "Sampling seed.") var seed: UInt64?
    @Option(help: "Write the signed receipt to this file.") var saveReceipt: String?
    @Option(help: "Also record the job (request, answer, voucher, receipt) in this agent receipt store (SQLite).")
    var receipts: String?
    @Option(
        help:
            "Check the wallet's deposit on this ledger (a data directory or the URL of `agora ledger serve`) before paying."
    )
    var ledger: String?
    @OptionGroup var format: OutputFormat
    @Argument(help: "The prompt.") var prompt: String

    func run() async throws {
        guard let url = URL(string: node) else { throw ValidationError("--node is not a URL") }
        let wallet = try KeyFileStore.load(URL(fileURLWithPath: key))
        let maxPerJob = try parseAmount(budget)
        if let ledger {
            let location = try LedgerLocation.parse(["--ledger", ledger])
            let deposit = try await location.reader().account(wallet.publicKey).deposit
            guard deposit >= maxPerJob else {
                throw ValidationError(
                    "the deposit of \(wallet.address) is \(deposit), below --budget \(maxPerJob): add to it with `agora ledger deposit`"
                )
            }
        }
        let client = NodeClient(baseURL: url, wallet: wallet, maxPerJob: maxPerJob)
        let request = ChatCompletionRequest(
            messages: [OpenAIMessage(role: "user", content: prompt)], maxTokens: maxTokens, temperature: temperature,
            seed: seed)
        let result = try await client.chat(request)
        if let receipts {
            try ReceiptStore(path: receipts).record(
                StoredJob(
                    request: request, node: result.receipt.node, endpoint: node, text: result.text,
                    receipt: result.receipt, voucher: result.voucher,
                    recordedAt: UInt64(Date().timeIntervalSince1970 * 1000)))
        }
        if let saveReceipt {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(result.receipt).write(to: URL(fileURLWithPath: saveReceipt))
        }
        if format.json {
            try printJSON(ChatView(text: result.text, receipt: result.receipt, voucher: result.voucher))
        } else {
            print(result.text)
            printError(
                "paid \(result.receipt.amount) for \(result.receipt.inputTokens)+\(result.receipt.outputTokens) tokens; "
                    + "receipt verified (job \(result.receipt.jobID.short)…)")
        }
    }

    struct ChatView: Encodable {
        var text: String
        var receipt: JobReceipt
        var voucher: Voucher?
    }
}

/// `agora verify RECEIPT.json`: checks a receipt offline.
struct VerifyReceiptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a job receipt offline: the node's signature, and optionally the output it names.")

    @Argument(help: "Receipt JSON file.") var receipt: String
    @Option(help: "A file holding the output text the receipt should name.") var output: String?
    @OptionGroup var format: OutputFormat

    func run() throws {
        let decoded = try JSONDecoder.acceptingLegacyIdentifiers().decode(
            JobReceipt.self, from: Data(contentsOf: URL(fileURLWithPath: receipt)))
        var problems: [String] = []
        do { try ReceiptVerifier.verify(decoded) } catch { problems.append(error.description) }
        if let output {
            let text = try String(contentsOf: URL(fileURLWithPath: output), encoding: .utf8)
            if ReceiptVerifier.outputHash(text) != decoded.outputHash {
                problems.append("the output does not match the receipt")
            }
        }
        if format.json {
            try printJSON(VerifyView(valid: problems.isEmpty, problems: problems, receipt: decoded))
        } else if problems.isEmpty {
            print("valid receipt: job \(decoded.jobID) by node \(decoded.node)")
            print(
                "model \(decoded.modelHash), \(decoded.inputTokens)+\(decoded.outputTokens) tokens, \(decoded.amount)")
        } else {
            for problem in problems { printError("INVALID: \(problem)") }
        }
        if !problems.isEmpty { throw ExitCode.failure }
    }

    struct VerifyView: Encodable {
        var valid: Bool
        var problems: [String]
        var receipt: JobReceipt
    }
}
