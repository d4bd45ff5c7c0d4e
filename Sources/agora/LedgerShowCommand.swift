import AgoraClient
import AgoraCore
import AgoraLedger
import ArgumentParser
import Foundation

/// `agora ledger show account|block|tx|totals`.
struct LedgerShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Inspect accounts, blocks, transactions and totals.",
        subcommands: [ShowAccount.self, ShowBlock.self, ShowTransaction.self, ShowTotals.self])

    struct ShowAccount: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "account", abstract: "An account's money and nonce.")
        @OptionGroup var location: LedgerLocation
        @OptionGroup var format: OutputFormat
        @Argument(help: "Address.") var address: String

        func run() async throws {
            let key = try parseAddress(address)
            let account = try await location.reader().account(key)
            if format.json {
                try printJSON(AccountView(address: key.address.description, account: account))
            } else {
                print("address     \(key.address)")
                print("balance     \(account.balance)")
                print("deposit     \(account.deposit)  (withdrawing \(account.withdrawing))")
                print("stake       \(account.stake)  (unbonding \(account.unbonding))")
                print("nonce       \(account.nonce)")
            }
        }
    }

    struct AccountView: Encodable {
        var address: String
        var account: AccountState
    }

    struct ShowBlock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "block", abstract: "A block header and its transactions.")
        @OptionGroup var location: LedgerLocation
        @OptionGroup var format: OutputFormat
        @Argument(help: "Height (default: the head).") var height: UInt64?

        func run() async throws {
            let ledger = try await location.reader()
            var target = height ?? 0
            if height == nil { target = try await ledger.head().header.height }
            guard let entry = try await ledger.blocks(from: target, count: 1).first else {
                throw ValidationError("no block at height \(target)")
            }
            let block = entry.block
            let transactions = entry.transactions
            if format.json {
                try printJSON(
                    BlockView(
                        hash: block.hash, header: block.header, signature: block.signature,
                        transactions: transactions.map { TransactionView($0) }))
            } else {
                let header = block.header
                print("block       \(header.height)  \(block.hash)")
                print("previous    \(header.previousHash)")
                print("state root  \(header.stateRoot)")
                print("time        \(header.timestamp) ms")
                print("txs         \(header.transactionCount)")
                for transaction in transactions {
                    print(
                        "  \(transaction.id.short)…  \(transaction.body.kind)  from \(transaction.sender)  nonce \(transaction.nonce)"
                    )
                }
            }
        }
    }

    struct BlockView: Encodable {
        var hash: Hash256
        var header: BlockHeader
        var signature: Signature
        var transactions: [TransactionView]
    }

    struct ShowTransaction: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "tx", abstract: "A committed transaction by id.")
        @OptionGroup var location: LedgerLocation
        @OptionGroup var format: OutputFormat
        @Argument(help: "Transaction id (hex).") var id: String

        func run() async throws {
            let txID = try parseHash(id, what: "transaction id")
            guard let found = try await location.reader().transaction(txID) else {
                throw ValidationError("no transaction \(id)")
            }
            let view = TransactionView(found.transaction, height: found.height, position: found.position)
            if format.json {
                try printJSON(view)
            } else {
                print("tx          \(view.id)")
                print("block       \(found.height) position \(found.position)")
                print("kind        \(view.kind)")
                print("sender      \(view.sender)  nonce \(view.nonce)")
                print("body        \(view.bodyHex)")
            }
        }
    }

    struct TransactionView: Encodable {
        var id: Hash256
        var kind: String
        var sender: String
        var nonce: UInt64
        var bodyHex: String
        var height: UInt64?
        var position: Int?

        init(_ transaction: Transaction, height: UInt64? = nil, position: Int? = nil) {
            id = transaction.id
            kind = transaction.body.kind
            sender = transaction.sender.address.description
            nonce = transaction.nonce
            bodyHex = Hex.encode(transaction.body.canonicalBytes)
            self.height = height
            self.position = position
        }
    }

    struct ShowTotals: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "totals", abstract: "Supply, burnt, height.")
        @OptionGroup var location: LedgerLocation
        @OptionGroup var format: OutputFormat

        func run() async throws {
            let ledger = try await location.reader()
            let totals = try await ledger.totals()
            let head = try await ledger.head()
            if format.json {
                try printJSON(
                    TotalsView(chainID: ledger.chainID, height: head.header.height, head: head.hash, totals: totals))
            } else {
                print("chain   \(ledger.chainID)")
                print("height  \(head.header.height)  \(head.hash)")
                print("supply  \(totals.supply)")
                print("burnt   \(totals.burnt)")
            }
        }
    }

    struct TotalsView: Encodable {
        var chainID: String
        var height: UInt64
        var head: Hash256
        var totals: LedgerTotals
    }
}

/// `agora ledger verify`: full replay from genesis, of a local folder or of a chain downloaded from a URL.
struct LedgerVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Replay the chain from genesis, checking every signature, nonce, state root and the invariant.",
        discussion: """
            Exits 0 when the chain verifies; otherwise names the first bad block and why, and exits 1. With \
            --ledger URL the genesis and every block are downloaded and replayed here, trusting nothing the \
            server says beyond those bytes; --genesis pins the chain's genesis hash.
            """)
    @OptionGroup var location: LedgerLocation
    @Option(help: "The genesis hash the chain must have (hex).") var genesis: String?
    @OptionGroup var format: OutputFormat

    func run() async throws {
        let json = format.json
        let progress: @Sendable (UInt64, UInt64) -> Void = { done, total in
            if !json { printError("verified \(done)/\(total) blocks") }
        }
        let expectedGenesis = try genesis.map { try parseHash($0, what: "--genesis") }
        do {
            let report: VerificationReport
            if location.isRemote {
                let source = try await location.reader()
                if !json { printError("downloading the chain from \(location.ledger)…") }
                report = try await ChainDownload(source: source, expectedGenesis: expectedGenesis).verify {
                    done, total in
                    if !json { printError("downloaded \(done)/\(total) blocks") }
                }
            } else {
                let directory = try location.directory(for: "ledger verify")
                if let expectedGenesis {
                    let actual = try Ledger.open(at: directory, sequencing: false).genesis.hash
                    guard actual == expectedGenesis else {
                        throw ValidationError("the chain's genesis hashes to \(actual), not \(expectedGenesis)")
                    }
                }
                report = try ChainVerifier(directory: directory).verify(progress: progress)
            }
            if format.json {
                try printJSON(VerifyView(ok: true, report: report, failure: nil))
            } else {
                print("OK: \(report.blocks) blocks, \(report.transactions) transactions")
                print("genesis \(report.genesisHash)")
                print("head \(report.headHash)")
                print("state root \(report.stateRoot); supply \(report.supply) conserved (burnt \(report.burnt))")
            }
        } catch let failure as VerificationFailure {
            if format.json {
                try printJSON(
                    VerifyView(
                        ok: false, report: nil, failure: FailureView(height: failure.height, reason: failure.reason)))
            } else {
                printError("FAILED at block \(failure.height): \(failure.reason)")
            }
            throw ExitCode.failure
        }
    }

    struct VerifyView: Encodable {
        var ok: Bool
        var report: VerificationReport?
        var failure: FailureView?
    }

    struct FailureView: Encodable {
        var height: UInt64
        var reason: String
    }
}
