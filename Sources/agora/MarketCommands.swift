import AgoraAgents
import AgoraCore
import AgoraLedger
import ArgumentParser
import Foundation

/// `agora nodes`: the market's nodes, as an agent would rank them.
struct NodesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nodes", abstract: "List registered nodes with price, stake, jobs settled and challenges lost.")
    @OptionGroup var location: LedgerLocation
    @Option(help: "Only nodes serving this model (content hash, or registered name).") var model: String?
    @Option(help: "Only nodes whose expected price per job is at most this.") var maxPrice: String?
    @Flag(help: "Explain each node's eligibility and score.") var explain = false
    @OptionGroup var format: OutputFormat

    struct Row: Encodable {
        var address: String
        var endpoint: String
        var pricePerInputToken: Amount
        var pricePerOutputToken: Amount
        var stake: Amount
        var jobsSettled: UInt64
        var challengesLost: UInt64
        var eligible: Bool
        var score: Double
        var reasons: [String]
    }

    func run() async throws {
        let ledger = try await location.reader()
        var modelHash: Hash256?
        if let model {
            modelHash = try await ledger.resolveModel(model)
            guard modelHash != nil else { throw ValidationError("no registered model '\(model)'") }
        }
        let listings = try await NodeSelector.listings(from: ledger, model: modelHash)
        let selector = NodeSelector(minimumStake: ledger.parameters.minimumNodeStake)
        let explanations = selector.explain(listings, maxPricePerJob: try maxPrice.map(parseAmount))
        let byKey = Dictionary(uniqueKeysWithValues: listings.map { ($0.key, $0) })
        let rows = explanations.compactMap { explanation -> Row? in
            guard let listing = byKey[explanation.node] else { return nil }
            return Row(
                address: listing.key.address.description, endpoint: listing.endpoint,
                pricePerInputToken: listing.pricePerInputToken, pricePerOutputToken: listing.pricePerOutputToken,
                stake: listing.stake, jobsSettled: listing.record.jobsSettled,
                challengesLost: listing.record.challengesLost,
                eligible: explanation.eligible, score: explanation.score, reasons: explanation.reasons)
        }
        if format.json {
            try printJSON(rows)
            return
        }
        var table = TextTable(header: ["node", "endpoint", "µ/in", "µ/out", "stake", "jobs", "lost", "eligible"])
        for row in rows {
            table.rows.append([
                String(row.address.prefix(16)) + "…", row.endpoint, String(row.pricePerInputToken.microUnits),
                String(row.pricePerOutputToken.microUnits), row.stake.description, String(row.jobsSettled),
                String(row.challengesLost), row.eligible ? "yes" : "no",
            ])
        }
        print(table.render())
        if explain {
            for row in rows {
                print(
                    "\n\(row.address): \(row.eligible ? "eligible" : "not eligible"), score \(String(format: "%.2f", row.score))"
                )
                for reason in row.reasons { print("  - \(reason)") }
            }
        }
    }
}

/// `agora models`: registered models with share tables and royalties earned.
struct ModelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "List registered models with their share tables and royalties paid.")
    @OptionGroup var location: LedgerLocation
    @OptionGroup var format: OutputFormat

    struct Row: Encodable {
        var hash: Hash256
        var record: ModelRecord
    }

    func run() async throws {
        let models = try await location.reader().allModels().map { (hash: $0.hash, record: $0.record) }
        if format.json {
            try printJSON(models.map { Row(hash: $0.hash, record: $0.record) })
            return
        }
        for (hash, record) in models {
            print("\(record.name)  \(hash)")
            print(
                "  royalty \(Double(record.royaltyBasisPoints) / 100) %, \(record.jobs) jobs, royalties paid \(record.royaltiesPaid)"
            )
            for share in record.shares {
                print("  \(share.holder)  \(Double(share.basisPoints) / 100) %")
            }
            if !record.datasets.isEmpty {
                print("  trained on: \(record.datasets.map(\.short).joined(separator: ", "))")
            }
        }
    }
}
