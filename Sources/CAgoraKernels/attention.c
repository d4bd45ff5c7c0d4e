// Attention and SwiGLU in llama.cpp's float order (ggml's AVX2 build: ggml_vec_dot_f32, ggml_v_expf,
// ggml_vec_soft_max_f32, ggml_vec_swiglu_f32), so Agora's logits equal llama.cpp's bit for bit. The scalar
// functions define the result; the AVX2+FMA functions compute the same operations eight lanes at a time.
// Every fused multiply-add is explicit (fmaf or _mm256_fmadd_ps), so any CPU gives the same bits.
#pragma STDC FP_CONTRACT OFF

#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels_internal.h"

static inline uint32_t f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

// MARK: - Scalar reference

/// ggml_v_expf (AVX2 form), one lane: exp via 2^n * (1 + polynomial), with ggml's overflow handling.
float agora_expf(float x) {
    const float r = 0x1.8p23f;
    const float z = fmaf(x, 0x1.715476p+0f, r);
    const float n = z - r;
    const float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
    const uint32_t e = f2u(z) << 23;
    const float k = u2f(e + f2u(1.0f));
    const float u = b * b;
    const float j = fmaf(fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                         u, 0x1.ffffecp-1f * b);
    if (!(fabsf(n) > 126.0f)) return fmaf(j, k, k);
    const uint32_t g = (n <= 0.0f ? 0xffffffffu : 0u) & 0x82000000u;
    const float s1 = u2f(g + 0x7f000000u);
    const float s2 = u2f(e - g);
    if (fabsf(n) > 192.0f) return s1 * s1;
    return fmaf(s2, j, s2) * s1;
}

/// ggml_vec_dot_f32 (AVX2 build): four accumulators of eight lanes over steps of 32, a fixed reduction,
/// then the leftovers as GCC compiled its plain loop `sumf += x[i]*y[i]` (read from the built
/// libggml-cpu.a): blocks of eight products added one by one in order, then one block of four the same way
/// when four or more are left, then the last one to three fused one by one.
static float dot_f32_scalar(const float *x, const float *y, int n) {
    const int np = n & ~31;
    float sum[4][8];
    memset(sum, 0, sizeof sum);
    for (int i = 0; i < np; i += 32) {
        for (int j = 0; j < 4; j++) {
            for (int l = 0; l < 8; l++) sum[j][l] = fmaf(x[i + 8 * j + l], y[i + 8 * j + l], sum[j][l]);
        }
    }
    float v[8];
    for (int l = 0; l < 8; l++) v[l] = (sum[0][l] + sum[2][l]) + (sum[1][l] + sum[3][l]);
    float t[4];
    for (int l = 0; l < 4; l++) t[l] = v[l] + v[l + 4];
    float s = (t[0] + t[1]) + (t[2] + t[3]);
    int i = np;
    for (; i + 8 <= n; i += 8) {
        for (int l = 0; l < 8; l++) s = s + x[i + l] * y[i + l];
    }
    if (i + 4 <= n) {
        for (int l = 0; l < 4; l++) s = s + x[i + l] * y[i + l];
        i += 4;
    }
    for (; i < n; i++) s = fmaf(x[i], y[i], s);
    return s;
}

static void swiglu_scalar(const float *gate, const float *up, float *out, int n) {
    for (int i = 0; i < n; i++) {
        const float x = gate[i];
        out[i] = (x / (1.0f + agora_expf(0.0f - x))) * up[i];
    }
}

// MARK: - AVX2 + FMA

#define AGORA_AVX2 __attribute__((target("avx2,fma")))

AGORA_AVX2 static inline __m256 expf_avx2(__m256 x) {
    const __m256 r = _mm256_set1_ps(0x1.8p23f);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
    const __m256 n = _mm256_sub_ps(z, r);
    const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                      _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
    const __m256 k = _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1))));
    const __m256i c =
        _mm256_castps_si256(_mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.f), n), _mm256_set1_ps(126), _CMP_GT_OQ));
    const __m256 u = _mm256_mul_ps(b, b);
    const __m256 j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                        _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
        u, _mm256_mul_ps(_mm256_set1_ps(0x1.ffffecp-1f), b));
    if (!_mm256_movemask_ps(_mm256_castsi256_ps(c))) return _mm256_fmadd_ps(j, k, k);
    const __m256i g = _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ)),
                                       _mm256_set1_epi32((int)0x82000000u));
    const __m256 s1 = _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(0x7f000000)));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
    const __m256i d =
        _mm256_castps_si256(_mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.f), n), _mm256_set1_ps(192), _CMP_GT_OQ));
    return _mm256_or_ps(
        _mm256_and_ps(_mm256_castsi256_ps(d), _mm256_mul_ps(s1, s1)),
        _mm256_andnot_ps(_mm256_castsi256_ps(d),
                         _mm256_or_ps(_mm256_and_ps(_mm256_castsi256_ps(c), _mm256_mul_ps(_mm256_fmadd_ps(s2, j, s2), s1)),
                                      _mm256_andnot_ps(_mm256_castsi256_ps(c), _mm256_fmadd_ps(k, j, k)))));
}

