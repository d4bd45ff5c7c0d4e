import AgoraAgents
import AgoraCore
import AgoraLedger
import AgoraWire
import ArgumentParser
import Foundation

/// A refusal as JSON: the typed reason (one key per `TransactionError` case) and its text.
struct RejectionView: Encodable {
    var status = "rejected"
    var transaction: String
    var reason: TransactionError
    var error: String

    init(transaction: String, reason: TransactionError) {
        self.transaction = transaction
        self.reason = reason
        error = reason.description
    }
}

/// The options every signed-transaction command shares: the ledger, the signer's key file, the output.
struct TransactionOptions: ParsableArguments {
    @OptionGroup var location: LedgerLocation
    @Option(name: .long, help: "Key file of the signing account.") var key: String = "agora.key"
    @OptionGroup var format: OutputFormat

    /// Signs `body` with the next nonce, submits it to the ledger (embedded or remote) and waits for its
    /// verdict. Exits 2 with the ledger's typed reason when the transaction is refused.
    func submit(_ body: TransactionBody) async throws {
        let ledger = try await location.submitter()
        let signer = try KeyFileStore.load(URL(fileURLWithPath: key))
        let (transaction, result) = try await ledger.signAndSubmit(body, by: signer)
        let height: UInt64
        switch result.verdict {
        case .rejected(let error):
            if format.json {
                try printJSON(RejectionView(transaction: transaction.id.hex, reason: error))
            } else {
                printError("rejected: \(error)")
            }
            throw ExitCode(2)
        case .queued: height = 0
        case .accepted(let at): height = at
        }
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

struct TransferCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "transfer", abstract: "Send AGR to another account.")
    @OptionGroup var options: TransactionOptions
    @Option(help: "Recipient address.") var to: String
    @Option(help: "Amount: 12.5, 12.5AGR or 12500000u (micro-units).") var amount: String

    func run() async throws {
        let recipient = try parseAddress(to)
        let value = try parseAmount(amount)
        try await options.submit(.transfer(to: recipient, amount: value))
    }
}

struct DepositCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deposit", abstract: "Move balance into the payment deposit that vouchers draw on.")
    @OptionGroup var options: TransactionOptions
    @Option(help: "Amount.") var amount: String

    func run() async throws {
        let value = try parseAmount(amount)
        try await options.submit(.deposit(amount: value))
    }
}

struct WithdrawCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "withdraw", abstract: "Start withdrawing from the deposit (released after the withdrawal delay).")
    @OptionGroup var options: TransactionOptions
    @Option(help: "Amount.") var amount: String

    func run() async throws {
        let value = try parseAmount(amount)
        try await options.submit(.withdraw(amount: value))
    }
}

struct StakeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stake", abstract: "Lock balance as stake.")
    @OptionGroup var options: TransactionOptions
    @Option(help: "Amount.") var amount: String

    func run() async throws {
        let value = try parseAmount(amount)
        try await options.submit(.stake(amount: value))
    }
}

struct UnstakeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unstake",
        abstract: "Start unbonding stake (released after the unbonding delay; slashable until then).")
    @OptionGroup var options: TransactionOptions
    @Option(help: "Amount.") var amount: String

    func run() async throws {
        let value = try parseAmount(amount)
        try await options.submit(.unstake(amount: value))
    }
}

struct RegisterNodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register-node", abstract: "Announce a node: endpoint, served models and prices.")
    @OptionGroup var options: TransactionOptions
    @Option(help: "Endpoint URL.") var endpoint: String
    @Option(help: "Served model content hash (repeatable).") var model: [String] = []
    @Option(help: "Price per input token.") var priceIn: String = "1u"
    @Option(help: "Price per output token.") var priceOut: String = "2u"

    func run() async throws {
        let registration = NodeRegistration(
            endpoint: endpoint, models: try model.map { try parseHash($0, what: "--model") },
            pricePerInputToken: try parseAmount(priceIn), pricePerOutputToken: try parseAmount(priceOut))
        try await options.submit(.registerNode(registration))
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

struct RegisterModelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register-model",
        abstract: "Register a model by content hash with a royalty and a share table (basis points summing to 10000).")
    @OptionGroup var options: TransactionOptions
    @Option(help: "Model content hash (SHA-256 hex).") var hash: String
    @Option(help: "Model name.") var name: String
    @Option(help: "Royalty on each job, in basis points.") var royaltyBps: UInt16 = 1_000
    @Option(help: "Shareholder ADDRESS=BPS (repeatable; default: the signer holds 10000).") var share: [String] = []
    @Option(help: "Dataset content hash this model was trained or tuned on (repeatable).") var dataset: [String] = []

    func run() async throws {
        let modelHash = try parseHash(hash, what: "--hash")
        let datasets = try dataset.map { try parseHash($0, what: "--dataset") }
        let explicitShares = try parseShares(share)
        let signer = try KeyFileStore.load(URL(fileURLWithPath: options.key))
        let shares = explicitShares.isEmpty ? [Share(holder: signer.publicKey, basisPoints: 10_000)] : explicitShares
        try await options.submit(
            .registerModel(
                ModelRegistration(
                    modelHash: modelHash, name: name, royaltyBasisPoints: royaltyBps, shares: shares, datasets: datasets
                )))
    }
}

