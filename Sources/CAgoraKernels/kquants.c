// K-quants (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) against Q8_K activations, in llama.cpp's order on x86 (AVX2 builds):
//   Q2_K, Q3_K: ggml_vec_dot_q2_K_q8_K / ggml_vec_dot_q3_K_q8_K: element e = 128h + 32p + t of a superblock
//         (h < 2, p < 4, t < 32) is bits 2p..2p+1 of qs[32h + t] (Q3_K: minus 4 where bit 4h + p of
//         hmask[t] is clear), in lane t / 4 and 16-element group e / 16; per superblock
//         Q2_K: acc[l] = fma(-d8 * dmin, (float)(min[2l] * bsum[2l] + min[2l+1] * bsum[2l+1]), acc[l]), then
//         acc[l] = fma(d8 * d, (float)lane[l], acc[l]) with lane[l] the sum of scale x q x q8 over its elements;
//         Q3_K: only the second step (its six-bit scales are biased by 32); result = hsum_float_8(acc).
//   Q6_K: ggml_vec_dot_q6_K_q8_K: per superblock, eight int32 lanes (lane l: bytes 4l..4l+3 of every
//         32-byte chunk, times the 16-element group's scale, minus 32 x the scaled q8 sums of groups 2l and
//         2l+1), acc[l] = fma(d8 * d6, (float)lane[l], acc[l]); result = hsum_float_8(acc).
//   Q5_K: ggml_vec_dot_q5_K_q8_K: per superblock eight int32 lanes (lane l: bytes 4l..4l+3 of every 32-byte
//         group, times the group's scale), acc[l] = fma(d8 * d5, (float)lane[l], acc[l]), and
//         summs = fma(-d8 * dmin5, (float)(sum of min x q8 group sums), summs); result = hsum_float_8 + summs.
//   Q4_K: llama.cpp repacks Q4_K matrices (rows % 8 == 0) and uses ggml_gemv_q4_K_8x8_q8_K: per superblock
//         one integer sum of scale x dot over its eight 32-element groups and one of min x q8 group sums;
//         acc = fma((float)isum, d4 * d8, acc), accmin = fma((float)imin, dmin4 * d8, accmin);
//         result = acc - accmin.
// Weights keep ggml's block layout (rows padded to 64 bytes). The integer parts are exact, so the scalar
// code below is the definition; the AVX2 build is the same code compiled with FMA and AVX2 enabled.
#pragma STDC FP_CONTRACT OFF

#include <math.h>
#include <string.h>

#include "kernels_internal.h"

#define QK_K 256

static uint16_t load_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static size_t round_up64(size_t n) { return (n + 63) & ~(size_t)63; }

size_t agora_kquant_block_bytes(agora_weight_type type) {
    switch (type) {
    case AGORA_WEIGHT_Q2_K: return 84;
    case AGORA_WEIGHT_Q3_K: return 110;
    case AGORA_WEIGHT_Q4_K: return 144;
    case AGORA_WEIGHT_Q5_K: return 176;
    case AGORA_WEIGHT_Q6_K: return 210;
    default: return 0;
    }
}

size_t agora_kquant_row_bytes(agora_weight_type type, int k) {
    return round_up64((size_t)(k / QK_K) * agora_kquant_block_bytes(type));
}

void agora_kquant_repack_rows(agora_weight_type type, const void *src, void *dst, int rows, int k) {
    const size_t raw = (size_t)(k / QK_K) * agora_kquant_block_bytes(type);
    const size_t rb = agora_kquant_row_bytes(type, k);
    for (int r = 0; r < rows; r++) {
        uint8_t *row = (uint8_t *)dst + (size_t)r * rb;
        memcpy(row, (const uint8_t *)src + (size_t)r * raw, raw);
        memset(row + raw, 0, rb - raw);
    }
}

