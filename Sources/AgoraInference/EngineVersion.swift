import CAgoraKernels

/// Versions that name the numerics of the engine: a receipt records them, and a referee must run the same
/// ones to reproduce a job bit for bit.
public enum AgoraInferenceVersion {
    /// Bumped whenever any computed logit bit or sampling decision could change.
    public static let engine = "0.3.0"
    /// The numerical revision of the C kernels (`agora_kernels_abi_version`).
    public static var kernels: Int { Int(agora_kernels_abi_version()) }
}
