/// Finds stop strings in streamed text. Text that might be the start of a stop string is held back until
/// it is known not to be one, so a streamed answer never shows part of a stop string.
///
/// Matching is on UTF-8 bytes: a stop string starts with a lead byte, so any match starts on a character
/// boundary of valid text.
struct StopStringMatcher {
    private let stops: [[UInt8]]
    private var held: [UInt8] = []

    init(_ stops: [String]) { self.stops = stops.filter { !$0.isEmpty }.map { Array($0.utf8) } }

    /// Adds text; returns the text that is safe to emit and whether a stop string was found (then the
    /// emitted text ends right before it, and nothing more should be generated).
    mutating func append(_ text: String) -> (emit: String, stopped: Bool) {
        held.append(contentsOf: text.utf8)
        guard !stops.isEmpty else { return (flush(), false) }
        if let index = earliestMatch() {
            let emit = String(decoding: held[0..<index], as: UTF8.self)
            held.removeAll()
            return (emit, true)
        }
        let keep = longestPartialSuffix()
        let cut = held.count - keep
        let emit = String(decoding: held[0..<cut], as: UTF8.self)
        held.removeFirst(cut)
        return (emit, false)
    }

    /// Releases held text at the end of generation.
    mutating func flush() -> String {
        defer { held.removeAll() }
        return String(decoding: held, as: UTF8.self)
    }

    private func earliestMatch() -> Int? {
        var best: Int?
        for stop in stops where stop.count <= held.count {
            var i = 0
            while i + stop.count <= held.count {
                if held[i] == stop[0] && held[i..<i + stop.count].elementsEqual(stop) {
                    if best == nil || i < best! { best = i }
                    break
                }
                i += 1
            }
        }
        return best
    }

    /// The longest suffix of `held` that is a proper prefix of some stop string.
    private func longestPartialSuffix() -> Int {
        var longest = 0
        for stop in stops {
            var length = min(stop.count - 1, held.count)
            while length > longest {
                if held[(held.count - length)...].elementsEqual(stop[0..<length]) {
                    longest = length
                    break
                }
                length -= 1
            }
        }
        return longest
    }
}
