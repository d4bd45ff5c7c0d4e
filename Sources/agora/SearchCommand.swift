import AgoraClient
import AgoraLedger
import ArgumentParser
import Foundation

/// `agora search QUERY`: full-text search over the market's nodes, models, datasets and agents' offers, with
/// filters, ranked by `MarketSearch` (on a ledger URL the server ranks: the same search as its RPC).
struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search", abstract: "Search the market: nodes, agents (offers), models and datasets.")
    @Argument(help: "Words to look for in names, descriptions and tags (empty: everything, ranked by record).")
    var query: String = ""
    @OptionGroup var location: LedgerLocation
    @Option(help: "Only this kind: node, agent, model or dataset (repeatable).") var kind: [String] = []
    @Option(help: "Most price (per call or per token for offers, per output token for nodes).") var maxPrice: String?
    @Option(help: "Least bond (offers) or stake (nodes).") var minBond: String?
    @Option(help: "Least jobs settled.") var minJobs: UInt64 = 0
    @Option(help: "Most challenges lost.") var maxChallengesLost: UInt64?
    @Option(help: "Most results.") var limit = 20
    @Flag(help: "Show why each result ranks where it does.") var explain = false
    @OptionGroup var format: OutputFormat

    func run() async throws {
        var filters = MarketSearch.Filters()
        if !kind.isEmpty {
            filters.kinds = Set(
                try kind.map { text in
                    guard let kind = MarketSearch.Kind(rawValue: text) else {
                        throw ValidationError("--kind \(text): use node, agent, model or dataset")
                    }
                    return kind
                })
        }
        filters.maxPrice = try maxPrice.map(parseAmount)
        filters.minBond = try minBond.map(parseAmount)
        filters.minJobs = minJobs
        filters.maxChallengesLost = maxChallengesLost
        guard (1...LedgerLimits.maxPageSize).contains(limit) else {
            throw ValidationError("--limit must be in 1…\(LedgerLimits.maxPageSize)")
        }
        filters.limit = limit
        let matches: [MarketSearch.Match]
        if location.isRemote, let url = URL(string: location.ledger) {
            matches = try await RemoteLedger.connect(to: url).search(query, filters: filters)
        } else {
            matches = try await MarketSearch.search(query, filters: filters, on: try await location.reader())
        }
        if format.json {
            try printJSON(matches)
            return
        }
        var table = TextTable(header: ["#", "kind", "name", "price", "bond", "jobs", "lost", "score", "id"])
        for match in matches {
            let item = match.item
            table.rows.append([
                String(match.rank), item.kind.rawValue, String(item.name.prefix(40)),
                item.price?.description ?? "-", item.bond?.description ?? "-", String(item.jobs),
                String(item.challengesLost), String(format: "%.3f", match.score), String(item.id.prefix(16)) + "…",
            ])
        }
        print(table.render())
        guard explain else { return }
        for match in matches {
            let terms = match.explanation.terms.sorted { $0.key < $1.key }
                .map { "\($0.key) \(String(format: "%.3f", $0.value))" }.joined(separator: ", ")
            print(
                "\n#\(match.rank) \(match.item.name): text \(String(format: "%.3f", match.explanation.textScore))"
                    + (terms.isEmpty ? "" : " (\(terms))")
                    + " × trust \(String(format: "%.3f", match.explanation.trust)) = (1 + ln(1 + \(match.item.jobs) jobs) / 10)"
                    + " / (1 + \(match.item.challengesLost) lost)"
            )
        }
    }
}
