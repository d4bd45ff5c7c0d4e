// Helpers shared by the K-quant files (kquants.c: formats and the scalar definition; kquants_avx2.c;
// kquants_avx512.c): ggml's block layouts, unpacked the same way on every path.
#ifndef AGORA_KQUANTS_INTERNAL_H
#define AGORA_KQUANTS_INTERNAL_H

#include <string.h>

#include "kernels_internal.h"

#define QK_K 256

/// Bytes of one Q8_K activation block: d (f32), 256 int8, 16 int16 group sums.
#define AGORA_Q8K_BLOCK 292

static inline uint16_t load_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

/// Q4_K's 6-bit scale and min of group j (ggml's get_scale_min_k4).
static inline void scale_min_k4(int j, const uint8_t *q, int *d, int *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/// Q3_K's sixteen six-bit group scales (12 packed bytes), unbiased (-32..31), as ggml unpacks them.
static inline void q3_scales(const uint8_t *packed, int out[16]) {
    uint8_t s[16];
    for (int g = 0; g < 16; g++) {
        const int low = g < 8 ? packed[g % 8] & 0xF : packed[g % 8] >> 4;
        const int high = (packed[8 + g % 4] >> (2 * (g / 4))) & 3;
        s[g] = (uint8_t)(low | (high << 4));
        out[g] = (int)s[g] - 32;
    }
}

/// One row range of a K-quant product on each path (agora_matmul_rows_on picks one).
void agora_kquant_rows_scalar(agora_weight_type type, const void *w, int k, int r0, int r1, const void *act,
                              int ncols, float *out, size_t out_stride);
void agora_kquant_rows_avx2(agora_weight_type type, const void *w, int k, int r0, int r1, const void *act,
                            int ncols, float *out, size_t out_stride);
void agora_kquant_rows_avx512(agora_weight_type type, const void *w, int k, int r0, int r1, const void *act,
                              int ncols, float *out, size_t out_stride);

#endif
