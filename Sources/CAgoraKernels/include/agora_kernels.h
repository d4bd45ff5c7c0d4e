#ifndef AGORA_KERNELS_H
#define AGORA_KERNELS_H

// Integer-arithmetic matrix kernels for the Agora inference engine.
//
// Determinism contract: every kernel path (scalar, AVX2, AVX-512 VNNI) returns bit-identical floats.
// The order is the one llama.cpp's vec_dot kernels use on x86 (ggml_vec_dot_q4_1_q8_1 and friends), so
// that Agora and llama.cpp agree bit for bit; here it is fixed for every path, not chosen per CPU:
//   lanes:   lane l (0..7) of block b holds the exact integer sum p[b][l] of the four products of
//            elements 4l..4l+3 (Q4_0 weights enter as nibble - 8)
//   per block b, in increasing order (acc starts at +0.0):
//            acc[l] = fma(dw[b] * da[b], (float)p[b][l], acc[l])
//            Q4_1 only: summs = fma(mw[b], sa[b], summs)
//   result:  ((acc0 + acc4) + (acc2 + acc6)) + ((acc1 + acc5) + (acc3 + acc7))  [+ summs for Q4_1]
//   Q4_0 instead follows llama.cpp's repacked Q4_0 kernel (ggml_gemv_q4_0_8x8_q8_0, which llama.cpp
//   uses for every Q4_0 matrix on AVX2): acc = fma(dw[b] * da[b], (float)(sum of the block's lanes), acc)
//   over the blocks in order, one accumulator, result = acc.
// Every fused multiply-add is explicit (fmaf / _mm256_fmadd_ps); nothing else is contracted
// (-ffp-contract=off and FP_CONTRACT OFF).

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
    AGORA_WEIGHT_Q5_0 = 6,  // computed as Q8_0 on the same values (see agora_repack_rows)
    AGORA_WEIGHT_Q5_1 = 7,  // unsigned values 0..31 with d and m, computed as Q4_1 is
    AGORA_WEIGHT_Q8_0 = 8,
    AGORA_WEIGHT_Q2_K = 10,
    AGORA_WEIGHT_Q3_K = 11,
    AGORA_WEIGHT_Q4_K = 12,
    AGORA_WEIGHT_Q5_K = 13,
    AGORA_WEIGHT_Q6_K = 14,
} agora_weight_type;

/// Whether `type` is a K-quant (256-element superblocks, Q8_K activations; see kquants.c).
int agora_weight_is_kquant(agora_weight_type type);

#define AGORA_QK 32

/// Bytes of one repacked row of `k` columns (k a multiple of 32), padded to 64 bytes.
/// Layout: Q4_0 [nibbles nb*16][d nb*f16]; Q4_1 [nibbles nb*16][d nb*f16][m nb*f16];
/// Q8_0 [int8 nb*32][d nb*f16]; Q5_0 [nibbles nb*16][fifth bits nb*4][d nb*f16];
/// Q5_1 [nibbles nb*16][fifth bits nb*4][d nb*f16][m nb*f16]. Nibbles keep ggml's order: byte j holds
/// element j (low nibble) and element j+16 (high nibble) of its block; bit j of a block's fifth bits is
/// element j's. Scales stay half precision (as in the file: no bits are lost, and decode reads fewer
/// bytes); every path converts them exactly to float.
size_t agora_row_bytes(agora_weight_type type, int k);
/// Repacks `rows` ggml rows (ggml block layout, fp16 scales) into `dst` (rows * agora_row_bytes).
/// Q5_0 and Q5_1 rows stay 22 and 24 bytes a block, as in the file (decode streams them from memory once
/// per token). Q5_0's products are the Q8_0 products of the same values (q - 16, same scale), as
/// llama.cpp's Q5_0 dot product is; prefill expands a few rows at a time into byte rows to run the byte
/// tiles. K-quant rows keep ggml's block layout.
void agora_repack_rows(agora_weight_type type, const void *src, void *dst, int rows, int k);
/// Dequantizes one repacked row into `out[k]` (out = float(q) * d [+ m]), as ggml dequantizes.
void agora_dequantize_row(agora_weight_type type, const void *row, float *out, int k);

/// Converts IEEE half to float (exact).
float agora_f16_to_f32(uint16_t h);
/// Converts float to IEEE half, rounding to nearest even (software: the same bits on every CPU).
uint16_t agora_f32_to_f16(float f);

// MARK: - Activations

/// Bytes of one quantized activation column of `k` values, padded to 64 bytes.
/// Layout: [int8 q k][f32 d nb][f32 s nb][int32 isum nb], with d = amax / 127, q = rint(x * (127 / amax)),
/// isum = sum(q); the stored d and s = d * isum are rounded to half precision (exactly as ggml's
/// quantize_row_q8_0 / quantize_row_q8_1 compute them).
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

// MARK: - Float weights (float_rows.c)

/// The storage of a float weight matrix (values are the GGML type ids).
typedef enum {
    AGORA_FLOAT_F32 = 0,
    AGORA_FLOAT_F16 = 1,
    AGORA_FLOAT_BF16 = 30,
} agora_float_format;

