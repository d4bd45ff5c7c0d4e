import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Bytes that stay valid as long as this object lives: a read-only memory mapping of a file, or a heap copy.
///
/// Weights are used in place from the mapping, so a 100 MB model costs no copy and pages stay shared between
/// processes serving the same file. (If another process truncates the file while it is mapped, reads past
/// the new end fault: model files are treated as immutable, and are verified by hash before use.)
final class MappedRegion: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer
    /// Whether `bytes` is a mapping (unmapped on deinit) or a heap block (deallocated on deinit).
    private let isMapped: Bool

    /// Maps the whole file read-only.
    init(url: URL) throws(GGUFError) {
        let path = url.path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw .cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .cannotOpen(path: path, reason: "not a regular file") }
        let size = Int(info.st_size)
        guard size > 0 else {
            // mmap refuses a zero length; an empty file is simply a truncated GGUF.
            self.bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            self.isMapped = false
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw .cannotOpen(path: path, reason: "mmap: " + String(cString: strerror(errno)))
        }
        self.bytes = UnsafeRawBufferPointer(start: base, count: size)
        self.isMapped = true
    }

    /// Copies `source` into memory owned by this object (for in-memory models and tests).
    init(copying source: UnsafeRawBufferPointer) {
        // 64-byte alignment so tensor data keeps the alignment it has in a mapped file.
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(source.count, 1), alignment: 64)
        if let base = source.baseAddress, source.count > 0 {
            copy.baseAddress!.copyMemory(from: base, byteCount: source.count)
        }
        self.bytes = UnsafeRawBufferPointer(start: copy.baseAddress, count: source.count)
        self.isMapped = false
    }

    deinit {
        guard let base = bytes.baseAddress else { return }
        if isMapped {
            _ = munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        } else {
            base.deallocate()
        }
    }
}
