import AgoraCore
import PropertyBased
import Testing

@Suite struct AmountTests {
    @Test func parsesAndFormats() throws {
        #expect(try Amount(parsing: "12.5").microUnits == 12_500_000)
        #expect(try Amount(parsing: "12.5AGR").microUnits == 12_500_000)
        #expect(try Amount(parsing: "0.000001").microUnits == 1)
        #expect(try Amount(parsing: "7u").microUnits == 7)
        #expect(Amount(microUnits: 12_500_000).description == "12.500000 AGR")
        for bad in ["", "1.", ".5", "1.0000001", "-1", "1e3", "abc", "1.2.3"] {
            #expect(throws: AmountError.self) { try Amount(parsing: bad) }
        }
        #expect(throws: AmountError.overflow) { try Amount(parsing: "18446744073709.551616") }
    }

    @Test func arithmeticIsChecked() {
        let max = Amount(microUnits: .max)
        #expect(throws: AmountError.overflow) { try max.adding(Amount(microUnits: 1)) }
        #expect(throws: AmountError.underflow(needed: Amount(microUnits: 2), available: Amount(microUnits: 1))) {
            try Amount(microUnits: 1).subtracting(Amount(microUnits: 2))
        }
    }

    @Test func basisPointsNeverExceedTheWholeAndNeverOverflow() async {
        await propertyCheck(count: 2_000, input: Gen.uint64(), Gen.int(in: 0...10_000)) { micro, bps in
            let amount = Amount(microUnits: micro)
            let part = amount.basisPoints(UInt16(bps))
            #expect(part <= amount)
            let exact = (UInt128(micro) * UInt128(bps)) / 10_000
            #expect(UInt128(part.microUnits) == exact)
        }
    }

    @Test func parsingTheDescriptionGivesTheAmountBack() async {
        await propertyCheck(count: 2_000, input: Gen.uint64()) { micro in
            let amount = Amount(microUnits: micro)
            let text = amount.description.replacingOccurrences(of: " AGR", with: "")
            let parsed = try Amount(parsing: text)
            #expect(parsed == amount)
        }
    }
}