/// Q4_K's 6-bit scale and min of group j (ggml's get_scale_min_k4).
static void scale_min_k4(int j, const uint8_t *q, int *d, int *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/// Q3_K's sixteen six-bit group scales (12 packed bytes), unbiased (-32..31), as ggml unpacks them.
static void q3_scales(const uint8_t *packed, int out[16]) {
    uint8_t s[16];
    for (int g = 0; g < 16; g++) {
        const int low = g < 8 ? packed[g % 8] & 0xF : packed[g % 8] >> 4;
        const int high = (packed[8 + g % 4] >> (2 * (g / 4))) & 3;
        s[g] = (uint8_t)(low | (high << 4));
        out[g] = (int)s[g] - 32;
    }
}

/// Q2_K / Q3_K element e of a block as a signed integer (Q2_K 0..3, Q3_K -4..3).
static inline int q23_value(int three, const uint8_t *block, int e) {
    const int h = e / 128, p = (e % 128) / 32, t = e % 32;
    const uint8_t *qs = block + (three ? 32 : 16);
    int q = (qs[32 * h + t] >> (2 * p)) & 3;
    if (three && !((block[t] >> (4 * h + p)) & 1)) q -= 4;
    return q;
}

/// One row's Q2_K / Q3_K product in llama.cpp's order (see the top of the file): the scalar path and the
/// definition the AVX2 versions must match.
static float q23_dot(int three, const uint8_t *w, const uint8_t *a, int nb) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    const size_t bb = three ? 110 : 84;
    for (int i = 0; i < nb; i++, w += bb, a += 292) {
        float d8;
        memcpy(&d8, a, 4);
        const int8_t *q8 = (const int8_t *)(a + 4);
        int16_t bsums[16];
        memcpy(bsums, a + 260, sizeof bsums);
        int scale[16];
        if (three) {
            q3_scales(w + 96, scale);
        } else {
            for (int g = 0; g < 16; g++) scale[g] = w[g] & 0xF;
        }
        int32_t lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int e = 0; e < QK_K; e++) lane[(e % 32) / 4] += scale[e / 16] * q23_value(three, w, e) * q8[e];
        if (!three) {
            const float dmin = -d8 * agora_f16_to_f32(load_u16(w + 82));
            for (int l = 0; l < 8; l++) {
                const int32_t mins = (w[2 * l] >> 4) * bsums[2 * l] + (w[2 * l + 1] >> 4) * bsums[2 * l + 1];
                acc[l] = fmaf(dmin, (float)mins, acc[l]);
            }
        }
        const float d = d8 * agora_f16_to_f32(load_u16(w + (three ? 108 : 80)));
        for (int l = 0; l < 8; l++) acc[l] = fmaf(d, (float)lane[l], acc[l]);
    }
    return agora_lanes_reduce(acc);
}

/// Q6_K element e (0..255) of a block, unsigned 0..63 (the value is this minus 32).
static int q6_value(const uint8_t *ql, const uint8_t *qh, int e) {
    const int half = e / 128, r = e % 128, part = r / 32, l = r % 32;
    const uint8_t *lo = ql + half * 64, *hi = qh + half * 32;
    const int nib = part == 0 ? (lo[l] & 0xF) : part == 1 ? (lo[l + 32] & 0xF) : part == 2 ? (lo[l] >> 4) : (lo[l + 32] >> 4);
    return nib | (((hi[l] >> (2 * part)) & 3) << 4);
}