struct RegisterDatasetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register-dataset", abstract: "Register a dataset by content hash with its contributors' shares.")
    @OptionGroup var options: TransactionOptions
    @Option(help: "Dataset content hash (SHA-256 hex).") var hash: String
    @Option(help: "Dataset name.") var name: String
    @Option(help: "Contributor ADDRESS=BPS (repeatable; default: the signer holds 10000).") var share: [String] = []

    func run() async throws {
        let datasetHash = try parseHash(hash, what: "--hash")
        let explicitShares = try parseShares(share)
        let signer = try KeyFileStore.load(URL(fileURLWithPath: options.key))
        let shares = explicitShares.isEmpty ? [Share(holder: signer.publicKey, basisPoints: 10_000)] : explicitShares
        try await options.submit(
            .registerDataset(DatasetRegistration(datasetHash: datasetHash, name: name, shares: shares)))
    }
}

struct TransferSharesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transfer-shares", abstract: "Give some of your royalty share of a model to another holder.")
    @OptionGroup var options: TransactionOptions
    @Option(help: "Model content hash.") var model: String
    @Option(help: "Recipient address.") var to: String
    @Option(help: "Basis points to transfer.") var bps: UInt16

    func run() async throws {
        let modelHash = try parseHash(model, what: "--model")
        let recipient = try parseAddress(to)
        try await options.submit(.transferModelShares(model: modelHash, to: recipient, basisPoints: bps))
    }
}

struct ChallengeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "challenge", abstract: "Dispute a settled job's output (locks the chain's challenge bond).")
    @OptionGroup var options: TransactionOptions
    @Option(help: "Job id.") var job: String
    @Option(help: "The output hash you claim is correct.") var claimedOutput: String
    @Option(help: "Hash of the evidence (e.g. the other node's receipt).") var evidence: String?
    @Option(
        help:
            "The job's request as JSON (a JobRequest, as `agora agent` stores it): revealed on the ledger so the referee can re-run it."
    )
    var request: String

    func run() async throws {
        let jobID = try parseHash(job, what: "--job")
        let claimed = try parseHash(claimedOutput, what: "--claimed-output")
        let evidenceHash = try evidence.map { try parseHash($0, what: "--evidence") } ?? .zero
        let revealed: JobRequest
        do {
            revealed = try JSONDecoder().decode(JobRequest.self, from: Data(contentsOf: URL(fileURLWithPath: request)))
        } catch { throw ValidationError("--request: not a JobRequest JSON file: \(error)") }
        try await options.submit(
            .fileChallenge(
                jobID: jobID, claimedOutputHash: claimed, evidence: evidenceHash,
                revealedRequest: revealed.canonicalBytes))
    }
}

struct ResolveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve", abstract: "Referee only: record the verdict on a challenged job.")
    @OptionGroup var options: TransactionOptions
    @Option(help: "Job id.") var job: String
    @Flag(help: "The node's output was wrong (slash it); without this flag the challenge is rejected.")
    var nodeAtFault = false

    func run() async throws {
        let jobID = try parseHash(job, what: "--job")
        try await options.submit(.resolveChallenge(jobID: jobID, nodeAtFault: nodeAtFault))
    }
}

struct TickCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tick", abstract: "Commit empty blocks (advances heights, releasing matured unbonding).")
    @OptionGroup var location: LedgerLocation
    @Option(help: "Number of blocks.") var blocks: Int = 1

    func run() async throws {
        let ledger = try Ledger.open(at: try location.directory(for: "ledger tick"))
        for _ in 0..<max(blocks, 0) { _ = try ledger.produceBlock([], allowEmpty: true) }
        print("head is block \(ledger.head.header.height)")
    }
}

struct RegisterOfferCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register-offer",
        abstract: "Announce a service offer from a spec file and lock its quality bond; prints the offer id.")
    @OptionGroup var options: TransactionOptions
    @Option(help: "The offer's spec (JSON; see OfferSpec).") var spec: String
    @Option(help: "Quality bond locked for the offer (slashable; unbonds after retirement).") var bond: String

    func run() async throws {
        let registration = try OfferSpecFile.load(spec)
        let signer = try KeyFileStore.load(URL(fileURLWithPath: options.key))
        print(OfferRegistration.id(seller: signer.publicKey, name: registration.name).hex)
        try await options.submit(.registerOffer(registration, bond: try parseAmount(bond)))
    }
}

struct UpdateOfferCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update-offer", abstract: "Change your live offer (same name) and optionally add to its bond.")
    @OptionGroup var options: TransactionOptions
    @Option(help: "The offer's new spec (JSON; the name must stay).") var spec: String
    @Option(help: "Amount added to the offer's bond.") var addBond: String = "0u"

    func run() async throws {
        let registration = try OfferSpecFile.load(spec)
        let signer = try KeyFileStore.load(URL(fileURLWithPath: options.key))
        let id = OfferRegistration.id(seller: signer.publicKey, name: registration.name)
        try await options.submit(.updateOffer(offer: id, registration, addedBond: try parseAmount(addBond)))
    }
}

struct RetireOfferCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retire-offer", abstract: "Retire your offer; its bond unbonds after the unbonding delay.")
    @OptionGroup var options: TransactionOptions
    @Option(help: "Offer id (hex).") var offer: String

    func run() async throws {
        try await options.submit(.retireOffer(offer: try parseHash(offer, what: "--offer")))
    }
}

/// Reads an offer spec file, refusing it with the field at fault.
enum OfferSpecFile {
    static func load(_ path: String) throws -> OfferRegistration {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ValidationError("cannot read \(path): \(error.localizedDescription)")
        }
        do { return try OfferSpec.registration(data, parseAmount: parseAmount) } catch {
            throw ValidationError("\(path): \(error.description)")
        }
    }
}
