// Run-time choice of the kernel path: the best the CPU supports, or AGORA_KERNEL=scalar|avx2|avx512.
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kquants_internal.h"

static _Atomic int current_path = -1;

static int detect_supported_mask(void) {
    __builtin_cpu_init();
    int mask = 1 << AGORA_PATH_SCALAR;
    const int avx2 =
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    if (avx2) mask |= 1 << AGORA_PATH_AVX2;
    if (avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni")) {
        mask |= 1 << AGORA_PATH_AVX512;
    }
    return mask;
}

static _Atomic int supported_mask = -1;

int agora_path_supported(agora_path path) {
    int mask = atomic_load_explicit(&supported_mask, memory_order_relaxed);
    if (mask < 0) {
        mask = detect_supported_mask();
        atomic_store_explicit(&supported_mask, mask, memory_order_relaxed);
    }
    return (unsigned)path <= AGORA_PATH_AVX512 && (mask >> path) & 1;
}

static agora_path initial_path(void) {
    const char *env = getenv("AGORA_KERNEL");
    if (env) {
        if (strcmp(env, "scalar") == 0) return AGORA_PATH_SCALAR;
        if (strcmp(env, "avx2") == 0 && agora_path_supported(AGORA_PATH_AVX2)) return AGORA_PATH_AVX2;
        if (strcmp(env, "avx512") == 0 && agora_path_supported(AGORA_PATH_AVX512)) return AGORA_PATH_AVX512;
    }
    if (agora_path_supported(AGORA_PATH_AVX512)) return AGORA_PATH_AVX512;
    if (agora_path_supported(AGORA_PATH_AVX2)) return AGORA_PATH_AVX2;
    return AGORA_PATH_SCALAR;
}

agora_path agora_current_path(void) {
    int p = atomic_load_explicit(&current_path, memory_order_acquire);
    if (p < 0) {
        int expected = -1;
        atomic_compare_exchange_strong(&current_path, &expected, (int)initial_path());
        p = atomic_load_explicit(&current_path, memory_order_acquire);
    }
    return (agora_path)p;
}

int agora_set_path(agora_path path) {
    if (!agora_path_supported(path)) return 0;
    atomic_store_explicit(&current_path, (int)path, memory_order_release);
    return 1;
}

void agora_matmul_rows(agora_weight_type type, const void *w, int k, int r0, int r1, const void *act, int ncols,
                       float *out, size_t out_stride) {
    agora_matmul_rows_on(agora_current_path(), type, w, k, r0, r1, act, ncols, out, out_stride);
}

void agora_matmul_rows_on(agora_path path, agora_weight_type type, const void *w, int k, int r0, int r1,
                          const void *act, int ncols, float *out, size_t out_stride) {
    if (!agora_path_supported(path)) path = AGORA_PATH_SCALAR;
    const int kquant = agora_weight_is_kquant(type);
    switch (path) {
    case AGORA_PATH_AVX512:
        (kquant ? agora_kquant_rows_avx512 : agora_matmul_rows_avx512)(type, w, k, r0, r1, act, ncols, out, out_stride);
        break;
    case AGORA_PATH_AVX2:
        (kquant ? agora_kquant_rows_avx2 : agora_matmul_rows_avx2)(type, w, k, r0, r1, act, ncols, out, out_stride);
        break;
    default:
        (kquant ? agora_kquant_rows_scalar : agora_matmul_rows_scalar)(type, w, k, r0, r1, act, ncols, out, out_stride);
        break;
    }
}