void agora_kquant_dequantize_row(agora_weight_type type, const void *rowp, float *out, int k) {
    const uint8_t *b = (const uint8_t *)rowp;
    const size_t bb = agora_kquant_block_bytes(type);
    for (int i = 0; i < k / QK_K; i++, b += bb) {
        float *y = out + (size_t)i * QK_K;
        if (type == AGORA_WEIGHT_Q2_K || type == AGORA_WEIGHT_Q3_K) {
            const int three = type == AGORA_WEIGHT_Q3_K;
            const float d = agora_f16_to_f32(load_u16(b + (three ? 108 : 80)));
            int scale[16];
            if (three) q3_scales(b + 96, scale);
            for (int e = 0; e < QK_K; e++) {
                const int g = e / 16;
                if (three) {
                    y[e] = d * (float)scale[g] * (float)q23_value(1, b, e);
                } else {
                    const float dl = d * (float)(b[g] & 0xF), ml = agora_f16_to_f32(load_u16(b + 82)) * (float)(b[g] >> 4);
                    y[e] = dl * (float)q23_value(0, b, e) - ml;
                }
            }
        } else if (type == AGORA_WEIGHT_Q5_K) {
            const float d = agora_f16_to_f32(load_u16(b)), dmin = agora_f16_to_f32(load_u16(b + 2));
            const uint8_t *scales = b + 4, *qh = b + 16, *q = b + 48;
            for (int j = 0; j < 4; j++) {
                int sc1, m1, sc2, m2;
                scale_min_k4(2 * j, scales, &sc1, &m1);
                scale_min_k4(2 * j + 1, scales, &sc2, &m2);
                const float d1 = d * sc1, mn1 = dmin * m1, d2 = d * sc2, mn2 = dmin * m2;
                for (int l = 0; l < 32; l++) {
                    y[64 * j + l] = d1 * ((q[32 * j + l] & 0xF) + (qh[l] & (1 << (2 * j)) ? 16 : 0)) - mn1;
                    y[64 * j + 32 + l] = d2 * ((q[32 * j + l] >> 4) + (qh[l] & (2 << (2 * j)) ? 16 : 0)) - mn2;
                }
            }
        } else if (type == AGORA_WEIGHT_Q4_K) {
            const float d = agora_f16_to_f32(load_u16(b)), dmin = agora_f16_to_f32(load_u16(b + 2));
            const uint8_t *scales = b + 4, *q = b + 16;
            for (int j = 0; j < 4; j++) {
                int sc1, m1, sc2, m2;
                scale_min_k4(2 * j, scales, &sc1, &m1);
                scale_min_k4(2 * j + 1, scales, &sc2, &m2);
                const float d1 = d * sc1, mn1 = dmin * m1, d2 = d * sc2, mn2 = dmin * m2;
                for (int l = 0; l < 32; l++) y[64 * j + l] = d1 * (q[32 * j + l] & 0xF) - mn1;
                for (int l = 0; l < 32; l++) y[64 * j + 32 + l] = d2 * (q[32 * j + l] >> 4) - mn2;
            }
        } else {
            const uint8_t *ql = b, *qh = b + 128;
            const int8_t *sc = (const int8_t *)(b + 192);
            const float d = agora_f16_to_f32(load_u16(b + 208));
            for (int e = 0; e < QK_K; e++) {
                const int half = e / 128, r = e % 128;
                const int group = half * 8 + (r / 32) * 2 + (r % 32) / 16;
                y[e] = d * sc[group] * (q6_value(ql, qh, e) - 32);
            }
        }
    }
}

// MARK: - Q8_K activations

size_t agora_act_k_bytes(int k) { return round_up64((size_t)(k / QK_K) * 292); }

/// ggml's nearest_int: round to nearest (even) through the float adder.
static int nearest_int(float fval) {
    const float val = fval + 12582912.f;
    int i;
    memcpy(&i, &val, sizeof(int));
    return (i & 0x007fffff) - 0x00400000;
}

void agora_quantize_act_k(const float *x, size_t x_stride, int ncols, int k, void *dst) {
    for (int c = 0; c < ncols; c++) {
        const float *xc = x + (size_t)c * x_stride;
        uint8_t *blocks = (uint8_t *)dst + (size_t)c * agora_act_k_bytes(k);
        for (int i = 0; i < k / QK_K; i++) {
            uint8_t *blk = blocks + (size_t)i * 292;
            const float *xb = xc + (size_t)i * QK_K;
            int8_t *qs = (int8_t *)(blk + 4);
            int16_t bsums[16];
            float max = 0, amax = 0;
            for (int j = 0; j < QK_K; j++) {
                const float ax = fabsf(xb[j]);
                if (ax > amax) {
                    amax = ax;
                    max = xb[j];
                }
            }
            float d = 0;
            if (amax == 0) {
                memset(qs, 0, QK_K);
            } else {
                const float iscale = -127.f / max;
                for (int j = 0; j < QK_K; j++) {
                    const int v = nearest_int(iscale * xb[j]);
                    qs[j] = (int8_t)(v < 127 ? v : 127);
                }
                d = 1 / iscale;
            }
            for (int j = 0; j < 16; j++) {
                int sum = 0;
                for (int ii = 0; ii < 16; ii++) sum += qs[j * 16 + ii];
                bsums[j] = (int16_t)sum;
            }
            memcpy(blk, &d, 4);
            memcpy(blk + 260, bsums, sizeof bsums);
        }
    }
}

// MARK: - Products

