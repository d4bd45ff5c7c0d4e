// Shared body of the SIMD paths, included by matmul_avx2.c and matmul_avx512.c after each one defines
// AGORA_DOT_U8S8(w, a): eight int32 partial sums of (unsigned bytes w) x (signed bytes a), and
// AGORA_MATMUL_ROWS: the function's name (AGORA_MATMUL_ROWS_LINKAGE, if defined, goes before it). The lane
// sums are exact integers; the float part is the scalar path's per-lane FMA chain, and the lanes are
// combined with agora_lanes_reduce: bit-identical to the scalar path.

#include "simd_avx2_sums.h"

static inline __m256i unpack_nibbles(const uint8_t *p) {
    const __m128i x = _mm_loadu_si128((const __m128i *)p);
    const __m128i m = _mm_set1_epi8(0x0f);
    const __m128i lo = _mm_and_si128(x, m);
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(x, 4), m);
    return _mm256_set_m128i(hi, lo);
}

/// Eight half-precision scales, converted exactly (F16C).
static inline __m256 load_h8(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

/// The signed-or-unsigned weight bytes of block b of a row, ready for AGORA_DOT_U8S8: Q4_1 nibbles are
/// used as unsigned bytes directly; Q8_0 and Q4_0 (nibble - 8) weights enter as |w| against the
/// activations carrying w's sign.
/// 0xFF in byte j where bit j of x is set, else 0 (ggml's bytes_from_bits_32).
static inline __m256i bytes_from_bits(uint32_t x) {
    const __m256i shuffle = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
    const __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x), shuffle);
    const __m256i others = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe);  // every bit but bit j % 8 in byte j
    return _mm256_cmpeq_epi8(_mm256_or_si256(bytes, others), _mm256_set1_epi64x(-1));
}

static inline __attribute__((always_inline)) __m256i load_weights(agora_weight_type type, const agora_wrow *row,
                                                                  int b) {
    if (agora_has_fifth_bits(type)) {
        uint32_t qh;
        memcpy(&qh, row->qh + (size_t)b * 4, 4);
        const __m256i bits = bytes_from_bits(qh);
        // Q5_1: nibble | 16 where the fifth bit is set. Q5_0: nibble | 0xF0 where it is clear is the
        // signed byte nibble - 16, and nibble alone is (nibble | 16) - 16.
        const __m256i high = type == AGORA_WEIGHT_Q5_1 ? _mm256_and_si256(bits, _mm256_set1_epi8(16))
                                                       : _mm256_andnot_si256(bits, _mm256_set1_epi8((char)0xF0));
        return _mm256_or_si256(unpack_nibbles(row->qs + (size_t)b * 16), high);
    }
    if (agora_has_byte_weights(type)) return _mm256_loadu_si256((const __m256i *)(row->qs + (size_t)b * 32));
    const __m256i w = unpack_nibbles(row->qs + (size_t)b * 16);
    return type == AGORA_WEIGHT_Q4_0 ? _mm256_sub_epi8(w, _mm256_set1_epi8(8)) : w;
}

/// Blocks per stretch of a tile's precomputed scales (a stack array of 4 x this many floats).
#define AGORA_TILE_BLOCKS 64

/// The column side of Q4_0 tiles for one group of up to four columns and one stretch of blocks: per block,
/// the columns' scales da and offsets 8 * sum(a), side by side (columns past C hold zeros).
typedef struct {
    float d[AGORA_TILE_BLOCKS][4];
    int32_t offsets[AGORA_TILE_BLOCKS][4];
} agora_q4_0_cols;

