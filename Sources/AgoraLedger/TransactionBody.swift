import AgoraCore

/// What a transaction does. Each case's tag byte is part of the canonical encoding and never changes.
public enum TransactionBody: Hashable, Sendable, CanonicalCodable {
    /// Balance → another account's balance.
    case transfer(to: PublicKey, amount: Amount)
    /// Balance → payment deposit (what vouchers draw on).
    case deposit(amount: Amount)
    /// Starts moving deposit → balance after the withdrawal delay.
    case withdraw(amount: Amount)
    /// Balance → stake.
    case stake(amount: Amount)
    /// Starts moving stake → balance after the unbonding delay (still slashable until then).
    case unstake(amount: Amount)
    case registerNode(NodeRegistration)
    case registerModel(ModelRegistration)
    /// Moves some of the sender's share of a model's royalties to another holder.
    case transferModelShares(model: Hash256, to: PublicKey, basisPoints: UInt16)
    case registerDataset(DatasetRegistration)
    /// Pays a job: the payer's voucher and the node's receipt, settled atomically.
    case settleJob(voucher: Voucher, receipt: JobReceipt)
    /// Disputes a settled job's output, locking the challenge bond. `revealedRequest` is the job's canonical
    /// request (it must hash to the job's input hash), so the referee — and anyone — can re-execute it.
    case fileChallenge(jobID: Hash256, claimedOutputHash: Hash256, evidence: Hash256, revealedRequest: [UInt8])
    /// The referee's verdict after re-executing the job.
    case resolveChallenge(jobID: Hash256, nodeAtFault: Bool)
    /// Announces a service offer and locks its quality bond (balance → the offer). The offer's id is
    /// `OfferRegistration.id(seller:name:)`.
    case registerOffer(OfferRegistration, bond: Amount)
    /// The seller changes its live offer (same name) and may add to its bond (balance → the offer).
    case updateOffer(offer: Hash256, OfferRegistration, addedBond: Amount)
    /// The seller retires its offer: it takes no more work, and its bond starts unbonding to the seller
    /// (still slashable until released, like unstaked stake).
    case retireOffer(offer: Hash256)

    public var kind: String {
        switch self {
        case .transfer: return "transfer"
        case .deposit: return "deposit"
        case .withdraw: return "withdraw"
        case .stake: return "stake"
        case .unstake: return "unstake"
        case .registerNode: return "register-node"
        case .registerModel: return "register-model"
        case .transferModelShares: return "transfer-model-shares"
        case .registerDataset: return "register-dataset"
        case .settleJob: return "settle-job"
        case .fileChallenge: return "file-challenge"
        case .resolveChallenge: return "resolve-challenge"
        case .registerOffer: return "register-offer"
        case .updateOffer: return "update-offer"
        case .retireOffer: return "retire-offer"
        }
    }

    public func encode(to writer: inout CanonicalWriter) {
        switch self {
        case .transfer(let to, let amount):
            writer.write(UInt8(1))
            writer.write(to)
            writer.write(amount)
        case .deposit(let amount):
            writer.write(UInt8(2))
            writer.write(amount)
        case .withdraw(let amount):
            writer.write(UInt8(3))
            writer.write(amount)
        case .stake(let amount):
            writer.write(UInt8(4))
            writer.write(amount)
        case .unstake(let amount):
            writer.write(UInt8(5))
            writer.write(amount)
        case .registerNode(let registration):
            writer.write(UInt8(6))
            writer.write(registration)
        case .registerModel(let registration):
            writer.write(UInt8(7))
            writer.write(registration)
        case .transferModelShares(let model, let to, let basisPoints):
            writer.write(UInt8(8))
            writer.write(model)
            writer.write(to)
            writer.write(basisPoints)
        case .registerDataset(let registration):
            writer.write(UInt8(9))
            writer.write(registration)
        case .settleJob(let voucher, let receipt):
            writer.write(UInt8(10))
            writer.write(voucher)
            writer.write(receipt)
        case .fileChallenge(let jobID, let claimedOutputHash, let evidence, let revealedRequest):
            writer.write(UInt8(11))
            writer.write(jobID)
            writer.write(claimedOutputHash)
            writer.write(evidence)
            writer.writeBytes(revealedRequest)
        case .resolveChallenge(let jobID, let nodeAtFault):
            writer.write(UInt8(12))
            writer.write(jobID)
            writer.write(nodeAtFault)
        case .registerOffer(let registration, let bond):
            writer.write(UInt8(13))
            writer.write(registration)
            writer.write(bond)
        case .updateOffer(let offer, let registration, let addedBond):
            writer.write(UInt8(14))
            writer.write(offer)
            writer.write(registration)
            writer.write(addedBond)
        case .retireOffer(let offer):
            writer.write(UInt8(15))
            writer.write(offer)
        }
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        switch try reader.readUInt8() {
        case 1: self = .transfer(to: try reader.read(), amount: try reader.read())
        case 2: self = .deposit(amount: try reader.read())
        case 3: self = .withdraw(amount: try reader.read())
        case 4: self = .stake(amount: try reader.read())
        case 5: self = .unstake(amount: try reader.read())
        case 6: self = .registerNode(try reader.read())
        case 7: self = .registerModel(try reader.read())
        case 8:
            self = .transferModelShares(
                model: try reader.read(), to: try reader.read(), basisPoints: try reader.readUInt16())
        case 9: self = .registerDataset(try reader.read())
        case 10: self = .settleJob(voucher: try reader.read(), receipt: try reader.read())
        case 11:
            self = .fileChallenge(
                jobID: try reader.read(), claimedOutputHash: try reader.read(), evidence: try reader.read(),
                revealedRequest: try reader.readBytes(limit: RevealedRequest.maxBytes))
        case 12: self = .resolveChallenge(jobID: try reader.read(), nodeAtFault: try reader.readBool())
        case 13: self = .registerOffer(try reader.read(), bond: try reader.read())
        case 14: self = .updateOffer(offer: try reader.read(), try reader.read(), addedBond: try reader.read())
        case 15: self = .retireOffer(offer: try reader.read())
        case let tag: throw .invalidTag(type: "TransactionBody", tag: tag)
        }
    }
}
