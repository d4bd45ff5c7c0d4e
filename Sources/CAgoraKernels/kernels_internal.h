#ifndef AGORA_KERNELS_INTERNAL_H
#define AGORA_KERNELS_INTERNAL_H

#pragma STDC FP_CONTRACT OFF

#include <math.h>
#include <string.h>

#include "agora_kernels.h"

/// The fixed final combination of the eight accumulation lanes (see agora_kernels.h).
static inline float agora_lanes_reduce(const float a[8]) {
    return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
}

/// out[l] = ggml_v_expf(x[l] - max) for eight lanes on AVX2 (attention.c); each lane equals agora_expf.
void agora_expf8_minus(const float *x, float max, float *out);

/// Q5_1 rows expanded to one unsigned byte per weight, [uint8 nb*32][d nb*f16][m nb*f16]: the scratch
/// rows prefill's tiles read (internal to the kernels; never stored in a model).
#define AGORA_WEIGHT_Q5_1_BYTES ((agora_weight_type)107)

/// Q4_1 and Q5_1 carry a per-block offset m (result += the fma chain of m * s).
static inline int agora_has_offsets(agora_weight_type type) {
    return type == AGORA_WEIGHT_Q4_1 || type == AGORA_WEIGHT_Q5_1 || type == AGORA_WEIGHT_Q5_1_BYTES;
}

/// Q8_0 and expanded Q5_1 rows hold one byte per weight; Q4_0 and Q4_1 rows hold nibbles; Q5_0 and Q5_1
/// rows hold nibbles and a plane of fifth bits.
static inline int agora_has_byte_weights(agora_weight_type type) {
    return type == AGORA_WEIGHT_Q8_0 || type == AGORA_WEIGHT_Q5_1_BYTES;
}

/// Q5_0 and Q5_1 rows: nibbles, then 4 bytes of fifth bits per block.
static inline int agora_has_fifth_bits(agora_weight_type type) {
    return type == AGORA_WEIGHT_Q5_0 || type == AGORA_WEIGHT_Q5_1;
}

/// Pointers into one repacked weight row (qh: Q5_0's and Q5_1's fifth bits, 32 per block; NULL for other
/// types).
typedef struct {
    const uint8_t *qs;
    const uint8_t *qh;
    const uint16_t *d;
    const uint16_t *m;
} agora_wrow;

static inline agora_wrow agora_weight_row(agora_weight_type type, const void *w, size_t row_bytes, int r, int k) {
    const int nb = k / AGORA_QK;
    const uint8_t *base = (const uint8_t *)w + (size_t)r * row_bytes;
    agora_wrow row;
    row.qs = base;
    row.qh = agora_has_fifth_bits(type) ? base + (size_t)nb * 16 : NULL;
    const size_t qbytes = agora_has_byte_weights(type) ? (size_t)nb * 32
                          : agora_has_fifth_bits(type) ? (size_t)nb * 20
                                                       : (size_t)nb * 16;
    row.d = (const uint16_t *)(base + qbytes);
    row.m = agora_has_offsets(type) ? row.d + nb : row.d;
    return row;
}

/// Pointers into one quantized activation column.
typedef struct {
    const int8_t *qs;
    const float *d;
    const float *s;
    const int32_t *isum;
} agora_acol;

static inline agora_acol agora_act_col(const void *act, size_t col_bytes, int c, int k) {
    const int nb = k / AGORA_QK;
    const uint8_t *base = (const uint8_t *)act + (size_t)c * col_bytes;
    agora_acol col;
    col.qs = (const int8_t *)base;
    col.d = (const float *)(base + k);
    col.s = col.d + nb;
    col.isum = (const int32_t *)(col.s + nb);
    return col;
}

/// Block b of a repacked Q5_0 or Q5_1 row as 32 five-bit values nibble | fifth bit << 4, in element order.
static inline void agora_five_bit_values(const agora_wrow *row, int b, int32_t out[32]) {
    const uint8_t *q = row->qs + (size_t)b * 16;
    const uint8_t *h = row->qh + (size_t)b * 4;
    const uint32_t qh = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
    for (int j = 0; j < 16; j++) {
        out[j] = (int32_t)((q[j] & 0x0f) | ((qh >> j) & 1) << 4);
        out[j + 16] = (int32_t)((q[j] >> 4) | ((qh >> (j + 16)) & 1) << 4);
    }
}

/// Q4_1's scalar correction chain, summs = fma(m[b], s[b], summs) over the blocks in order (the same
/// function serves every path: it is a scalar chain in llama.cpp too).
static inline float agora_q4_1_offsets(const agora_wrow *row, const agora_acol *col, int nb) {
    float summs = 0.0f;
    for (int b = 0; b < nb; b++) summs = fmaf(agora_f16_to_f32(row->m[b]), col->s[b], summs);
    return summs;
}

/// Decode streams every weight row from memory once per token, and a row's bytes must be asked for about
/// 8 KB before they are used to arrive in time (measured on Zen 4: prefetching only the next four rows left
/// nibble rows at 18 GB/s, 8 KB ahead at 28-30). Returns how many rows ahead that is, in whole groups of
/// `group` rows (at least one group).
static inline int agora_prefetch_distance(size_t row_bytes, int group) {
    const size_t groups = 8192 / (row_bytes * (size_t)group);
    return group * (int)(groups < 1 ? 1 : groups > 8 ? 8 : groups);
}

/// Asks for rows [next, next + n) of a matrix into the cache.
static inline void agora_prefetch_rows(const void *w, size_t row_bytes, int next, int n) {
    const char *p = (const char *)w + (size_t)next * row_bytes;
    for (size_t off = 0; off < (size_t)n * row_bytes; off += 64) __builtin_prefetch(p + off, 0, 3);
}

void agora_matmul_rows_scalar(agora_weight_type type, const void *w, int k, int r0, int r1, const void *act,
                              int ncols, float *out, size_t out_stride);
void agora_matmul_rows_avx2(agora_weight_type type, const void *w, int k, int r0, int r1, const void *act,
                            int ncols, float *out, size_t out_stride);
void agora_matmul_rows_avx512(agora_weight_type type, const void *w, int k, int r0, int r1, const void *act,
                              int ncols, float *out, size_t out_stride);

#endif
