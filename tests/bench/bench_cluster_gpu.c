/* bench_cluster_gpu.c - the OpenCL exemplar backend on one device: correctness
 * against a double-precision CPU computation, then timings.
 *
 *   bench_cluster_gpu [--device opencl...] [check] [time] [full]
 *
 * check: fp64/fp32/fp16 gains, gains_slots, add, value vs double reference
 *        (tolerances 1e-12 / 1e-5 / 1e-2 relative to each gain, floored at 1e-2
 *        of the batch's largest gain), fp16 at N = 65,537 and 70,001 with
 *        non-zero gains (the published half path returns zeros past 65,500).
 * time:  small shapes (the default, fit for PoCL in `make bench`);
 * full:  the H200 shapes: fp32 gains (N, d, M) = (1e5,100,1024),
 *        (1e6,100,1024), (1e5,1000,1024) with |S| = 10 in both distance forms,
 *        and f(S) for N = 25,000, d = 50, |S| = 5,000 in fp16/fp32/fp64.
 * Uses only base + cluster/backend_opencl + ocl, so it links statically
 * against everything but the OpenCL ICD loader and libc (see gpu_check.sh). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/env.h"
#include "cluster/backend_opencl.h"
#include "ocl/ocl.h"

static const char *device = "opencl";
static int failures = 0;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t rs = 0x9e3779b97f4a7c15ull;
static double urand(void) { rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return (double)(rs >> 11) / 9007199254740992.0; }

/* Blobs: 16 centres in [-4, 4]^d plus uniform noise, offset by `off`. */
static double *make_data(size_t n, size_t d, double off)
{
    double *x = malloc(n * d * sizeof *x), *c = malloc(16 * d * sizeof *c);
    if (!x || !c) { fprintf(stderr, "out of memory\n"); exit(2); }
    for (size_t i = 0; i < 16 * d; ++i) c[i] = 8 * urand() - 4 + off;
    for (size_t i = 0; i < n; ++i) {
        const double *ci = c + (size_t)(urand() * 16) % 16 * d;
        for (size_t k = 0; k < d; ++k) x[i * d + k] = ci[k] + 2 * urand() - 1;
    }
    free(c);
    return x;
}

static const char *pname(bl_precision p) { return p == BL_PREC_FP64 ? "fp64" : p == BL_PREC_FP32 ? "fp32" : "fp16"; }

/* BETLAB_HOME, the kernel cache and the BETLAB_OCL_* overrides, as betlab
 * reads them; time_gains switches the distance method. */
static bl_settings settings;

static bl_cluster_backend *open_backend(const double *x, size_t n, size_t d, bl_precision p, int ns)
{
    bl_cluster_data data = { n, d, x };
    bl_cluster_backend *b = NULL;
    bl_error err = { 0 };
    if (bl_cluster_opencl_new(device, &data, p, ns, &settings, &b, &err)) {
        printf("ERROR opening %s %s: %s\n", device, pname(p), err.msg);
        ++failures;
        return NULL;
    }
    return b;
}

#define TRY(call)                                                              \
    do {                                                                       \
        bl_error e_ = { 0 };                                                   \
        if ((call) != 0) {                                                     \
            (void)e_;                                                          \
            printf("ERROR %s:%d: %s\n", __FILE__, __LINE__, err.msg);          \
            ++failures;                                                        \
            return;                                                            \
        }                                                                      \
    } while (0)

/* ---- correctness ---------------------------------------------------------- */

static double ref_min_init(const double *x, size_t d, size_t v)
{
    double s = 0;
    for (size_t k = 0; k < d; ++k) s += x[v * d + k] * x[v * d + k];
    return s;
}
static double ref_d2(const double *x, size_t d, size_t a, size_t b)
{
    double s = 0;
    for (size_t k = 0; k < d; ++k) { double t = x[a * d + k] - x[b * d + k]; s += t * t; }
    return s;
}

