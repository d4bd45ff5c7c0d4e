// K-quant products on the AVX-512 VNNI path. The integers are those of kquants.c's scalar definition, two
// 32-byte chunks per 512-bit register: vpmaddubsw forms the u8 x s8 pair sums and vpdpwssd multiplies them
// by the group scales and accumulates in one instruction (the AVX2 path needs vpmaddwd and vpaddd). Integer
// sums are exact, so the register layout is free as long as each int32 lane that reaches a float step holds
// the same integer as in the scalar definition: the upper half of a 512-bit sum is folded onto the lower
// half before that step. The float steps are the scalar definition's, lane by lane (see kquants.c's top).
//
// Tiles: decode multiplies one column by many rows, so four rows share each column's loads and their float
// chains run as the lanes of one vector; prefill's column quads take one row at a time, its superblock
// decoded once for the four columns.
#pragma STDC FP_CONTRACT OFF

#include <immintrin.h>

#include "kquants_internal.h"

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"))), \
                             apply_to = function)

#include "simd_avx2_sums.h"

/// Sixteen words of `a` (the lower 256 bits), then sixteen of `b`: per-half shift counts for vpsrlvw.
static inline __m512i halves_epi16(short a, short b) {
    return _mm512_inserti64x4(_mm512_set1_epi16(a), _mm256_set1_epi16(b), 1);
}

/// Word indices for vpermw that spread scales over a register. Row (first, span): word w takes scale
/// first + w / span. Spans of 16 serve Q4_K and Q5_K (eight groups of 32, two per register), spans of 8
/// the sixteen groups of 16 of Q2_K, Q3_K and Q6_K (four per register), span 2 the mins' pairs.
#define SPREAD_ROW(first, span)                                                                              \
    {first + 0 / span,  first + 1 / span,  first + 2 / span,  first + 3 / span,  first + 4 / span,           \
     first + 5 / span,  first + 6 / span,  first + 7 / span,  first + 8 / span,  first + 9 / span,           \
     first + 10 / span, first + 11 / span, first + 12 / span, first + 13 / span, first + 14 / span,          \
     first + 15 / span, first + 16 / span, first + 17 / span, first + 18 / span, first + 19 / span,          \
     first + 20 / span, first + 21 / span, first + 22 / span, first + 23 / span, first + 24 / span,          \
     first + 25 / span, first + 26 / span, first + 27 / span, first + 28 / span, first + 29 / span,          \
     first + 30 / span, first + 31 / span}
static const short pair_scale_index[4][32] __attribute__((aligned(64))) = {
    SPREAD_ROW(0, 16), SPREAD_ROW(2, 16), SPREAD_ROW(4, 16), SPREAD_ROW(6, 16)};
static const short quad_scale_index[4][32] __attribute__((aligned(64))) = {
    SPREAD_ROW(0, 8), SPREAD_ROW(4, 8), SPREAD_ROW(8, 8), SPREAD_ROW(12, 8)};
static const short min_pair_index[32] __attribute__((aligned(64))) = SPREAD_ROW(8, 2);

static inline __m512i index_row(const short *row) { return _mm512_load_si512(row); }

/// The exact lane-wise sum of a 512-bit register's two halves: lane l then holds what lane l holds on the
/// 256-bit paths.
static inline __m256i fold_halves(__m512i s) {
    return _mm256_add_epi32(_mm512_castsi512_si256(s), _mm512_extracti64x4_epi64(s, 1));
}

/// Q4_K's and Q5_K's eight six-bit scales (words 0..7) and mins (words 8..15) of one superblock, from the
/// 12 packed bytes at `packed`, in registers (ggml's kmask steps, dword by dword; the values of
/// scale_min_k4). Reads 16 bytes: the block continues past the scales.
static inline __m256i q4k_scales_mins(const uint8_t *packed) {
    const __m128i x = _mm_loadu_si128((const __m128i *)packed);
    // Dwords: scales 0..3, scales 4..7, mins 0..3, mins 4..7.
    const __m128i low = _mm_and_si128(_mm_srlv_epi32(_mm_shuffle_epi32(x, _MM_SHUFFLE(2, 1, 2, 0)), _mm_set_epi32(4, 0, 0, 0)),
                                      _mm_set_epi32(0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f));
    const __m128i top = _mm_and_si128(_mm_srli_epi32(_mm_shuffle_epi32(x, _MM_SHUFFLE(1, 1, 0, 0)), 6),
                                      _mm_set_epi32(0x03030303, 0, 0x03030303, 0));
    return _mm256_cvtepu8_epi16(_mm_or_si128(low, _mm_slli_epi32(top, 4)));
}