#define KQ_BODY(NAME)                                                                                           \
    static float NAME##_q6(const uint8_t *w, const uint8_t *a, int nb) {                                        \
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                                                \
        for (int i = 0; i < nb; i++, w += 210, a += 292) {                                                      \
            const uint8_t *ql = w, *qh = w + 128;                                                               \
            const int8_t *sc = (const int8_t *)(w + 192);                                                       \
            float d8;                                                                                           \
            memcpy(&d8, a, 4);                                                                                  \
            const int8_t *q8 = (const int8_t *)(a + 4);                                                         \
            int16_t bsums[16];                                                                                  \
            memcpy(bsums, a + 260, sizeof bsums);                                                               \
            const float d = d8 * agora_f16_to_f32(load_u16(w + 208));                                           \
            int32_t lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                                         \
            for (int e = 0; e < QK_K; e++) {                                                                    \
                const int half = e / 128, r = e % 128;                                                          \
                const int group = half * 8 + (r / 32) * 2 + (r % 32) / 16;                                      \
                lane[(r % 32) / 4] += sc[group] * q6_value(ql, qh, e) * q8[e];                                 \
            }                                                                                                   \
            for (int l = 0; l < 8; l++) lane[l] -= 32 * (bsums[2 * l] * sc[2 * l] + bsums[2 * l + 1] * sc[2 * l + 1]); \
            for (int l = 0; l < 8; l++) acc[l] = fmaf(d, (float)lane[l], acc[l]);                              \
        }                                                                                                       \
        return agora_lanes_reduce(acc);                                                                         \
    }                                                                                                           \
    static float NAME##_q4(const uint8_t *w, const uint8_t *a, int nb) {                                        \
        float acc = 0, accmin = 0;                                                                              \
        for (int i = 0; i < nb; i++, w += 144, a += 292) {                                                      \
            const float d4 = agora_f16_to_f32(load_u16(w)), dmin = agora_f16_to_f32(load_u16(w + 2));           \
            const uint8_t *scales = w + 4, *q = w + 16;                                                         \
            float d8;                                                                                           \
            memcpy(&d8, a, 4);                                                                                  \
            const int8_t *q8 = (const int8_t *)(a + 4);                                                         \
            int16_t bsums[16];                                                                                  \
            memcpy(bsums, a + 260, sizeof bsums);                                                               \
            int32_t isum = 0, imin = 0;                                                                         \
            for (int g = 0; g < 8; g++) {                                                                       \
                int sc, m;                                                                                      \
                scale_min_k4(g, scales, &sc, &m);                                                               \
                const uint8_t *qg = q + 32 * (g / 2);                                                           \
                const int shift = 4 * (g % 2);                                                                  \
                int32_t dot = 0;                                                                                \
                for (int l = 0; l < 32; l++) dot += ((qg[l] >> shift) & 0xF) * q8[32 * g + l];                 \
                isum += sc * dot;                                                                               \
                imin += m * (bsums[2 * g] + bsums[2 * g + 1]);                                                  \
            }                                                                                                   \
            acc = fmaf((float)isum, d4 * d8, acc);                                                              \
            accmin = fmaf((float)imin, dmin * d8, accmin);                                                      \
        }                                                                                                       \
        return acc - accmin;                                                                                    \
    }                                                                                                           \
    static float NAME##_q5(const uint8_t *w, const uint8_t *a, int nb) {                                        \
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                                                \
        float summs = 0;                                                                                        \
        for (int i = 0; i < nb; i++, w += 176, a += 292) {                                                      \
            const uint8_t *scales = w + 4, *qh = w + 16, *q = w + 48;                                           \
            float d8;                                                                                           \
            memcpy(&d8, a, 4);                                                                                  \
            const int8_t *q8 = (const int8_t *)(a + 4);                                                         \
            int16_t bsums[16];                                                                                  \
            memcpy(bsums, a + 260, sizeof bsums);                                                               \
            const float d = d8 * agora_f16_to_f32(load_u16(w));                                                 \
            const float dmin = -d8 * agora_f16_to_f32(load_u16(w + 2));                                         \
            int32_t lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                                         \
            int32_t imin = 0;                                                                                   \
            for (int g = 0; g < 8; g++) {                                                                       \
                int sc, m;                                                                                      \
                scale_min_k4(g, scales, &sc, &m);                                                               \
                imin += m * (bsums[2 * g] + bsums[2 * g + 1]);                                                  \
                const uint8_t *qg = q + 32 * (g / 2);                                                           \
                const int shift = 4 * (g % 2);                                                                  \
                for (int l = 0; l < 32; l++) {                                                                  \
                    const int v = ((qg[l] >> shift) & 0xF) + ((qh[l] >> g) & 1) * 16;                          \
                    lane[l / 4] += sc * v * q8[32 * g + l];                                                     \
                }                                                                                               \
            }                                                                                                   \
            summs = fmaf(dmin, (float)imin, summs);                                                             \
            for (int l = 0; l < 8; l++) acc[l] = fmaf(d, (float)lane[l], acc[l]);                              \
        }                                                                                                       \
        return agora_lanes_reduce(acc) + summs;                                                                 \
    }                                                                                                           \
    static void NAME(agora_weight_type type, const void *w, int k, int r0, int r1, const void *act, int ncols,   \
                     float *out, size_t out_stride) {                                                           \
        const int nb = k / QK_K;                                                                                \
        const size_t rb = agora_kquant_row_bytes(type, k), cb = agora_act_k_bytes(k);                            \
        for (int r = r0; r < r1; r++) {                                                                         \
            const uint8_t *row = (const uint8_t *)w + (size_t)r * rb;                                           \
            for (int c = 0; c < ncols; c++) {                                                                   \
                const uint8_t *col = (const uint8_t *)act + (size_t)c * cb;                                     \
                out[(size_t)c * out_stride + r] = type == AGORA_WEIGHT_Q6_K   ? NAME##_q6(row, col, nb)         \
                                                  : type == AGORA_WEIGHT_Q5_K ? NAME##_q5(row, col, nb)         \
                                                  : type == AGORA_WEIGHT_Q4_K ? NAME##_q4(row, col, nb)         \
                                                  : q23_dot(type == AGORA_WEIGHT_Q3_K, row, col, nb);           \
            }                                                                                                   \
        }                                                                                                       \
    }

