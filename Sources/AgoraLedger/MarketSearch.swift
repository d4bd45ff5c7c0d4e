import AgoraCore
import Foundation

/// Full-text search over what the market offers — nodes, models, datasets and service offers — with filters,
/// a ranking that explains itself, and nothing but ledger state as input, so `agora search` and the ledger
/// RPC's `/v1/ledger/search` give the same answer from the same block.
///
/// Ranking: BM25 (k1 = 1.2, b = 0.75) over each item's words, its name counted three times and its tags
/// twice, so a name match outranks a passing mention; then a trust factor from the ledger's record,
/// `(1 + ln(1 + jobs) / 10) / (1 + challenges lost)`: settled work lifts an item gently (×1.24 at 10 jobs,
/// ×1.69 at 1 000), so it reorders near-equal matches without burying a better one, while every lost
/// challenge divides. Items that match no query word are left out (an empty query matches
/// everything, ranked by trust alone). Ties break by id, so the order is total.
public enum MarketSearch {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case node, model, dataset, agent
    }

    public struct Filters: Sendable, Equatable {
        public var kinds: Set<Kind> = Set(Kind.allCases)
        /// Most price per call (offers priced per call), per token (offers priced per token) or per output
        /// token (nodes). Models and datasets have no price and pass.
        public var maxPrice: Amount?
        /// Least bond (offers) or stake (nodes); models and datasets pass only when it is nil.
        public var minBond: Amount?
        public var minJobs: UInt64 = 0
        public var maxChallengesLost: UInt64?
        public var limit = 20

        public init() {}
    }

    /// One searchable thing, reduced to what search reads.
    public struct Item: Sendable, Equatable, Codable {
        public var kind: Kind
        /// Node address, model or dataset hash, or offer id (hex).
        public var id: String
        public var name: String
        public var description: String
        public var tags: [String]
        public var price: Amount?
        public var bond: Amount?
        public var jobs: UInt64
        public var challengesLost: UInt64
        public var endpoint: String?

        public init(
            kind: Kind, id: String, name: String, description: String, tags: [String], price: Amount?, bond: Amount?,
            jobs: UInt64, challengesLost: UInt64, endpoint: String?
        ) {
            self.kind = kind
            self.id = id
            self.name = name
            self.description = description
            self.tags = tags
            self.price = price
            self.bond = bond
            self.jobs = jobs
            self.challengesLost = challengesLost
            self.endpoint = endpoint
        }
    }

    /// Why an item ranks where it does.
    public struct Explanation: Sendable, Equatable, Codable {
        /// Each query word's BM25 contribution (0 when absent).
        public var terms: [String: Double]
        public var textScore: Double
        public var trust: Double
    }

    public struct Match: Sendable, Equatable, Codable {
        public var rank: Int
        public var score: Double
        public var item: Item
        public var explanation: Explanation
    }

    /// Lowercase runs of letters and digits.
    public static func words(_ text: String) -> [String] {
        text.lowercased().split { !($0.isLetter || $0.isNumber) }.map(String.init)
    }

    /// Everything live on the ledger as search items (retired offers are left out).
    public static func items(on ledger: any LedgerReader) async throws(LedgerAccessError) -> [Item] {
        let models = try await ledger.allModels()
        let modelNames = Dictionary(uniqueKeysWithValues: models.map { ($0.hash, $0.record.name) })
        var items: [Item] = []
        for node in try await ledger.allNodes() {
            let served = node.record.registration.models.map { modelNames[$0] ?? $0.short }
            items.append(
                Item(
                    kind: .node, id: node.key.address.description, name: node.record.registration.endpoint,
                    description: "serves " + served.joined(separator: ", "), tags: [],
                    price: node.record.registration.pricePerOutputToken, bond: node.stake,
                    jobs: node.record.jobsSettled, challengesLost: node.record.challengesLost,
                    endpoint: node.record.registration.endpoint))
        }
        for model in models {
            items.append(
                Item(
                    kind: .model, id: model.hash.hex, name: model.record.name, description: "", tags: [], price: nil,
                    bond: nil, jobs: model.record.jobs, challengesLost: 0, endpoint: nil))
        }
        var cursor: String?
        repeat {
            let page = try await ledger.datasets(after: cursor, limit: LedgerLimits.maxPageSize)
            for dataset in page.items {
                items.append(
                    Item(
                        kind: .dataset, id: dataset.hash.hex, name: dataset.record.name, description: "", tags: [],
                        price: nil, bond: nil, jobs: 0, challengesLost: 0, endpoint: nil))
            }
            cursor = page.nextCursor
        } while cursor != nil
        for offer in try await ledger.allOffers() where offer.record.isLive {
            let registration = offer.record.registration
            items.append(
                Item(
                    kind: .agent, id: offer.id.hex, name: registration.name, description: registration.description,
                    tags: registration.tags, price: registration.pricing.amount, bond: offer.record.bond,
                    jobs: offer.record.jobsSettled, challengesLost: offer.record.challengesLost,
                    endpoint: registration.endpoint))
        }
        return items
    }

    /// Ranks `items` for `query` under `filters`.
    public static func rank(_ items: [Item], query: String, filters: Filters) -> [Match] {
        let candidates = items.filter { passes($0, filters) }
        let queryWords = Array(Set(words(query))).sorted()
        let documents = candidates.map { item in
            words(item.name) + words(item.name) + words(item.name) + item.tags.flatMap { words($0) + words($0) }
                + words(item.description)
        }
        let averageLength =
            documents.isEmpty ? 1 : Double(documents.map(\.count).reduce(0, +)) / Double(documents.count)
        var frequency: [String: Int] = [:]
        for document in documents {
            for word in Set(document) where queryWords.contains(word) { frequency[word, default: 0] += 1 }
        }
        let n = Double(documents.count)
        var scored: [(Double, Item, Explanation)] = []
        for (item, document) in zip(candidates, documents) {
            var terms: [String: Double] = [:]
            var text = 0.0
            for word in queryWords {
                let count = Double(document.filter { $0 == word }.count)
                let df = Double(frequency[word] ?? 0)
                let idf = log(1 + (n - df + 0.5) / (df + 0.5))
                let length = Double(max(document.count, 1))
                let part =
                    count == 0 ? 0 : idf * count * 2.2 / (count + 1.2 * (0.25 + 0.75 * length / max(averageLength, 1)))
                terms[word] = part
                text += part
            }
            if !queryWords.isEmpty && text == 0 { continue }
            let trust = (1 + log(1 + Double(item.jobs)) / 10) / Double(1 + item.challengesLost)
            let score = (queryWords.isEmpty ? 1 : text) * trust
            scored.append((score, item, Explanation(terms: terms, textScore: text, trust: trust)))
        }
        scored.sort { $0.0 != $1.0 ? $0.0 > $1.0 : $0.1.id < $1.1.id }
        return scored.prefix(max(0, filters.limit)).enumerated().map { index, entry in
            Match(rank: index + 1, score: entry.0, item: entry.1, explanation: entry.2)
        }
    }

    static func passes(_ item: Item, _ filters: Filters) -> Bool {
        guard filters.kinds.contains(item.kind), item.jobs >= filters.minJobs else { return false }
        if let most = filters.maxChallengesLost, item.challengesLost > most { return false }
        if let most = filters.maxPrice, let price = item.price, price > most { return false }
        if let least = filters.minBond { guard let bond = item.bond, bond >= least else { return false } }
        return true
    }

    /// The filters of a query string's parameters (`kind` a comma list, amounts in micro-units), as the ledger
    /// RPC's `/v1/ledger/search` and `RemoteLedger.search` spell them; nil with the parameter at fault.
    public static func filters(_ values: [String: String]) -> Swift.Result<Filters, LedgerQueryError> {
        var filters = Filters()
        if let text = values["kind"] {
            var kinds: Set<Kind> = []
            for word in text.split(separator: ",") {
                guard let kind = Kind(rawValue: String(word)) else {
                    return .failure(.badParameter(name: "kind", why: "'\(word)' is not node, agent, model or dataset"))
                }
                kinds.insert(kind)
            }
            filters.kinds = kinds
        }
        func number(_ name: String) -> Swift.Result<UInt64?, LedgerQueryError> {
            guard let text = values[name] else { return .success(nil) }
            guard let value = UInt64(text) else {
                return .failure(.badParameter(name: name, why: "not a non-negative integer"))
            }
            return .success(value)
        }
        do {
            filters.maxPrice = try number("maxPrice").get().map { Amount(microUnits: $0) }
            filters.minBond = try number("minBond").get().map { Amount(microUnits: $0) }
            filters.minJobs = try number("minJobs").get() ?? 0
            filters.maxChallengesLost = try number("maxChallengesLost").get()
            if let limit = try number("limit").get() {
                guard (1...UInt64(LedgerLimits.maxPageSize)).contains(limit) else {
                    return .failure(.badLimit(requested: Int(clamping: limit), max: LedgerLimits.maxPageSize))
                }
                filters.limit = Int(limit)
            }
        } catch {
            return .failure(error)
        }
        return .success(filters)
    }

    /// The query-string form of `filters` (the inverse of `filters(_:)`).
    public static func parameters(_ filters: Filters) -> [String: String] {
        var values: [String: String] = ["limit": String(filters.limit)]
        if filters.kinds != Set(Kind.allCases) {
            values["kind"] = filters.kinds.map(\.rawValue).sorted().joined(separator: ",")
        }
        if let price = filters.maxPrice { values["maxPrice"] = String(price.microUnits) }
        if let bond = filters.minBond { values["minBond"] = String(bond.microUnits) }
        if filters.minJobs > 0 { values["minJobs"] = String(filters.minJobs) }
        if let lost = filters.maxChallengesLost { values["maxChallengesLost"] = String(lost) }
        return values
    }

    /// Search straight on a ledger.
    public static func search(_ query: String, filters: Filters, on ledger: any LedgerReader)
        async throws(LedgerAccessError) -> [Match]
    {
        rank(try await items(on: ledger), query: query, filters: filters)
    }
}
