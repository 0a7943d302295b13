/* bench_sweep.c - a BER sweep of fc: 10 BERs x 10 repetitions over the
 * 10,000 FashionMNIST test images with 2 threads (issue 4 target: <= 15 s,
 * fault-map generation included).  Prints the split; asserts nothing.
 * Uses models/fc-p0.1.bnn when present, else fc with random weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "bnn/engine.h"
#include "data/dataset.h"
#include "study/evaluate.h"


int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    bl_error err = { 0 };
    bl_model *m = NULL;
    bl_dataset *ds = NULL;
    bl_inputs *in = NULL;
    bl_fault_registry *reg = NULL;
    const char *mp = "models/fc-p0.1.bnn", *what = mp;
    if (access(mp, R_OK) == 0) {
        if (bl_model_load(mp, &m, &err))
            goto fail;
    } else {
        if (bl_model_from_spec("fc", NULL, &m, &err))
            goto fail;
        bl_model_randomize(m, 1);
        what = "random fc";
    }
    if (bl_dataset_load("fashion-mnist:test", NULL, &ds, &err)) {
        printf("bench_sweep: skipped (%s)\n", err.msg);
        bl_model_free(m);
        return 0;
    }
    if (bl_inputs_prepare(m, ds, 0, &in, &err) || bl_fault_registry_new(&reg, &err))
        goto fail;
    double bers[10];
    for (int i = 0; i < 10; i++)
        bers[i] = i == 0 ? 0.0 : 1e-4 * (double)(1 << (i - 1)); /* 0, 1e-4 .. 2.56e-2 */
    bl_evaluate_cfg c = { .model = m, .inputs = in, .reg = reg, .fault = "bitflip",
                          .bers = bers, .nbers = 10, .seed = 1, .reps = 10,
                          .threads = threads };
    double t0 = bl_now();
    bl_evaluate_result *r = NULL;
    if (bl_evaluate(&c, NULL, &r, &err))
        goto fail;
    double total = bl_now() - t0;
    printf("bench_sweep: %s, %zu images, 10 BERs x 10 reps, %d threads\n", what, r->images,
           r->threads);
    bl_evaluate_print_table(r, stdout);
    printf("total %.3f s (target <= 15 s): fault maps %.3f s (%.2f ms/map), evaluation "
           "%.3f s (%.1f ms/map), other (engine, cache, clean eval) %.3f s\n",
           total, r->fault_seconds, 1e3 * r->fault_seconds / 100, r->eval_seconds,
           1e3 * r->eval_seconds / 100, total - r->fault_seconds - r->eval_seconds);
    bl_evaluate_result_free(r);
    bl_fault_registry_free(reg);
    bl_inputs_free(in);
    bl_dataset_free(ds);
    bl_model_free(m);
    return 0;
fail:
    fprintf(stderr, "bench_sweep: %s\n", err.msg);
    return 1;
}
