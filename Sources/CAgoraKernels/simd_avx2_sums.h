// Exact integer horizontal sums for the AVX2 (and AVX-512) paths, shared by matmul_simd_body.h and
// kquants.c. Include inside a region compiled with AVX2 enabled.
#ifndef AGORA_SIMD_AVX2_SUMS_H
#define AGORA_SIMD_AVX2_SUMS_H

#include <immintrin.h>

/// The exact sum of eight int32 lanes.
static inline int32_t agora_hsum_i32(__m256i v) {
    __m128i x = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0x4e));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0xb1));
    return _mm_cvtsi128_si32(x);
}

/// The totals of the eight int32 lanes of p0..p3 in two halves: lane c of the low half plus lane c of the
/// high half is p_c's exact total. Adds and unpacks only: a third of the work of four separate
/// horizontal sums, which is why tiles of four columns reduce together.
static inline __m256i agora_hsum4_halves(__m256i p0, __m256i p1, __m256i p2, __m256i p3) {
    const __m256i a01 = _mm256_add_epi32(_mm256_unpacklo_epi32(p0, p1), _mm256_unpackhi_epi32(p0, p1));
    const __m256i a23 = _mm256_add_epi32(_mm256_unpacklo_epi32(p2, p3), _mm256_unpackhi_epi32(p2, p3));
    return _mm256_add_epi32(_mm256_unpacklo_epi64(a01, a23), _mm256_unpackhi_epi64(a01, a23));
}

/// The exact totals of p0..p3, as four int32 lanes.
static inline __m128i agora_hsum4_i32(__m256i p0, __m256i p1, __m256i p2, __m256i p3) {
    const __m256i s = agora_hsum4_halves(p0, p1, p2, p3);
    return _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
}

#endif