/// Q3_K's sixteen six-bit scales as words, unbiased (-32..31), from 12 packed bytes (ggml's kmask steps;
/// the values of q3_scales). Reads the 16 bytes that end with them, never past the block.
static inline __m256i q3k_scales(const uint8_t *packed) {
    const __m128i x = _mm_srli_si128(_mm_loadu_si128((const __m128i *)(packed - 4)), 4);
    const __m128i low = _mm_and_si128(_mm_srlv_epi32(_mm_shuffle_epi32(x, _MM_SHUFFLE(1, 0, 1, 0)), _mm_set_epi32(4, 4, 0, 0)),
                                      _mm_set1_epi32(0x0f0f0f0f));
    const __m128i high = _mm_and_si128(_mm_srlv_epi32(_mm_shuffle_epi32(x, _MM_SHUFFLE(2, 2, 2, 2)), _mm_set_epi32(6, 4, 2, 0)),
                                       _mm_set1_epi32(0x03030303));
    const __m128i bytes = _mm_or_si128(low, _mm_slli_epi32(high, 4));
    return _mm256_sub_epi16(_mm256_cvtepu8_epi16(bytes), _mm256_set1_epi16(32));
}

/// Column c's Q8_K block i.
static inline const uint8_t *q8k_block(const uint8_t *col, int i) { return col + (size_t)i * AGORA_Q8K_BLOCK; }

static inline float q8k_scale(const uint8_t *block) {
    float d;
    memcpy(&d, block, 4);
    return d;
}

static inline float f16_at(const uint8_t *p) { return _cvtsh_ss(load_u16(p)); }

/// The sum over registers j of vpdpwssd(vpmaddubsw(v[j], y_j), sc[j]), y_j being bytes 64j..64j+63 of the
/// Q8_K block a's values: four registers of weights against one column, exact.
static inline __m512i scaled_dot4(const __m512i v[4], const __m512i sc[4], const uint8_t *a) {
    __m512i s = _mm512_setzero_si512();
    for (int j = 0; j < 4; j++) s = _mm512_dpwssd_epi32(s, _mm512_maddubs_epi16(v[j], _mm512_loadu_si512(a + 4 + 64 * j)), sc[j]);
    return s;
}

// Each tile takes R rows and C columns (R * C <= 4) and writes res[r * C + c]; the constant R and C of the
// wrappers below unroll the loops.

