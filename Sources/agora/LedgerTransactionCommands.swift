import AgoraCore
import AgoraLedger
import ArgumentParser
import Foundation

/// The options every signed-transaction command shares: the ledger, the signer's key file, the output.
struct TransactionOptions: ParsableArguments {
    @OptionGroup var location: LedgerLocation
    @Option(name: .long, help: "Key file of the signing account.") var key: String = "agora.key"
    @OptionGroup var format: OutputFormat

    /// Signs `body` with the next nonce, commits it in a block, and reports the outcome. Exits non-zero
    /// with the ledger's typed reason when the transaction is refused.
    func submit(_ makeBody: (Ledger) throws -> TransactionBody) throws {
        let ledger = try location.open()
        let signer = try KeyFileStore.load(URL(fileURLWithPath: key))
        let nonce = try ledger.account(signer.publicKey).nonce + 1
        let transaction = Transaction.signed(
            by: signer, chainID: ledger.chainID, nonce: nonce, body: try makeBody(ledger))
        let outcome = try ledger.produceBlock([transaction])
        if let refusal = outcome.rejected.first {
            if format.json {
                try printJSON(["status": "rejected", "transaction": refusal.id.hex, "error": refusal.error.description])
            } else {
                printError("rejected: \(refusal.error)")
            }
            throw ExitCode(2)
        }
        let height = outcome.block?.header.height ?? 0
        if format.json {
            try printJSON(
                [
                    "status": "committed", "transaction": transaction.id.hex, "height": String(height),
                    "kind": transaction.body.kind,
                ])
        } else {
            print("\(transaction.body.kind) committed in block \(height): tx \(transaction.id)")
        }
    }
}

struct TransferCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "transfer", abstract: "Send AGR to another account.")
    @OptionGroup var options: TransactionOptions
    @Option(help: "Recipient address.") var to: String
    @Option(help: "Amount: 12.5, 12.5AGR or 12500000u (micro-units).") var amount: String

    func run() throws {
        let recipient = try parseAddress(to)
        let value = try parseAmount(amount)
        try options.submit { _ in .transfer(to: recipient, amount: value) }
    }
}

struct DepositCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deposit", abstract: "Move balance into the payment deposit that vouchers draw on.")
    @OptionGroup var options: TransactionOptions
    @Option(help: "Amount.") var amount: String

    func run() throws {
        let value = try parseAmount(amount)
        try options.submit { _ in .deposit(amount: value) }
    }
}

struct WithdrawCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "withdraw", abstract: "Start withdrawing from the deposit (released after the withdrawal delay).")
    @OptionGroup var options: TransactionOptions
    @Option(help: "Amount.") var amount: String

    func run() throws {
        let value = try parseAmount(amount)
        try options.submit { _ in .withdraw(amount: value) }
    }
}

struct StakeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stake", abstract: "Lock balance as stake.")
    @OptionGroup var options: TransactionOptions
    @Option(help: "Amount.") var amount: String

    func run() throws {
        let value = try parseAmount(amount)
        try options.submit { _ in .stake(amount: value) }
    }
}

struct UnstakeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unstake",
        abstract: "Start unbonding stake (released after the unbonding delay; slashable until then).")
    @OptionGroup var options: TransactionOptions
    @Option(help: "Amount.") var amount: String

    func run() throws {
        let value = try parseAmount(amount)
        try options.submit { _ in .unstake(amount: value) }
    }
}

struct RegisterNodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register-node", abstract: "Announce a node: endpoint, served models and prices.")
    @OptionGroup var options: TransactionOptions
    @Option(help: "Endpoint URL.") var endpoint: String
    @Option(help: "Served model content hash (repeatable).") var model: [String] = []
    @Option(help: "Price per input token.") var priceIn: String = "1u"
    @Option(help: "Price per output token.") var priceOut: String = "2u"

    func run() throws {
        let registration = NodeRegistration(
            endpoint: endpoint, models: try model.map { try parseHash($0, what: "--model") },
            pricePerInputToken: try parseAmount(priceIn), pricePerOutputToken: try parseAmount(priceOut))
        try options.submit { _ in .registerNode(registration) }
    }
}

/// Parses `ADDRESS=BPS` share arguments.
func parseShares(_ entries: [String]) throws -> [Share] {
    try entries.map { entry in
        let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let bps = UInt16(parts[1]) else {
            throw ValidationError("--share takes ADDRESS=BASIS_POINTS, got '\(entry)'")
        }
        return Share(holder: try parseAddress(parts[0]), basisPoints: bps)
    }
}

