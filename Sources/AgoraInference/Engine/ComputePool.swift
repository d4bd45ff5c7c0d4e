import CAgoraKernels

/// The threads of one forward pass: the caller plus `threadCount - 1` workers.
///
/// Work is split so that every output element is computed by exactly one thread in one fixed order; the
/// thread count therefore changes speed, never results. One pool serves one forward pass at a time.
final class ComputePool: @unchecked Sendable {
    private let pool: OpaquePointer
    let threadCount: Int

    init(threadCount: Int) {
        self.threadCount = max(1, threadCount)
        pool = agora_pool_create(Int32(self.threadCount))
    }

    deinit { agora_pool_destroy(pool) }

    /// Runs `body(threadIndex, threadCount)` on every thread and returns when all have finished.
    /// `body` must write only memory that no other thread index writes.
    func run(_ body: (Int, Int) -> Void) {
        if threadCount == 1 {
            body(0, 1)
            return
        }
        withoutActuallyEscaping(body) { escapable in
            var task = escapable
            withUnsafeMutablePointer(to: &task) { pointer in
                agora_pool_run(
                    pool,
                    { context, ith, nth in
                        let task = context!.assumingMemoryBound(to: ((Int, Int) -> Void).self).pointee
                        task(Int(ith), Int(nth))
                    }, pointer)
            }
        }
    }

    /// `out[c * outStride + r] = row r of matrix · column c` for quantized matrices and activations.
    func matmul(
        path: KernelPath, _ type: agora_weight_type, weights: UnsafeRawPointer, rows: Int, k: Int,
        activations: UnsafeRawPointer,
        columns: Int, out: UnsafeMutablePointer<Float>, outStride: Int
    ) {
        agora_pool_matmul(
            pool, path.cValue, type, weights, Int32(rows), Int32(k), activations, Int32(columns), out, outStride)
    }

    /// The float-matrix counterpart of `matmul` (F32, F16, BF16 weights; activations already in the
    /// weights' format, column c at `c * activationStride` bytes).
    func matmulFloat(
        path: KernelPath, _ format: agora_float_format, weights: UnsafeRawPointer, rows: Int, k: Int,
        activations: UnsafeRawPointer, activationStride: Int, columns: Int, out: UnsafeMutablePointer<Float>,
        outStride: Int
    ) {
        agora_pool_matmul_float(
            pool, path.cValue, format, weights, Int32(rows), Int32(k), activations, activationStride, Int32(columns),
            out, outStride)
    }

    /// llama.cpp's F32 x F32 product (llamafile tinyBLAS order): `out[c * outStride + r] = row r · column c`,
    /// column c of the activations at `activations + c * activationStride` floats.
    func gemmF32(
        path: KernelPath, weights: UnsafePointer<Float>, rows: Int, k: Int, activations: UnsafePointer<Float>,
        activationStride: Int, columns: Int, out: UnsafeMutablePointer<Float>, outStride: Int
    ) {
        agora_pool_gemm_f32(
            pool, path.cValue, weights, Int32(rows), Int32(k), activations, activationStride, Int32(columns), out,
            outStride)
    }
}
