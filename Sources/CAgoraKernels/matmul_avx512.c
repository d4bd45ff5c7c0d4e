// AVX-512 VNNI path: vpdpbusd computes the u8 x s8 sums in one instruction. The float lanes stay eight wide
// per row so the accumulation order matches the scalar path exactly; the four-row tiles pack two rows into
// each 512-bit register, whose halves are then two rows' eight-lane chains side by side.
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

// MARK: - Four rows against up to four columns

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

/// The offsets m[b] of four rows for the n (up to eight) blocks from b0, as block j's four rows in lanes
/// 0..3 of mt[j] (a 4 x 8 transpose, so that each column's offset chains step as one vector per block).
static inline __attribute__((always_inline)) void offsets_by_block(const agora_wrow *rows, int b0, __mmask8 blocks,
                                                                   __m128 mt[8]) {
    __m256 m[4];
    for (int i = 0; i < 4; i++) m[i] = _mm256_cvtph_ps(_mm_maskz_loadu_epi16(blocks, rows[i].m + b0));
    const __m256 t0 = _mm256_unpacklo_ps(m[0], m[1]), t1 = _mm256_unpackhi_ps(m[0], m[1]);
    const __m256 t2 = _mm256_unpacklo_ps(m[2], m[3]), t3 = _mm256_unpackhi_ps(m[2], m[3]);
    const __m256 u[4] = {_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xEE),
                         _mm256_shuffle_ps(t1, t3, 0x44), _mm256_shuffle_ps(t1, t3, 0xEE)};
    for (int j = 0; j < 4; j++) {
        mt[j] = _mm256_castps256_ps128(u[j]);
        mt[4 + j] = _mm256_extractf128_ps(u[j], 1);
    }
}

/// Rows rows[0..3] against C (1 to 4) columns: for every row and column, row_dot's and tile's chain
/// (acc = fma(dw[b] * da[b], lanes, acc); for Q4_1 and Q5_1 also summs = fma(m[b], sa[b], summs)). Rows 0
/// and 1 share one register per column (the two halves are their two eight-lane chains), rows 2 and 3
/// another; each block's weights are unpacked once for every column, and each column's offset chains
/// step as one vector whose lane r is row r's fmaf. Every output equals the scalar path's bit for bit.
static inline __attribute__((always_inline)) void four_rows_dot(agora_weight_type type, const agora_wrow *rows,
                                                                const agora_acol *cols, int C, int nb, float *out,
                                                                size_t out_stride) {
    __m512 acc01[4], acc23[4];
    __m128 summs[4];
    for (int c = 0; c < C; c++) {
        acc01[c] = _mm512_setzero_ps();
        acc23[c] = _mm512_setzero_ps();
        summs[c] = _mm_setzero_ps();
    }
    for (int b0 = 0; b0 < nb; b0 += 8) {
        // Eight blocks' scales at a time (masked loads for the last few: the same products, lane by lane).
        const int n = nb - b0 < 8 ? nb - b0 : 8;
        const __mmask8 blocks = (__mmask8)((1u << n) - 1);
        __m512 dd01[4], dd23[4];
        __m128 mt[8];
        __m256 dw[4];
        for (int i = 0; i < 4; i++) dw[i] = _mm256_cvtph_ps(_mm_maskz_loadu_epi16(blocks, rows[i].d + b0));
        for (int c = 0; c < C; c++) {
            const __m256 da = _mm256_maskz_loadu_ps(blocks, cols[c].d + b0);
            dd01[c] = halves_ps(_mm256_mul_ps(dw[0], da), _mm256_mul_ps(dw[1], da));
            dd23[c] = halves_ps(_mm256_mul_ps(dw[2], da), _mm256_mul_ps(dw[3], da));
        }
        if (agora_has_offsets(type)) offsets_by_block(rows, b0, blocks, mt);
        for (int j = 0; j < n; j++) {
            const int b = b0 + j;
            const __m512i u01 = two_rows_unsigned(type, &rows[0], &rows[1], b);
            const __m512i u23 = two_rows_unsigned(type, &rows[2], &rows[3], b);
            const __m512i pick = _mm512_load_si512(scale_pick[j]);
            for (int c = 0; c < C; c++) {
                const __m512 s01 = _mm512_permutexvar_ps(pick, dd01[c]);
                const __m512 s23 = _mm512_permutexvar_ps(pick, dd23[c]);
                const __m256i a = _mm256_loadu_si256((const __m256i *)(cols[c].qs + b * AGORA_QK));
                const __m512i a2 = _mm512_broadcast_i64x4(a);
                const __m512i init = bias_sums(type, a);
                acc01[c] = _mm512_fmadd_ps(s01, _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(init, u01, a2)), acc01[c]);
                acc23[c] = _mm512_fmadd_ps(s23, _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(init, u23, a2)), acc23[c]);
                if (agora_has_offsets(type)) summs[c] = _mm_fmadd_ps(mt[j], _mm_set1_ps(cols[c].s[b]), summs[c]);
            }
        }
    }
    for (int c = 0; c < C; c++) {
        float lanes[32], offsets[4];
        _mm512_storeu_ps(lanes, acc01[c]);
        _mm512_storeu_ps(lanes + 16, acc23[c]);
        _mm_storeu_ps(offsets, summs[c]);
        for (int i = 0; i < 4; i++) {
            const float result = agora_lanes_reduce(lanes + 8 * i);
            out[(size_t)c * out_stride + i] = agora_has_offsets(type) ? result + offsets[i] : result;
        }
    }
}