static double check_one(size_t n, size_t d, bl_precision p, double tol, size_t m, double off)
{
    double *x = make_data(n, d, off);
    bl_cluster_backend *b = open_backend(x, n, d, p, 2);
    if (!b) { free(x); return INFINITY; }
    bl_error err = { 0 };
    double *mins = malloc(n * sizeof *mins);
    for (size_t v = 0; v < n; ++v) mins[v] = ref_min_init(x, d, v);
    size_t S[3] = { 5, n / 2, n - 1 };
    for (int i = 0; i < 3; ++i) {
        if (b->ops->add(b, 0, (uint32_t)S[i], &err)) { printf("ERROR add: %s\n", err.msg); ++failures; }
        for (size_t v = 0; v < n; ++v) { double t = ref_d2(x, d, v, S[i]); if (t < mins[v]) mins[v] = t; }
    }
    uint32_t *cand = malloc(m * sizeof *cand);
    double *g = malloc(m * sizeof *g), *w = malloc(m * sizeof *w), gmax = 0;
    for (size_t i = 0; i < m; ++i) cand[i] = (uint32_t)((i * 104729u + 7) % n);
    if (b->ops->gains(b, 0, cand, m, g, &err)) { printf("ERROR gains: %s\n", err.msg); ++failures; }
    size_t zeros = 0;
    for (size_t i = 0; i < m; ++i) {
        double s = 0;
        for (size_t v = 0; v < n; ++v) { double t = mins[v] - ref_d2(x, d, v, cand[i]); if (t > 0) s += t; }
        w[i] = s / (double)n;
        if (w[i] > gmax) gmax = w[i];
    }
    double worst = 0;
    for (size_t i = 0; i < m; ++i) {
        double den = fabs(w[i]) > 1e-2 * gmax ? fabs(w[i]) : 1e-2 * gmax;
        double r = fabs(g[i] - w[i]) / (den > 0 ? den : 1);
        if (r > worst || isnan(r)) worst = isnan(r) ? INFINITY : r;
        if (g[i] == 0 && w[i] > 0) ++zeros;
    }
    /* value and gains_slots (slot 1 empty, slot 0 = S) */
    double f, want = 0;
    for (size_t v = 0; v < n; ++v) want += ref_min_init(x, d, v) - mins[v];
    want /= (double)n;
    if (b->ops->value(b, 0, &f, &err)) { printf("ERROR value: %s\n", err.msg); ++failures; }
    double rf = fabs(f - want) / fabs(want);
    int sl[2] = { 0, 1 };
    double gs[2];
    if (b->ops->gains_slots(b, cand[0], sl, 2, gs, &err)) { printf("ERROR gains_slots: %s\n", err.msg); ++failures; }
    double rs0 = fabs(gs[0] - w[0]) / (fabs(w[0]) > 1e-2 * gmax ? fabs(w[0]) : 1e-2 * gmax);
    if (rf > worst) worst = rf;
    if (rs0 > worst) worst = rs0;
    int ok = worst <= tol && zeros == 0;
    if (!ok) ++failures;
    printf("check %-4s N=%-7zu d=%-4zu M=%-5zu max rel err %.2e (tol %.0e) f rel err %.2e zero-gains %zu  %s\n",
           pname(p), n, d, m, worst, tol, rf, zeros, ok ? "OK" : "FAIL");
    b->ops->free(b);
    free(x); free(mins); free(cand); free(g); free(w);
    return worst;
}

static void run_checks(void)
{
    check_one(20011, 33, BL_PREC_FP64, 1e-12, 256, 0.5);
    check_one(20011, 33, BL_PREC_FP32, 1e-5, 256, 0.5);
    check_one(20011, 33, BL_PREC_FP16, 1e-2, 256, 0.5);
    check_one(3001, 1, BL_PREC_FP32, 1e-5, 100, 0.0);
    check_one(5003, 129, BL_PREC_FP32, 1e-5, 300, 3.0);
    check_one(65537, 7, BL_PREC_FP16, 1e-2, 64, 0.25);
    check_one(70001, 9, BL_PREC_FP16, 1e-2, 64, 0.25);
}

/* ---- timing --------------------------------------------------------------- */

