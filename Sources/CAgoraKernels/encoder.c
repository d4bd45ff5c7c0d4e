// The encoder (BERT) operations in llama.cpp's float order (ggml's AVX2 build, flash attention off), so that
// Agora's sentence embeddings equal llama-embedding's bit for bit:
//   F32 products   llamafile's tinyBLAS<8, __m256> (ggml uses it for every F32 x F32 product with at least two
//                  columns, contiguous columns and k a multiple of 8): one eight-lane accumulator per output,
//                  acc[l] = fma(w[8j + l], x[8j + l], acc[l]) for j in order, then hsum, which is
//                  agora_lanes_reduce. The result of one output does not depend on the tile, the thread or the
//                  other columns, so sentences can share a product and still get their own bits.
//   LayerNorm      ggml_norm: the mean from a double sum rounded to float, divided by n in float; the variance
//                  from ggml_vec_cvar_f32 (chunks of eight squares reduced as hsum, added in double, the rest
//                  one by one, divided by n in double); scale 1 / sqrtf(variance + eps); then * weight, + bias.
//   GELU           ggml's half-precision table of 0.5x(1 + tanh(sqrt(2/pi) x (1 + 0.044715 x^2))): x <= -10
//                  gives 0, x >= 10 gives x, otherwise x is rounded to half and looked up.
//   attention      scores by ggml_vec_dot_f32 (queries are not contiguous, so no tinyBLAS), ggml_soft_max_ext
//                  with the vectorized exp in chunks of eight and libm's expf for the rest (each added to the
//                  double sum on its own), then probabilities x values: tinyBLAS when the sentence's length is
//                  a multiple of 8, ggml_vec_dot_f32 otherwise.
// The scalar functions define the result; the AVX2 functions compute the same operations eight lanes at a time.
#pragma STDC FP_CONTRACT OFF

#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "kernels_internal.h"

// MARK: - Scalar reference

static float dot_lanes_scalar(const float *x, const float *y, int k) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < k; i += 8) {
        for (int l = 0; l < 8; l++) acc[l] = fmaf(x[i + l], y[i + l], acc[l]);
    }
    return agora_lanes_reduce(acc);
}

static void gemm_rows_scalar(const float *w, int k, int r0, int r1, const float *act, size_t act_stride, int ncols,
                             float *out, size_t out_stride) {
    for (int c = 0; c < ncols; c++) {
        const float *x = act + (size_t)c * act_stride;
        for (int r = r0; r < r1; r++) out[(size_t)c * out_stride + r] = dot_lanes_scalar(w + (size_t)r * k, x, k);
    }
}

/// ggml_vec_cvar_f32: y = x - mean, and the mean of the squares (see the header comment).
static float centered_variance_scalar(const float *x, float *y, int n, float mean) {
    double sum = 0;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        float squares[8];
        for (int l = 0; l < 8; l++) {
            y[i + l] = x[i + l] - mean;
            squares[l] = y[i + l] * y[i + l];
        }
        sum += (double)agora_lanes_reduce(squares);
    }
    for (; i < n; i++) {
        y[i] = x[i] - mean;
        sum += (double)(y[i] * y[i]);
    }
    return (float)(sum / n);
}

// MARK: - AVX2 + FMA

#define AGORA_AVX2 __attribute__((target("avx2,fma")))

AGORA_AVX2 static inline float hsum_avx2(__m256 v) {
    float lanes[8];
    _mm256_storeu_ps(lanes, v);
    return agora_lanes_reduce(lanes);
}

AGORA_AVX2 static float dot_lanes_avx2(const float *x, const float *y, int k) {
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < k; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc);
    return hsum_avx2(acc);
}