/// Rows [r0, r1) (a multiple of four) against every column: sixteen rows at a time against each group of
/// up to four columns, so the rows stay in L1 while the groups pass; with one column (decode) the rows
/// stream from memory and are asked for ahead.
static inline __attribute__((always_inline)) void four_row_tiles(agora_weight_type type, const void *w, int k, int r0,
                                                                 int r1, const void *act, int ncols, float *out,
                                                                 size_t out_stride) {
    const int nb = k / AGORA_QK;
    const size_t rb = agora_row_bytes(type, k), cb = agora_act_bytes(k);
    const int ahead = agora_prefetch_distance(rb, 4);
    for (int rc = r0; rc < r1; rc += 16) {
        const int re = r1 - rc < 16 ? r1 : rc + 16;
        for (int c0 = 0; c0 < ncols; c0 += 4) {
            const int C = ncols - c0 < 4 ? ncols - c0 : 4;
            agora_acol cols[4];
            for (int c = 0; c < C; c++) cols[c] = agora_act_col(act, cb, c0 + c, k);
            for (int r = rc; r < re; r += 4) {
                if (ncols == 1 && r + ahead + 4 <= r1) agora_prefetch_rows(w, rb, r + ahead, 4);
                agora_wrow rows[4];
                for (int i = 0; i < 4; i++) rows[i] = agora_weight_row(type, w, rb, r + i, k);
                float *o = out + (size_t)c0 * out_stride + r;
                switch (C) {
                case 4: four_rows_dot(type, rows, cols, 4, nb, o, out_stride); break;
                case 3: four_rows_dot(type, rows, cols, 3, nb, o, out_stride); break;
                case 2: four_rows_dot(type, rows, cols, 2, nb, o, out_stride); break;
                default: four_rows_dot(type, rows, cols, 1, nb, o, out_stride); break;
                }
            }
        }
    }
}

/// Q5_0 with many columns: rows expanded to Q8_0 bytes a stack buffer at a time (the same values), then
/// four-row Q8_0 tiles over every column; unpacking the fifth bits for every group of four columns cost more.
/// Returns 0 when rows are too long for the buffer to hold four.
static int q5_0_expanded(const void *w, int k, int r0, int r1, const void *act, int ncols, float *out,
                         size_t out_stride) {
    const size_t rbx = agora_row_bytes(AGORA_WEIGHT_Q8_0, k);
    const int chunk = (int)(AGORA_EXPANSION_BYTES / rbx) / 4 * 4;
    if (chunk == 0) return 0;
    _Alignas(64) uint8_t expanded[AGORA_EXPANSION_BYTES];
    for (int rc = r0; rc < r1; rc += chunk) {
        const int n = r1 - rc < chunk ? r1 - rc : chunk, quads = n / 4 * 4;
        expand_rows(AGORA_WEIGHT_Q5_0, w, k, rc, n, expanded);
        if (quads > 0) four_row_tiles(AGORA_WEIGHT_Q8_0, expanded, k, 0, quads, act, ncols, out + rc, out_stride);
        if (quads < n) matmul_rows_tiles(AGORA_WEIGHT_Q8_0, expanded, k, quads, n, act, ncols, out + rc, out_stride);
    }
    return 1;
}

void agora_matmul_rows_avx512(agora_weight_type type, const void *w, int k, int r0, int r1, const void *act,
                              int ncols, float *out, size_t out_stride) {
    // Four-row tiles for Q4_1, Q5_0, Q5_1 and Q8_0 (Q5_0 with more than eight columns through Q8_0 rows);
    // the rows left over, and Q4_0, take the shared tiles.
    if (type == AGORA_WEIGHT_Q5_0 && ncols > 8 && q5_0_expanded(w, k, r0, r1, act, ncols, out, out_stride)) return;
    const int quads = (r1 - r0) / 4 * 4;
    switch (quads > 0 ? type : AGORA_WEIGHT_Q4_0) {
    case AGORA_WEIGHT_Q4_1: four_row_tiles(AGORA_WEIGHT_Q4_1, w, k, r0, r0 + quads, act, ncols, out, out_stride); break;
    case AGORA_WEIGHT_Q5_0: four_row_tiles(AGORA_WEIGHT_Q5_0, w, k, r0, r0 + quads, act, ncols, out, out_stride); break;
    case AGORA_WEIGHT_Q5_1: four_row_tiles(AGORA_WEIGHT_Q5_1, w, k, r0, r0 + quads, act, ncols, out, out_stride); break;
    case AGORA_WEIGHT_Q8_0: four_row_tiles(AGORA_WEIGHT_Q8_0, w, k, r0, r0 + quads, act, ncols, out, out_stride); break;
    default: matmul_rows_tiles(type, w, k, r0, r1, act, ncols, out, out_stride); return;
    }
    if (r0 + quads < r1) matmul_rows_tiles(type, w, k, r0 + quads, r1, act, ncols, out, out_stride);
}

#pragma clang attribute pop
