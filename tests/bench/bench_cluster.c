/* bench_cluster.c - exemplar-clustering gains throughput: one CPU thread vs
 * all threads, fp64/fp32/fp16, N x d grid with M = 1024 candidates, in
 * N*M*d elements per second, plus each OpenCL device when the OpenCL
 * backend is present.  Ratios only, no assertions.  BENCH_QUICK=1 in the
 * environment shrinks the grid. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/pool.h"
#include "cluster/cluster.h"
#include "cluster/subsets.h"


/* Seconds per gains call of M candidates (best of a few), or -1. */
static double time_gains(const char *dev, const double *x, size_t n, size_t d, int prec,
                         int threads, size_t M, char *name, size_t nlen)
{
    bl_cluster_data data = { n, d, x };
    bl_cluster_backend *b = NULL;
    bl_error err = { 0 };
    if (bl_cluster_backend_new(dev, &data, prec, 1, threads, NULL, &b, &err)) {
        snprintf(name, nlen, "%s", err.msg);
        return -1;
    }
    snprintf(name, nlen, "%s", b->device);
    uint32_t *c = malloc(M * sizeof *c);
    double *g = malloc(M * sizeof *g);
    for (size_t i = 0; i < M; i++)
        c[i] = (uint32_t)((i * 2654435761u) % n);
    b->ops->add(b, 0, c[0], &err);
    b->ops->gains(b, 0, c, M, g, &err); /* warm-up */
    double best = 1e30, spent = 0;
    for (int r = 0; r < 5 && spent < 1.0; r++) {
        double t = bl_now();
        b->ops->gains(b, 0, c, M, g, &err);
        t = bl_now() - t;
        spent += t;
        if (t < best)
            best = t;
    }
    free(c);
    free(g);
    bl_cluster_backend_free(b);
    return best;
}

int main(void)
{
    int quick = getenv("BENCH_QUICK") != NULL;
    size_t M = 1024;
    struct { size_t n, d; } grid[] = {
        { 10000, 16 }, { 10000, 100 }, { 10000, 1000 }, { 100000, 16 }, { 100000, 100 },
        { 1000000, 16 },
    };
    int ng = quick ? 2 : (int)(sizeof grid / sizeof *grid);
    /* BENCH_CASE=N,D: just that shape (e.g. the target 100000,100) */
    const char *only = getenv("BENCH_CASE");
    if (only && sscanf(only, "%zu,%zu", &grid[0].n, &grid[0].d) == 2)
        ng = 1;
    int all = bl_cpu_count();
    printf("exemplar-clustering gains, M = %zu candidates; elements = N*M*d; %d CPUs\n", M, all);
    printf("%-8s %-5s %-5s %-34s %10s %12s %8s\n", "N", "d", "prec", "device", "seconds",
           "elements/s", "speedup");
    for (int gi = 0; gi < ng; gi++) {
        size_t n = grid[gi].n, d = grid[gi].d;
        double *x;
        if (bl_cluster_blobs(n, d, 10, 1, &x, NULL, NULL))
            return 1;
        for (int prec = 0; prec < 3; prec++) {
            if ((n * d > 10000000 || d >= 1000) && prec == 0)
                continue;  /* keep the run short */
            char name[160];
            double t1 = time_gains("cpu", x, n, d, prec, 1, M, name, sizeof name);
            double el = (double)n * (double)M * (double)d;
            printf("%-8zu %-5zu %-5s %-34s %10.4f %12.3g %8s\n", n, d, bl_precision_name(prec),
                   name, t1, el / t1, "1.00");
            double ta = time_gains("cpu", x, n, d, prec, 0, M, name, sizeof name);
            printf("%-8zu %-5zu %-5s %-34s %10.4f %12.3g %8.2f\n", n, d, bl_precision_name(prec),
                   name, ta, el / ta, t1 / ta);
            /* OpenCL on PoCL (CPU) is slow: only the small sizes unless BENCH_OPENCL_ALL */
            double to = -1;
            if (getenv("BENCH_NO_OPENCL"))
                snprintf(name, sizeof name, "skipped (BENCH_NO_OPENCL)");
            else if (n * d <= 2000000 || getenv("BENCH_OPENCL_ALL"))
                to = time_gains("opencl", x, n, d, prec, 0, M, name, sizeof name);
            else
                snprintf(name, sizeof name, "skipped at this size");
            if (to > 0)
                printf("%-8zu %-5zu %-5s %-34.34s %10.4f %12.3g %8.2f\n", n, d,
                       bl_precision_name(prec), name, to, el / to, t1 / to);
            else if (gi == 0 && prec == 0)
                printf("(OpenCL skipped: %s)\n", name);
        }
        free(x);
    }
    return 0;
}
