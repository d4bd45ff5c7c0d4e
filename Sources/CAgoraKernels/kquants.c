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

#include "kquants_internal.h"

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
    for (int i = 0; i < nb; i++, w += bb, a += AGORA_Q8K_BLOCK) {
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

size_t agora_act_k_bytes(int k) { return round_up64((size_t)(k / QK_K) * AGORA_Q8K_BLOCK); }

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
            uint8_t *blk = blocks + (size_t)i * AGORA_Q8K_BLOCK;
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
static float scalar_q6(const uint8_t *w, const uint8_t *a, int nb) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < nb; i++, w += 210, a += AGORA_Q8K_BLOCK) {
        const uint8_t *ql = w, *qh = w + 128;
        const int8_t *sc = (const int8_t *)(w + 192);
        float d8;
        memcpy(&d8, a, 4);
        const int8_t *q8 = (const int8_t *)(a + 4);
        int16_t bsums[16];
        memcpy(bsums, a + 260, sizeof bsums);
        const float d = d8 * agora_f16_to_f32(load_u16(w + 208));
        int32_t lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int e = 0; e < QK_K; e++) {
            const int half = e / 128, r = e % 128;
            const int group = half * 8 + (r / 32) * 2 + (r % 32) / 16;
            lane[(r % 32) / 4] += sc[group] * q6_value(ql, qh, e) * q8[e];
        }
        for (int l = 0; l < 8; l++) lane[l] -= 32 * (bsums[2 * l] * sc[2 * l] + bsums[2 * l + 1] * sc[2 * l + 1]);
        for (int l = 0; l < 8; l++) acc[l] = fmaf(d, (float)lane[l], acc[l]);
    }
    return agora_lanes_reduce(acc);
}
static float scalar_q4(const uint8_t *w, const uint8_t *a, int nb) {
    float acc = 0, accmin = 0;
    for (int i = 0; i < nb; i++, w += 144, a += AGORA_Q8K_BLOCK) {
        const float d4 = agora_f16_to_f32(load_u16(w)), dmin = agora_f16_to_f32(load_u16(w + 2));
        const uint8_t *scales = w + 4, *q = w + 16;
        float d8;
        memcpy(&d8, a, 4);
        const int8_t *q8 = (const int8_t *)(a + 4);
        int16_t bsums[16];
        memcpy(bsums, a + 260, sizeof bsums);
        int32_t isum = 0, imin = 0;
        for (int g = 0; g < 8; g++) {
            int sc, m;
            scale_min_k4(g, scales, &sc, &m);
            const uint8_t *qg = q + 32 * (g / 2);
            const int shift = 4 * (g % 2);
            int32_t dot = 0;
            for (int l = 0; l < 32; l++) dot += ((qg[l] >> shift) & 0xF) * q8[32 * g + l];
            isum += sc * dot;
            imin += m * (bsums[2 * g] + bsums[2 * g + 1]);
        }
        acc = fmaf((float)isum, d4 * d8, acc);
        accmin = fmaf((float)imin, dmin * d8, accmin);
    }
    return acc - accmin;
}
static float scalar_q5(const uint8_t *w, const uint8_t *a, int nb) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    float summs = 0;
    for (int i = 0; i < nb; i++, w += 176, a += AGORA_Q8K_BLOCK) {
        const uint8_t *scales = w + 4, *qh = w + 16, *q = w + 48;
        float d8;
        memcpy(&d8, a, 4);
        const int8_t *q8 = (const int8_t *)(a + 4);
        int16_t bsums[16];
        memcpy(bsums, a + 260, sizeof bsums);
        const float d = d8 * agora_f16_to_f32(load_u16(w));
        const float dmin = -d8 * agora_f16_to_f32(load_u16(w + 2));
        int32_t lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int32_t imin = 0;
        for (int g = 0; g < 8; g++) {
            int sc, m;
            scale_min_k4(g, scales, &sc, &m);
            imin += m * (bsums[2 * g] + bsums[2 * g + 1]);
            const uint8_t *qg = q + 32 * (g / 2);
            const int shift = 4 * (g % 2);
            for (int l = 0; l < 32; l++) {
                const int v = ((qg[l] >> shift) & 0xF) + ((qh[l] >> g) & 1) * 16;
                lane[l / 4] += sc * v * q8[32 * g + l];
            }
        }
        summs = fmaf(dmin, (float)imin, summs);
        for (int l = 0; l < 8; l++) acc[l] = fmaf(d, (float)lane[l], acc[l]);
    }
    return agora_lanes_reduce(acc) + summs;
}
void agora_kquant_rows_scalar(agora_weight_type type, const void *w, int k, int r0, int r1, const void *act, int ncols,
                 float *out, size_t out_stride) {
    const int nb = k / QK_K;
    const size_t rb = agora_kquant_row_bytes(type, k), cb = agora_act_k_bytes(k);
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * rb;
        for (int c = 0; c < ncols; c++) {
            const uint8_t *col = (const uint8_t *)act + (size_t)c * cb;
            out[(size_t)c * out_stride + r] = type == AGORA_WEIGHT_Q6_K   ? scalar_q6(row, col, nb)
                                              : type == AGORA_WEIGHT_Q5_K ? scalar_q5(row, col, nb)
                                              : type == AGORA_WEIGHT_Q4_K ? scalar_q4(row, col, nb)
                                              : q23_dot(type == AGORA_WEIGHT_Q3_K, row, col, nb);
        }
    }
}
