import AgoraCore
import AgoraLedger
import Foundation
import Testing

/// `MarketSearch`: what matches, in what order, why, and what the filters keep — on hand-made items and on a
/// real ledger with every kind of record.
@Suite struct MarketSearchTests {
    static func item(
        _ kind: MarketSearch.Kind, _ id: String, _ name: String, description: String = "", tags: [String] = [],
        price: UInt64? = nil, bond: UInt64? = nil, jobs: UInt64 = 0, lost: UInt64 = 0
    ) -> MarketSearch.Item {
        MarketSearch.Item(
            kind: kind, id: id, name: name, description: description, tags: tags,
            price: price.map { Amount(microUnits: $0) }, bond: bond.map { Amount(microUnits: $0) }, jobs: jobs,
            challengesLost: lost, endpoint: nil)
    }

    static let items = [
        item(
            .agent, "a1", "translate-and-check", description: "Translates and checks by translating back.",
            tags: ["translation"], price: 50, bond: 5_000, jobs: 10),
        item(
            .agent, "a2", "best-of-n", description: "Several answers; one is chosen. Also does translation.",
            tags: ["chat"], price: 80, bond: 20_000, jobs: 100),
        item(
            .agent, "a3", "translator", description: "Cheap translation.", tags: ["translation"], price: 5,
            bond: 100, jobs: 10, lost: 3),
        item(.model, "m1", "SmolLM2-135M-Instruct"),
        item(
            .node, "n1", "http://127.0.0.1:8080", description: "serves SmolLM2-135M-Instruct", price: 2,
            bond: 200_000, jobs: 1_000),
    ]

