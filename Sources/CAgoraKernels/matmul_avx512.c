// AVX-512 VNNI path (256-bit vectors, AVX512VL): vpdpbusd computes the u8 x s8 sums in one instruction.
// The float lanes stay eight wide so the accumulation order matches the scalar path exactly.
#pragma STDC FP_CONTRACT OFF

#include <immintrin.h>

#include "kernels_internal.h"

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"))), \
                             apply_to = function)

static inline __m256i dot_u8s8_vnni(__m256i w, __m256i a) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), w, a);
}

#define AGORA_DOT_U8S8(w, a) dot_u8s8_vnni((w), (a))
#define AGORA_MATMUL_ROWS agora_matmul_rows_avx512
#include "matmul_simd_body.h"

#pragma clang attribute pop