/// Q4_0's tile: rows row0 and row1 (the same row when only one is left) x C (up to 4) columns, over
/// blocks [b0, b1). Each output is the single chain acc = fma(dw[b] * da[b], (float)total[b], acc) of
/// llama.cpp's repacked Q4_0 kernel, and the eight chains run as the eight lanes of one vector FMA
/// (lane 4 * row + c is exactly that output's fmaf). The chains start from `out` when b0 > 0 (a float
/// carried through memory unchanged). The block totals come from the unsigned nibbles:
/// sum(q * a) - 8 * sum(a) = sum((q - 8) * a) exactly, with no sign tricks per pair.
static inline __attribute__((always_inline)) void tile_q4_0(const agora_wrow *row0, const agora_wrow *row1,
                                                            const agora_acol *cols, const agora_q4_0_cols *side,
                                                            int C, int b0, int b1, float *out, size_t out_stride,
                                                            int r, int R) {
    float acc0[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    if (b0 > 0) {
        for (int c = 0; c < C; c++) {
            acc0[c] = out[(size_t)c * out_stride + r];
            if (R == 2) acc0[4 + c] = out[(size_t)c * out_stride + r + 1];
        }
    }
    __m256 acc = _mm256_loadu_ps(acc0);
    float dw[2][AGORA_TILE_BLOCKS];
    for (int b = b0; b < b1; b++) {
        dw[0][b - b0] = _cvtsh_ss(row0->d[b]);
        dw[1][b - b0] = _cvtsh_ss(row1->d[b]);
    }
    for (int b = b0; b < b1; b++) {
        const __m256i q0 = unpack_nibbles(row0->qs + (size_t)b * 16);
        const __m256i q1 = unpack_nibbles(row1->qs + (size_t)b * 16);
        __m256i p0[4], p1[4];
        for (int c = 0; c < 4; c++) {
            const int cc = c < C ? c : 0;  // columns past C repeat column 0; their lanes are dropped
            const __m256i a = _mm256_loadu_si256((const __m256i *)(cols[cc].qs + b * AGORA_QK));
            p0[c] = AGORA_DOT_U8S8(q0, a);
            p1[c] = AGORA_DOT_U8S8(q1, a);
        }
        const __m256i s0 = agora_hsum4_halves(p0[0], p0[1], p0[2], p0[3]);
        const __m256i s1 = agora_hsum4_halves(p1[0], p1[1], p1[2], p1[3]);
        const __m256i sums = _mm256_add_epi32(_mm256_permute2x128_si256(s0, s1, 0x20),
                                              _mm256_permute2x128_si256(s0, s1, 0x31));
        const __m128i off = _mm_loadu_si128((const __m128i *)side->offsets[b - b0]);
        const __m256i total = _mm256_sub_epi32(sums, _mm256_set_m128i(off, off));
        const __m128 da = _mm_loadu_ps(side->d[b - b0]);
        const __m256 scale = _mm256_set_m128(_mm_mul_ps(_mm_broadcast_ss(&dw[1][b - b0]), da),
                                             _mm_mul_ps(_mm_broadcast_ss(&dw[0][b - b0]), da));
        acc = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(total), acc);
    }
    _mm256_storeu_ps(acc0, acc);
    for (int c = 0; c < C; c++) {
        out[(size_t)c * out_stride + r] = acc0[c];
        if (R == 2) out[(size_t)c * out_stride + r + 1] = acc0[4 + c];
    }
}

/// Q4_0 products with two or more columns: per group of four columns and stretch of blocks, the column
/// side once, then the rows two by two.
static inline __attribute__((always_inline)) void matmul_q4_0_cols(const void *w, int k, int r0, int r1,
                                                                   const void *act, int ncols, float *out,
                                                                   size_t out_stride) {
    const int nb = k / AGORA_QK;
    const size_t rb = agora_row_bytes(AGORA_WEIGHT_Q4_0, k);
    const size_t cb = agora_act_bytes(k);
    for (int c0 = 0; c0 < ncols; c0 += 4) {
        const int nc = ncols - c0 < 4 ? ncols - c0 : 4;
        agora_acol cols[4];
        for (int c = 0; c < nc; c++) cols[c] = agora_act_col(act, cb, c0 + c, k);
        float *o = out + (size_t)c0 * out_stride;
        for (int b0 = 0; b0 < nb; b0 += AGORA_TILE_BLOCKS) {
            const int b1 = nb - b0 < AGORA_TILE_BLOCKS ? nb : b0 + AGORA_TILE_BLOCKS;
            agora_q4_0_cols side;
            for (int b = b0; b < b1; b++) {
                for (int c = 0; c < 4; c++) {
                    side.d[b - b0][c] = c < nc ? cols[c].d[b] : 0.0f;
                    side.offsets[b - b0][c] = c < nc ? 8 * cols[c].isum[b] : 0;
                }
            }
            for (int r = r0; r < r1; r += 2) {
                const int R = r + 1 < r1 ? 2 : 1;
                const agora_wrow row0 = agora_weight_row(AGORA_WEIGHT_Q4_0, w, rb, r, k);
                const agora_wrow row1 = agora_weight_row(AGORA_WEIGHT_Q4_0, w, rb, r + R - 1, k);
                switch (nc) {
                case 4: tile_q4_0(&row0, &row1, cols, &side, 4, b0, b1, o, out_stride, r, R); break;
                case 3: tile_q4_0(&row0, &row1, cols, &side, 3, b0, b1, o, out_stride, r, R); break;
                case 2: tile_q4_0(&row0, &row1, cols, &side, 2, b0, b1, o, out_stride, r, R); break;
                default: tile_q4_0(&row0, &row1, cols, &side, 1, b0, b1, o, out_stride, r, R); break;
                }
            }
        }
    }
}

