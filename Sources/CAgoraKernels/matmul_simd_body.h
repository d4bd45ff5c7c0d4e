// Shared body of the SIMD paths, included by matmul_avx2.c and matmul_avx512.c after each one defines
// AGORA_DOT_U8S8(w, a): eight int32 partial sums of (unsigned bytes w) x (signed bytes a), and
// AGORA_MATMUL_ROWS: the exported function name. The lane sums are exact integers; the float part is
// the scalar path's per-lane FMA chain, and the lanes are combined with agora_lanes_reduce: bit-identical
// to the scalar path.

static inline __m256i unpack_nibbles(const uint8_t *p) {
    const __m128i x = _mm_loadu_si128((const __m128i *)p);
    const __m128i m = _mm_set1_epi8(0x0f);
    const __m128i lo = _mm_and_si128(x, m);
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(x, 4), m);
    return _mm256_set_m128i(hi, lo);
}

/// The exact sum of eight int32 lanes.
static inline int32_t hsum_i32(__m256i v) {
    __m128i x = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0x4e));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0xb1));
    return _mm_cvtsi128_si32(x);
}

static inline __m256i lane_mask(int n) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
}

static inline __m256 load_f8(const float *p, int n, __m256i mask) {
    return n == 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask);
}

/// Eight (or the first n, the rest zero) half-precision scales, converted exactly (F16C).
static inline __m256 load_h8(const uint16_t *p, int n) {
    if (n == 8) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
    uint16_t tmp[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int j = 0; j < n; j++) tmp[j] = p[j];
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)tmp));
}

/// The signed-or-unsigned weight bytes of block b of a row, ready for AGORA_DOT_U8S8: Q4_1 nibbles are
/// used as unsigned bytes directly; Q8_0 and Q4_0 (nibble - 8) weights enter as |w| against the
/// activations carrying w's sign.
static inline __attribute__((always_inline)) __m256i load_weights(agora_weight_type type, const agora_wrow *row,
                                                                  int b) {
    if (agora_has_byte_weights(type)) return _mm256_loadu_si256((const __m256i *)(row->qs + (size_t)b * 32));
    const __m256i w = unpack_nibbles(row->qs + (size_t)b * 16);
    return type == AGORA_WEIGHT_Q4_0 ? _mm256_sub_epi8(w, _mm256_set1_epi8(8)) : w;
}