/// Four rows by three columns at a time (twelve accumulators, as tinyBLAS tiles on sixteen registers); each
/// accumulator is still one output's chain.
AGORA_AVX2 static void gemm_rows_avx2(const float *w, int k, int r0, int r1, const float *act, size_t act_stride,
                                      int ncols, float *out, size_t out_stride) {
    int c = 0;
    for (; c + 3 <= ncols; c += 3) {
        const float *x0 = act + (size_t)c * act_stride, *x1 = x0 + act_stride, *x2 = x1 + act_stride;
        int r = r0;
        for (; r + 4 <= r1; r += 4) {
            const float *a0 = w + (size_t)r * k, *a1 = a0 + k, *a2 = a1 + k, *a3 = a2 + k;
            __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c02 = _mm256_setzero_ps(),
                   c03 = _mm256_setzero_ps();
            __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps(), c12 = _mm256_setzero_ps(),
                   c13 = _mm256_setzero_ps();
            __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c22 = _mm256_setzero_ps(),
                   c23 = _mm256_setzero_ps();
            for (int i = 0; i < k; i += 8) {
                const __m256 w0 = _mm256_loadu_ps(a0 + i), w1 = _mm256_loadu_ps(a1 + i);
                const __m256 w2 = _mm256_loadu_ps(a2 + i), w3 = _mm256_loadu_ps(a3 + i);
                __m256 b = _mm256_loadu_ps(x0 + i);
                c00 = _mm256_fmadd_ps(w0, b, c00);
                c01 = _mm256_fmadd_ps(w1, b, c01);
                c02 = _mm256_fmadd_ps(w2, b, c02);
                c03 = _mm256_fmadd_ps(w3, b, c03);
                b = _mm256_loadu_ps(x1 + i);
                c10 = _mm256_fmadd_ps(w0, b, c10);
                c11 = _mm256_fmadd_ps(w1, b, c11);
                c12 = _mm256_fmadd_ps(w2, b, c12);
                c13 = _mm256_fmadd_ps(w3, b, c13);
                b = _mm256_loadu_ps(x2 + i);
                c20 = _mm256_fmadd_ps(w0, b, c20);
                c21 = _mm256_fmadd_ps(w1, b, c21);
                c22 = _mm256_fmadd_ps(w2, b, c22);
                c23 = _mm256_fmadd_ps(w3, b, c23);
            }
            float *o0 = out + (size_t)c * out_stride + r, *o1 = o0 + out_stride, *o2 = o1 + out_stride;
            o0[0] = hsum_avx2(c00), o0[1] = hsum_avx2(c01), o0[2] = hsum_avx2(c02), o0[3] = hsum_avx2(c03);
            o1[0] = hsum_avx2(c10), o1[1] = hsum_avx2(c11), o1[2] = hsum_avx2(c12), o1[3] = hsum_avx2(c13);
            o2[0] = hsum_avx2(c20), o2[1] = hsum_avx2(c21), o2[2] = hsum_avx2(c22), o2[3] = hsum_avx2(c23);
        }
        for (; r < r1; r++) {
            const float *a = w + (size_t)r * k;
            out[(size_t)c * out_stride + r] = dot_lanes_avx2(a, x0, k);
            out[(size_t)(c + 1) * out_stride + r] = dot_lanes_avx2(a, x1, k);
            out[(size_t)(c + 2) * out_stride + r] = dot_lanes_avx2(a, x2, k);
        }
    }
    for (; c < ncols; c++) {
        const float *x = act + (size_t)c * act_stride;
        for (int r = r0; r < r1; r++) out[(size_t)c * out_stride + r] = dot_lanes_avx2(w + (size_t)r * k, x, k);
    }
}

AGORA_AVX2 static float centered_variance_avx2(const float *x, float *y, int n, float mean) {
    double sum = 0;
    int i = 0;
    const __m256 m = _mm256_set1_ps(mean);
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_sub_ps(_mm256_loadu_ps(x + i), m);
        _mm256_storeu_ps(y + i, v);
        sum += (double)hsum_avx2(_mm256_mul_ps(v, v));
    }
    for (; i < n; i++) {
        y[i] = x[i] - mean;
        sum += (double)(y[i] * y[i]);
    }
    return (float)(sum / n);
}

// MARK: - Entry points

static int use_avx2(agora_path path) { return path != AGORA_PATH_SCALAR && agora_path_supported(path); }

float agora_dot_lanes_on(agora_path path, const float *x, const float *y, int k) {
    return use_avx2(path) ? dot_lanes_avx2(x, y, k) : dot_lanes_scalar(x, y, k);
}