struct RegisterModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register-model",
        abstract: "Register a model by content hash with a royalty and a share table (basis points summing to 10000).")
    @OptionGroup var options: TransactionOptions
    @Option(help: "Model content hash (SHA-256 hex).") var hash: String
    @Option(help: "Model name.") var name: String
    @Option(help: "Royalty on each job, in basis points.") var royaltyBps: UInt16 = 1_000
    @Option(help: "Shareholder ADDRESS=BPS (repeatable; default: the signer holds 10000).") var share: [String] = []
    @Option(help: "Dataset content hash this model was trained or tuned on (repeatable).") var dataset: [String] = []

    func run() throws {
        let modelHash = try parseHash(hash, what: "--hash")
        let datasets = try dataset.map { try parseHash($0, what: "--dataset") }
        let explicitShares = try parseShares(share)
        let signer = try KeyFileStore.load(URL(fileURLWithPath: options.key))
        let shares = explicitShares.isEmpty ? [Share(holder: signer.publicKey, basisPoints: 10_000)] : explicitShares
        try options.submit { _ in
            .registerModel(
                ModelRegistration(
                    modelHash: modelHash, name: name, royaltyBasisPoints: royaltyBps, shares: shares, datasets: datasets
                ))
        }
    }
}

struct RegisterDatasetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register-dataset", abstract: "Register a dataset by content hash with its contributors' shares.")
    @OptionGroup var options: TransactionOptions
    @Option(help: "Dataset content hash (SHA-256 hex).") var hash: String
    @Option(help: "Dataset name.") var name: String
    @Option(help: "Contributor ADDRESS=BPS (repeatable; default: the signer holds 10000).") var share: [String] = []

    func run() throws {
        let datasetHash = try parseHash(hash, what: "--hash")
        let explicitShares = try parseShares(share)
        let signer = try KeyFileStore.load(URL(fileURLWithPath: options.key))
        let shares = explicitShares.isEmpty ? [Share(holder: signer.publicKey, basisPoints: 10_000)] : explicitShares
        try options.submit { _ in
            .registerDataset(DatasetRegistration(datasetHash: datasetHash, name: name, shares: shares))
        }
    }
}

struct TransferSharesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transfer-shares", abstract: "Give some of your royalty share of a model to another holder.")
    @OptionGroup var options: TransactionOptions
    @Option(help: "Model content hash.") var model: String
    @Option(help: "Recipient address.") var to: String
    @Option(help: "Basis points to transfer.") var bps: UInt16

    func run() throws {
        let modelHash = try parseHash(model, what: "--model")
        let recipient = try parseAddress(to)
        try options.submit { _ in .transferModelShares(model: modelHash, to: recipient, basisPoints: bps) }
    }
}

struct ChallengeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "challenge", abstract: "Dispute a settled job's output (locks the chain's challenge bond).")
    @OptionGroup var options: TransactionOptions
    @Option(help: "Job id.") var job: String
    @Option(help: "The output hash you claim is correct.") var claimedOutput: String
    @Option(help: "Hash of the evidence (e.g. the other node's receipt).") var evidence: String?

    func run() throws {
        let jobID = try parseHash(job, what: "--job")
        let claimed = try parseHash(claimedOutput, what: "--claimed-output")
        let evidenceHash = try evidence.map { try parseHash($0, what: "--evidence") } ?? .zero
        try options.submit { _ in .fileChallenge(jobID: jobID, claimedOutputHash: claimed, evidence: evidenceHash) }
    }
}

struct ResolveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve", abstract: "Referee only: record the verdict on a challenged job.")
    @OptionGroup var options: TransactionOptions
    @Option(help: "Job id.") var job: String
    @Flag(help: "The node's output was wrong (slash it); without this flag the challenge is rejected.")
    var nodeAtFault = false

    func run() throws {
        let jobID = try parseHash(job, what: "--job")
        try options.submit { _ in .resolveChallenge(jobID: jobID, nodeAtFault: nodeAtFault) }
    }
}

struct TickCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tick", abstract: "Commit empty blocks (advances heights, releasing matured unbonding).")
    @OptionGroup var location: LedgerLocation
    @Option(help: "Number of blocks.") var blocks: Int = 1

    func run() throws {
        let ledger = try location.open()
        for _ in 0..<max(blocks, 0) { _ = try ledger.produceBlock([], allowEmpty: true) }
        print("head is block \(ledger.head.header.height)")
    }
}