/// One row x C columns of outputs (C independent FMA chains, so the per-block chain latency hides).
/// Per block b and output: the eight lane sums, converted, accumulated with one FMA by dw[b] * da[b], and
/// for Q4_1 / Q5_1 the offset chain summs = fma(m[b], sa[b], summs): the scalar path's order exactly.
/// The scales stay in registers and each block's is picked out by a lane permute (a store and reload
/// through the stack stalled store forwarding), and the offset chain runs inside the block loop, where
/// its latency overlaps the integer work.
static inline __attribute__((always_inline)) void tile(agora_weight_type type, const agora_wrow *row,
                                                       const agora_acol *cols, int C, int nb, float *out,
                                                       size_t out_stride, int r) {
    __m256 acc[4];
    float single[4], summs[4];
    for (int c = 0; c < C; c++) {
        acc[c] = _mm256_setzero_ps();
        single[c] = 0.0f;
        summs[c] = 0.0f;
    }
    for (int b0 = 0; b0 < nb; b0 += 8) {
        const int n = nb - b0 < 8 ? nb - b0 : 8;
        const __m256i mask = lane_mask(n);
        const __m256 dw = load_h8(row->d + b0, n);
        __m256 dd[4];
        for (int c = 0; c < C; c++) dd[c] = _mm256_mul_ps(dw, load_f8(cols[c].d + b0, n, mask));
        const __m256 mw = agora_has_offsets(type) ? load_h8(row->m + b0, n) : _mm256_setzero_ps();
        for (int j = 0; j < n; j++) {
            const __m256i lane = _mm256_set1_epi32(j);
            const __m256i w = load_weights(type, row, b0 + j);
            const __m256i wabs = agora_has_offsets(type) ? w : _mm256_sign_epi8(w, w);
            const float m = agora_has_offsets(type) ? _mm256_cvtss_f32(_mm256_permutevar8x32_ps(mw, lane)) : 0.0f;
            for (int c = 0; c < C; c++) {
                const __m256i a = _mm256_loadu_si256((const __m256i *)(cols[c].qs + (b0 + j) * AGORA_QK));
                const __m256i p =
                    agora_has_offsets(type) ? AGORA_DOT_U8S8(wabs, a) : AGORA_DOT_U8S8(wabs, _mm256_sign_epi8(a, w));
                const __m256 scale = _mm256_permutevar8x32_ps(dd[c], lane);
                if (type == AGORA_WEIGHT_Q4_0) {
                    single[c] = fmaf(_mm256_cvtss_f32(scale), (float)hsum_i32(p), single[c]);
                } else {
                    acc[c] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(p), acc[c]);
                }
                if (agora_has_offsets(type)) summs[c] = fmaf(m, cols[c].s[b0 + j], summs[c]);
            }
        }
    }
    for (int c = 0; c < C; c++) {
        float lanes[8];
        _mm256_storeu_ps(lanes, acc[c]);
        float result = agora_lanes_reduce(lanes);
        if (agora_has_offsets(type)) result = result + summs[c];
        if (type == AGORA_WEIGHT_Q4_0) result = single[c];
        out[(size_t)c * out_stride + r] = result;
    }
}