AGORA_AVX2 static float dot_f32_avx2(const float *x, const float *y, int n) {
    const int np = n & ~31;
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    for (int i = 0; i < np; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), s3);
    }
    const __m256 v = _mm256_add_ps(_mm256_add_ps(s0, s2), _mm256_add_ps(s1, s3));
    const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 t1 = _mm_hadd_ps(t0, t0);
    float s = _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
    int i = np;
    for (; i + 8 <= n; i += 8) {
        float p[8];
        _mm256_storeu_ps(p, _mm256_mul_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
        for (int l = 0; l < 8; l++) s = s + p[l];
    }
    if (i + 4 <= n) {
        float p[4];
        _mm_storeu_ps(p, _mm_mul_ps(_mm_loadu_ps(x + i), _mm_loadu_ps(y + i)));
        for (int l = 0; l < 4; l++) s = s + p[l];
        i += 4;
    }
    for (; i < n; i++) s = fmaf(x[i], y[i], s);
    return s;
}

AGORA_AVX2 static void swiglu_avx2(const float *gate, const float *up, float *out, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(gate + i);
        const __m256 e = expf_avx2(_mm256_sub_ps(_mm256_setzero_ps(), x));
        const __m256 silu = _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1), e));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
    }
    swiglu_scalar(gate + i, up + i, out + i, n - i);
}

/// exp(x[i] - max) for i < n into y, returning the sum as ggml_vec_soft_max_f32 does: chunks of eight
/// (zero-padded: llama.cpp's rows are padded with masked positions, whose exp is exactly 0), each chunk
/// reduced as hsum_float_8, the chunk sums added in double.
AGORA_AVX2 static double softmax_exp_avx2(const float *x, float *y, int n, float max) {
    double sum = 0;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = expf_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), _mm256_set1_ps(max)));
        _mm256_storeu_ps(y + i, v);
        float lanes[8];
        _mm256_storeu_ps(lanes, v);
        sum += (double)agora_lanes_reduce(lanes);
    }
    if (i < n) {
        float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int l = 0; i + l < n; l++) lanes[l] = y[i + l] = agora_expf(x[i + l] - max);
        sum += (double)agora_lanes_reduce(lanes);
    }
    return sum;
}

static double softmax_exp_scalar(const float *x, float *y, int n, float max) {
    double sum = 0;
    for (int i = 0; i < n; i += 8) {
        float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int l = 0; l < 8 && i + l < n; l++) lanes[l] = y[i + l] = agora_expf(x[i + l] - max);
        sum += (double)agora_lanes_reduce(lanes);
    }
    return sum;
}

/// probs x values for one head: out[d] = ggml_vec_dot_f32 over the positions of (values[., d], probs),
/// llama.cpp's product with its transposed V cache. Position p feeds accumulator (p % 32) / 8, lane p % 8;
/// llama.cpp's rows run to a multiple of 256 positions whose padding adds exact zeros, so no leftovers.
/// `acc` is scratch of 32 * head_dim floats.
/// Dimension d's 32 slot sums combined as ggml_vec_dot_f32 reduces its four accumulators of eight lanes.
static float reduce_slots(const float *acc, int head_dim, int d) {
    float lane[8];
    for (int l = 0; l < 8; l++) {
        const float s0 = acc[(size_t)l * head_dim + d], s1 = acc[(size_t)(8 + l) * head_dim + d];
        const float s2 = acc[(size_t)(16 + l) * head_dim + d], s3 = acc[(size_t)(24 + l) * head_dim + d];
        lane[l] = (s0 + s2) + (s1 + s3);
    }
    float t[4];
    for (int l = 0; l < 4; l++) t[l] = lane[l] + lane[l + 4];
    return (t[0] + t[1]) + (t[2] + t[3]);
}

static void weighted_values_scalar(const float *probs, const float *values, size_t stride, int positions,
                                   int head_dim, float *acc, float *out) {
    memset(acc, 0, sizeof(float) * 32 * (size_t)head_dim);
    for (int p = 0; p < positions; p++) {
        float *a = acc + (size_t)(p % 32) * head_dim;
        const float *v = values + (size_t)p * stride;
        for (int d = 0; d < head_dim; d++) a[d] = fmaf(v[d], probs[p], a[d]);
    }
    for (int d = 0; d < head_dim; d++) out[d] = reduce_slots(acc, head_dim, d);
}

