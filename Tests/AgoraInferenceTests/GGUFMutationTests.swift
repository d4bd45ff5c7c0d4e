import Foundation
import Testing

@testable import AgoraInference

/// Hostile-input test: thousands of corrupted copies of the real model's header must each give a typed
/// error or a consistent file, never a crash, an out-of-bounds read or a huge allocation.
@Suite("GGUF reader under mutation")
struct GGUFMutationTests {
    static let iterations = 10_000
    /// Rounds run on the complete header (the rest use the header with its vocabulary cut short).
    static let fullHeaderIterations = 300

    /// The real model's header with its three vocabulary arrays cut to their first 2 000 entries, followed
    /// by the real tensor data. Same keys, value types and tensor table as the model, but ~30 times
    /// cheaper to parse, so ten thousand rounds fit in seconds.
    static func reducedImage(_ gguf: GGUFFile, _ original: Data) -> (bytes: [UInt8], headerEnd: Int) {
        let metadata = gguf.metadataOrder.map { key -> (String, GGUFValue) in
            let value = gguf.metadata[key]!
            if let array = value.asArray, array.count > 2_000 { return (key, .array(Array(array.prefix(2_000)))) }
            return (key, value)
        }
        let tensors = gguf.tensorOrder.map { name -> GGUFBuilder.Tensor in
            let info = gguf.tensors[name]!
            return .init(
                name: name, dimensions: info.dimensions, type: info.type,
                offset: UInt64(info.offset - gguf.dataOffset))
        }
        var bytes = GGUFBuilder(metadata: metadata, tensors: tensors).bytes()
        let headerEnd = bytes.count
        bytes += original[gguf.dataOffset...]
        return (bytes, headerEnd)
    }

    @Test("10 000 mutated and truncated copies of the real header: typed errors or consistent files")
    func mutatedHeaders() async throws {
        let gguf = try TestModel.defaultGGUF()
        let original = try Data(contentsOf: try TestModel.defaultModelURL())
        let reduced = Self.reducedImage(gguf, original)
        // The reduced image is itself a valid model file.
        let reducedHeader = try reduced.bytes.withUnsafeBytes { buffer throws(GGUFError) in
            try GGUFHeaderParser.parse(buffer)
        }
        #expect(reducedHeader.tensors.count == gguf.tensors.count)

        // Rounds run in parallel batches, each on its own copy of the image. Most rounds throw, and Swift
        // Testing captures a backtrace for every thrown error (about 9 ms each on the 2-core CI machine, under a
        // lock): the test takes ~8 s with SWT_SWIFT_ERROR_BACKTRACING_ENABLED=0 and ~90 s without.
        let headerEnd = gguf.dataOffset
        let table = tableSize(gguf)
        let workers = max(2, min(8, ProcessInfo.processInfo.activeProcessorCount))
        let reducedBytes = reduced.bytes
        let reducedEnd = reduced.headerEnd
        let outcome = await withTaskGroup(of: Outcome.self) { group in
            group.addTask {
                var outcome = Outcome()
                original.withUnsafeBytes { buffer in
                    Self.mutate(
                        buffer, headerEnd: headerEnd, tableSize: table, rounds: Self.fullHeaderIterations, seed: 1,
                        &outcome)
                }
                return outcome
            }
            let reducedRounds = Self.iterations - Self.fullHeaderIterations
            for worker in 0..<workers {
                let rounds = reducedRounds / workers + (worker < reducedRounds % workers ? 1 : 0)
                group.addTask {
                    var outcome = Outcome()
                    reducedBytes.withUnsafeBytes { buffer in
                        Self.mutate(
                            buffer, headerEnd: reducedEnd, tableSize: table, rounds: rounds, seed: UInt64(2 + worker),
                            &outcome)
                    }
                    return outcome
                }
            }
            var total = Outcome()
            for await part in group {
                total.successes += part.successes
                total.failures.merge(part.failures, uniquingKeysWith: +)
                total.inconsistencies += part.inconsistencies
            }
            return total
        }
        // Both outcomes occur, and every round ended in one of them.
        #expect(outcome.successes > 0)
        #expect(outcome.inconsistencies.isEmpty, "\(outcome.inconsistencies.prefix(5))")
        #expect(outcome.failures.values.reduce(0, +) >= Self.iterations / 8)
        #expect(outcome.successes + outcome.failures.values.reduce(0, +) == Self.iterations)
        #expect(outcome.failures.count >= 5, "error kinds seen: \(outcome.failures)")
    }

    struct Outcome: Sendable {
        var successes = 0
        var failures: [String: Int] = [:]
        /// Files that parsed but describe tensors outside the image or with wrong sizes (must stay empty).
        var inconsistencies: [String] = []
    }

