// AVX2 path: maddubs (u8 x s8 -> s16 pairs, no saturation for 4-bit or |w| <= 128 and |a| <= 127 inputs)
// then madd with ones (-> s32).
#pragma STDC FP_CONTRACT OFF

#include <immintrin.h>

#include "kernels_internal.h"

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

static inline __m256i dot_u8s8_avx2(__m256i w, __m256i a) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w, a), _mm256_set1_epi16(1));
}

#define AGORA_DOT_U8S8(w, a) dot_u8s8_avx2((w), (a))
#define AGORA_MATMUL_ROWS agora_matmul_rows_avx2
#include "matmul_simd_body.h"

#pragma clang attribute pop
