// Weight repacking, dequantization and activation quantization: one implementation for every path.
#pragma STDC FP_CONTRACT OFF

#include <math.h>
#include <string.h>

#include "kernels_internal.h"

int agora_kernels_abi_version(void) { return 4; }

static size_t round_up64(size_t n) { return (n + 63) & ~(size_t)63; }

float agora_f16_to_f32(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;
    } else {
        // Subnormal half: normalize.
        exp = 113;
        while ((man & 0x400) == 0) {
            man <<= 1;
            exp--;
        }
        man &= 0x3ff;
        bits = sign | (exp << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t agora_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    const uint32_t sign = (x >> 16) & 0x8000;
    const uint32_t absx = x & 0x7fffffff;
    if (absx >= 0x7f800000) return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000 ? 0x200 : 0));  // inf, NaN
    if (absx >= 0x477ff000) return (uint16_t)(sign | 0x7c00);  // rounds to >= 65520: overflow to inf
    if (absx < 0x38800000) {
        // Result is subnormal (or zero): value / 2^-24, rounded to nearest even.
        if (absx < 0x33000000) return (uint16_t)sign;  // below half the smallest subnormal
        const uint32_t exp = absx >> 23;
        const uint32_t man = (absx & 0x7fffff) | 0x800000;
        const uint32_t shift = 126 - exp;  // 14 + (113 - exp) - 1 + ...
        uint32_t h = man >> (shift);
        const uint32_t rest = man & ((1u << shift) - 1);
        const uint32_t half = 1u << (shift - 1);
        if (rest > half || (rest == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((absx - 0x38000000) >> 13);
    const uint32_t rest = absx & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

int agora_weight_is_kquant(agora_weight_type type) {
    return type == AGORA_WEIGHT_Q2_K || type == AGORA_WEIGHT_Q3_K || type == AGORA_WEIGHT_Q4_K || type == AGORA_WEIGHT_Q5_K ||
           type == AGORA_WEIGHT_Q6_K;
}

size_t agora_row_bytes(agora_weight_type type, int k) {
    if (agora_weight_is_kquant(type)) return agora_kquant_row_bytes(type, k);
    const size_t nb = (size_t)k / AGORA_QK;
    if (type == AGORA_WEIGHT_Q5_1_BYTES) return round_up64(nb * 32 + nb * 4);
    switch (type) {
    case AGORA_WEIGHT_Q4_0:
        return round_up64(nb * 16 + nb * 2);
    case AGORA_WEIGHT_Q4_1:
        return round_up64(nb * 16 + nb * 4);
    case AGORA_WEIGHT_Q5_0:
        return round_up64(nb * 16 + nb * 4 + nb * 2);
    case AGORA_WEIGHT_Q8_0:
        return round_up64(nb * 32 + nb * 2);
    case AGORA_WEIGHT_Q5_1:
        return round_up64(nb * 16 + nb * 4 + nb * 4);
    default:
        return 0;
    }
}

static uint16_t load_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

void agora_repack_rows(agora_weight_type type, const void *src, void *dst, int rows, int k) {
    if (agora_weight_is_kquant(type)) {
        agora_kquant_repack_rows(type, src, dst, rows, k);
        return;
    }
    const int nb = k / AGORA_QK;
    const size_t rb = agora_row_bytes(type, k);
    const uint8_t *s = (const uint8_t *)src;
    for (int r = 0; r < rows; r++) {
        uint8_t *row = (uint8_t *)dst + (size_t)r * rb;
        memset(row, 0, rb);
        switch (type) {
        case AGORA_WEIGHT_Q4_0: {  // ggml block: f16 d, 16 bytes
            uint16_t *d = (uint16_t *)(row + (size_t)nb * 16);
            for (int b = 0; b < nb; b++, s += 18) {
                d[b] = load_u16(s);
                memcpy(row + (size_t)b * 16, s + 2, 16);
            }
            break;
        }
        case AGORA_WEIGHT_Q4_1: {  // ggml block: f16 d, f16 m, 16 bytes
            uint16_t *d = (uint16_t *)(row + (size_t)nb * 16);
            uint16_t *m = d + nb;
            for (int b = 0; b < nb; b++, s += 20) {
                d[b] = load_u16(s);
                m[b] = load_u16(s + 2);
                memcpy(row + (size_t)b * 16, s + 4, 16);
            }
            break;
        }
        case AGORA_WEIGHT_Q5_0: {  // ggml block: f16 d, 4 bytes of fifth bits, 16 bytes of nibbles
            uint8_t *qh = row + (size_t)nb * 16;
            uint16_t *d = (uint16_t *)(row + (size_t)nb * 20);
            for (int b = 0; b < nb; b++, s += 22) {
                d[b] = load_u16(s);
                memcpy(qh + (size_t)b * 4, s + 2, 4);
                memcpy(row + (size_t)b * 16, s + 6, 16);
            }
            break;
        }
        case AGORA_WEIGHT_Q5_1: {  // ggml block: f16 d, f16 m, 4 bytes of fifth bits, 16 bytes of nibbles
            uint8_t *qh = row + (size_t)nb * 16;
            uint16_t *d = (uint16_t *)(row + (size_t)nb * 20);
            uint16_t *m = d + nb;
            for (int b = 0; b < nb; b++, s += 24) {
                d[b] = load_u16(s);
                m[b] = load_u16(s + 2);
                memcpy(qh + (size_t)b * 4, s + 4, 4);
                memcpy(row + (size_t)b * 16, s + 8, 16);
            }
            break;
        }
        case AGORA_WEIGHT_Q4_K:
        case AGORA_WEIGHT_Q5_K:
        case AGORA_WEIGHT_Q6_K:
        case AGORA_WEIGHT_Q2_K:
        case AGORA_WEIGHT_Q3_K:
            break;
        case AGORA_WEIGHT_Q8_0: {  // ggml block: f16 d, 32 int8
            uint16_t *d = (uint16_t *)(row + (size_t)nb * 32);
            for (int b = 0; b < nb; b++, s += 34) {
                d[b] = load_u16(s);
                memcpy(row + (size_t)b * 32, s + 2, 32);
            }
            break;
        }
        }
    }
}

void agora_dequantize_row(agora_weight_type type, const void *rowp, float *out, int k) {
    if (agora_weight_is_kquant(type)) {
        agora_kquant_dequantize_row(type, rowp, out, k);
        return;
    }
    const int nb = k / AGORA_QK;
    const agora_wrow row = agora_weight_row(type, rowp, 0, 0, k);
    for (int b = 0; b < nb; b++) {
        float *y = out + b * AGORA_QK;
        const float d = agora_f16_to_f32(row.d[b]);
        const float m = agora_f16_to_f32(row.m[b]);
        if (type == AGORA_WEIGHT_Q5_1) {
            int32_t q[32];
            agora_five_bit_values(&row, b, q);
            for (int j = 0; j < 32; j++) y[j] = (float)q[j] * d + m;
        } else if (type == AGORA_WEIGHT_Q8_0) {
            const int8_t *q = (const int8_t *)row.qs + b * 32;
            for (int j = 0; j < 32; j++) y[j] = (float)q[j] * d;
        } else if (type == AGORA_WEIGHT_Q5_0) {
            int32_t q[32];
            agora_five_bit_values(&row, b, q);
            for (int j = 0; j < 32; j++) y[j] = (float)(q[j] - 16) * d;
        } else {
            const uint8_t *q = row.qs + b * 16;
            for (int j = 0; j < 16; j++) {
                const int lo = q[j] & 0x0f, hi = q[j] >> 4;
                if (type == AGORA_WEIGHT_Q4_0) {
                    y[j] = (float)(lo - 8) * d;
                    y[j + 16] = (float)(hi - 8) * d;
                } else {
                    y[j] = (float)lo * d + m;
                    y[j + 16] = (float)hi * d + m;
                }
            }
        }
    }
}

size_t agora_act_bytes(int k) { return round_up64((size_t)k + (size_t)(k / AGORA_QK) * 12); }

void agora_quantize_act(const float *x, size_t x_stride, int ncols, int k, void *dst) {
    const int nb = k / AGORA_QK;
    const size_t cb = agora_act_bytes(k);
    for (int c = 0; c < ncols; c++) {
        const float *xc = x + (size_t)c * x_stride;
        uint8_t *base = (uint8_t *)dst + (size_t)c * cb;
        int8_t *q = (int8_t *)base;
        float *d = (float *)(base + k);
        float *s = d + nb;
        int32_t *isum = (int32_t *)(s + nb);
        for (int b = 0; b < nb; b++) {
            const float *xb = xc + b * AGORA_QK;
            float amax = 0.0f;
            for (int j = 0; j < AGORA_QK; j++) {
                const float a = fabsf(xb[j]);
                amax = a > amax ? a : amax;
            }
            const float db = amax / 127.0f;
            const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
            int32_t sum = 0;
            for (int j = 0; j < AGORA_QK; j++) {
                // Round half to even (the default rounding mode), the same on every machine.
                const int32_t v = (int32_t)lrintf(xb[j] * id);
                q[b * AGORA_QK + j] = (int8_t)v;
                sum += v;
            }
            // Scales rounded to half precision, as ggml stores them in its q8_0/q8_1 blocks, and the
            // multiplier 127 / amax as ggml's quantize_row_q8_1 computes it: the quants and scales equal
            // llama.cpp's bit for bit.
            d[b] = agora_f16_to_f32(agora_f32_to_f16(db));
            isum[b] = sum;
            s[b] = agora_f16_to_f32(agora_f32_to_f16(db * (float)sum));
        }
    }
}