KQ_BODY(kquant_rows_scalar)

// MARK: - AVX2: the same integers eight lanes at a time (exact, so only the float steps need care)

#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

#include "simd_avx2_sums.h"


/// Sixteen int16 lanes: the first eight `a`, the last eight `b` (scales of two 16-element groups).
static inline __m256i scale_pair(int a, int b) {
    return _mm256_set_m128i(_mm_set1_epi16((short)b), _mm_set1_epi16((short)a));
}

static float q5_avx2(const uint8_t *w, const uint8_t *a, int nb) {
    const __m256i m15 = _mm256_set1_epi8(15);
    __m256 acc = _mm256_setzero_ps();
    float summs = 0;
    for (int i = 0; i < nb; i++, w += 176, a += 292) {
        const uint8_t *scales = w + 4, *q = w + 48;
        float d8;
        memcpy(&d8, a, 4);
        const int8_t *q8 = (const int8_t *)(a + 4);
        int16_t bsums[16];
        memcpy(bsums, a + 260, sizeof bsums);
        const float d = d8 * _cvtsh_ss(load_u16(w));
        const float dmin = -d8 * _cvtsh_ss(load_u16(w + 2));
        int sc[8], m[8];
        int32_t imin = 0;
        for (int g = 0; g < 8; g++) {
            scale_min_k4(g, scales, &sc[g], &m[g]);
            imin += m[g] * (bsums[2 * g] + bsums[2 * g + 1]);
        }
        summs = fmaf(dmin, (float)imin, summs);
        const __m256i hbits = _mm256_loadu_si256((const __m256i *)(w + 16));
        __m256i sumi = _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) {
            const __m256i bytes = _mm256_loadu_si256((const __m256i *)(q + 32 * j));
            const __m256i h0 = _mm256_and_si256(_mm256_srli_epi16(hbits, 2 * j), _mm256_set1_epi8(1));
            const __m256i h1 = _mm256_and_si256(_mm256_srli_epi16(hbits, 2 * j + 1), _mm256_set1_epi8(1));
            const __m256i lo = _mm256_or_si256(_mm256_and_si256(bytes, m15), _mm256_slli_epi16(h0, 4));
            const __m256i hi =
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bytes, 4), m15), _mm256_slli_epi16(h1, 4));
            const __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(q8 + 64 * j)));
            const __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q8 + 64 * j + 32)));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(plo, _mm256_set1_epi16((short)sc[2 * j])));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(phi, _mm256_set1_epi16((short)sc[2 * j + 1])));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, acc);
    return agora_lanes_reduce(lanes) + summs;
}