void agora_gemm_f32_rows_on(agora_path path, const float *w, int k, int r0, int r1, const float *act,
                            size_t act_stride, int ncols, float *out, size_t out_stride) {
    if (use_avx2(path)) {
        gemm_rows_avx2(w, k, r0, r1, act, act_stride, ncols, out, out_stride);
    } else {
        gemm_rows_scalar(w, k, r0, r1, act, act_stride, ncols, out, out_stride);
    }
}

void agora_layer_norm_on(agora_path path, const float *x, int n, float eps, const float *weight, const float *bias,
                         float *out) {
    double total = 0;
    for (int i = 0; i < n; i++) total += (double)x[i];
    const float mean = (float)total / (float)n;
    const float variance = use_avx2(path) ? centered_variance_avx2(x, out, n, mean)
                                          : centered_variance_scalar(x, out, n, mean);
    const float scale = 1.0f / sqrtf(variance + eps);
    for (int i = 0; i < n; i++) out[i] = (out[i] * scale) * weight[i] + bias[i];
}

static uint16_t gelu_table[1 << 16];
static pthread_once_t gelu_once = PTHREAD_ONCE_INIT;

/// ggml_gelu_f32 as ggml-cpu.c's table is built from it (GCC with FMA enabled contracts 1 + a x x into one
/// fused multiply-add; the rest stays separate).
static void build_gelu_table(void) {
    for (uint32_t i = 0; i < (1u << 16); i++) {
        const float x = agora_f16_to_f32((uint16_t)i);
        const float inner = 0.79788456080286535587989211986876f * x * fmaf(0.044715f * x, x, 1.0f);
        gelu_table[i] = agora_f32_to_f16(0.5f * x * (1.0f + tanhf(inner)));
    }
}

void agora_gelu(const float *x, float *out, int n) {
    pthread_once(&gelu_once, build_gelu_table);
    for (int i = 0; i < n; i++) {
        const float v = x[i];
        if (v <= -10.0f) {
            out[i] = 0.0f;
        } else if (v >= 10.0f) {
            out[i] = v;
        } else {
            out[i] = agora_f16_to_f32(gelu_table[agora_f32_to_f16(v)]);
        }
    }
}

/// ggml_vec_soft_max_f32's exp and sum over a row of any length (the tail through libm, see the header).
static double softmax_exp_row(agora_path path, float *row, int n, float max) {
    double sum = 0;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        float lanes[8];
        if (use_avx2(path)) {
            agora_expf8_minus(row + i, max, lanes);
        } else {
            for (int l = 0; l < 8; l++) lanes[l] = agora_expf(row[i + l] - max);
        }
        memcpy(row + i, lanes, sizeof lanes);
        sum += (double)agora_lanes_reduce(lanes);
    }
    for (; i < n; i++) {
        const float v = expf(row[i] - max);
        sum += (double)v;
        row[i] = v;
    }
    return sum;
}

void agora_encoder_attend_head_on(agora_path path, const float *q, const float *k, const float *v, size_t stride,
                                  int n, int head_dim, float scale, float *scratch, float *out, size_t out_stride) {
    // scratch: head_dim * n transposed values, then n scores.
    float *vt = scratch;
    float *scores = scratch + (size_t)head_dim * n;
    for (int p = 0; p < n; p++) {
        for (int d = 0; d < head_dim; d++) vt[(size_t)d * n + p] = v[(size_t)p * stride + d];
    }
    const int lanes = n % 8 == 0;
    for (int t = 0; t < n; t++) {
        const float *qt = q + (size_t)t * stride;
        float max = -INFINITY;
        for (int p = 0; p < n; p++) {
            scores[p] = agora_dot_f32_on(path, k + (size_t)p * stride, qt, head_dim) * scale;
            max = scores[p] > max ? scores[p] : max;
        }
        const float inverse = (float)(1.0 / softmax_exp_row(path, scores, n, max));
        for (int p = 0; p < n; p++) scores[p] = scores[p] * inverse;
        float *o = out + (size_t)t * out_stride;
        for (int d = 0; d < head_dim; d++) {
            const float *row = vt + (size_t)d * n;
            o[d] = lanes ? agora_dot_lanes_on(path, row, scores, n) : agora_dot_f32_on(path, row, scores, n);
        }
    }
}