/// 4 for F32, 2 for F16 and BF16.
size_t agora_float_element_bytes(agora_float_format format);
/// Float to bfloat16, rounding to nearest even (ggml_compute_fp32_to_bf16).
uint16_t agora_f32_to_bf16(float f);
/// Rounds `ncols` float columns (column c at x + c * x_stride) to F16 or BF16, column c at
/// dst + c * dst_stride bytes: the activations of an F16 / BF16 product, as llama.cpp converts them.
void agora_float_convert_act(agora_float_format format, const float *x, size_t x_stride, int ncols, int k,
                             void *dst, size_t dst_stride);
/// out[c * out_stride + r] = dot(row r of w, column c of act) for r in [r0, r1): w is rows x k values of
/// `format`, row-major; column c is at act + c * act_stride bytes, in the same format (floats for F32).
/// Each dot product is in the order of llama.cpp's vec_dot for the format (see float_rows.c).
void agora_float_matmul_rows_on(agora_path path, agora_float_format format, const void *w, int k, int r0, int r1,
                                const void *act, size_t act_stride, int ncols, float *out, size_t out_stride);

// MARK: - K-quants (kquants.c)

size_t agora_kquant_block_bytes(agora_weight_type type);
size_t agora_kquant_row_bytes(agora_weight_type type, int k);
void agora_kquant_repack_rows(agora_weight_type type, const void *src, void *dst, int rows, int k);
void agora_kquant_dequantize_row(agora_weight_type type, const void *row, float *out, int k);
/// Bytes of one Q8_K activation column of `k` values (k a multiple of 256): per superblock ggml's
/// block_q8_K (f32 d, 256 int8, 16 int16 group sums), as quantize_row_q8_K_ref computes it.
size_t agora_act_k_bytes(int k);
void agora_quantize_act_k(const float *x, size_t x_stride, int ncols, int k, void *dst);

// MARK: - Attention and activations (llama.cpp's float order; see attention.c)

/// ggml's vectorized exp (AVX2 form) for one value: the same bits on every path.
float agora_expf(float x);
/// ggml_vec_dot_f32's order (AVX2 build) for n floats.
float agora_dot_f32_on(agora_path path, const float *x, const float *y, int n);
/// out[i] = silu(gate[i]) * up[i] with silu(x) = x / (1 + exp(0 - x)), as ggml_vec_swiglu_f32.
void agora_swiglu_on(agora_path path, const float *gate, const float *up, float *out, int n);
/// One query row against `positions` cached keys and values (row p at keys/values + p * stride): scores
/// k·q (agora_dot_f32 order) times `scale`, ggml's softmax, then the probability-weighted values in the
/// order of llama.cpp's product with its transposed V cache. `scores`: scratch of positions rounded up to
/// 8; `acc`: scratch of 32 * head_dim.
void agora_attend_head_on(agora_path path, const float *q, const float *keys, const float *values, size_t stride,
                          int positions, int head_dim, float scale, float *scores, float *acc, float *out);

// MARK: - Encoder (BERT) operations (encoder.c; llama.cpp's float order, see there)

/// llamafile tinyBLAS's F32 dot product (AVX2 build): one eight-lane fused chain, reduced as hsum. k % 8 == 0.
float agora_dot_lanes_on(agora_path path, const float *x, const float *y, int k);
/// out[c * out_stride + r] = agora_dot_lanes(row r of w, column c of act) for r in [r0, r1): llama.cpp's product
/// of an F32 matrix (rows x k, row-major, k % 8 == 0) with two or more F32 columns.
void agora_gemm_f32_rows_on(agora_path path, const float *w, int k, int r0, int r1, const float *act,
                            size_t act_stride, int ncols, float *out, size_t out_stride);
/// ggml_norm(x) * weight + bias over n values (out may not alias x).
void agora_layer_norm_on(agora_path path, const float *x, int n, float eps, const float *weight, const float *bias,
                         float *out);
/// ggml_gelu (its half-precision table) over n values; out may alias x.
void agora_gelu(const float *x, float *out, int n);
/// One attention head over a whole sentence of n tokens (token t's query, key and value at q, k, v + t * stride):
/// every query against every key, softmax, values; token t's head output at out + t * out_stride. `scratch`:
/// head_dim * n + n floats.
void agora_encoder_attend_head_on(agora_path path, const float *q, const float *k, const float *v, size_t stride,
                                  int n, int head_dim, float scale, float *scratch, float *out, size_t out_stride);

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
void agora_pool_matmul_float(agora_pool *pool, agora_path path, agora_float_format format, const void *w, int rows,
                             int k, const void *act, size_t act_stride, int ncols, float *out, size_t out_stride);
/// agora_gemm_f32_rows_on on the pool.
void agora_pool_gemm_f32(agora_pool *pool, agora_path path, const float *w, int rows, int k, const float *act,
                         size_t act_stride, int ncols, float *out, size_t out_stride);

#ifdef __cplusplus
}
#endif

#endif