static int cmp_d(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

static void time_gains(size_t n, size_t d, size_t m, bl_precision p, int reps, const char *dist)
{
    int dist_dot = settings.ocl_dist_dot;
    settings.ocl_dist_dot = dist && strcmp(dist, "dot") == 0;
    double *x = make_data(n, d, 0.5);
    double t0 = now();
    bl_cluster_backend *b = open_backend(x, n, d, p, 1);
    double t_open = now() - t0;
    settings.ocl_dist_dot = dist_dot;
    if (!b) { free(x); return; }
    bl_error err = { 0 };
    for (uint32_t s = 0; s < 10; ++s) TRY(b->ops->add(b, 0, (uint32_t)((s * 7919u) % n), &err));
    uint32_t *cand = malloc(m * sizeof *cand);
    double *g = malloc(m * sizeof *g), *ts = malloc((size_t)reps * sizeof *ts);
    for (size_t i = 0; i < m; ++i) cand[i] = (uint32_t)((i * 104729u + 11) % n);
    TRY(b->ops->gains(b, 0, cand, m, g, &err));  /* warm-up */
    for (int r = 0; r < reps; ++r) {
        double a = now();
        TRY(b->ops->gains(b, 0, cand, m, g, &err));
        ts[r] = now() - a;
    }
    qsort(ts, (size_t)reps, sizeof *ts, cmp_d);
    double med = ts[reps / 2];
    char info[512] = "";
    bl_cluster_opencl_info(b, info, sizeof info);
    printf("gains %-4s dist=%-6s N=%-8zu d=%-5zu M=%-5zu median %8.3f ms  min %8.3f ms  %7.1f G N*M*d/s  "
           "(open+upload %.2f s) [%s]\n", pname(p), dist ? dist : "direct", n, d, m, med * 1e3, ts[0] * 1e3,
           (double)n * (double)m * (double)d / med * 1e-9, t_open, info);
    fflush(stdout);
    b->ops->free(b);
    free(x); free(cand); free(g); free(ts);
}

static void time_f(size_t n, size_t d, size_t k, bl_precision p, int reps)
{
    double *x = make_data(n, d, 0.5);
    bl_cluster_backend *b = open_backend(x, n, d, p, 1);
    if (!b) { free(x); return; }
    bl_error err = { 0 };
    uint32_t *S = malloc(k * sizeof *S);
    for (size_t i = 0; i < k; ++i) S[i] = (uint32_t)((i * 2654435761u) % n);
    double f = 0, best = INFINITY;
    for (int r = 0; r < reps + 1; ++r) {
        double a = now();
        TRY(b->ops->reset(b, 0, &err));
        TRY(bl_cluster_opencl_add_many(b, 0, S, k, &err));
        TRY(b->ops->value(b, 0, &f, &err));
        double t = now() - a;
        if (r > 0 && t < best) best = t;  /* r == 0: warm-up */
    }
    printf("f(S)  %-4s N=%-8zu d=%-5zu |S|=%-5zu best %8.3f ms  f=%.10g\n", pname(p), n, d, k, best * 1e3, f);
    fflush(stdout);
    b->ops->free(b);
    free(x); free(S);
}

int main(int argc, char **argv)
{
    int do_check = 0, do_time = 0, full = 0, wide = 0;
    settings = *cli_settings();
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) device = argv[++i];
        else if (strcmp(argv[i], "check") == 0) do_check = 1;
        else if (strcmp(argv[i], "time") == 0) do_time = 1;
        else if (strcmp(argv[i], "full") == 0) full = do_time = 1;
        else if (strcmp(argv[i], "wide") == 0) wide = do_time = 1; /* d = 1000 only (tuning) */
        else { fprintf(stderr, "usage: %s [--device D] [check] [time] [full] [wide]\n", argv[0]); return 2; }
    }
    if (!do_check && !do_time) do_check = do_time = 1;
    bl_ocl_device_info di;
    bl_error err = { 0 };
    if (bl_ocl_select(device, &di, &err)) {
        printf("skip: %s\n", err.msg);
        return 0;
    }
    printf("device: %s | %s | %s | driver %s | %u CUs | %.1f GiB | local %llu KiB | max wg %zu | fp16 %s fp64 %s\n",
           di.name, di.vendor, di.platform_name, di.driver, di.compute_units, (double)di.global_mem / 1073741824.0,
           (unsigned long long)(di.local_mem >> 10), di.max_wg, di.fp16 ? "yes" : "no", di.fp64 ? "yes" : "no");
    fflush(stdout);
    if (do_check) run_checks();
    if (wide) {
        time_gains(100000, 1000, 1024, BL_PREC_FP32, 10, NULL);
        time_gains(100000, 1000, 1024, BL_PREC_FP32, 10, "dot");
    }
    if (do_time && !full && !wide) {
        time_gains(20000, 100, 1024, BL_PREC_FP32, 3, NULL);
        time_gains(20000, 100, 1024, BL_PREC_FP32, 3, "dot");
        time_f(5000, 50, 1000, BL_PREC_FP32, 2);
    }
    if (full) {
        const size_t shapes[3][3] = { { 100000, 100, 1024 }, { 1000000, 100, 1024 }, { 100000, 1000, 1024 } };
        for (int s = 0; s < 3; ++s) {
            time_gains(shapes[s][0], shapes[s][1], shapes[s][2], BL_PREC_FP32, 20, NULL);
            time_gains(shapes[s][0], shapes[s][1], shapes[s][2], BL_PREC_FP32, 20, "dot");
        }
        time_gains(100000, 100, 1024, BL_PREC_FP16, 20, NULL);
        time_gains(100000, 100, 1024, BL_PREC_FP64, 20, NULL);
        time_f(25000, 50, 5000, BL_PREC_FP16, 5);
        time_f(25000, 50, 5000, BL_PREC_FP32, 5);
        time_f(25000, 50, 5000, BL_PREC_FP64, 5);
    }
    printf("%s (%d failures)\n", failures ? "FAILED" : "ALL OK", failures);
    return failures ? 1 : 0;
}