// Q6_K and Q4_K against up to four columns (prefill takes four at a time, decode one): the superblock's weights
// and scales are decoded once and used for every column; each column's arithmetic is its own, in the order
// at the top of the file.

static inline __attribute__((always_inline)) void q6_avx2_cols(const uint8_t *w, const uint8_t *const *cols, int C,
                                                               int nb, float *res) {
    const __m256i m15 = _mm256_set1_epi8(15);
    __m256 acc[4];
    for (int c = 0; c < C; c++) acc[c] = _mm256_setzero_ps();
    for (int i = 0; i < nb; i++, w += 210) {
        const uint8_t *ql = w, *qh = w + 128;
        const int8_t *sc = (const int8_t *)(w + 192);
        const float d6 = _cvtsh_ss(load_u16(w + 208));
        const __m256i scales16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
        __m256i sumi[4];
        for (int c = 0; c < C; c++) sumi[c] = _mm256_setzero_si256();
        for (int half = 0; half < 2; half++) {
            const __m256i b1 = _mm256_loadu_si256((const __m256i *)(ql + 64 * half));
            const __m256i b2 = _mm256_loadu_si256((const __m256i *)(ql + 64 * half + 32));
            const __m256i bh = _mm256_loadu_si256((const __m256i *)(qh + 32 * half));
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(b1, m15),
                                   _mm256_slli_epi16(_mm256_and_si256(bh, _mm256_set1_epi8(3)), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(b2, m15),
                                   _mm256_slli_epi16(_mm256_and_si256(bh, _mm256_set1_epi8(12)), 2));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b1, 4), m15),
                                   _mm256_and_si256(bh, _mm256_set1_epi8(48)));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b2, 4), m15),
                                   _mm256_srli_epi16(_mm256_and_si256(bh, _mm256_set1_epi8((char)0xC0)), 2));
            for (int part = 0; part < 4; part++) {
                const int g = 8 * half + 2 * part;
                const __m256i scale = scale_pair(sc[g], sc[g + 1]);
                for (int c = 0; c < C; c++) {
                    const int8_t *q8 = (const int8_t *)(cols[c] + (size_t)i * 292 + 4);
                    const __m256i y = _mm256_loadu_si256((const __m256i *)(q8 + 128 * half + 32 * part));
                    sumi[c] = _mm256_add_epi32(sumi[c], _mm256_madd_epi16(_mm256_maddubs_epi16(q[part], y), scale));
                }
            }
        }
        for (int c = 0; c < C; c++) {
            const uint8_t *a = cols[c] + (size_t)i * 292;
            float d8;
            memcpy(&d8, a, 4);
            const __m256i q8sums = _mm256_loadu_si256((const __m256i *)(a + 260));
            const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(q8sums, scales16), 5);
            const __m256i total = _mm256_sub_epi32(sumi[c], offset);
            acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(d8 * d6), _mm256_cvtepi32_ps(total), acc[c]);
        }
    }
    for (int c = 0; c < C; c++) {
        float lanes[8];
        _mm256_storeu_ps(lanes, acc[c]);
        res[c] = agora_lanes_reduce(lanes);
    }
}

/// Q4_K's eight 6-bit scales (bytes 0..7) and mins (bytes 8..15) of one superblock, unpacked from their
/// 12 packed bytes all at once (ggml's kmask shuffle; the same values as scale_min_k4).
static inline void q4_scales_mins(const uint8_t *packed, uint8_t out[16]) {
    uint32_t u[4];
    memcpy(u, packed, 12);
    const uint32_t kmask1 = 0x3f3f3f3f, kmask2 = 0x0f0f0f0f, kmask3 = 0x03030303;
    u[3] = ((u[2] >> 4) & kmask2) | (((u[1] >> 6) & kmask3) << 4);
    const uint32_t mins_lo = u[1] & kmask1;
    u[1] = (u[2] & kmask2) | (((u[0] >> 6) & kmask3) << 4);
    u[2] = mins_lo;
    u[0] &= kmask1;
    memcpy(out, u, 16);
}

