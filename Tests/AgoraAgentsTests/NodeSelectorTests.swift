import AgoraAgents
import AgoraCore
import AgoraLedger
import Testing

@Suite struct NodeSelectorTests {
    func listing(_ label: String, stake: UInt64, priceIn: UInt64, priceOut: UInt64, jobs: UInt64 = 0, lost: UInt64 = 0)
        -> NodeListing
    {
        var record = NodeRecord(
            registration: NodeRegistration(
                endpoint: "http://127.0.0.1:1", models: [], pricePerInputToken: Amount(microUnits: priceIn),
                pricePerOutputToken: Amount(microUnits: priceOut)),
            registeredHeight: 1)
        record.jobsSettled = jobs
        record.challengesLost = lost
        return NodeListing(
            key: SigningKey(deterministicLabel: label).publicKey, record: record, stake: Amount(microUnits: stake))
    }

    @Test func onlyStakedNodesAreEligibleAndCheaperRanksFirst() {
        let selector = NodeSelector(minimumStake: Amount(microUnits: 1_000))
        let cheap = listing("cheap", stake: 5_000, priceIn: 1, priceOut: 1)
        let dear = listing("dear", stake: 5_000, priceIn: 10, priceOut: 10)
        let unstaked = listing("unstaked", stake: 10, priceIn: 0, priceOut: 0)
        let ranked = selector.rank([dear, unstaked, cheap])
        #expect(ranked.map(\.key) == [cheap.key, dear.key])
        let explanation = selector.explain([unstaked]).first!
        #expect(!explanation.eligible && explanation.reasons.first!.contains("below the minimum"))
    }

    @Test func aLostChallengeOutweighsAnyPriceAdvantage() {
        let selector = NodeSelector(minimumStake: Amount(microUnits: 1))
        let cheater = listing("cheater", stake: 5_000, priceIn: 0, priceOut: 0, lost: 1)
        let honest = listing("honest", stake: 5_000, priceIn: 5, priceOut: 20)
        #expect(selector.rank([cheater, honest]).first?.key == honest.key)
    }

    @Test func budgetExcludesExpensiveNodes() {
        let selector = NodeSelector(
            minimumStake: Amount(microUnits: 1), expectedInputTokens: 10, expectedOutputTokens: 10)
        let dear = listing("dear", stake: 5, priceIn: 100, priceOut: 100)
        #expect(selector.rank([dear], maxPricePerJob: Amount(microUnits: 1_999)).isEmpty)
        #expect(selector.rank([dear], maxPricePerJob: Amount(microUnits: 2_000)).count == 1)
    }
}
