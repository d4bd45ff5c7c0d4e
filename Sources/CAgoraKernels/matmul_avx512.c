// AVX-512 VNNI path: vpdpbusd computes the u8 x s8 sums in one instruction. The float lanes stay eight wide
// per row so the accumulation order matches the scalar path exactly; decode (one column) packs two rows
// into each 512-bit register, whose halves are then two rows' eight-lane chains side by side.
#pragma STDC FP_CONTRACT OFF

#include <immintrin.h>

#include "kernels_internal.h"

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"))), \
                             apply_to = function)

static inline __m256i dot_u8s8_vnni(__m256i w, __m256i a) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), w, a);
}

#define AGORA_DOT_U8S8(w, a) dot_u8s8_vnni((w), (a))
#define AGORA_MATMUL_ROWS matmul_rows_tiles
#define AGORA_MATMUL_ROWS_LINKAGE static
#include "matmul_simd_body.h"

// MARK: - Decode: four rows against one column

/// Block b of rows row0 and row1 as unsigned bytes, row0's 32 below row1's: Q4_1 nibbles; Q5_0 and Q5_1
/// nibble | fifth bit << 4; Q8_0 w + 128. The signed types' bias comes back out through bias_sums.
static inline __attribute__((always_inline)) __m512i two_rows_unsigned(agora_weight_type type, const agora_wrow *row0,
                                                                       const agora_wrow *row1, int b) {
    if (type == AGORA_WEIGHT_Q8_0) {
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)(row0->qs + (size_t)b * 32));
        const __m256i w1 = _mm256_loadu_si256((const __m256i *)(row1->qs + (size_t)b * 32));
        return _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(w0), w1, 1), _mm512_set1_epi8((char)0x80));
    }
    const __m256i t = _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(row0->qs + (size_t)b * 16))),
        _mm_loadu_si128((const __m128i *)(row1->qs + (size_t)b * 16)), 1);
    const __m256i m15 = _mm256_set1_epi8(15);
    const __m256i lo = _mm256_and_si256(t, m15), hi = _mm256_and_si256(_mm256_srli_epi16(t, 4), m15);
    // Quadwords [lo0 lo0 hi0 hi0 lo1 lo1 hi1 hi1]: each row's elements 0..15 (low nibbles), then 16..31.
    __m512i u = _mm512_permutex2var_epi64(_mm512_castsi256_si512(lo), _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0),
                                          _mm512_castsi256_si512(hi));
    if (agora_has_fifth_bits(type)) {
        uint32_t h0, h1;
        memcpy(&h0, row0->qh + (size_t)b * 4, 4);
        memcpy(&h1, row1->qh + (size_t)b * 4, 4);
        u = _mm512_mask_add_epi8(u, _cvtu64_mask64((uint64_t)h0 | (uint64_t)h1 << 32), u, _mm512_set1_epi8(16));
    }
    return u;
}

/// What each lane's sum must start from so that the unsigned bytes give the signed values' sums exactly:
/// -bias x (the lane's four activations), bias 128 for Q8_0 and 16 for Q5_0, zero otherwise; in both halves.
static inline __attribute__((always_inline)) __m512i bias_sums(agora_weight_type type, __m256i a) {
    if (type != AGORA_WEIGHT_Q8_0 && type != AGORA_WEIGHT_Q5_0) return _mm512_setzero_si512();
    const __m256i bias = _mm256_set1_epi8(type == AGORA_WEIGHT_Q8_0 ? (char)0x80 : 16);
    const __m256i neg = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_dpbusd_epi32(_mm256_setzero_si256(), bias, a));
    return _mm512_broadcast_i64x4(neg);
}

/// lo in the low eight lanes, hi in the high eight (AVX512F's 64-bit insert: the 32-bit one needs DQ).
static inline __m512 halves_ps(__m256 lo, __m256 hi) {
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(lo)), _mm256_castps_pd(hi), 1));
}

/// Lanes j (low half) and 8 + j (high half) of a register of two rows' eight block scales: block j's
/// scale for each row in all eight of its lanes.
static const int scale_pick[8][16] __attribute__((aligned(64))) = {
    {0, 0, 0, 0, 0, 0, 0, 0, 8, 8, 8, 8, 8, 8, 8, 8},         {1, 1, 1, 1, 1, 1, 1, 1, 9, 9, 9, 9, 9, 9, 9, 9},
    {2, 2, 2, 2, 2, 2, 2, 2, 10, 10, 10, 10, 10, 10, 10, 10}, {3, 3, 3, 3, 3, 3, 3, 3, 11, 11, 11, 11, 11, 11, 11, 11},
    {4, 4, 4, 4, 4, 4, 4, 4, 12, 12, 12, 12, 12, 12, 12, 12}, {5, 5, 5, 5, 5, 5, 5, 5, 13, 13, 13, 13, 13, 13, 13, 13},
    {6, 6, 6, 6, 6, 6, 6, 6, 14, 14, 14, 14, 14, 14, 14, 14}, {7, 7, 7, 7, 7, 7, 7, 7, 15, 15, 15, 15, 15, 15, 15, 15},
};