/// One row x C (up to 4) columns of outputs for Q4_1, Q5_1 and Q8_0's odd last row: C independent FMA
/// chains, so the per-block chain latency hides. Per block b and output: the eight lane sums, converted,
/// accumulated with one FMA by dw[b] * da[b], and for Q4_1 / Q5_1 the offset chain
/// summs = fma(m[b], sa[b], summs): the scalar path's order exactly.
static inline __attribute__((always_inline)) void tile(agora_weight_type type, const agora_wrow *row,
                                                       const agora_acol *cols, int C, int nb, float *out,
                                                       size_t out_stride, int r) {
    __m256 acc[4];
    float summs[4];
    for (int c = 0; c < C; c++) {
        acc[c] = _mm256_setzero_ps();
        summs[c] = 0.0f;
    }
    for (int b0 = 0; b0 < nb; b0 += AGORA_TILE_BLOCKS) {
        const int b1 = nb - b0 < AGORA_TILE_BLOCKS ? nb : b0 + AGORA_TILE_BLOCKS;
        // The scales dw[b] * da_c[b] (and Q4_1's offsets m[b]) of this stretch of blocks, computed
        // before the block loop: in the loop each pair's scale is then a broadcast load, which costs
        // no vector-pipe work (picking lanes out of registers cost a shuffle per pair, a third of the
        // loop's time for Q4_1).
        float scales[4][AGORA_TILE_BLOCKS];
        float offsets[AGORA_TILE_BLOCKS];
        int b = b0;
        for (; b + 8 <= b1; b += 8) {
            const __m256 dw = load_h8(row->d + b);
            for (int c = 0; c < C; c++) {
                _mm256_storeu_ps(&scales[c][b - b0], _mm256_mul_ps(dw, _mm256_loadu_ps(cols[c].d + b)));
            }
            if (agora_has_offsets(type)) {
                _mm256_storeu_ps(&offsets[b - b0], load_h8(row->m + b));
            }
        }
        for (; b < b1; b++) {
            const float dw = _cvtsh_ss(row->d[b]);
            for (int c = 0; c < C; c++) scales[c][b - b0] = dw * cols[c].d[b];
            if (agora_has_offsets(type)) offsets[b - b0] = _cvtsh_ss(row->m[b]);
        }
        for (b = b0; b < b1; b++) {
            const __m256i w = load_weights(type, row, b);
            const __m256i wabs = agora_has_offsets(type) ? w : _mm256_sign_epi8(w, w);
            for (int c = 0; c < C; c++) {
                const __m256i a = _mm256_loadu_si256((const __m256i *)(cols[c].qs + b * AGORA_QK));
                const __m256i p =
                    agora_has_offsets(type) ? AGORA_DOT_U8S8(wabs, a) : AGORA_DOT_U8S8(wabs, _mm256_sign_epi8(a, w));
                acc[c] = _mm256_fmadd_ps(_mm256_broadcast_ss(&scales[c][b - b0]), _mm256_cvtepi32_ps(p), acc[c]);
                if (agora_has_offsets(type)) summs[c] = fmaf(offsets[b - b0], cols[c].s[b], summs[c]);
            }
        }
    }
    for (int c = 0; c < C; c++) {
        float lanes[8];
        _mm256_storeu_ps(lanes, acc[c]);
        float result = agora_lanes_reduce(lanes);
        if (agora_has_offsets(type)) result = result + summs[c];
        out[(size_t)c * out_stride + r] = result;
    }
}

