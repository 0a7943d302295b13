/* pool.h - a fixed thread pool running parallel-for loops.
 *
 * bl_pool_run(pool, ntasks, fn, ctx) calls fn(ctx, task, worker) once for
 * every task in [0, ntasks) and returns when all are done.  Tasks are handed
 * out dynamically (an atomic counter), so callers must make every task's
 * result independent of which worker runs it: that is what keeps results
 * bit-identical for any thread count.  `worker` in [0, nthreads) lets a task
 * use per-worker scratch memory.  The calling thread works too. */
#ifndef BL_BASE_POOL_H
#define BL_BASE_POOL_H

#include <stddef.h>

typedef struct bl_pool bl_pool;
typedef void (*bl_pool_fn)(void *ctx, size_t task, int worker);

/* nthreads <= 0 means one per online CPU.  NULL on failure. */
bl_pool *bl_pool_new(int nthreads);
void bl_pool_free(bl_pool *pool);
int bl_pool_threads(const bl_pool *pool);

/* Run fn for every task; blocking.  Not re-entrant: one run at a time per
 * pool (a second caller waits).  pool may be NULL: runs serially. */
void bl_pool_run(bl_pool *pool, size_t ntasks, bl_pool_fn fn, void *ctx);

/* Number of online CPUs (at least 1). */
int bl_cpu_count(void);

#endif
