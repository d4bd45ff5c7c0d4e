/// Why a printable address was refused.
public enum AddressError: Error, Equatable, Sendable, CustomStringConvertible {
    case missingPrefix(String)
    case invalidCharacters(String)
    case wrongLength(String)
    case checksumMismatch(String)

    public var description: String {
        switch self {
        case .missingPrefix(let text): return "'\(text)' is not an Agora address (they start with agr1)"
        case .invalidCharacters(let text): return "'\(text)' has characters outside the address alphabet"
        case .wrongLength(let text): return "'\(text)' has the wrong length for an address"
        case .checksumMismatch(let text): return "'\(text)' fails its checksum: probably a typo"
        }
    }
}

/// The printable form of a public key: `agr1` + base32(key ‖ checksum).
///
/// The 4-byte checksum is the head of a tagged SHA-256 of the key, so a mistyped or truncated address is
/// rejected (with probability 1 − 2⁻³²) instead of sending money to a key nobody holds.
public struct Address: Hashable, Sendable, CustomStringConvertible {
    public static let prefix = "agr1"
    public let publicKey: PublicKey

    public init(publicKey: PublicKey) { self.publicKey = publicKey }

    public init(parsing text: String) throws(AddressError) {
        guard text.hasPrefix(Self.prefix) else { throw .missingPrefix(text) }
        let body = String(text.dropFirst(Self.prefix.count))
        guard body.utf8.allSatisfy({ Base32.isValidCharacter($0) }) else { throw .invalidCharacters(text) }
        guard body.utf8.count == (8 * (PublicKey.byteCount + 4) + 4) / 5 else { throw .wrongLength(text) }
        // A character changed at the end can leave non-zero padding bits: still a typo, caught as one.
        guard let raw = Base32.decode(body) else { throw .checksumMismatch(text) }
        guard raw.count == PublicKey.byteCount + 4 else { throw .wrongLength(text) }
        let key = Array(raw[0..<PublicKey.byteCount])
        guard Array(raw[PublicKey.byteCount...]) == Self.checksum(key) else { throw .checksumMismatch(text) }
        publicKey = PublicKey(bytes: key)!
    }

    public var description: String {
        Self.prefix + Base32.encode(publicKey.bytes + Self.checksum(publicKey.bytes))
    }

    private static func checksum(_ key: [UInt8]) -> [UInt8] {
        Array(Hash256.tagged("agora-address-v1", key).bytes.prefix(4))
    }
}
