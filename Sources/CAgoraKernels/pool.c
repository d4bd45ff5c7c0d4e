// A small thread pool for the forward pass: workers spin for a short while between tasks (a decode step
// dispatches a few hundred tasks of tens of microseconds), then sleep on a condition variable.
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "kernels_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define AGORA_PAUSE() _mm_pause()
#else
#define AGORA_PAUSE() ((void)0)
#endif

enum { SPIN_ITERATIONS = 1 << 17 };

struct agora_pool {
    int nthreads;
    pthread_t *threads;
    agora_task_fn fn;
    void *ctx;
    _Atomic unsigned generation;
    _Atomic int pending;
    _Atomic int sleepers;
    _Atomic int stop;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
};

typedef struct {
    agora_pool *pool;
    int ith;
} worker_arg;

static void *worker_main(void *p) {
    worker_arg arg = *(worker_arg *)p;
    free(p);
    agora_pool *pool = arg.pool;
    unsigned seen = 0;
    for (;;) {
        unsigned gen;
        int spins = 0;
        while ((gen = atomic_load_explicit(&pool->generation, memory_order_acquire)) == seen &&
               !atomic_load_explicit(&pool->stop, memory_order_acquire)) {
            if (++spins < SPIN_ITERATIONS) {
                AGORA_PAUSE();
                continue;
            }
            pthread_mutex_lock(&pool->mutex);
            atomic_fetch_add(&pool->sleepers, 1);
            while (atomic_load(&pool->generation) == seen && !atomic_load(&pool->stop)) {
                pthread_cond_wait(&pool->cond, &pool->mutex);
            }
            atomic_fetch_sub(&pool->sleepers, 1);
            pthread_mutex_unlock(&pool->mutex);
            spins = 0;
        }
        if (atomic_load_explicit(&pool->stop, memory_order_acquire)) return NULL;
        seen = gen;
        pool->fn(pool->ctx, arg.ith, pool->nthreads);
        atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_acq_rel);
    }
}

agora_pool *agora_pool_create(int nthreads) {
    if (nthreads < 1) nthreads = 1;
    agora_pool *pool = calloc(1, sizeof *pool);
    if (!pool) return NULL;
    pool->nthreads = nthreads;
    pthread_mutex_init(&pool->mutex, NULL);
    pthread_cond_init(&pool->cond, NULL);
    pool->threads = calloc((size_t)nthreads, sizeof(pthread_t));
    for (int i = 1; i < nthreads; i++) {
        worker_arg *arg = malloc(sizeof *arg);
        arg->pool = pool;
        arg->ith = i;
        pthread_create(&pool->threads[i], NULL, worker_main, arg);
    }
    return pool;
}

void agora_pool_destroy(agora_pool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->mutex);
    atomic_store(&pool->stop, 1);
    pthread_cond_broadcast(&pool->cond);
    pthread_mutex_unlock(&pool->mutex);
    for (int i = 1; i < pool->nthreads; i++) pthread_join(pool->threads[i], NULL);
    pthread_mutex_destroy(&pool->mutex);
    pthread_cond_destroy(&pool->cond);
    free(pool->threads);
    free(pool);
}

int agora_pool_size(const agora_pool *pool) { return pool->nthreads; }

void agora_pool_run(agora_pool *pool, agora_task_fn fn, void *ctx) {
    if (pool->nthreads == 1) {
        fn(ctx, 0, 1);
        return;
    }
    pool->fn = fn;
    pool->ctx = ctx;
    atomic_store(&pool->pending, pool->nthreads - 1);
    atomic_fetch_add(&pool->generation, 1);
    if (atomic_load(&pool->sleepers) > 0) {
        pthread_mutex_lock(&pool->mutex);
        pthread_cond_broadcast(&pool->cond);
        pthread_mutex_unlock(&pool->mutex);
    }
    fn(ctx, 0, pool->nthreads);
    while (atomic_load_explicit(&pool->pending, memory_order_acquire) > 0) AGORA_PAUSE();
}

