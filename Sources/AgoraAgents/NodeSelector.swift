import AgoraCore
import AgoraLedger
import Foundation

/// A node as the market sees it — what it announced, what it staked, how it has behaved: the ledger's own
/// list entry.
public typealias NodeListing = NodeEntry

extension NodeEntry {
    public var endpoint: String { record.registration.endpoint }
    public var pricePerInputToken: Amount { record.registration.pricePerInputToken }
    public var pricePerOutputToken: Amount { record.registration.pricePerOutputToken }
}

/// Why a node was or was not chosen: printed by `--explain`.
public struct SelectionExplanation: Sendable, Equatable {
    public var node: PublicKey
    public var eligible: Bool
    public var challengesLost: UInt64
    public var score: Double
    public var reasons: [String]
}

/// Chooses nodes for a model: only nodes that serve it and hold at least the chain's minimum stake are
/// eligible; among them fewer lost challenges come first, then the score prefers a low price, a large stake and
/// a settled history. Deterministic for the same ledger state, and explainable.
public struct NodeSelector: Sendable {
    public var minimumStake: Amount
    /// Expected prompt/output mix used to compare prices.
    public var expectedInputTokens: Int
    public var expectedOutputTokens: Int

    public init(minimumStake: Amount, expectedInputTokens: Int = 40, expectedOutputTokens: Int = 60) {
        self.minimumStake = minimumStake
        self.expectedInputTokens = expectedInputTokens
        self.expectedOutputTokens = expectedOutputTokens
    }

    /// Listings from the ledger, optionally for one model.
    public static func listings(from ledger: any LedgerReader, model: Hash256? = nil) async throws(LedgerAccessError)
        -> [NodeListing]
    {
        let nodes = try await ledger.allNodes()
        guard let model else { return nodes }
        return nodes.filter { $0.record.registration.models.contains(model) }
    }

    public func explain(_ listings: [NodeListing], maxPricePerJob: Amount? = nil) -> [SelectionExplanation] {
        listings.map { listing in
            var reasons: [String] = []
            var eligible = true
            if listing.stake < minimumStake {
                eligible = false
                reasons.append("stake \(listing.stake) below the minimum \(minimumStake)")
            }
            let price =
                Double(listing.pricePerInputToken.microUnits) * Double(expectedInputTokens)
                + Double(listing.pricePerOutputToken.microUnits) * Double(expectedOutputTokens)
            if let maxPricePerJob, price > Double(maxPricePerJob.microUnits) {
                eligible = false
                reasons.append("expected price \(Int(price)) µ above the budget \(maxPricePerJob.microUnits) µ")
            }
            let stakeAGR = Double(listing.stake.microUnits) / 1_000_000
            let jobs = Double(listing.record.jobsSettled)
            // Price in µ per expected job, discounted by stake (log scale) and a settled history. Lost challenges
            // rank before the score (see the sort below): no price makes up for proven cheating.
            let score = -price / (1 + log10(1 + stakeAGR)) + log10(1 + jobs)
            reasons.append(
                "price ≈ \(Int(price)) µ/job, stake \(listing.stake), \(listing.record.jobsSettled) jobs settled, "
                    + "\(listing.record.challengesLost) challenges lost")
            return SelectionExplanation(
                node: listing.key, eligible: eligible, challengesLost: listing.record.challengesLost, score: score,
                reasons: reasons)
        }
        .sorted { a, b in
            if a.eligible != b.eligible { return a.eligible }
            if a.challengesLost != b.challengesLost { return a.challengesLost < b.challengesLost }
            if a.score != b.score { return a.score > b.score }
            return a.node < b.node
        }
    }

    /// The eligible nodes, best first.
    public func rank(_ listings: [NodeListing], maxPricePerJob: Amount? = nil) -> [NodeListing] {
        let byKey = Dictionary(uniqueKeysWithValues: listings.map { ($0.key, $0) })
        return explain(listings, maxPricePerJob: maxPricePerJob).filter(\.eligible).compactMap { byKey[$0.node] }
    }
}