/// acc + (lane j of dd) * (the lane sums of block b): one step of the chain.
static inline __attribute__((always_inline)) __m256 block_fma(agora_weight_type type, const agora_wrow *row,
                                                              const agora_acol *col, int b, __m256 dd, int j,
                                                              __m256 acc) {
    const __m256i w = load_weights(type, row, b);
    const __m256i a = _mm256_loadu_si256((const __m256i *)(col->qs + b * AGORA_QK));
    const __m256i p = agora_has_offsets(type) ? AGORA_DOT_U8S8(w, a)
                                                : AGORA_DOT_U8S8(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
    const __m256 scale = _mm256_permutevar8x32_ps(dd, _mm256_set1_epi32(j));
    return _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(p), acc);
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
            acc0 = fmaf(_cvtsh_ss(row->d[b]) * col->d[b], (float)hsum_i32(p), acc0);
        }
        return acc0;
    }
    __m256 acc = _mm256_setzero_ps();
    float summs = 0.0f;
    for (int b0 = 0; b0 < nb; b0 += 8) {
        const int n = nb - b0 < 8 ? nb - b0 : 8;
        const __m256 dd = _mm256_mul_ps(load_h8(row->d + b0, n), load_f8(col->d + b0, n, lane_mask(n)));
        if (n == 8) {
            for (int j = 0; j < 8; j++) acc = block_fma(type, row, col, b0 + j, dd, j, acc);  // unrolled
        } else {
            for (int j = 0; j < n; j++) acc = block_fma(type, row, col, b0 + j, dd, j, acc);
        }
        if (agora_has_offsets(type)) {
            float m[8], sa[8];
            _mm256_storeu_ps(m, load_h8(row->m + b0, n));
            _mm256_storeu_ps(sa, load_f8(col->s + b0, n, lane_mask(n)));
            for (int j = 0; j < n; j++) summs = fmaf(m[j], sa[j], summs);
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
            acc0 = fmaf(_cvtsh_ss(row0->d[b]) * col->d[b], (float)hsum_i32(p0), acc0);
            acc1 = fmaf(_cvtsh_ss(row1->d[b]) * col->d[b], (float)hsum_i32(p1), acc1);
        }
        *out0 = acc0;
        *out1 = acc1;
        return;
    }
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    float summs0 = 0.0f, summs1 = 0.0f;
    for (int b0 = 0; b0 < nb; b0 += 8) {
        const int n = nb - b0 < 8 ? nb - b0 : 8;
        const __m256 da = load_f8(col->d + b0, n, lane_mask(n));
        const __m256 dd0 = _mm256_mul_ps(load_h8(row0->d + b0, n), da);
        const __m256 dd1 = _mm256_mul_ps(load_h8(row1->d + b0, n), da);
        if (n == 8) {
            for (int j = 0; j < 8; j++) {  // unrolled
                acc0 = block_fma(type, row0, col, b0 + j, dd0, j, acc0);
                acc1 = block_fma(type, row1, col, b0 + j, dd1, j, acc1);
            }
        } else {
            for (int j = 0; j < n; j++) {
                acc0 = block_fma(type, row0, col, b0 + j, dd0, j, acc0);
                acc1 = block_fma(type, row1, col, b0 + j, dd1, j, acc1);
            }
        }
        if (agora_has_offsets(type)) {
            float m0[8], m1[8], sa[8];
            _mm256_storeu_ps(m0, load_h8(row0->m + b0, n));
            _mm256_storeu_ps(m1, load_h8(row1->m + b0, n));
            _mm256_storeu_ps(sa, load_f8(col->s + b0, n, lane_mask(n)));
            for (int j = 0; j < n; j++) {
                summs0 = fmaf(m0[j], sa[j], summs0);
                summs1 = fmaf(m1[j], sa[j], summs1);
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

static inline __attribute__((always_inline)) void matmul_typed(agora_weight_type type, const void *w, int k, int r0,
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
                if (r + 3 < r1) {
                    const char *next = (const char *)w + (size_t)(r + 2) * rb;
                    for (size_t off = 0; off < 2 * rb; off += 64) _mm_prefetch(next + off, _MM_HINT_T0);
                }
                row_dot_pair(type, &row0, &row1, &cols[0], nb, &o[r], &o[r + 1]);
            }
            if (r < r1) {
                const agora_wrow row = agora_weight_row(type, w, rb, r, k);
                o[r] = row_dot(type, &row, &cols[0], nb);
            }
            continue;
        }
        for (int r = r0; r < r1; r++) {
            const agora_wrow row = agora_weight_row(type, w, rb, r, k);
            if (r + 1 < r1) {
                const char *next = (const char *)w + (size_t)(r + 1) * rb;
                for (size_t off = 0; off < rb; off += 64) _mm_prefetch(next + off, _MM_HINT_T0);
            }
            switch (nc) {
            case 4: tile(type, &row, cols, 4, nb, o, out_stride, r); break;
            case 3: tile(type, &row, cols, 3, nb, o, out_stride, r); break;
            default: tile(type, &row, cols, 2, nb, o, out_stride, r); break;
            }
        }
    }
}

void AGORA_MATMUL_ROWS(agora_weight_type type, const void *w, int k, int r0, int r1, const void *act, int ncols,
                       float *out, size_t out_stride) {
    switch (type) {
    case AGORA_WEIGHT_Q4_0: matmul_typed(AGORA_WEIGHT_Q4_0, w, k, r0, r1, act, ncols, out, out_stride); break;
    case AGORA_WEIGHT_Q4_1: matmul_typed(AGORA_WEIGHT_Q4_1, w, k, r0, r1, act, ncols, out, out_stride); break;
    case AGORA_WEIGHT_Q5_1: matmul_typed(AGORA_WEIGHT_Q5_1, w, k, r0, r1, act, ncols, out, out_stride); break;
    case AGORA_WEIGHT_Q8_0: matmul_typed(AGORA_WEIGHT_Q8_0, w, k, r0, r1, act, ncols, out, out_stride); break;
    default: break;  // Q5_0 arrives as Q8_0; K-quants go to kquants.c (dispatch.c)
    }
}
