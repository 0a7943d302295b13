#include "base/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

struct bl_pool {
    int nthreads;               /* including the caller                   */
    pthread_t *threads;         /* nthreads - 1 helpers                   */
    pthread_mutex_t lock;       /* protects generation/job fields         */
    pthread_cond_t start, done;
    pthread_mutex_t run_lock;   /* serialises bl_pool_run callers         */
    unsigned long generation;   /* bumped per run; helpers wait on it     */
    int busy;                   /* helpers still inside the current run   */
    int quit;
    bl_pool_fn fn;
    void *ctx;
    size_t ntasks;
    atomic_size_t next;
};

struct worker_arg {
    bl_pool *pool;
    int id;
};

static void drain(bl_pool *p, int worker)
{
    for (;;) {
        size_t t = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (t >= p->ntasks)
            break;
        p->fn(p->ctx, t, worker);
    }
}

static void *worker_main(void *argp)
{
    struct worker_arg *arg = argp;
    bl_pool *p = arg->pool;
    int id = arg->id;
    free(arg);
    unsigned long seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->quit && p->generation == seen)
            pthread_cond_wait(&p->start, &p->lock);
        if (p->quit)
            break;
        seen = p->generation;
        pthread_mutex_unlock(&p->lock);
        drain(p, id);
        pthread_mutex_lock(&p->lock);
        if (--p->busy == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int bl_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

bl_pool *bl_pool_new(int nthreads)
{
    if (nthreads <= 0)
        nthreads = bl_cpu_count();
    if (nthreads > 1024)
        nthreads = 1024;
    bl_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->nthreads = nthreads;
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->run_lock, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    if (nthreads > 1) {
        p->threads = calloc((size_t)nthreads - 1, sizeof *p->threads);
        if (!p->threads) {
            bl_pool_free(p);
            return NULL;
        }
        for (int i = 1; i < nthreads; i++) {
            struct worker_arg *a = malloc(sizeof *a);
            if (a) {
                a->pool = p;
                a->id = i;
            }
            if (!a || pthread_create(&p->threads[i - 1], NULL, worker_main, a) != 0) {
                free(a);
                p->nthreads = i; /* helpers 1..i-1 exist */
                bl_pool_free(p);
                return NULL;
            }
        }
    }
    return p;
}

void bl_pool_free(bl_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->quit = 1;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->lock);
    if (p->threads)
        for (int i = 1; i < p->nthreads; i++)
            pthread_join(p->threads[i - 1], NULL);
    free(p->threads);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->run_lock);
    free(p);
}

int bl_pool_threads(const bl_pool *p) { return p ? p->nthreads : 1; }

void bl_pool_run(bl_pool *p, size_t ntasks, bl_pool_fn fn, void *ctx)
{
    if (ntasks == 0)
        return;
    if (!p || p->nthreads == 1 || ntasks == 1) {
        for (size_t t = 0; t < ntasks; t++)
            fn(ctx, t, 0);
        return;
    }
    pthread_mutex_lock(&p->run_lock);
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->ctx = ctx;
    p->ntasks = ntasks;
    atomic_store(&p->next, 0);
    p->busy = p->nthreads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->lock);

    drain(p, 0);

    pthread_mutex_lock(&p->lock);
    while (p->busy > 0)
        pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_unlock(&p->run_lock);
}
