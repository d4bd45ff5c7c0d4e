import AgoraCore

/// Counts the money held in state records, for the conservation invariant:
/// Σ (balance + deposit + stake + unbonding) + Σ open challenge bonds + Σ offer bonds + burnt = supply.
public enum MoneyAudit {
    /// Micro-units held by one record (0 for records that hold no money).
    public static func held(key: [UInt8], value: [UInt8]?) throws(LedgerError) -> UInt64 {
        guard let value, let tag = key.first, let prefix = StateKey.Prefix(rawValue: tag) else { return 0 }
        do {
            switch prefix {
            case .account: return try AccountState(canonicalBytes: value).total
            case .challenge:
                let challenge = try ChallengeRecord(canonicalBytes: value)
                return challenge.isOpen ? challenge.bond.microUnits : 0
            case .totals: return try LedgerTotals(canonicalBytes: value).burnt.microUnits
            case .offer: return try OfferRecord(canonicalBytes: value).bond.microUnits
            case .unbonding, .node, .model, .dataset, .job: return 0
            }
        } catch {
            throw .corruptState("record under prefix \(tag) does not decode: \(error)")
        }
    }

    /// Checks that a block's changes create and destroy no money: what the changed records hold after the
    /// block equals what they held before. O(changes), so it runs on every block.
    public static func checkBalanced(_ changes: [StateChange]) throws(LedgerError) {
        var before: UInt64 = 0
        var after: UInt64 = 0
        for change in changes {
            before &+= try held(key: change.key, value: change.oldValue)
            after &+= try held(key: change.key, value: change.newValue)
        }
        guard before == after else {
            throw .invariantViolated("a block changed the money in its records from \(before) to \(after) µ")
        }
    }
}
