import AgoraCore

/// A node's prices and what a job costs under them.
public struct NodePrices: Sendable, Equatable {
    public var perInputToken: Amount
    public var perOutputToken: Amount

    public init(perInputToken: Amount, perOutputToken: Amount) {
        self.perInputToken = perInputToken
        self.perOutputToken = perOutputToken
    }

    /// The price of a job, or nil when it would overflow.
    public func cost(inputTokens: Int, outputTokens: Int) -> Amount? {
        let (input, o1) = perInputToken.microUnits.multipliedReportingOverflow(by: UInt64(max(0, inputTokens)))
        let (output, o2) = perOutputToken.microUnits.multipliedReportingOverflow(by: UInt64(max(0, outputTokens)))
        let (total, o3) = input.addingReportingOverflow(output)
        return o1 || o2 || o3 ? nil : Amount(microUnits: total)
    }
}