    @Test func aNameOrTagMatchOutranksAPassingMentionAndTrustBreaksTies() {
        let matches = MarketSearch.rank(Self.items, query: "translation", filters: .init())
        #expect(matches.map(\.item.id) == ["a1", "a2", "a3"])
        #expect(matches.map(\.rank) == [1, 2, 3])
        // Each score is its text score times its trust; the terms add up to the text score.
        for match in matches {
            let e = match.explanation
            #expect(abs(e.terms.values.reduce(0, +) - e.textScore) < 1e-12)
            #expect(abs(match.score - e.textScore * e.trust) < 1e-12)
            #expect(
                abs(e.trust - (1 + log(1 + Double(match.item.jobs)) / 10) / Double(1 + match.item.challengesLost))
                    < 1e-12)
        }
        // a1's tag match outranks a2's passing mention despite a2's ten times more jobs; a3 matches best on the
        // text (tag and description, a short record) but lost three challenges.
        #expect(matches[1].explanation.trust > matches[0].explanation.trust)
        #expect(matches[2].explanation.textScore > matches[0].explanation.textScore)
        // Case and punctuation do not matter; the model's name outranks the node that mentions it, even with
        // the node's thousand jobs. Words that match nothing leave an item out.
        #expect(
            MarketSearch.rank(Self.items, query: "SMOLLM2, 135m!", filters: .init()).map(\.item.id) == ["m1", "n1"])
        #expect(MarketSearch.rank(Self.items, query: "quantum", filters: .init()).isEmpty)
    }

    @Test func anEmptyQueryListsEverythingByTrust() {
        let matches = MarketSearch.rank(Self.items, query: "", filters: .init())
        #expect(matches.map(\.item.id) == ["n1", "a2", "a1", "m1", "a3"])
    }

    @Test func filtersKeepWhatTheySay() {
        var filters = MarketSearch.Filters()
        filters.kinds = [.agent]
        filters.maxPrice = Amount(microUnits: 60)
        #expect(MarketSearch.rank(Self.items, query: "", filters: filters).map(\.item.id) == ["a1", "a3"])
        filters.minBond = Amount(microUnits: 1_000)
        #expect(MarketSearch.rank(Self.items, query: "", filters: filters).map(\.item.id) == ["a1"])
        filters = MarketSearch.Filters()
        filters.maxChallengesLost = 0
        filters.minJobs = 10
        #expect(MarketSearch.rank(Self.items, query: "", filters: filters).map(\.item.id) == ["n1", "a2", "a1"])
        filters.limit = 1
        #expect(MarketSearch.rank(Self.items, query: "", filters: filters).map(\.item.id) == ["n1"])
        // Models have no bond: a bond filter leaves them out.
        filters = MarketSearch.Filters()
        filters.minBond = .zero
        #expect(!MarketSearch.rank(Self.items, query: "", filters: filters).contains { $0.item.kind == .model })
    }

    @Test func queryParametersRoundTripAndBadOnesAreNamed() throws {
        var filters = MarketSearch.Filters()
        filters.kinds = [.agent, .node]
        filters.maxPrice = Amount(microUnits: 7)
        filters.minBond = Amount(microUnits: 9)
        filters.minJobs = 3
        filters.maxChallengesLost = 1
        filters.limit = 5
        #expect(try MarketSearch.filters(MarketSearch.parameters(filters)).get() == filters)
        #expect(
            throws: LedgerQueryError.badParameter(name: "kind", why: "'robot' is not node, agent, model or dataset")
        ) {
            try MarketSearch.filters(["kind": "node,robot"]).get()
        }
        #expect(throws: LedgerQueryError.badParameter(name: "maxPrice", why: "not a non-negative integer")) {
            try MarketSearch.filters(["maxPrice": "-1"]).get()
        }
        #expect(throws: LedgerQueryError.badLimit(requested: 0, max: LedgerLimits.maxPageSize)) {
            try MarketSearch.filters(["limit": "0"]).get()
        }
    }

    /// On a real ledger: a node, a model, a dataset and offers; a retired offer is not found.
    @Test func itemsComeFromTheLedgersRecords() async throws {
        let chain = TestChain()
        let ledger = try chain.makeLedger()
        let model = Hash256.of(Array("search-model".utf8))
        let seller = chain.accounts[1]
        func offer(_ name: String, _ description: String) -> OfferRegistration {
            OfferRegistration(
                name: name, description: description, tags: ["translation"], inputSchema: "{}", outputSchema: "{}",
                pricing: .perCall(Amount(microUnits: 40)), models: [model], offers: [],
                verification: .reexecute(pipeline: .zero), endpoint: "http://127.0.0.1:9000")
        }
        let owner = chain.accounts[0]
        let transactions = [
            chain.transaction(
                owner, nonce: 1,
                .registerModel(
                    ModelRegistration(
                        modelHash: model, name: "tiny-translator", royaltyBasisPoints: 0,
                        shares: [Share(holder: owner.publicKey, basisPoints: 10_000)]))),
            chain.transaction(
                owner, nonce: 2,
                .registerDataset(
                    DatasetRegistration(
                        datasetHash: Hash256.of([4]), name: "parallel translation corpus",
                        shares: [Share(holder: owner.publicKey, basisPoints: 10_000)]))),
            chain.transaction(owner, nonce: 3, .stake(amount: Amount(microUnits: 5_000))),
            chain.transaction(
                owner, nonce: 4,
                .registerNode(
                    NodeRegistration(
                        endpoint: "http://127.0.0.1:8080", models: [model], pricePerInputToken: Amount(microUnits: 1),
                        pricePerOutputToken: Amount(microUnits: 2)))),
            chain.transaction(
                seller, nonce: 1, .registerOffer(offer("translate", "French to English"), bond: Amount(microUnits: 9))),
            chain.transaction(
                seller, nonce: 2, .registerOffer(offer("old-translate", "retired"), bond: Amount(microUnits: 9))),
            chain.transaction(
                seller, nonce: 3,
                .retireOffer(offer: OfferRegistration.id(seller: seller.publicKey, name: "old-translate"))),
        ]
        #expect(try ledger.produceBlock(transactions).rejected.isEmpty)
        let access = EmbeddedLedger(ledger)
        let items = try await MarketSearch.items(on: access)
        #expect(items.map(\.kind).sorted { $0.rawValue < $1.rawValue } == [.agent, .dataset, .model, .node])
        let node = try #require(items.first { $0.kind == .node })
        #expect(node.description == "serves tiny-translator" && node.bond == Amount(microUnits: 5_000))
        let matches = try await MarketSearch.search("translator", filters: .init(), on: access)
        #expect(Set(matches.map(\.item.kind)) == [.node, .model])
        let translation = try await MarketSearch.search("translation", filters: .init(), on: access)
        // The dataset has the word three times in its name, the offer twice in its tags; the retired offer is gone.
        #expect(translation.map(\.item.name) == ["parallel translation corpus", "translate"])
        #expect(translation[1].item.id == OfferRegistration.id(seller: seller.publicKey, name: "translate").hex)
    }
}
