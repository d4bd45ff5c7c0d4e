// The scalar reference path: the definition every SIMD path must reproduce bit for bit.
#pragma STDC FP_CONTRACT OFF

#include <math.h>

#include "kernels_internal.h"

/// The eight lane sums of block b: lane l sums the products of elements 4l..4l+3.
static void dot_lanes(agora_weight_type type, const agora_wrow *row, int b, const int8_t *aq, int32_t lane[8]) {
    for (int l = 0; l < 8; l++) lane[l] = 0;
    if (agora_has_fifth_bits(type)) {  // Q5_0: values - 16; Q5_1: the unsigned values
        int32_t w[32];
        agora_five_bit_values(row, b, w);
        const int32_t offset = type == AGORA_WEIGHT_Q5_0 ? 16 : 0;
        for (int j = 0; j < 32; j++) lane[j / 4] += (w[j] - offset) * aq[j];
        return;
    }
    const uint8_t *wq = row->qs + (size_t)b * (agora_has_byte_weights(type) ? 32 : 16);
    if (type == AGORA_WEIGHT_Q8_0) {
        const int8_t *w = (const int8_t *)wq;
        for (int j = 0; j < 32; j++) lane[j / 4] += (int32_t)w[j] * aq[j];
        return;
    }
    const int offset = type == AGORA_WEIGHT_Q4_0 ? 8 : 0;
    for (int j = 0; j < 16; j++) {
        lane[j / 4] += ((int32_t)(wq[j] & 0x0f) - offset) * aq[j];
        lane[(j + 16) / 4] += ((int32_t)(wq[j] >> 4) - offset) * aq[j + 16];
    }
}

void agora_matmul_rows_scalar(agora_weight_type type, const void *w, int k, int r0, int r1, const void *act,
                              int ncols, float *out, size_t out_stride) {
    const int nb = k / AGORA_QK;
    const size_t rb = agora_row_bytes(type, k);
    const size_t cb = agora_act_bytes(k);
    for (int r = r0; r < r1; r++) {
        const agora_wrow row = agora_weight_row(type, w, rb, r, k);
        for (int c = 0; c < ncols; c++) {
            const agora_acol col = agora_act_col(act, cb, c, k);
            float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            float single = 0.0f;
            for (int b = 0; b < nb; b++) {
                int32_t lane[8];
                dot_lanes(type, &row, b, col.qs + b * AGORA_QK, lane);
                const float dd = agora_f16_to_f32(row.d[b]) * col.d[b];
                if (type == AGORA_WEIGHT_Q4_0) {
                    int32_t sum = 0;
                    for (int l = 0; l < 8; l++) sum += lane[l];
                    single = fmaf(dd, (float)sum, single);
                } else {
                    for (int l = 0; l < 8; l++) acc[l] = fmaf(dd, (float)lane[l], acc[l]);
                }
            }
            float result = type == AGORA_WEIGHT_Q4_0 ? single : agora_lanes_reduce(acc);
            if (agora_has_offsets(type)) result = result + agora_q4_1_offsets(&row, &col, nb);
            out[(size_t)c * out_stride + r] = result;
        }
    }
}
