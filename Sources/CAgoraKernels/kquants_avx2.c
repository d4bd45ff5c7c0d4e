// K-quant products on the AVX2 path: the integers of kquants.c's scalar definition eight lanes at a time
// (exact, so only the float steps need care; they follow the order at the top of kquants.c).
#pragma STDC FP_CONTRACT OFF

#include <immintrin.h>

#include "kquants_internal.h"

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
    for (int i = 0; i < nb; i++, w += 176, a += AGORA_Q8K_BLOCK) {
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
                    const int8_t *q8 = (const int8_t *)(cols[c] + (size_t)i * AGORA_Q8K_BLOCK + 4);
                    const __m256i y = _mm256_loadu_si256((const __m256i *)(q8 + 128 * half + 32 * part));
                    sumi[c] = _mm256_add_epi32(sumi[c], _mm256_madd_epi16(_mm256_maddubs_epi16(q[part], y), scale));
                }
            }
        }
        for (int c = 0; c < C; c++) {
            const uint8_t *a = cols[c] + (size_t)i * AGORA_Q8K_BLOCK;
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
                const int8_t *q8 = (const int8_t *)(col[c] + (size_t)i * AGORA_Q8K_BLOCK + 4);
                const __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(q8 + 64 * j)));
                const __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q8 + 64 * j + 32)));
                sumv[c] = _mm256_add_epi32(sumv[c], _mm256_madd_epi16(plo, slo));
                sumv[c] = _mm256_add_epi32(sumv[c], _mm256_madd_epi16(phi, shi));
            }
        }
        float d8[4];
        for (int c = 0; c < 4; c++) {
            const uint8_t *a = col[c] + (size_t)i * AGORA_Q8K_BLOCK;
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
    for (int i = 0; i < nb; i++, w += 84, a += AGORA_Q8K_BLOCK) {
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
    for (int i = 0; i < nb; i++, w += 110, a += AGORA_Q8K_BLOCK) {
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

void agora_kquant_rows_avx2(agora_weight_type type, const void *w, int k, int r0, int r1, const void *act, int ncols,
                             float *out, size_t out_stride) {
    const int nb = k / QK_K;
    const size_t rb = agora_kquant_row_bytes(type, k), cb = agora_act_k_bytes(k);
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * rb;
        if (r + 1 < r1) agora_prefetch_rows(w, rb, r + 1, 1);
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
