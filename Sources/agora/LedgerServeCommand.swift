import AgoraLedger
import AgoraNode
import AgoraWire
import ArgumentParser
import Foundation

/// `agora ledger serve`: the ledger's sequencer and queries over HTTP, for nodes and agents in other
/// processes (`agora node --ledger http://…`).
struct LedgerServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a ledger over HTTP: queries and transaction submission, sealing a block while any are queued.",
        discussion: """
            GET /v1/ledger/info, GET /v1/ledger/accounts/{address}, GET /v1/ledger/jobs/{id}, \
            POST /v1/ledger/transactions ({"transactions": [base64 canonical transaction…], "wait": true}).
            """)

    @Option(help: "Ledger data directory.") var data: String = "agora-data/ledger"
    @Option(help: "Address to bind.") var host: String = "127.0.0.1"
    @Option(help: "Port (0 = any free port).") var port: Int = 8545
    @Option(help: "Milliseconds between blocks while transactions are queued.") var blockIntervalMs: Int = 200

    func run() async throws {
        let ledger = try Ledger.open(at: URL(fileURLWithPath: data))
        let server = LedgerRPCServer(
            ledger: ledger, host: host, port: port, blockInterval: .milliseconds(max(blockIntervalMs, 1)))
        let app = server.application { bound in
            printError(
                "ledger \(ledger.chainID) at height \(ledger.head.header.height) serving on http://\(host):\(bound)")
        }
        try await app.runService()
    }
}
