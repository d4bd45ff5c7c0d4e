import Foundation

extension JSONDecoder {
    /// A decoder that also reads files written before the wire settled on `chainId` / `jobId`: receipts
    /// saved by `agora chat` and genesis documents spelled them `chainID` / `jobID`. Only decoders of files a
    /// user may hold use it; what arrives over HTTP must use the documented spelling.
    public static func acceptingLegacyIdentifiers() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .custom { path in
            let key = path[path.count - 1]
            switch key.stringValue {
            case "chainID": return LegacyKey(stringValue: "chainId")
            case "jobID": return LegacyKey(stringValue: "jobId")
            default: return key
            }
        }
        return decoder
    }

    private struct LegacyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
