import AgoraCore
import Foundation

/// Reads and writes key files. Secret keys are created with mode 0600 from the first byte (never written
/// world-readable and tightened afterwards), and an existing key is never overwritten.
public enum KeyFileStore {
    public static func write(_ key: SigningKey, to url: URL) throws(LedgerError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data: Data
        do { data = try encoder.encode(KeyFile(key: key)) + Data("\n".utf8) } catch { throw .keyFile("\(error)") }
        let descriptor = Foundation.open(url.path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else {
            if errno == EEXIST { throw .keyFile("\(url.path) already exists; refusing to overwrite a key") }
            throw .keyFile("cannot create \(url.path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        let written = data.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        guard written == data.count, fsync(descriptor) == 0 else { throw .keyFile("cannot write \(url.path)") }
    }

    public static func load(_ url: URL) throws(LedgerError) -> SigningKey {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw .keyFile("cannot read \(url.path)") }
        do {
            return try JSONDecoder().decode(KeyFile.self, from: data).signingKey()
        } catch let error as SigningKeyError {
            throw .keyFile("\(url.path): \(error)")
        } catch {
            throw .keyFile("\(url.path) is not a key file")
        }
    }
}
