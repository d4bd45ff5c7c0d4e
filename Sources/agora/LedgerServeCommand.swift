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
            Routes under /v1/ledger/: GET info, genesis, totals, head[?after=H&wait_ms=T] (long-poll for the next \
            block); GET accounts/{address}, nodes/{address}, models/{hash}, datasets/{hash}, jobs/{id}, \
            challenges/{job id}, transactions/{id}; GET nodes, models, datasets, challenges [?after=CURSOR&limit=N] \
            (pages); GET blocks?from=H&count=N; POST transactions ({"transactions": [base64…], "wait": true}). \
            Malformed queries get 400 with a typed reason.
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
