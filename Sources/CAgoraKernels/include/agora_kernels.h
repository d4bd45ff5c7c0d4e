#ifndef AGORA_KERNELS_H
#define AGORA_KERNELS_H

// Integer-arithmetic matrix kernels for the Agora inference engine.
//
// Determinism contract: every kernel path (scalar, AVX2, AVX-512 VNNI) returns bit-identical floats.
// Integer dot products inside a 32-element block are exact; the float part is fixed as follows and is
// the same in every path:
//   per block b:  Q8_0: v = (dw[b] * da[b]) * (float)sumi
//                 Q4_0: v = (dw[b] * da[b]) * (float)(sumu - 8 * isum[b])
//                 Q4_1: v = (dw[b] * da[b]) * (float)sumu + mw[b] * sa[b]
//   lanes:        acc[b % 8] += v, blocks in increasing order (acc starts at +0.0)
//   result:       ((acc0 + acc4) + (acc2 + acc6)) + ((acc1 + acc5) + (acc3 + acc7))
// No fused multiply-add anywhere (-ffp-contract=off and FP_CONTRACT OFF).

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Bumped whenever any kernel's numerical result could change (part of the engine version).
int agora_kernels_abi_version(void);

// MARK: - Kernel paths

typedef enum {
    AGORA_PATH_SCALAR = 0,
    AGORA_PATH_AVX2 = 1,
    AGORA_PATH_AVX512 = 2,
} agora_path;

/// Whether this CPU can run a path (scalar: always).
int agora_path_supported(agora_path path);
/// The path used now: the best supported one, or the one named by AGORA_KERNEL=scalar|avx2|avx512
/// (read once, at the first call of any kernel).
agora_path agora_current_path(void);
/// Forces a path (tests, benchmarks). Returns 0 if the CPU does not support it (nothing changes).
int agora_set_path(agora_path path);

// MARK: - Weight formats (repacked at load time)

typedef enum {
    AGORA_WEIGHT_Q4_0 = 2,
    AGORA_WEIGHT_Q4_1 = 3,
    AGORA_WEIGHT_Q8_0 = 8,
} agora_weight_type;

#define AGORA_QK 32

/// Bytes of one repacked row of `k` columns (k a multiple of 32), padded to 64 bytes.
/// Layout: Q4_0 [nibbles nb*16][d nb*f16]; Q4_1 [nibbles nb*16][d nb*f16][m nb*f16];
/// Q8_0 [int8 nb*32][d nb*f16]. Nibbles keep ggml's order: byte j holds element j (low nibble) and
/// element j+16 (high nibble) of its block. Scales stay half precision (as in the file: no bits are lost,
/// and decode reads fewer bytes); every path converts them exactly to float.
size_t agora_row_bytes(agora_weight_type type, int k);
/// Repacks `rows` ggml rows (ggml block layout, fp16 scales) into `dst` (rows * agora_row_bytes).
void agora_repack_rows(agora_weight_type type, const void *src, void *dst, int rows, int k);
/// Dequantizes one repacked row into `out[k]` (out = float(q) * d [+ m]), as ggml dequantizes.
void agora_dequantize_row(agora_weight_type type, const void *row, float *out, int k);

/// Converts IEEE half to float (exact).
float agora_f16_to_f32(uint16_t h);
/// Converts float to IEEE half, rounding to nearest even (software: the same bits on every CPU).
uint16_t agora_f32_to_f16(float f);

// MARK: - Activations

/// Bytes of one quantized activation column of `k` values, padded to 64 bytes.
/// Layout: [int8 q k][f32 d nb][f32 s nb][int32 isum nb], with d = amax / 127, q = rint(x * (1 / d)),
/// isum = sum(q); the stored d and s = d * isum are rounded to half precision (as ggml's q8 blocks).
size_t agora_act_bytes(int k);
/// Quantizes `ncols` columns of `k` floats (column c at x + c * x_stride) into `dst`
/// (column c at dst + c * agora_act_bytes(k)). One implementation for every path.
void agora_quantize_act(const float *x, size_t x_stride, int ncols, int k, void *dst);

// MARK: - Matrix products

/// out[c * out_stride + r] = dot(row r of w, column c of act) for r in [r0, r1), c in [0, ncols).
/// Each output element is one dot product in the fixed order above, whatever r0, r1 and ncols are.
void agora_matmul_rows(agora_weight_type type, const void *w, int k, int r0, int r1, const void *act,
                       int ncols, float *out, size_t out_stride);
/// The same on an explicit path (tests compare paths without touching the process-wide choice); an
/// unsupported path falls back to scalar.
void agora_matmul_rows_on(agora_path path, agora_weight_type type, const void *w, int k, int r0, int r1,
                          const void *act, int ncols, float *out, size_t out_stride);

/// Float matrix (rows x k, row-major) times float columns, same lane rule over elements instead of
/// blocks: acc[i % 8] += w[i] * x[i]; one implementation for every path.
void agora_matmul_f32_rows(const float *w, int k, int r0, int r1, const float *x, size_t x_stride, int ncols,
                           float *out, size_t out_stride);

// MARK: - Thread pool

typedef struct agora_pool agora_pool;
typedef void (*agora_task_fn)(void *ctx, int ith, int nth);

/// A pool of `nthreads - 1` workers plus the calling thread. Workers spin briefly between tasks, then sleep.
agora_pool *agora_pool_create(int nthreads);
void agora_pool_destroy(agora_pool *pool);
int agora_pool_size(const agora_pool *pool);
/// Runs fn(ctx, ith, nth) on every thread (the caller is ith 0) and returns when all are done.
/// Not reentrant: one run at a time per pool.
void agora_pool_run(agora_pool *pool, agora_task_fn fn, void *ctx);

/// Matrix product on the pool: rows are handed out in fixed-size chunks; each output element is still
/// computed by exactly one thread with the same fixed-order kernel, so the result ignores the thread count.
void agora_pool_matmul(agora_pool *pool, agora_path path, agora_weight_type type, const void *w, int rows, int k,
                       const void *act, int ncols, float *out, size_t out_stride);
void agora_pool_matmul_f32(agora_pool *pool, const float *w, int rows, int k, const float *x, size_t x_stride,
                           int ncols, float *out, size_t out_stride);

#ifdef __cplusplus
}
#endif

#endif
