// Weight matrices stored as floats: F32, F16 and BF16 rows, in the order of llama.cpp's AVX2 build.
//
// llama.cpp first converts the activation column to the weight's own format (the "vec_dot_type": F16
// rounds to nearest even as F16C does, BF16 as ggml_compute_fp32_to_bf16), then takes one dot product
// per output element:
//   F32  ggml_vec_dot_f32   (see attention.c, agora_dot_f32_on)
//   F16  ggml_vec_dot_f16   four accumulators of eight lanes over steps of 32, sum[j] = fma(x, y, sum[j]);
//                           v = (sum0 + sum2) + (sum1 + sum3); t[i] = v[i] + v[i + 4];
//                           result (t0 + t1) + (t2 + t3); leftovers added in double, product in float
//   BF16 ggml_vec_dot_bf16  the same accumulators (GCC contracts its mul + add into fma: checked in the
//                           built libggml-cpu.a); g[i] = v[i] + v[i + 4]; result (g0 + g2) + (g1 + g3);
//                           leftovers added in double, product in float
// Both paths here compute exactly that, so scalar and AVX2 agree bit for bit.

#include <string.h>

#include "kernels_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static inline float bf16_to_f32(uint16_t h) {
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

uint16_t agora_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 64);  // NaN: keep it quiet
    return (uint16_t)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}

size_t agora_float_element_bytes(agora_float_format format) { return format == AGORA_FLOAT_F32 ? 4 : 2; }

void agora_float_convert_act(agora_float_format format, const float *x, size_t x_stride, int ncols, int k,
                             void *dst, size_t dst_stride) {
    for (int c = 0; c < ncols; c++) {
        const float *xc = x + (size_t)c * x_stride;
        uint16_t *out = (uint16_t *)((uint8_t *)dst + (size_t)c * dst_stride);
        if (format == AGORA_FLOAT_BF16) {
            for (int i = 0; i < k; i++) out[i] = agora_f32_to_bf16(xc[i]);
        } else {
            for (int i = 0; i < k; i++) out[i] = agora_f32_to_f16(xc[i]);
        }
    }
}

static inline float half_value(agora_float_format format, uint16_t h) {
    return format == AGORA_FLOAT_BF16 ? bf16_to_f32(h) : agora_f16_to_f32(h);
}

/// The reductions of the two 16-bit dot products (see the header comment).
static inline float reduce_f16(const float v[8]) {
    float t[4];
    for (int l = 0; l < 4; l++) t[l] = v[l] + v[l + 4];
    return (t[0] + t[1]) + (t[2] + t[3]);
}

static inline float reduce_bf16(const float v[8]) {
    float g[4];
    for (int l = 0; l < 4; l++) g[l] = v[l] + v[l + 4];
    return (g[0] + g[2]) + (g[1] + g[3]);
}

/// The leftovers past the last full step of 32, in double, as both ggml kernels add them.
static inline float add_leftovers(agora_float_format format, float reduced, const uint16_t *x, const uint16_t *y,
                                  int np, int n) {
    if (np == n) return reduced;
    double sum = reduced;
    for (int i = np; i < n; i++) sum += (double)(half_value(format, x[i]) * half_value(format, y[i]));
    return (float)sum;
}

static float dot_half_scalar(agora_float_format format, const uint16_t *x, const uint16_t *y, int n) {
    const int np = n & ~31;
    float sum[4][8];
    memset(sum, 0, sizeof sum);
    for (int i = 0; i < np; i += 32) {
        for (int j = 0; j < 4; j++) {
            for (int l = 0; l < 8; l++) {
                const int e = i + 8 * j + l;
                sum[j][l] = fmaf(half_value(format, x[e]), half_value(format, y[e]), sum[j][l]);
            }
        }
    }
    float v[8];
    for (int l = 0; l < 8; l++) v[l] = (sum[0][l] + sum[2][l]) + (sum[1][l] + sum[3][l]);
    const float reduced = format == AGORA_FLOAT_BF16 ? reduce_bf16(v) : reduce_f16(v);
    return add_leftovers(format, reduced, x, y, np, n);
}

#if defined(__x86_64__)
#define AGORA_AVX2_F16C __attribute__((target("avx2,fma,f16c")))

AGORA_AVX2_F16C static inline __m256 load_half(agora_float_format format, const uint16_t *p) {
    const __m128i h = _mm_loadu_si128((const __m128i *)p);
    if (format == AGORA_FLOAT_BF16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    return _mm256_cvtph_ps(h);
}

AGORA_AVX2_F16C static float dot_half_avx2(agora_float_format format, const uint16_t *x, const uint16_t *y, int n) {
    const int np = n & ~31;
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    for (int i = 0; i < np; i += 32) {
        s0 = _mm256_fmadd_ps(load_half(format, x + i), load_half(format, y + i), s0);
        s1 = _mm256_fmadd_ps(load_half(format, x + i + 8), load_half(format, y + i + 8), s1);
        s2 = _mm256_fmadd_ps(load_half(format, x + i + 16), load_half(format, y + i + 16), s2);
        s3 = _mm256_fmadd_ps(load_half(format, x + i + 24), load_half(format, y + i + 24), s3);
    }
    float v[8];
    _mm256_storeu_ps(v, _mm256_add_ps(_mm256_add_ps(s0, s2), _mm256_add_ps(s1, s3)));
    const float reduced = format == AGORA_FLOAT_BF16 ? reduce_bf16(v) : reduce_f16(v);
    return add_leftovers(format, reduced, x, y, np, n);
}
#endif

void agora_float_matmul_rows_on(agora_path path, agora_float_format format, const void *w, int k, int r0, int r1,
                                const void *act, size_t act_stride, int ncols, float *out, size_t out_stride) {
    const size_t row_bytes = (size_t)k * agora_float_element_bytes(format);
#if defined(__x86_64__)
    const int simd = path != AGORA_PATH_SCALAR && agora_path_supported(path);
#else
    const int simd = 0;
    (void)path;
#endif
    for (int r = r0; r < r1; r++) {
        const void *row = (const uint8_t *)w + (size_t)r * row_bytes;
        for (int c = 0; c < ncols; c++) {
            const void *column = (const uint8_t *)act + (size_t)c * act_stride;
            float result;
            if (format == AGORA_FLOAT_F32) {
                result = agora_dot_f32_on(path, row, column, k);
            } else {
#if defined(__x86_64__)
                result = simd ? dot_half_avx2(format, row, column, k) : dot_half_scalar(format, row, column, k);
#else
                result = dot_half_scalar(format, row, column, k);
#endif
            }
            out[(size_t)c * out_stride + r] = result;
        }
    }
}