/// Q4_K against C (1 to 4) columns. Each column's isum and imin are exact integers; the four columns'
/// totals are reduced together and their two chains (acc, accmin) run as the lanes of 4-wide vector FMAs,
/// lane c being exactly column c's fmaf. Columns past C repeat column 0 and are dropped.
static inline __attribute__((always_inline)) void q4_avx2_cols(const uint8_t *w, const uint8_t *const *cols, int C,
                                                               int nb, float *res) {
    const __m256i m15 = _mm256_set1_epi8(15);
    const uint8_t *col[4];
    for (int c = 0; c < 4; c++) col[c] = cols[c < C ? c : 0];
    __m128 acc = _mm_setzero_ps(), accmin = _mm_setzero_ps();
    for (int i = 0; i < nb; i++, w += 144) {
        const float d4 = _cvtsh_ss(load_u16(w)), dmin = _cvtsh_ss(load_u16(w + 2));
        const uint8_t *q = w + 16;
        uint8_t sm[16];
        q4_scales_mins(w + 4, sm);
        const __m128i mins = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)(sm + 8)));
        const __m256i min_pairs = _mm256_set_m128i(_mm_unpackhi_epi16(mins, mins), _mm_unpacklo_epi16(mins, mins));
        __m256i sumv[4], minv[4];
        for (int c = 0; c < 4; c++) sumv[c] = _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) {
            const __m256i bytes = _mm256_loadu_si256((const __m256i *)(q + 32 * j));
            const __m256i lo = _mm256_and_si256(bytes, m15);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), m15);
            const __m256i slo = _mm256_set1_epi16((short)sm[2 * j]), shi = _mm256_set1_epi16((short)sm[2 * j + 1]);
            for (int c = 0; c < C; c++) {
                const int8_t *q8 = (const int8_t *)(col[c] + (size_t)i * 292 + 4);
                const __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(q8 + 64 * j)));
                const __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q8 + 64 * j + 32)));
                sumv[c] = _mm256_add_epi32(sumv[c], _mm256_madd_epi16(plo, slo));
                sumv[c] = _mm256_add_epi32(sumv[c], _mm256_madd_epi16(phi, shi));
            }
        }
        float d8[4];
        for (int c = 0; c < 4; c++) {
            const uint8_t *a = col[c] + (size_t)i * 292;
            memcpy(&d8[c], a, 4);
            // Lane g: m[g] * (bsums[2g] + bsums[2g + 1]); their total is imin.
            minv[c] = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(a + 260)), min_pairs);
        }
        const __m128i isum = agora_hsum4_i32(sumv[0], sumv[1], sumv[2], sumv[3]);
        const __m128i imin = agora_hsum4_i32(minv[0], minv[1], minv[2], minv[3]);
        const __m128 d8v = _mm_loadu_ps(d8);
        acc = _mm_fmadd_ps(_mm_cvtepi32_ps(isum), _mm_mul_ps(_mm_set1_ps(d4), d8v), acc);
        accmin = _mm_fmadd_ps(_mm_cvtepi32_ps(imin), _mm_mul_ps(_mm_set1_ps(dmin), d8v), accmin);
    }
    float out[4];
    _mm_storeu_ps(out, _mm_sub_ps(acc, accmin));
    for (int c = 0; c < C; c++) res[c] = out[c];
}

/// Q2_K: llama.cpp's AVX2 lanes (see the top of the file); the integer work sixteen products at a time.
static float q2_avx2(const uint8_t *w, const uint8_t *a, int nb) {
    const __m256i m3 = _mm256_set1_epi8(3);
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < nb; i++, w += 84, a += 292) {
        float d8;
        memcpy(&d8, a, 4);
        const int8_t *q8 = (const int8_t *)(a + 4);
        const float d = d8 * _cvtsh_ss(load_u16(w + 80));
        const float dmin = -d8 * _cvtsh_ss(load_u16(w + 82));
        const __m128i packed = _mm_loadu_si128((const __m128i *)w);
        const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(15)));
        const __m256i prod = _mm256_madd_epi16(mins, _mm256_loadu_si256((const __m256i *)(a + 260)));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(prod), acc);
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i bits = _mm256_loadu_si256((const __m256i *)(w + 16 + 32 * h));
            for (int p = 0; p < 4; p++) {
                const __m256i q = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * p), m3);
                const __m256i a8 = _mm256_loadu_si256((const __m256i *)(q8 + 128 * h + 32 * p));
                const int g = 8 * h + 2 * p;
                const __m256i scale = scale_pair(w[g] & 15, w[g + 1] & 15);
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(scale, _mm256_maddubs_epi16(q, a8)));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, acc);
    return agora_lanes_reduce(lanes);
}