/// Q4_K: per superblock one exact isum (scale x dot over the eight 32-element groups) and one imin; pair
/// p = r * C + c is lane p of the two 4-wide float chains, lane p's fma being exactly the scalar fmaf.
static inline __attribute__((always_inline)) void q4k_tile(const uint8_t *const *rows, int R,
                                                         const uint8_t *const *cols, int C, int nb, float *res) {
    const __m512i m15 = _mm512_set1_epi8(15);
    const __m512i nibble_shift = halves_epi16(0, 4);
    const __m512i min_idx = index_row(min_pair_index);
    const int P = R * C;
    __m128 acc = _mm_setzero_ps(), accmin = _mm_setzero_ps();
    for (int i = 0; i < nb; i++) {
        __m256i sums[4], mins[4];
        float d4[4], dmin[4], d8[4];
        for (int r = 0; r < R; r++) {
            const uint8_t *w = rows[r] + (size_t)i * 144;
            // Words 0..7: the groups' scales; 8..15: their mins.
            const __m512i s16 = _mm512_castsi256_si512(q4k_scales_mins(w + 4));
            const __m256i min_pairs = _mm512_castsi512_si256(_mm512_permutexvar_epi16(min_idx, s16));
            __m512i v[4], sc[4];
            for (int j = 0; j < 4; j++) {
                // Chunk j's 32 bytes in both halves: low nibbles (group 2j) below, high (group 2j + 1) above.
                const __m512i x = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(w + 16 + 32 * j)));
                v[j] = _mm512_and_si512(_mm512_srlv_epi16(x, nibble_shift), m15);
                sc[j] = _mm512_permutexvar_epi16(index_row(pair_scale_index[j]), s16);
            }
            for (int c = 0; c < C; c++) {
                const uint8_t *a = q8k_block(cols[c], i);
                const __m512i s = scaled_dot4(v, sc, a);
                const int p = r * C + c;
                sums[p] = fold_halves(s);
                mins[p] = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(a + 260)), min_pairs);
                d4[p] = f16_at(w);
                dmin[p] = f16_at(w + 2);
                d8[p] = q8k_scale(a);
            }
        }
        for (int p = P; p < 4; p++) {
            sums[p] = sums[0];
            mins[p] = mins[0];
            d4[p] = d4[0];
            dmin[p] = dmin[0];
            d8[p] = d8[0];
        }
        const __m128i isum = agora_hsum4_i32(sums[0], sums[1], sums[2], sums[3]);
        const __m128i imin = agora_hsum4_i32(mins[0], mins[1], mins[2], mins[3]);
        const __m128 d8v = _mm_loadu_ps(d8);
        acc = _mm_fmadd_ps(_mm_cvtepi32_ps(isum), _mm_mul_ps(_mm_loadu_ps(d4), d8v), acc);
        accmin = _mm_fmadd_ps(_mm_cvtepi32_ps(imin), _mm_mul_ps(_mm_loadu_ps(dmin), d8v), accmin);
    }
    float out[4];
    _mm_storeu_ps(out, _mm_sub_ps(acc, accmin));
    for (int p = 0; p < P; p++) res[p] = out[p];
}

/// Eight float lanes per pair, reduced in the fixed order at the end.
static inline void reduce_pairs(const __m256 *acc, int P, float *res) {
    for (int p = 0; p < P; p++) {
        float lanes[8];
        _mm256_storeu_ps(lanes, acc[p]);
        res[p] = agora_lanes_reduce(lanes);
    }
}

/// Q6_K: register t (0..3) holds elements 64t..64t+63 (half t / 2, parts 2(t % 2) and 2(t % 2) + 1), whose
/// groups are 4t..4t+3; lane l of the folded sum is the scalar definition's lane l before its offset.
static inline __attribute__((always_inline)) void q6k_tile(const uint8_t *const *rows, int R,
                                                         const uint8_t *const *cols, int C, int nb, float *res) {
    const __m512i m15 = _mm512_set1_epi8(15), m3 = _mm512_set1_epi8(3);
    const __m512i high_shift[2] = {halves_epi16(0, 2), halves_epi16(4, 6)};
    const int P = R * C;
    __m256 acc[4];
    for (int p = 0; p < P; p++) acc[p] = _mm256_setzero_ps();
    for (int i = 0; i < nb; i++) {
        for (int r = 0; r < R; r++) {
            const uint8_t *w = rows[r] + (size_t)i * 210;
            const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 192)));
            const float d6 = f16_at(w + 208);
            __m512i v[4], sc[4];
            for (int h = 0; h < 2; h++) {
                const __m512i b = _mm512_loadu_si512(w + 64 * h);
                const __m512i hb = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(w + 128 + 32 * h)));
                const __m512i hi0 = _mm512_and_si512(_mm512_srlv_epi16(hb, high_shift[0]), m3);
                const __m512i hi1 = _mm512_and_si512(_mm512_srlv_epi16(hb, high_shift[1]), m3);
                v[2 * h] = _mm512_or_si512(_mm512_and_si512(b, m15), _mm512_slli_epi16(hi0, 4));
                v[2 * h + 1] =
                    _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(b, 4), m15), _mm512_slli_epi16(hi1, 4));
            }
            for (int t = 0; t < 4; t++) sc[t] = _mm512_permutexvar_epi16(index_row(quad_scale_index[t]), _mm512_castsi256_si512(sc16));
            for (int c = 0; c < C; c++) {
                const uint8_t *a = q8k_block(cols[c], i);
                const __m512i s = scaled_dot4(v, sc, a);
                const __m256i offset =
                    _mm256_slli_epi32(_mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(a + 260)), sc16), 5);
                const __m256i total = _mm256_sub_epi32(fold_halves(s), offset);
                const int p = r * C + c;
                acc[p] = _mm256_fmadd_ps(_mm256_set1_ps(q8k_scale(a) * d6), _mm256_cvtepi32_ps(total), acc[p]);
            }
        }
    }
    reduce_pairs(acc, P, res);
}