/// Q8_0's tile: two rows x C (up to 4) columns, tile's work for both rows with each activation load
/// shared (about a tenth faster than one row at a time; the offset types keep one row, whose scalar
/// offset chains would double here).
static inline __attribute__((always_inline)) void tile_q8_0_pair(const agora_wrow *row0, const agora_wrow *row1,
                                                                 const agora_acol *cols, int C, int nb, float *out,
                                                                 size_t out_stride, int r) {
    __m256 acc0[4], acc1[4];
    for (int c = 0; c < C; c++) {
        acc0[c] = _mm256_setzero_ps();
        acc1[c] = _mm256_setzero_ps();
    }
    for (int b0 = 0; b0 < nb; b0 += AGORA_TILE_BLOCKS) {
        const int b1 = nb - b0 < AGORA_TILE_BLOCKS ? nb : b0 + AGORA_TILE_BLOCKS;
        float scales0[4][AGORA_TILE_BLOCKS], scales1[4][AGORA_TILE_BLOCKS];
        int b = b0;
        for (; b + 8 <= b1; b += 8) {
            const __m256 dw0 = load_h8(row0->d + b);
            const __m256 dw1 = load_h8(row1->d + b);
            for (int c = 0; c < C; c++) {
                const __m256 da = _mm256_loadu_ps(cols[c].d + b);
                _mm256_storeu_ps(&scales0[c][b - b0], _mm256_mul_ps(dw0, da));
                _mm256_storeu_ps(&scales1[c][b - b0], _mm256_mul_ps(dw1, da));
            }
        }
        for (; b < b1; b++) {
            const float dw0 = _cvtsh_ss(row0->d[b]), dw1 = _cvtsh_ss(row1->d[b]);
            for (int c = 0; c < C; c++) {
                scales0[c][b - b0] = dw0 * cols[c].d[b];
                scales1[c][b - b0] = dw1 * cols[c].d[b];
            }
        }
        for (b = b0; b < b1; b++) {
            const __m256i w0 = _mm256_loadu_si256((const __m256i *)(row0->qs + (size_t)b * 32));
            const __m256i w1 = _mm256_loadu_si256((const __m256i *)(row1->qs + (size_t)b * 32));
            const __m256i wabs0 = _mm256_sign_epi8(w0, w0), wabs1 = _mm256_sign_epi8(w1, w1);
            for (int c = 0; c < C; c++) {
                const __m256i a = _mm256_loadu_si256((const __m256i *)(cols[c].qs + b * AGORA_QK));
                const __m256i p0 = AGORA_DOT_U8S8(wabs0, _mm256_sign_epi8(a, w0));
                const __m256i p1 = AGORA_DOT_U8S8(wabs1, _mm256_sign_epi8(a, w1));
                acc0[c] = _mm256_fmadd_ps(_mm256_broadcast_ss(&scales0[c][b - b0]), _mm256_cvtepi32_ps(p0), acc0[c]);
                acc1[c] = _mm256_fmadd_ps(_mm256_broadcast_ss(&scales1[c][b - b0]), _mm256_cvtepi32_ps(p1), acc1[c]);
            }
        }
    }
    for (int c = 0; c < C; c++) {
        float lanes[8];
        _mm256_storeu_ps(lanes, acc0[c]);
        out[(size_t)c * out_stride + r] = agora_lanes_reduce(lanes);
        _mm256_storeu_ps(lanes, acc1[c]);
        out[(size_t)c * out_stride + r + 1] = agora_lanes_reduce(lanes);
    }
}

/// acc + scale * (the lane sums of block b): one step of the chain.
static inline __attribute__((always_inline)) __m256 block_fma(agora_weight_type type, const agora_wrow *row,
                                                              const agora_acol *col, int b, __m256 scale,
                                                              __m256 acc) {
    const __m256i w = load_weights(type, row, b);
    const __m256i a = _mm256_loadu_si256((const __m256i *)(col->qs + b * AGORA_QK));
    const __m256i p = agora_has_offsets(type) ? AGORA_DOT_U8S8(w, a)
                                                : AGORA_DOT_U8S8(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
    return _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(p), acc);
}

/// Block b's scale dw[b] * da[b] in every lane: lane j of a group's products when the group is whole, a
/// scalar product for the last few blocks (gathering their halves through memory stalled store forwarding).
static inline __attribute__((always_inline)) __m256 block_scale(const agora_wrow *row, const agora_acol *col, int b,
                                                                __m256 dd, int j, int whole) {
    if (whole) return _mm256_permutevar8x32_ps(dd, _mm256_set1_epi32(j));
    return _mm256_set1_ps(_cvtsh_ss(row->d[b]) * col->d[b]);
}