/// Q3_K: the stored value is low2 + 4 x high bit, the weight that minus 4, so each 16-bit pair sum is
/// maddubs(stored, q8) - maddubs(4, q8) (exact: no product overflows).
static float q3_avx2(const uint8_t *w, const uint8_t *a, int nb) {
    const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1), four = _mm256_set1_epi8(4);
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < nb; i++, w += 110, a += 292) {
        float d8;
        memcpy(&d8, a, 4);
        const int8_t *q8 = (const int8_t *)(a + 4);
        const float d = d8 * _cvtsh_ss(load_u16(w + 108));
        int sc[16];
        q3_scales(w + 96, sc);
        const __m256i hbits = _mm256_loadu_si256((const __m256i *)w);
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i bits = _mm256_loadu_si256((const __m256i *)(w + 32 + 32 * h));
            for (int p = 0; p < 4; p++) {
                const __m256i low = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * p), m3);
                const __m256i high = _mm256_and_si256(_mm256_srli_epi16(hbits, 4 * h + p), one);
                const __m256i stored = _mm256_or_si256(low, _mm256_slli_epi16(high, 2));
                const __m256i a8 = _mm256_loadu_si256((const __m256i *)(q8 + 128 * h + 32 * p));
                const __m256i p16 = _mm256_sub_epi16(_mm256_maddubs_epi16(stored, a8), _mm256_maddubs_epi16(four, a8));
                const int g = 8 * h + 2 * p;
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(scale_pair(sc[g], sc[g + 1]), p16));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, acc);
    return agora_lanes_reduce(lanes);
}

static void kquant_rows_avx2(agora_weight_type type, const void *w, int k, int r0, int r1, const void *act, int ncols,
                             float *out, size_t out_stride) {
    const int nb = k / QK_K;
    const size_t rb = agora_kquant_row_bytes(type, k), cb = agora_act_k_bytes(k);
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * rb;
        if (r + 1 < r1) {
            for (size_t off = 0; off < rb; off += 64) _mm_prefetch((const char *)row + rb + off, _MM_HINT_T0);
        }
        int c0 = 0;
        if (type == AGORA_WEIGHT_Q4_K || type == AGORA_WEIGHT_Q6_K) {
            // Four columns at a time, then the one to three left over one by one.
            for (; c0 < ncols; c0 += c0 + 4 <= ncols ? 4 : 1) {
                const int n = c0 + 4 <= ncols ? 4 : 1;
                const uint8_t *cols[4];
                for (int c = 0; c < n; c++) cols[c] = (const uint8_t *)act + (size_t)(c0 + c) * cb;
                float res[4];
                if (type == AGORA_WEIGHT_Q4_K) {
                    if (n == 4) q4_avx2_cols(row, cols, 4, nb, res);
                    else q4_avx2_cols(row, cols, 1, nb, res);
                } else {
                    if (n == 4) q6_avx2_cols(row, cols, 4, nb, res);
                    else q6_avx2_cols(row, cols, 1, nb, res);
                }
                for (int c = 0; c < n; c++) out[(size_t)(c0 + c) * out_stride + r] = res[c];
            }
        }
        for (int c = c0; c < ncols; c++) {
            const uint8_t *col = (const uint8_t *)act + (size_t)c * cb;
            out[(size_t)c * out_stride + r] = type == AGORA_WEIGHT_Q5_K   ? q5_avx2(row, col, nb)
                                              : type == AGORA_WEIGHT_Q3_K ? q3_avx2(row, col, nb)
                                                                          : q2_avx2(row, col, nb);
        }
    }
}

#pragma clang attribute pop

void agora_kquant_matmul_rows_on(agora_path path, agora_weight_type type, const void *w, int k, int r0, int r1,
                                 const void *act, int ncols, float *out, size_t out_stride) {
    if (path != AGORA_PATH_SCALAR && agora_path_supported(path)) {
        kquant_rows_avx2(type, w, k, r0, r1, act, ncols, out, out_stride);
    } else {
        kquant_rows_scalar(type, w, k, r0, r1, act, ncols, out, out_stride);
    }
}