/// Q5_K: register j holds chunk j's 32 bytes twice (groups 2j and 2j + 1) with their fifth bits; the
/// mins' chain is the scalar summs.
static inline __attribute__((always_inline)) void q5k_tile(const uint8_t *const *rows, int R,
                                                         const uint8_t *const *cols, int C, int nb, float *res) {
    const __m512i m15 = _mm512_set1_epi8(15), one = _mm512_set1_epi8(1);
    const __m512i nibble_shift = halves_epi16(0, 4);
    const __m512i fifth_shift[4] = {halves_epi16(0, 1), halves_epi16(2, 3), halves_epi16(4, 5), halves_epi16(6, 7)};
    const __m512i min_idx = index_row(min_pair_index);
    const int P = R * C;
    __m256 acc[4];
    __m128 summs = _mm_setzero_ps();
    for (int p = 0; p < P; p++) acc[p] = _mm256_setzero_ps();
    for (int i = 0; i < nb; i++) {
        __m256i mins[4];
        float dmin[4];
        for (int r = 0; r < R; r++) {
            const uint8_t *w = rows[r] + (size_t)i * 176;
            const __m512i s16 = _mm512_castsi256_si512(q4k_scales_mins(w + 4));
            const __m256i min_pairs = _mm512_castsi512_si256(_mm512_permutexvar_epi16(min_idx, s16));
            const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(w + 16)));
            const float d5 = f16_at(w), dmin5 = f16_at(w + 2);
            __m512i v[4], sc[4];
            for (int j = 0; j < 4; j++) {
                const __m512i x = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(w + 48 + 32 * j)));
                const __m512i nib = _mm512_and_si512(_mm512_srlv_epi16(x, nibble_shift), m15);
                const __m512i fifth = _mm512_and_si512(_mm512_srlv_epi16(qh, fifth_shift[j]), one);
                v[j] = _mm512_or_si512(nib, _mm512_slli_epi16(fifth, 4));
                sc[j] = _mm512_permutexvar_epi16(index_row(pair_scale_index[j]), s16);
            }
            for (int c = 0; c < C; c++) {
                const uint8_t *a = q8k_block(cols[c], i);
                const __m512i s = scaled_dot4(v, sc, a);
                const float d8 = q8k_scale(a);
                const int p = r * C + c;
                mins[p] = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(a + 260)), min_pairs);
                dmin[p] = -d8 * dmin5;
                acc[p] = _mm256_fmadd_ps(_mm256_set1_ps(d8 * d5), _mm256_cvtepi32_ps(fold_halves(s)), acc[p]);
            }
        }
        // The mins' chains, pair p in lane p: lane p's fma is exactly the scalar fmaf.
        for (int p = P; p < 4; p++) {
            mins[p] = mins[0];
            dmin[p] = dmin[0];
        }
        const __m128i imin = agora_hsum4_i32(mins[0], mins[1], mins[2], mins[3]);
        summs = _mm_fmadd_ps(_mm_loadu_ps(dmin), _mm_cvtepi32_ps(imin), summs);
    }
    float tail[4];
    _mm_storeu_ps(tail, summs);
    reduce_pairs(acc, P, res);
    for (int p = 0; p < P; p++) res[p] += tail[p];
}

