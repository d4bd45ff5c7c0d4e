// Shared body of the SIMD paths, included by matmul_avx2.c and matmul_avx512.c after each one defines
// AGORA_DOT_U8S8(w, a): eight int32 partial sums of (unsigned bytes w) x (signed bytes a), and
// AGORA_MATMUL_ROWS: the exported function name. The block sums are exact integers; the float part
// repeats agora_block_value lane-wise, and the lanes are combined with agora_lanes_reduce: bit-identical
// to the scalar path.

static inline __m256i unpack_nibbles(const uint8_t *p) {
    const __m128i x = _mm_loadu_si128((const __m128i *)p);
    const __m128i m = _mm_set1_epi8(0x0f);
    const __m128i lo = _mm_and_si128(x, m);
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(x, 4), m);
    return _mm256_set_m128i(hi, lo);
}

/// Eight vectors of eight partial sums -> one vector of the eight totals (integer: order is irrelevant).
/// A transpose-and-add with single-uop unpacks, cheaper than a phaddd tree.
static inline __m256i hsum8(const __m256i v[8]) {
    const __m256i a01 = _mm256_add_epi32(_mm256_unpacklo_epi32(v[0], v[1]), _mm256_unpackhi_epi32(v[0], v[1]));
    const __m256i a23 = _mm256_add_epi32(_mm256_unpacklo_epi32(v[2], v[3]), _mm256_unpackhi_epi32(v[2], v[3]));
    const __m256i a45 = _mm256_add_epi32(_mm256_unpacklo_epi32(v[4], v[5]), _mm256_unpackhi_epi32(v[4], v[5]));
    const __m256i a67 = _mm256_add_epi32(_mm256_unpacklo_epi32(v[6], v[7]), _mm256_unpackhi_epi32(v[6], v[7]));
    const __m256i b0 = _mm256_add_epi32(_mm256_unpacklo_epi64(a01, a23), _mm256_unpackhi_epi64(a01, a23));
    const __m256i b4 = _mm256_add_epi32(_mm256_unpacklo_epi64(a45, a67), _mm256_unpackhi_epi64(a45, a67));
    return _mm256_add_epi32(_mm256_permute2x128_si256(b0, b4, 0x20), _mm256_permute2x128_si256(b0, b4, 0x31));
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

static inline __m256i load_i8(const int32_t *p, int n, __m256i mask) {
    return n == 8 ? _mm256_loadu_si256((const __m256i *)p) : _mm256_maskload_epi32((const int *)p, mask);
}

/// One group of `n` (<= 8) blocks starting at block `b0` of one row against `nc` columns.
static inline __attribute__((always_inline)) void group_step(agora_weight_type type, const agora_wrow *row,
                                                             const agora_acol *cols, int nc, int b0, int n,
                                                             __m256 *acc) {
    __m256i wv[8], ws[8];
    for (int j = 0; j < 8; j++) {
        if (j < n) {
            if (type == AGORA_WEIGHT_Q8_0) {
                const __m256i w = _mm256_loadu_si256((const __m256i *)(row->qs + (size_t)(b0 + j) * 32));
                ws[j] = w;
                wv[j] = _mm256_sign_epi8(w, w);
            } else {
                wv[j] = unpack_nibbles(row->qs + (size_t)(b0 + j) * 16);
                ws[j] = wv[j];
            }
        } else {
            wv[j] = _mm256_setzero_si256();
            ws[j] = wv[j];
        }
    }
    const __m256i mask = lane_mask(n);
    const __m256 dw = load_h8(row->d + b0, n);
    __m256 mw = _mm256_setzero_ps();
    if (type == AGORA_WEIGHT_Q4_1) mw = load_h8(row->m + b0, n);
    for (int c = 0; c < nc; c++) {
        __m256i p[8];
        for (int j = 0; j < 8; j++) {
            if (j < n) {
                const __m256i a = _mm256_loadu_si256((const __m256i *)(cols[c].qs + (b0 + j) * AGORA_QK));
                if (type == AGORA_WEIGHT_Q8_0) {
                    p[j] = AGORA_DOT_U8S8(wv[j], _mm256_sign_epi8(a, ws[j]));
                } else {
                    p[j] = AGORA_DOT_U8S8(wv[j], a);
                }
            } else {
                p[j] = _mm256_setzero_si256();
            }
        }
        __m256i sums = hsum8(p);
        if (type == AGORA_WEIGHT_Q4_0) {
            sums = _mm256_sub_epi32(sums, _mm256_slli_epi32(load_i8(cols[c].isum + b0, n, mask), 3));
        }
        const __m256 da = load_f8(cols[c].d + b0, n, mask);
        __m256 v = _mm256_mul_ps(_mm256_mul_ps(dw, da), _mm256_cvtepi32_ps(sums));
        if (type == AGORA_WEIGHT_Q4_1) {
            v = _mm256_add_ps(v, _mm256_mul_ps(mw, load_f8(cols[c].s + b0, n, mask)));
        }
        acc[c] = _mm256_add_ps(acc[c], v);
    }
}

static inline __attribute__((always_inline)) void row_tile(agora_weight_type type, const agora_wrow *row,
                                                           const agora_acol *cols, int nc, int nb, float *out,
                                                           size_t out_stride, int r) {
    __m256 acc[4];
    for (int c = 0; c < 4; c++) acc[c] = _mm256_setzero_ps();
    const int full = nb / 8;
    for (int g = 0; g < full; g++) group_step(type, row, cols, nc, g * 8, 8, acc);
    if (nb % 8) group_step(type, row, cols, nc, full * 8, nb % 8, acc);
    for (int c = 0; c < nc; c++) {
        float lanes[8];
        _mm256_storeu_ps(lanes, acc[c]);
        out[(size_t)c * out_stride + r] = agora_lanes_reduce(lanes);
    }
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
        for (int r = r0; r < r1; r++) {
            const agora_wrow row = agora_weight_row(type, w, rb, r, k);
            switch (nc) {
            case 4: row_tile(type, &row, cols, 4, nb, o, out_stride, r); break;
            case 3: row_tile(type, &row, cols, 3, nb, o, out_stride, r); break;
            case 2: row_tile(type, &row, cols, 2, nb, o, out_stride, r); break;
            default: row_tile(type, &row, cols, 1, nb, o, out_stride, r); break;
            }
        }
    }
}

void AGORA_MATMUL_ROWS(agora_weight_type type, const void *w, int k, int r0, int r1, const void *act, int ncols,
                       float *out, size_t out_stride) {
    switch (type) {
    case AGORA_WEIGHT_Q4_0: matmul_typed(AGORA_WEIGHT_Q4_0, w, k, r0, r1, act, ncols, out, out_stride); break;
    case AGORA_WEIGHT_Q4_1: matmul_typed(AGORA_WEIGHT_Q4_1, w, k, r0, r1, act, ncols, out, out_stride); break;
    case AGORA_WEIGHT_Q8_0: matmul_typed(AGORA_WEIGHT_Q8_0, w, k, r0, r1, act, ncols, out, out_stride); break;
    }
}
