// The scalar reference path: the definition every SIMD path must reproduce bit for bit.
#pragma STDC FP_CONTRACT OFF

#include "kernels_internal.h"

static int32_t dot_block(agora_weight_type type, const uint8_t *wq, const int8_t *aq) {
    int32_t sum = 0;
    if (type == AGORA_WEIGHT_Q8_0) {
        const int8_t *w = (const int8_t *)wq;
        for (int j = 0; j < 32; j++) sum += (int32_t)w[j] * aq[j];
    } else {
        for (int j = 0; j < 16; j++) {
            sum += (int32_t)(wq[j] & 0x0f) * aq[j];
            sum += (int32_t)(wq[j] >> 4) * aq[j + 16];
        }
    }
    return sum;
}

void agora_matmul_rows_scalar(agora_weight_type type, const void *w, int k, int r0, int r1, const void *act,
                              int ncols, float *out, size_t out_stride) {
    const int nb = k / AGORA_QK;
    const size_t rb = agora_row_bytes(type, k);
    const size_t cb = agora_act_bytes(k);
    const size_t wstep = type == AGORA_WEIGHT_Q8_0 ? 32 : 16;
    for (int r = r0; r < r1; r++) {
        const agora_wrow row = agora_weight_row(type, w, rb, r, k);
        for (int c = 0; c < ncols; c++) {
            const agora_acol col = agora_act_col(act, cb, c, k);
            float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (int b = 0; b < nb; b++) {
                const int32_t sumi = dot_block(type, row.qs + (size_t)b * wstep, col.qs + b * AGORA_QK);
                const float dw = agora_f16_to_f32(row.d[b]);
                const float mw = agora_f16_to_f32(row.m[b]);
                acc[b & 7] += agora_block_value(type, dw, mw, col.d[b], col.s[b], sumi, col.isum[b]);
            }
            out[(size_t)c * out_stride + r] = agora_lanes_reduce(acc);
        }
    }
}