    /// Bytes of the tensor table, which sits just before the data section.
    func tableSize(_ gguf: GGUFFile) -> Int {
        gguf.tensorOrder.reduce(0) { size, name in
            size + 8 + name.utf8.count + 4 + 8 * gguf.tensors[name]!.dimensions.count + 4 + 8
        }
    }

    /// Runs `rounds` rounds on a writable copy of `original`: restore the header, corrupt it (or truncate the
    /// image), parse in place as `GGUFFile.init` does, and check what comes back.
    static func mutate(
        _ original: UnsafeRawBufferPointer, headerEnd: Int, tableSize: Int, rounds: Int, seed: UInt64,
        _ outcome: inout Outcome
    ) {
        // Mutate the tensor table more often than the vocabulary: that is where offsets, ranks and extents live.
        let tableStart = max(0, headerEnd - tableSize - 32)
        let interesting: [UInt64] = [0, 1, 0x7F, 0xFF, 0xFFFF_FFFF, 1 << 31, 1 << 62, UInt64(Int64.max), .max, 31, 33]
        let work = UnsafeMutableRawBufferPointer.allocate(byteCount: original.count, alignment: 64)
        defer { work.deallocate() }
        work.copyMemory(from: original)
        var random = SplitMix64(seed: seed)

        for round in 0..<rounds {
            work.baseAddress!.copyMemory(from: original.baseAddress!, byteCount: headerEnd)
            var length = original.count
            switch round % 4 {
            case 0:
                // Truncated anywhere in the header, or now and then in the tensor data.
                length = random.next(below: round % 8 == 0 ? original.count : headerEnd)
            case 1:
                for _ in 0..<(1 + random.next(below: 4)) {
                    work[random.next(below: headerEnd)] = UInt8(truncatingIfNeeded: random.next())
                }
            case 2:
                for _ in 0..<(1 + random.next(below: 3)) {
                    work[tableStart + random.next(below: headerEnd - tableStart)] = UInt8(
                        truncatingIfNeeded: random.next())
                }
            default:
                // An interesting 32- or 64-bit value over a field-sized window (counts, lengths, extents).
                let value = interesting[random.next(below: interesting.count)]
                let width = random.next(below: 2) == 0 ? 4 : 8
                let region = random.next(below: 3) == 0 ? 0..<64 : (tableStart..<headerEnd)
                let at = region.lowerBound + random.next(below: region.count - width)
                withUnsafeBytes(of: value.littleEndian) { bytes in
                    for i in 0..<width { work[at + i] = bytes[i] }
                }
            }
            let image = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(work)[0..<length])
            do {
                let header = try GGUFHeaderParser.parse(image)
                outcome.successes += 1
                // Plain checks in the loop (an #expect per tensor per round would dominate the run time).
                if length < headerEnd {
                    outcome.inconsistencies.append("round \(round) (seed \(seed)): a truncated header parsed")
                }
                for info in header.tensors.values {
                    let consistent =
                        info.offset >= header.dataOffset && info.offset + info.byteCount <= length
                        && info.offset % header.alignment == 0
                        && info.byteCount == info.elementCount / info.type.blockSize * info.type.bytesPerBlock
                    if !consistent { outcome.inconsistencies.append("round \(round) (seed \(seed)): \(info)") }
                }
            } catch {
                // Counted by case name (`truncated`, `countTooLarge`…).
                outcome.failures[Mirror(reflecting: error).children.first?.label ?? "\(error)", default: 0] += 1
            }
        }
    }

    @Test("mutated header prefixes written to disk are refused with typed errors")
    func mutatedFilesOnDisk() throws {
        let gguf = try TestModel.defaultGGUF()
        let handle = try FileHandle(forReadingFrom: try TestModel.defaultModelURL())
        let prefix = [UInt8](try handle.read(upToCount: gguf.dataOffset + 4096) ?? Data())
        try handle.close()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("agora-mutate-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var random = SplitMix64(seed: 7)
        var kinds = Set<String>()
        for round in 0..<40 {
            var bytes = round % 2 == 0 ? Array(prefix.prefix(random.next(below: prefix.count))) : prefix
            if round % 2 == 1 { bytes[random.next(below: 4096)] ^= UInt8(1 + random.next(below: 255)) }
            let file = directory.appendingPathComponent("m\(round).gguf")
            try Data(bytes).write(to: file)
            do {
                _ = try GGUFFile(url: file)
                Issue.record("a header without its tensor data opened")
            } catch {
                kinds.insert(Mirror(reflecting: error).children.first?.label ?? "\(error)")
            }
        }
        #expect(!kinds.isEmpty)
    }
}

/// A small deterministic generator (SplitMix64), so a failing round can be replayed.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func next(below bound: Int) -> Int { Int(next() % UInt64(bound)) }
}