/// Q2_K and Q3_K: register t holds elements 64t..64t+63 (h = t / 2; p = 2(t % 2) below, 2(t % 2) + 1
/// above), groups 4t..4t+3. Q3_K's value is stored - 4, so each pair sum is maddubs(stored) - maddubs(4)
/// (exact); Q2_K's mins go into the lanes first, as in the scalar definition.
static inline __attribute__((always_inline)) void q23k_tile(int three, const uint8_t *const *rows, int R,
                                                          const uint8_t *const *cols, int C, int nb, float *res) {
    const __m512i m3 = _mm512_set1_epi8(3), one = _mm512_set1_epi8(1), four = _mm512_set1_epi8(4);
    const __m512i low_shift[2] = {halves_epi16(0, 2), halves_epi16(4, 6)};
    const size_t bb = three ? 110 : 84;
    const int P = R * C;
    __m256 acc[4];
    for (int p = 0; p < P; p++) acc[p] = _mm256_setzero_ps();
    for (int i = 0; i < nb; i++) {
        // Q3_K's correction maddubs(4, y) depends on the column only: four rows share it.
        __m512i fours[4];
        if (three && C == 1) {
            for (int t = 0; t < 4; t++) fours[t] = _mm512_maddubs_epi16(four, _mm512_loadu_si512(q8k_block(cols[0], i) + 4 + 64 * t));
        }
        for (int r = 0; r < R; r++) {
            const uint8_t *w = rows[r] + (size_t)i * bb;
            __m256i sc16, mins16 = _mm256_setzero_si256();
            float d, dmin = 0;
            if (three) {
                sc16 = q3k_scales(w + 96);
                d = f16_at(w + 108);
            } else {
                const __m128i packed = _mm_loadu_si128((const __m128i *)w);
                sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(packed, _mm_set1_epi8(15)));
                mins16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(15)));
                d = f16_at(w + 80);
                dmin = f16_at(w + 82);
            }
            const uint8_t *bits = w + (three ? 32 : 16);
            const __m512i hmask =
                three ? _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)w)) : _mm512_setzero_si512();
            __m512i v[4], sc[4];
            for (int t = 0; t < 4; t++) {
                const int h = t / 2, p2 = t % 2;
                const __m512i x = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(bits + 32 * h)));
                v[t] = _mm512_and_si512(_mm512_srlv_epi16(x, low_shift[p2]), m3);
                if (three) {
                    const __m512i high_shift = halves_epi16((short)(4 * h + 2 * p2), (short)(4 * h + 2 * p2 + 1));
                    const __m512i high = _mm512_and_si512(_mm512_srlv_epi16(hmask, high_shift), one);
                    v[t] = _mm512_or_si512(v[t], _mm512_slli_epi16(high, 2));
                }
                sc[t] = _mm512_permutexvar_epi16(index_row(quad_scale_index[t]), _mm512_castsi256_si512(sc16));
            }
            for (int c = 0; c < C; c++) {
                const uint8_t *a = q8k_block(cols[c], i);
                const float d8 = q8k_scale(a);
                const int p = r * C + c;
                if (!three) {
                    const __m256i prod = _mm256_madd_epi16(mins16, _mm256_loadu_si256((const __m256i *)(a + 260)));
                    acc[p] = _mm256_fmadd_ps(_mm256_set1_ps(-d8 * dmin), _mm256_cvtepi32_ps(prod), acc[p]);
                }
                __m512i s = _mm512_setzero_si512();
                for (int t = 0; t < 4; t++) {
                    const __m512i y = _mm512_loadu_si512(a + 4 + 64 * t);
                    __m512i p16 = _mm512_maddubs_epi16(v[t], y);
                    if (three) p16 = _mm512_sub_epi16(p16, C == 1 ? fours[t] : _mm512_maddubs_epi16(four, y));
                    s = _mm512_dpwssd_epi32(s, p16, sc[t]);
                }
                acc[p] = _mm256_fmadd_ps(_mm256_set1_ps(d8 * d), _mm256_cvtepi32_ps(fold_halves(s)), acc[p]);
            }
        }
    }
    reduce_pairs(acc, P, res);
}