// MARK: - Parallel matrix products

typedef struct {
    int is_float;
    int is_gemm;
    agora_float_format format;
    agora_path path;
    agora_weight_type type;
    const void *w;
    int rows, k;
    const void *act;
    size_t x_stride;
    int ncols;
    float *out;
    size_t out_stride;
    int chunk;
    _Atomic int next;
} matmul_job;

static void matmul_task(void *p, int ith, int nth) {
    (void)ith;
    (void)nth;
    matmul_job *job = p;
    for (;;) {
        const int r0 = atomic_fetch_add_explicit(&job->next, job->chunk, memory_order_relaxed);
        if (r0 >= job->rows) break;
        const int r1 = r0 + job->chunk < job->rows ? r0 + job->chunk : job->rows;
        if (job->is_gemm) {
            agora_gemm_f32_rows_on(job->path, job->w, job->k, r0, r1, job->act, job->x_stride, job->ncols, job->out,
                                   job->out_stride);
        } else if (job->is_float) {
            agora_float_matmul_rows_on(job->path, job->format, job->w, job->k, r0, r1, job->act, job->x_stride,
                                       job->ncols, job->out, job->out_stride);
        } else {
            agora_matmul_rows_on(job->path, job->type, job->w, job->k, r0, r1, job->act, job->ncols, job->out, job->out_stride);
        }
    }
}

static int chunk_rows(int rows, int nthreads, int ncols) {
    // Enough chunks for load balance on a busy machine, large enough to amortize the atomic.
    int chunk = rows / (nthreads * 8);
    const int min = ncols >= 4 ? 4 : 16;
    if (chunk < min) chunk = min;
    return (chunk + 3) & ~3;
}

void agora_pool_matmul(agora_pool *pool, agora_path path, agora_weight_type type, const void *w, int rows, int k, const void *act,
                       int ncols, float *out, size_t out_stride) {
    matmul_job job = {0};
    job.path = path;
    job.type = type;
    job.w = w;
    job.rows = rows;
    job.k = k;
    job.act = act;
    job.ncols = ncols;
    job.out = out;
    job.out_stride = out_stride;
    job.chunk = chunk_rows(rows, pool->nthreads, ncols);
    atomic_init(&job.next, 0);
    agora_pool_run(pool, matmul_task, &job);
}

/// A float job (F16/BF16/F32 rows in vec_dot order, or F32 rows in tinyBLAS order with `gemm`) on the pool.
static void run_float_job(agora_pool *pool, int gemm, agora_path path, agora_float_format format, const void *w,
                          int rows, int k, const void *act, size_t act_stride, int ncols, float *out,
                          size_t out_stride) {
    matmul_job job = {0};
    job.is_float = 1;
    job.is_gemm = gemm;
    job.format = format;
    job.path = path;
    job.w = w;
    job.rows = rows;
    job.k = k;
    job.act = act;
    job.x_stride = act_stride;
    job.ncols = ncols;
    job.out = out;
    job.out_stride = out_stride;
    job.chunk = chunk_rows(rows, pool->nthreads, ncols);
    atomic_init(&job.next, 0);
    agora_pool_run(pool, matmul_task, &job);
}

void agora_pool_matmul_float(agora_pool *pool, agora_path path, agora_float_format format, const void *w, int rows,
                             int k, const void *act, size_t act_stride, int ncols, float *out, size_t out_stride) {
    run_float_job(pool, 0, path, format, w, rows, k, act, act_stride, ncols, out, out_stride);
}

void agora_pool_gemm_f32(agora_pool *pool, agora_path path, const float *w, int rows, int k, const float *act,
                         size_t act_stride, int ncols, float *out, size_t out_stride) {
    run_float_job(pool, 1, path, AGORA_FLOAT_F32, w, rows, k, act, act_stride, ncols, out, out_stride);
}