/// One row against one column (decode), written as llama.cpp's vec_dot loop: the next row's independent
/// work overlaps this row's FMA chain in the out-of-order window.
static inline __attribute__((always_inline)) float row_dot(agora_weight_type type, const agora_wrow *row,
                                                           const agora_acol *col, int nb) {
    if (type == AGORA_WEIGHT_Q4_0) {
        float acc0 = 0.0f;
        for (int b = 0; b < nb; b++) {
            const __m256i w = load_weights(type, row, b);
            const __m256i a = _mm256_loadu_si256((const __m256i *)(col->qs + b * AGORA_QK));
            const __m256i p = AGORA_DOT_U8S8(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
            acc0 = fmaf(_cvtsh_ss(row->d[b]) * col->d[b], (float)agora_hsum_i32(p), acc0);
        }
        return acc0;
    }
    __m256 acc = _mm256_setzero_ps();
    float summs = 0.0f;
    for (int b0 = 0; b0 < nb; b0 += 8) {
        const int whole = nb - b0 >= 8, n = whole ? 8 : nb - b0;
        const __m256 dd = whole ? _mm256_mul_ps(load_h8(row->d + b0), _mm256_loadu_ps(col->d + b0))
                                : _mm256_setzero_ps();
        for (int j = 0; j < n; j++) {
            acc = block_fma(type, row, col, b0 + j, block_scale(row, col, b0 + j, dd, j, whole), acc);
            if (agora_has_offsets(type)) summs = fmaf(_cvtsh_ss(row->m[b0 + j]), col->s[b0 + j], summs);
        }
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, acc);
    const float result = agora_lanes_reduce(lanes);
    return agora_has_offsets(type) ? result + summs : result;
}

/// Two rows against one column, their two FMA chains interleaved block by block: decode is bound by the
/// latency of one row's chain, and a second independent chain fills it. Each row's result is exactly
/// row_dot's.
static inline __attribute__((always_inline)) void row_dot_pair(agora_weight_type type, const agora_wrow *row0,
                                                               const agora_wrow *row1, const agora_acol *col, int nb,
                                                               float *out0, float *out1) {
    if (type == AGORA_WEIGHT_Q4_0) {
        float acc0 = 0.0f, acc1 = 0.0f;
        for (int b = 0; b < nb; b++) {
            const __m256i a = _mm256_loadu_si256((const __m256i *)(col->qs + b * AGORA_QK));
            const __m256i w0 = load_weights(type, row0, b);
            const __m256i w1 = load_weights(type, row1, b);
            const __m256i p0 = AGORA_DOT_U8S8(_mm256_sign_epi8(w0, w0), _mm256_sign_epi8(a, w0));
            const __m256i p1 = AGORA_DOT_U8S8(_mm256_sign_epi8(w1, w1), _mm256_sign_epi8(a, w1));
            acc0 = fmaf(_cvtsh_ss(row0->d[b]) * col->d[b], (float)agora_hsum_i32(p0), acc0);
            acc1 = fmaf(_cvtsh_ss(row1->d[b]) * col->d[b], (float)agora_hsum_i32(p1), acc1);
        }
        *out0 = acc0;
        *out1 = acc1;
        return;
    }
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    float summs0 = 0.0f, summs1 = 0.0f;
    for (int b0 = 0; b0 < nb; b0 += 8) {
        const int whole = nb - b0 >= 8, n = whole ? 8 : nb - b0;
        const __m256 da = whole ? _mm256_loadu_ps(col->d + b0) : _mm256_setzero_ps();
        const __m256 dd0 = whole ? _mm256_mul_ps(load_h8(row0->d + b0), da) : da;
        const __m256 dd1 = whole ? _mm256_mul_ps(load_h8(row1->d + b0), da) : da;
        // Q4_1 / Q5_1's offset chains step inside the block loop, where their latency overlaps the
        // integer work (after it, they stalled it), from scalar loads.
        for (int j = 0; j < n; j++) {  // unrolled for whole groups
            const int b = b0 + j;
            acc0 = block_fma(type, row0, col, b, block_scale(row0, col, b, dd0, j, whole), acc0);
            acc1 = block_fma(type, row1, col, b, block_scale(row1, col, b, dd1, j, whole), acc1);
            if (agora_has_offsets(type)) {
                summs0 = fmaf(_cvtsh_ss(row0->m[b]), col->s[b], summs0);
                summs1 = fmaf(_cvtsh_ss(row1->m[b]), col->s[b], summs1);
            }
        }
    }
    float lanes0[8], lanes1[8];
    _mm256_storeu_ps(lanes0, acc0);
    _mm256_storeu_ps(lanes1, acc1);
    const float result0 = agora_lanes_reduce(lanes0);
    const float result1 = agora_lanes_reduce(lanes1);
    *out0 = agora_has_offsets(type) ? result0 + summs0 : result0;
    *out1 = agora_has_offsets(type) ? result1 + summs1 : result1;
}

static inline __attribute__((always_inline)) void matmul_cols(agora_weight_type type, const void *w, int k, int r0,
                                                               int r1, const void *act, int ncols, float *out,
                                                               size_t out_stride) {
    const int nb = k / AGORA_QK;
    const size_t rb = agora_row_bytes(type, k);
    const size_t cb = agora_act_bytes(k);
    for (int c0 = 0; c0 < ncols; c0 += 4) {
        const int nc = ncols - c0 < 4 ? ncols - c0 : 4;
        agora_acol cols[4];
        for (int c = 0; c < nc; c++) cols[c] = agora_act_col(act, cb, c0 + c, k);
        float *o = out + (size_t)c0 * out_stride;
        if (nc == 1) {
            int r = r0;
            for (; r + 1 < r1; r += 2) {
                const agora_wrow row0 = agora_weight_row(type, w, rb, r, k);
                const agora_wrow row1 = agora_weight_row(type, w, rb, r + 1, k);
                // The next pair: its bytes arrive while this pair's chains run.
                if (r + 3 < r1) agora_prefetch_rows(w, rb, r + 2, 2);
                row_dot_pair(type, &row0, &row1, &cols[0], nb, &o[r], &o[r + 1]);
            }
            if (r < r1) {
                const agora_wrow row = agora_weight_row(type, w, rb, r, k);
                o[r] = row_dot(type, &row, &cols[0], nb);
            }
            continue;
        }
        int r = r0;
        for (; type == AGORA_WEIGHT_Q8_0 && r + 1 < r1; r += 2) {
            const agora_wrow row0 = agora_weight_row(type, w, rb, r, k);
            const agora_wrow row1 = agora_weight_row(type, w, rb, r + 1, k);
            switch (nc) {
            case 4: tile_q8_0_pair(&row0, &row1, cols, 4, nb, o, out_stride, r); break;
            case 3: tile_q8_0_pair(&row0, &row1, cols, 3, nb, o, out_stride, r); break;
            default: tile_q8_0_pair(&row0, &row1, cols, 2, nb, o, out_stride, r); break;
            }
        }
        for (; r < r1; r++) {
            const agora_wrow row = agora_weight_row(type, w, rb, r, k);
            if (r + 1 < r1 && c0 == 0) agora_prefetch_rows(w, rb, r + 1, 1);
            switch (nc) {
            case 4: tile(type, &row, cols, 4, nb, o, out_stride, r); break;
            case 3: tile(type, &row, cols, 3, nb, o, out_stride, r); break;
            default: tile(type, &row, cols, 2, nb, o, out_stride, r); break;
            }
        }
    }
}

/// The byte-per-weight type a five-bit type expands to: Q5_0 to Q8_0 (the same values, q - 16),
/// Q5_1 to AGORA_WEIGHT_Q5_1_BYTES.
static inline agora_weight_type expanded_type(agora_weight_type type) {
    return type == AGORA_WEIGHT_Q5_0 ? AGORA_WEIGHT_Q8_0 : AGORA_WEIGHT_Q5_1_BYTES;
}

/// Rows [r0, r0 + n) of a Q5_0 or Q5_1 matrix as rows of expanded_type(type) into dst: the same values,
/// scales and offsets.
static inline __attribute__((always_inline)) void expand_rows(agora_weight_type type, const void *w, int k, int r0,
                                                              int n, uint8_t *dst) {
    const int nb = k / AGORA_QK;
    const size_t rb = agora_row_bytes(type, k), rbx = agora_row_bytes(expanded_type(type), k);
    for (int i = 0; i < n; i++) {
        const agora_wrow row = agora_weight_row(type, w, rb, r0 + i, k);
        uint8_t *out = dst + (size_t)i * rbx;
        for (int b = 0; b < nb; b++) {
            _mm256_storeu_si256((__m256i *)(out + (size_t)b * 32), load_weights(type, &row, b));
        }
        const size_t scales = agora_has_offsets(type) ? 4 : 2;  // d, and Q5_1's m after it
        memcpy(out + (size_t)nb * 32, row.d, (size_t)nb * scales);
    }
}

/// Bytes of stack a five-bit product with several columns expands rows into.
#define AGORA_EXPANSION_BYTES 32768

static inline __attribute__((always_inline)) void matmul_typed(agora_weight_type type, const void *w, int k, int r0,
                                                               int r1, const void *act, int ncols, float *out,
                                                               size_t out_stride) {
    if (agora_has_fifth_bits(type) && ncols > 1 && agora_row_bytes(expanded_type(type), k) <= AGORA_EXPANSION_BYTES) {
        // Five-bit rows stay 22 or 24 bytes a block in memory (decode streams them once per token).
        // Expanding a few rows once and running the byte tiles over every column costs a fraction of a
        // percent; decoding the fifth bits inside the tiles would cost a third more per product.
        _Alignas(64) uint8_t expanded[AGORA_EXPANSION_BYTES];
        const int chunk = (int)(AGORA_EXPANSION_BYTES / agora_row_bytes(expanded_type(type), k));
        for (int rc = r0; rc < r1; rc += chunk) {
            const int n = r1 - rc < chunk ? r1 - rc : chunk;
            if (type == AGORA_WEIGHT_Q5_0) {
                expand_rows(AGORA_WEIGHT_Q5_0, w, k, rc, n, expanded);
                matmul_cols(AGORA_WEIGHT_Q8_0, expanded, k, 0, n, act, ncols, out + rc, out_stride);
            } else {
                expand_rows(AGORA_WEIGHT_Q5_1, w, k, rc, n, expanded);
                matmul_cols(AGORA_WEIGHT_Q5_1_BYTES, expanded, k, 0, n, act, ncols, out + rc, out_stride);
            }
        }
        return;
    }
    if (type == AGORA_WEIGHT_Q4_0 && ncols > 1) {
        matmul_q4_0_cols(w, k, r0, r1, act, ncols, out, out_stride);
        return;
    }
    if (ncols > 1) {
        // Sixteen rows at a time against every column group: the rows stay in L1 while the groups pass.
        const int chunk = 16;
        for (int rc = r0; rc < r1; rc += chunk) {
            const int re = r1 - rc < chunk ? r1 : rc + chunk;
            matmul_cols(type, w, k, rc, re, act, ncols, out, out_stride);
        }
        return;
    }
    matmul_cols(type, w, k, r0, r1, act, ncols, out, out_stride);
}

#ifndef AGORA_MATMUL_ROWS_LINKAGE
#define AGORA_MATMUL_ROWS_LINKAGE
#endif

AGORA_MATMUL_ROWS_LINKAGE void AGORA_MATMUL_ROWS(agora_weight_type type, const void *w, int k, int r0, int r1,
                                                 const void *act, int ncols, float *out, size_t out_stride) {
    switch (type) {
    case AGORA_WEIGHT_Q4_0: matmul_typed(AGORA_WEIGHT_Q4_0, w, k, r0, r1, act, ncols, out, out_stride); break;
    case AGORA_WEIGHT_Q4_1: matmul_typed(AGORA_WEIGHT_Q4_1, w, k, r0, r1, act, ncols, out, out_stride); break;
    case AGORA_WEIGHT_Q5_1: matmul_typed(AGORA_WEIGHT_Q5_1, w, k, r0, r1, act, ncols, out, out_stride); break;
    case AGORA_WEIGHT_Q8_0: matmul_typed(AGORA_WEIGHT_Q8_0, w, k, r0, r1, act, ncols, out, out_stride); break;
    case AGORA_WEIGHT_Q5_0: matmul_typed(AGORA_WEIGHT_Q5_0, w, k, r0, r1, act, ncols, out, out_stride); break;
    default: break;  // K-quants go to kquants.c (dispatch.c)
    }
}