/// Positions ahead whose key or value vector is requested while this one is used: the cache is read
/// once per token and, behind a forward pass's stream of weights, mostly from memory.
#define AGORA_ATTENTION_PREFETCH 8

static inline void prefetch_head(const float *p, int head_dim) {
    for (int i = 0; i < head_dim; i += 16) __builtin_prefetch(p + i);
}

AGORA_AVX2 static void weighted_values_avx2(const float *probs, const float *values, size_t stride, int positions,
                                            int head_dim, float *acc, float *out) {
    memset(acc, 0, sizeof(float) * 32 * (size_t)head_dim);
    const int hd8 = head_dim & ~7;
    for (int p = 0; p < positions; p++) {
        float *a = acc + (size_t)(p % 32) * head_dim;
        const float *v = values + (size_t)p * stride;
        if (p + AGORA_ATTENTION_PREFETCH < positions) prefetch_head(v + AGORA_ATTENTION_PREFETCH * stride, head_dim);
        const __m256 w = _mm256_set1_ps(probs[p]);
        int d = 0;
        for (; d < hd8; d += 8) {
            _mm256_storeu_ps(a + d, _mm256_fmadd_ps(_mm256_loadu_ps(v + d), w, _mm256_loadu_ps(a + d)));
        }
        for (; d < head_dim; d++) a[d] = fmaf(v[d], probs[p], a[d]);
    }
    int d = 0;
    for (; d < hd8; d += 8) {
        __m256 lane[8];
        for (int l = 0; l < 8; l++) {
            const __m256 s0 = _mm256_loadu_ps(acc + (size_t)l * head_dim + d);
            const __m256 s1 = _mm256_loadu_ps(acc + (size_t)(8 + l) * head_dim + d);
            const __m256 s2 = _mm256_loadu_ps(acc + (size_t)(16 + l) * head_dim + d);
            const __m256 s3 = _mm256_loadu_ps(acc + (size_t)(24 + l) * head_dim + d);
            lane[l] = _mm256_add_ps(_mm256_add_ps(s0, s2), _mm256_add_ps(s1, s3));
        }
        __m256 t[4];
        for (int l = 0; l < 4; l++) t[l] = _mm256_add_ps(lane[l], lane[l + 4]);
        _mm256_storeu_ps(out + d, _mm256_add_ps(_mm256_add_ps(t[0], t[1]), _mm256_add_ps(t[2], t[3])));
    }
    for (; d < head_dim; d++) out[d] = reduce_slots(acc, head_dim, d);
}

AGORA_AVX2 void agora_expf8_minus(const float *x, float max, float *out) {
    _mm256_storeu_ps(out, expf_avx2(_mm256_sub_ps(_mm256_loadu_ps(x), _mm256_set1_ps(max))));
}

// MARK: - Entry points

static int use_avx2(agora_path path) { return path != AGORA_PATH_SCALAR && agora_path_supported(path); }

float agora_dot_f32_on(agora_path path, const float *x, const float *y, int n) {
    return use_avx2(path) ? dot_f32_avx2(x, y, n) : dot_f32_scalar(x, y, n);
}

void agora_swiglu_on(agora_path path, const float *gate, const float *up, float *out, int n) {
    if (use_avx2(path)) {
        swiglu_avx2(gate, up, out, n);
    } else {
        swiglu_scalar(gate, up, out, n);
    }
}

void agora_attend_head_on(agora_path path, const float *q, const float *keys, const float *values, size_t stride,
                          int positions, int head_dim, float scale, float *scores, float *acc, float *out) {
    const int avx2 = use_avx2(path);
    float max = -INFINITY;
    for (int p = 0; p < positions; p++) {
        const float *k = keys + (size_t)p * stride;
        if (p + AGORA_ATTENTION_PREFETCH < positions) prefetch_head(k + AGORA_ATTENTION_PREFETCH * stride, head_dim);
        const float kq = avx2 ? dot_f32_avx2(k, q, head_dim) : dot_f32_scalar(k, q, head_dim);
        scores[p] = kq * scale;
        max = scores[p] > max ? scores[p] : max;
    }
    const double sum = avx2 ? softmax_exp_avx2(scores, scores, positions, max)
                            : softmax_exp_scalar(scores, scores, positions, max);
    const float inverse = (float)(1.0 / sum);
    for (int p = 0; p < positions; p++) scores[p] = scores[p] * inverse;
    if (avx2) {
        weighted_values_avx2(scores, values, stride, positions, head_dim, acc, out);
    } else {
        weighted_values_scalar(scores, values, stride, positions, head_dim, acc, out);
    }
}
