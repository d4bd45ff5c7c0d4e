import AgoraCore
import Crypto
import Foundation

/// SHA-256 of a file, streamed in chunks over a read-only mapping so a 100 MB model costs no 100 MB buffer.
public enum FileSHA256 {
    static let chunkSize = 8 << 20

    /// Hashes the file at `url`, calling `progress(bytesDone, total)` after each chunk.
    public static func digest(
        of url: URL, progress: (Int, Int) -> Void = { _, _ in }
    ) throws(ModelStoreError) -> Hash256 {
        let region: MappedRegion
        do {
            region = try MappedRegion(url: url)
        } catch {
            throw .io(path: url.path, reason: error.description)
        }
        var hasher = SHA256()
        var done = 0
        let total = region.bytes.count
        while done < total {
            let end = min(done + chunkSize, total)
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: region.bytes[done..<end]))
            done = end
            progress(done, total)
        }
        return Hash256(bytes: Array(hasher.finalize()))!
    }
}
