import Foundation

/// Runs a helper program (python3) and forwards its output line by line.
enum ProcessRunner {
    struct Outcome {
        var status: Int32
        var output: String
    }

    /// Runs `arguments` through `/usr/bin/env` (so `python3` is found on PATH), merging stdout and stderr.
    static func run(_ arguments: [String], onLine: (String) -> Void = { _ in }) throws(ModelStoreError) -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw .fetchFailed(reason: "cannot run \(arguments.first ?? ""): \(error)", instructions: "")
        }
        var output = Data()
        var pending = Data()
        let reader = pipe.fileHandleForReading
        while true {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            output.append(chunk)
            pending.append(chunk)
            while let newline = pending.firstIndex(where: { $0 == 0x0A || $0 == 0x0D }) {
                let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                pending.removeSubrange(pending.startIndex...newline)
                if !line.isEmpty { onLine(line) }
            }
        }
        if !pending.isEmpty { onLine(String(decoding: pending, as: UTF8.self)) }
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, output: String(decoding: output, as: UTF8.self))
    }
}
