/* bench_train.c - training throughput (images/s) of `fc` and `vgg3` with
 * bit flips (p = 0.1, flip-ste), batch 100, on FashionMNIST (synthetic
 * 28x28 data when it is not installed); 1 thread vs all threads, and the
 * extrapolated time of one 60,000-image epoch.  Short: a few seconds each.
 *
 * Like `betlab train`, re-executes itself with OPENBLAS_CORETYPE set when
 * OpenBLAS fell back to its SSE3 kernels on an AVX2/AVX-512 CPU. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "cli/env.h"
#include "base/cpu.h"
#include "base/pool.h"
#include "base/rng.h"
#include "bnn/train.h"


static bl_dataset *data(size_t n)
{
    bl_error err = { 0 };
    bl_dataset *ds, *v;
    if (bl_dataset_load("fashion-mnist:train", NULL, &ds, &err) == 0) {
        if (bl_dataset_subset(ds, 0, n, &v, &err) == 0) {
            bl_dataset_free(ds);
            return v;
        }
        bl_dataset_free(ds);
    }
    uint8_t *x = malloc(n * 784);
    int32_t *y = malloc(n * sizeof *y);
    bl_rng_stream s = bl_rng_stream_init(1, BL_RNG_TEST, 0);
    for (size_t i = 0; i < n; i++) {
        y[i] = (int32_t)bl_rng_stream_below(&s, 10);
        for (size_t j = 0; j < 784; j++)
            x[i * 784 + j] = (uint8_t)(bl_rng_stream_u64(&s) & 255);
    }
    bl_dataset_from_memory("synthetic", BL_DT_U8, n, 28, 28, 1, x, y, &ds, &err);
    return ds;
}

static double run(const char *arch, bl_dataset *ds, int threads)
{
    bl_train_opts o;
    bl_train_opts_default(&o);
    snprintf(o.spec, sizeof o.spec, "%s", arch);
    o.p01 = o.p10 = 0.1;
    o.threads = threads;
    bl_trainer *t;
    bl_error err = { 0 };
    if (bl_trainer_new(&o, ds, NULL, &t, &err)) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        exit(1);
    }
    double t0 = bl_now();
    if (bl_trainer_run(t, NULL, NULL, &err)) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        exit(1);
    }
    double s = bl_now() - t0;
    bl_trainer_free(t);
    return (double)bl_dataset_count(ds) / s;
}

int main(int argc, char **argv)
{
    cli_openblas_fix(NULL, argc, argv);
    int nt = bl_cpu_count();
    printf("OpenBLAS core %s, %d CPUs; batch 100, flips p=0.1 (flip-ste)\n", openblas_get_corename(),
           nt);
    struct { const char *arch; size_t n; } cases[] = { { "fc", 2000 }, { "vgg3", 600 } };
    /* optional: bench_train ARCH [THREADS] runs one case at one thread count (profiling) */
    if (argc > 1) {
        for (int i = 0; i < 2; i++)
            if (strcmp(argv[1], cases[i].arch) == 0) {
                int th = argc > 2 ? atoi(argv[2]) : nt;
                bl_dataset *ds = data(cases[i].n);
                double r = run(cases[i].arch, ds, th);
                printf("%-5s %6zu images: %8.0f images/s (%d threads)  => one 60k epoch ~ %.0f s\n",
                       cases[i].arch, cases[i].n, r, th, 60000.0 / r);
                bl_dataset_free(ds);
                return 0;
            }
        fprintf(stderr, "usage: bench_train [fc|vgg3 [THREADS]]\n");
        return 2;
    }
    for (int i = 0; i < 2; i++) {
        bl_dataset *ds = data(cases[i].n);
        double r1 = run(cases[i].arch, ds, 1);
        double rn = nt > 1 ? run(cases[i].arch, ds, nt) : r1;
        printf("%-5s %6zu images: %8.0f images/s (1 thread)  %8.0f images/s (%d threads)  "
               "ratio %.2f  => one 60k epoch ~ %.0f s\n",
               cases[i].arch, cases[i].n, r1, rn, nt, rn / r1, 60000.0 / rn);
        bl_dataset_free(ds);
    }
    return 0;
}