typedef void (*kquant_tile)(const uint8_t *const *rows, const uint8_t *const *cols, int nb, float *res);

#define KQ_TILES(NAME, CALL)                                                                                 \
    static void NAME##_4x1(const uint8_t *const *rows, const uint8_t *const *cols, int nb, float *res) {     \
        CALL(rows, 4, cols, 1, nb, res);                                                                     \
    }                                                                                                        \
    static void NAME##_1x4(const uint8_t *const *rows, const uint8_t *const *cols, int nb, float *res) {     \
        CALL(rows, 1, cols, 4, nb, res);                                                                     \
    }                                                                                                        \
    static void NAME##_1x1(const uint8_t *const *rows, const uint8_t *const *cols, int nb, float *res) {     \
        CALL(rows, 1, cols, 1, nb, res);                                                                     \
    }

#define Q2K_CALL(rows, R, cols, C, nb, res) q23k_tile(0, rows, R, cols, C, nb, res)
#define Q3K_CALL(rows, R, cols, C, nb, res) q23k_tile(1, rows, R, cols, C, nb, res)
KQ_TILES(q4k, q4k_tile)
KQ_TILES(q5k, q5k_tile)
KQ_TILES(q6k, q6k_tile)
KQ_TILES(q2k, Q2K_CALL)
KQ_TILES(q3k, Q3K_CALL)

void agora_kquant_rows_avx512(agora_weight_type type, const void *w, int k, int r0, int r1, const void *act,
                              int ncols, float *out, size_t out_stride) {
    kquant_tile t4x1, t1x4, t1x1;
    switch (type) {
    case AGORA_WEIGHT_Q4_K: t4x1 = q4k_4x1, t1x4 = q4k_1x4, t1x1 = q4k_1x1; break;
    case AGORA_WEIGHT_Q5_K: t4x1 = q5k_4x1, t1x4 = q5k_1x4, t1x1 = q5k_1x1; break;
    case AGORA_WEIGHT_Q6_K: t4x1 = q6k_4x1, t1x4 = q6k_1x4, t1x1 = q6k_1x1; break;
    case AGORA_WEIGHT_Q3_K: t4x1 = q3k_4x1, t1x4 = q3k_1x4, t1x1 = q3k_1x1; break;
    default: t4x1 = q2k_4x1, t1x4 = q2k_1x4, t1x1 = q2k_1x1; break;
    }
    const int nb = k / QK_K;
    const size_t rb = agora_kquant_row_bytes(type, k), cb = agora_act_k_bytes(k);
    const int quads = ncols / 4 * 4;
    const int ahead = agora_prefetch_distance(rb, 4);
    for (int r = r0; r < r1; r += 4) {
        const int R = r1 - r < 4 ? r1 - r : 4;
        const uint8_t *rows[4];
        for (int j = 0; j < R; j++) rows[j] = (const uint8_t *)w + (size_t)(r + j) * rb;
        if (r + ahead + 4 <= r1) agora_prefetch_rows(w, rb, r + ahead, 4);
        // Whole column quads: one row at a time against four columns.
        for (int c0 = 0; c0 < quads; c0 += 4) {
            const uint8_t *cols[4];
            for (int c = 0; c < 4; c++) cols[c] = (const uint8_t *)act + (size_t)(c0 + c) * cb;
            for (int j = 0; j < R; j++) {
                float res[4];
                t1x4(&rows[j], cols, nb, res);
                for (int c = 0; c < 4; c++) out[(size_t)(c0 + c) * out_stride + r + j] = res[c];
            }
        }
        // The columns left: four rows at a time against one column.
        for (int c = quads; c < ncols; c++) {
            const uint8_t *col = (const uint8_t *)act + (size_t)c * cb;
            float res[4];
            if (R == 4) {
                t4x1(rows, &col, nb, res);
            } else {
                for (int j = 0; j < R; j++) t1x1(&rows[j], &col, nb, &res[j]);
            }
            for (int j = 0; j < R; j++) out[(size_t)c * out_stride + r + j] = res[j];
        }
    }
}

#pragma clang attribute pop
