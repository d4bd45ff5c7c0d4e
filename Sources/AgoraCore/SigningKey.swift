import Crypto

/// Why a secret key could not be loaded.
public enum SigningKeyError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidSeed(length: Int)
    case malformedKeyFile(String)
    case addressMismatch(expected: String, derived: String)

    public var description: String {
        switch self {
        case .invalidSeed(let length): return "an Ed25519 seed is 32 bytes, got \(length)"
        case .malformedKeyFile(let why): return "malformed key file: \(why)"
        case .addressMismatch(let expected, let derived):
            return "key file says address \(expected) but its secret derives \(derived)"
        }
    }
}

/// An Ed25519 secret key: a wallet. Signs transactions, vouchers, receipts and blocks.
public struct SigningKey: Sendable {
    private let key: Curve25519.Signing.PrivateKey
    public let publicKey: PublicKey

    /// A fresh key from the system's secure random generator.
    public init() {
        self.init(key: Curve25519.Signing.PrivateKey())
    }

    /// The key for a 32-byte seed (the form key files store).
    public init(seed: [UInt8]) throws(SigningKeyError) {
        guard seed.count == 32, let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed) else {
            throw .invalidSeed(length: seed.count)
        }
        self.init(key: key)
    }

    /// A key derived from a label: for tests, demos and benchmarks that need reproducible identities.
    /// Never use it for money that matters — anyone who knows the label has the key.
    public init(deterministicLabel label: String) {
        try! self.init(seed: Hash256.tagged("agora-deterministic-key", Array(label.utf8)).bytes)
    }

    private init(key: Curve25519.Signing.PrivateKey) {
        self.key = key
        self.publicKey = PublicKey(bytes: Array(key.publicKey.rawRepresentation))!
    }

    public var seed: [UInt8] { Array(key.rawRepresentation) }
    public var address: Address { publicKey.address }

    public func sign(_ message: [UInt8]) -> Signature {
        // Signing only fails on allocation failure inside BoringSSL, which we cannot recover from either.
        Signature(bytes: Array(try! key.signature(for: message)))!
    }
}

/// The on-disk form of a secret key: small JSON, written with 0600 permissions by the tools that save it.
public struct KeyFile: Codable, Sendable, Equatable {
    public var type: String
    public var address: String
    public var seed: String

    public init(key: SigningKey) {
        type = "ed25519"
        address = key.address.description
        seed = Hex.encode(key.seed)
    }

    /// Loads the key, checking that the stored address matches the secret (a truncated or edited file is
    /// caught here rather than by a lost payment).
    public func signingKey() throws(SigningKeyError) -> SigningKey {
        guard type == "ed25519" else { throw .malformedKeyFile("unknown key type '\(type)'") }
        guard let bytes = Hex.decode(seed) else { throw .malformedKeyFile("seed is not hex") }
        let key = try SigningKey(seed: bytes)
        guard key.address.description == address else {
            throw .addressMismatch(expected: address, derived: key.address.description)
        }
        return key
    }
}