/// Rows r..r+3 against one column: row_dot's chain for each row (acc = fma(dw[b] * da[b], lanes, acc),
/// and the offset chain summs = fma(m[b], sa[b], summs) for Q4_1 and Q5_1), rows r and r + 1 in the two
/// halves of one register and rows r + 2 and r + 3 in another. Each output equals row_dot's bit for bit.
static inline __attribute__((always_inline)) void four_rows_dot(agora_weight_type type, const agora_wrow *rows,
                                                                const agora_acol *col, int nb, float *out) {
    __m512 acc01 = _mm512_setzero_ps(), acc23 = _mm512_setzero_ps();
    float summs[4] = {0, 0, 0, 0};
    for (int b0 = 0; b0 < nb; b0 += 8) {
        const int whole = nb - b0 >= 8, n = whole ? 8 : nb - b0;
        __m512 dd01 = _mm512_setzero_ps(), dd23 = _mm512_setzero_ps();
        if (whole) {
            const __m256 da = _mm256_loadu_ps(col->d + b0);
            __m256 dd[4];
            for (int i = 0; i < 4; i++) {
                dd[i] = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(rows[i].d + b0))), da);
            }
            dd01 = halves_ps(dd[0], dd[1]);
            dd23 = halves_ps(dd[2], dd[3]);
        }
        for (int j = 0; j < n; j++) {
            const int b = b0 + j;
            __m512 s01, s23;
            if (whole) {
                const __m512i pick = _mm512_load_si512(scale_pick[j]);
                s01 = _mm512_permutexvar_ps(pick, dd01);
                s23 = _mm512_permutexvar_ps(pick, dd23);
            } else {
                float s[4];
                for (int i = 0; i < 4; i++) s[i] = _cvtsh_ss(rows[i].d[b]) * col->d[b];
                s01 = halves_ps(_mm256_set1_ps(s[0]), _mm256_set1_ps(s[1]));
                s23 = halves_ps(_mm256_set1_ps(s[2]), _mm256_set1_ps(s[3]));
            }
            const __m256i a = _mm256_loadu_si256((const __m256i *)(col->qs + b * AGORA_QK));
            const __m512i a2 = _mm512_broadcast_i64x4(a);
            const __m512i init = bias_sums(type, a);
            const __m512i p01 = _mm512_dpbusd_epi32(init, two_rows_unsigned(type, &rows[0], &rows[1], b), a2);
            const __m512i p23 = _mm512_dpbusd_epi32(init, two_rows_unsigned(type, &rows[2], &rows[3], b), a2);
            acc01 = _mm512_fmadd_ps(s01, _mm512_cvtepi32_ps(p01), acc01);
            acc23 = _mm512_fmadd_ps(s23, _mm512_cvtepi32_ps(p23), acc23);
            if (agora_has_offsets(type)) {
                for (int i = 0; i < 4; i++) summs[i] = fmaf(_cvtsh_ss(rows[i].m[b]), col->s[b], summs[i]);
            }
        }
    }
    float lanes[32];
    _mm512_storeu_ps(lanes, acc01);
    _mm512_storeu_ps(lanes + 16, acc23);
    for (int i = 0; i < 4; i++) {
        const float result = agora_lanes_reduce(lanes + 8 * i);
        out[i] = agora_has_offsets(type) ? result + summs[i] : result;
    }
}

static inline __attribute__((always_inline)) void decode_rows(agora_weight_type type, const void *w, int k, int r0,
                                                              int r1, const void *act, float *out) {
    const int nb = k / AGORA_QK;
    const size_t rb = agora_row_bytes(type, k);
    const agora_acol col = agora_act_col(act, agora_act_bytes(k), 0, k);
    const int ahead = agora_prefetch_distance(rb, 4);
    for (int r = r0; r < r1; r += 4) {
        if (r + ahead + 4 <= r1) agora_prefetch_rows(w, rb, r + ahead, 4);
        agora_wrow rows[4];
        for (int i = 0; i < 4; i++) rows[i] = agora_weight_row(type, w, rb, r + i, k);
        four_rows_dot(type, rows, &col, nb, out + r);
    }
}

void agora_matmul_rows_avx512(agora_weight_type type, const void *w, int k, int r0, int r1, const void *act,
                              int ncols, float *out, size_t out_stride) {
    const int quads = ncols == 1 ? (r1 - r0) / 4 * 4 : 0;
    if (quads > 0) {
        switch (type) {
        case AGORA_WEIGHT_Q4_1: decode_rows(AGORA_WEIGHT_Q4_1, w, k, r0, r0 + quads, act, out); break;
        case AGORA_WEIGHT_Q5_0: decode_rows(AGORA_WEIGHT_Q5_0, w, k, r0, r0 + quads, act, out); break;
        case AGORA_WEIGHT_Q5_1: decode_rows(AGORA_WEIGHT_Q5_1, w, k, r0, r0 + quads, act, out); break;
        case AGORA_WEIGHT_Q8_0: decode_rows(AGORA_WEIGHT_Q8_0, w, k, r0, r0 + quads, act, out); break;
        default: matmul_rows_tiles(type, w, k, r0, r1, act, ncols, out, out_stride); return;
        }
        if (r0 + quads < r1) matmul_rows_tiles(type, w, k, r0 + quads, r1, act, ncols, out, out_stride);
        return;
    }
    matmul_rows_tiles(type, w, k, r0, r1, act, ncols, out, out_stride);
}

#pragma clang attribute pop
