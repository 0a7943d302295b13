/* bench_engine.c - packed engine vs float baselines (DESIGN.md "Measuring").
 *
 * For fc and vgg3 over 10,000 inputs (the FashionMNIST test set when it
 * loads, else synthetic codes): packed engine time with 2 threads and 1
 * thread, images/s, binary MAC/s; the naive float reference on a subset
 * (scaled per image); a fair float baseline (the same forward pass as
 * OpenBLAS sgemm over batches, +-1 float weights, sign activations, as
 * PyTorch would run it); cached fault evaluation at BER 0.01 and 0.001 vs
 * the full forward pass.  Prints ratios measured in this one run; asserts
 * nothing about time (only that all paths agree). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "cli/env.h"
#include "base/mem.h"
#include "base/rng.h"
#include "bnn/engine.h"

#define NIMG 10000


static void die(const char *what, const bl_error *err)
{
    fprintf(stderr, "bench_engine: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

/* Best of `reps` runs (after one warm-up) of predict. */
static double time_predict(bl_engine *e, const bl_model *m, const bl_inputs *in, int32_t *pred,
                           int reps)
{
    bl_error err = { 0 };
    if (bl_engine_predict(e, m, in, pred, &err))
        die("predict", &err);
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = bl_now();
        bl_engine_predict(e, m, in, pred, &err);
        double t = bl_now() - t0;
        if (t < best)
            best = t;
    }
    return best;
}

static double time_cached(bl_engine *e, const bl_cache *c, const bl_model *m, int32_t *pred,
                          int reps)
{
    bl_error err = { 0 };
    if (bl_engine_predict_cached(e, c, m, pred, &err))
        die("predict_cached", &err);
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = bl_now();
        bl_engine_predict_cached(e, c, m, pred, &err);
        double t = bl_now() - t0;
        if (t < best)
            best = t;
    }
    return best;
}

/* ---- OpenBLAS float baseline ---------------------------------------------------- */

/* Layer weights as +-1 floats, row-major [rows][cols] (conv: [cout][9*cin]
 * tap-major, matching the im2col below). */
static float *float_weights(const bl_layer *l)
{
    float *w = malloc((size_t)l->rows * l->cols * sizeof *w);
    for (uint32_t r = 0; r < l->rows; r++) {
        const uint64_t *row = l->weights + (size_t)r * l->words_per_row;
        for (uint32_t c = 0; c < l->cols; c++) {
            size_t pos = l->kind == BL_LAYER_CONV3
                             ? (c / l->in.c) * l->words_per_tap * 64 + c % l->in.c
                             : c;
            w[(size_t)r * l->cols + c] = bl_bit_get(row, pos) ? 1.0f : -1.0f;
        }
    }
    return w;
}

/* The whole forward pass as float GEMMs over batches of `bs` images.
 * Returns the number of predictions equal to `want`. */
static size_t gemm_forward(const bl_model *m, const uint8_t *codes, size_t n, size_t bs,
                           const int32_t *want, double *seconds)
{
    size_t F = bl_shape_size(m->input), maxsz = F;
    for (uint32_t li = 0; li < m->nlayers; li++) {
        size_t s = bl_shape_size(m->layers[li].out);
        if (m->layers[li].kind == BL_LAYER_CONV3)
            s = bl_shape_size(m->layers[li].in) * 9 > s ? bl_shape_size(m->layers[li].in) * 9 : s;
        if (s > maxsz)
            maxsz = s;
    }
    float **wf = calloc(m->nlayers, sizeof *wf);
    for (uint32_t li = 0; li < m->nlayers; li++)
        if (m->layers[li].weights)
            wf[li] = float_weights(&m->layers[li]);
    float *a = malloc(bs * maxsz * sizeof *a), *b = malloc(bs * maxsz * sizeof *b);
    size_t agree = 0;
    double t0 = bl_now();
    for (size_t i0 = 0; i0 < n; i0 += bs) {
        size_t nb = n - i0 < bs ? n - i0 : bs;
        for (size_t i = 0; i < nb * F; i++)
            a[i] = (float)((int32_t)codes[i0 * F + i] - m->input_zero);
        for (uint32_t li = 0; li < m->nlayers; li++) {
            const bl_layer *l = &m->layers[li];
            size_t nin = bl_shape_size(l->in), nout = bl_shape_size(l->out);
            if (l->kind == BL_LAYER_DENSE) {
                /* b[nb x rows] = a[nb x cols] * W^T */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)l->rows,
                            (int)l->cols, 1.0f, a, (int)l->cols, wf[li], (int)l->cols, 0.0f, b,
                            (int)l->rows);
            } else if (l->kind == BL_LAYER_CONV3) {
                /* im2col into b: [nb*H*W][9*cin], then a = b * W^T */
                uint32_t H = l->in.h, W = l->in.w, C = l->in.c;
                size_t K = 9 * (size_t)C;
                for (size_t im = 0; im < nb; im++)
                    for (uint32_t y = 0; y < H; y++)
                        for (uint32_t x = 0; x < W; x++) {
                            float *col = b + ((im * H + y) * W + x) * K;
                            for (int t = 0; t < 9; t++) {
                                long yy = (long)y + t / 3 - 1, xx = (long)x + t % 3 - 1;
                                if (yy < 0 || xx < 0 || yy >= (long)H || xx >= (long)W)
                                    memset(col + t * C, 0, C * sizeof *col);
                                else
                                    memcpy(col + t * C,
                                           a + im * nin + ((size_t)yy * W + (size_t)xx) * C,
                                           C * sizeof *col);
                            }
                        }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(nb * H * W),
                            (int)l->rows, (int)K, 1.0f, b, (int)K, wf[li], (int)K, 0.0f, a,
                            (int)l->rows);
                float *t = a;
                a = b;
                b = t; /* result in b */
            } else if (l->kind == BL_LAYER_MAXPOOL2) {
                uint32_t W = l->in.w, C = l->in.c;
                for (size_t im = 0; im < nb; im++)
                    for (uint32_t y = 0; y < l->out.h; y++)
                        for (uint32_t x = 0; x < l->out.w; x++)
                            for (uint32_t c = 0; c < C; c++) {
                                const float *s = a + im * nin;
                                float v = s[((size_t)(2 * y) * W + 2 * x) * C + c];
                                v = fmaxf(v, s[((size_t)(2 * y) * W + 2 * x + 1) * C + c]);
                                v = fmaxf(v, s[((size_t)(2 * y + 1) * W + 2 * x) * C + c]);
                                v = fmaxf(v, s[((size_t)(2 * y + 1) * W + 2 * x + 1) * C + c]);
                                b[im * nout + ((size_t)y * l->out.w + x) * C + c] = v;
                            }
            } else if (l->kind == BL_LAYER_THRESH) {
                uint32_t C = l->out.c;
                for (size_t i = 0; i < nb * nout; i++) {
                    size_t c = i % C;
                    float t = (float)l->tau[c];
                    b[i] = (l->dir[c] > 0 ? a[i] >= t : a[i] <= t) ? 1.0f : -1.0f;
                }
            } else {
                memcpy(b, a, nb * nout * sizeof *a);
            }
            float *t = a;
            a = b;
            b = t;
        }
        for (size_t im = 0; im < nb; im++) {
            int best = 0;
            for (uint32_t k = 1; k < m->nclasses; k++)
                if (a[im * m->nclasses + k] > a[im * m->nclasses + best])
                    best = (int)k;
            agree += best == want[i0 + im];
        }
    }
    *seconds = bl_now() - t0;
    for (uint32_t li = 0; li < m->nlayers; li++)
        free(wf[li]);
    free(wf);
    free(a);
    free(b);
    return agree;
}

/* Flip each stored weight bit with probability p (the coupled fault map). */
static void flip_model(bl_model *f, const bl_model *clean, uint64_t seed, double p)
{
    bl_error err = { 0 };
    bl_model_copy_params(f, clean, &err);
    for (uint32_t li = 0; li < f->nlayers; li++) {
        bl_layer *l = &f->layers[li];
        if (!l->weights)
            continue;
        uint64_t bit = 0;
        for (uint32_t r = 0; r < l->rows; r++)
            for (uint32_t c = 0; c < l->cols; c++, bit++)
                if (bl_rng_uniform(seed, BL_RNG_FAULT, li, bit) < p) {
                    size_t pos = l->kind == BL_LAYER_CONV3
                                     ? (c / l->in.c) * l->words_per_tap * 64 + c % l->in.c
                                     : c;
                    bl_bit_flip(l->weights + (size_t)r * l->words_per_row, pos);
                }
    }
}

/* The first layer alone: 784-2048-2-10 has fc's first layer and almost
 * nothing after it, so full vs cached predict isolates what the cache
 * saves (the later layers of fc are recomputed either way). */
static void bench_first_layer(const uint8_t *codes, size_t n)
{
    bl_error err = { 0 };
    bl_model *m = NULL, *f = NULL;
    bl_engine *e = NULL;
    bl_inputs *in = NULL;
    bl_cache *c = NULL;
    bl_engine_opts o = { .threads = 2 };
    if (bl_model_from_spec("784-2048-2-10", NULL, &m, &err))
        die("first layer model", &err);
    bl_model_randomize(m, 1);
    if (bl_engine_new(m, &o, &e, &err) || bl_inputs_from_codes(m, codes, NULL, n, &in, &err) ||
        bl_cache_new(e, m, in, &c, &err) || bl_model_clone(m, &f, &err))
        die("first layer setup", &err);
    int32_t *p1 = malloc(n * sizeof *p1), *p2 = malloc(n * sizeof *p2);
    double bers[] = { 0.01, 0.001 };
    for (int bi = 0; bi < 2; bi++) {
        flip_model(f, m, 43, bers[bi]);
        double tf = time_predict(e, f, in, p1, 3);
        double tc = time_cached(e, c, f, p2, 3);
        if (memcmp(p1, p2, n * sizeof *p1))
            die("cached and full predictions differ", NULL);
        printf("  first layer alone (784-2048-2-10), BER %-5g: full %6.1f ms  cached %6.1f ms  "
               "(%.1fx)\n",
               bers[bi], tf * 1e3, tc * 1e3, tf / tc);
    }
    free(p1);
    free(p2);
    bl_cache_free(c);
    bl_model_free(f);
    bl_inputs_free(in);
    bl_engine_free(e);
    bl_model_free(m);
}

static int g_quick; /* argv "quick": engine timings only (for profiling) */

static void bench_model(const char *spec, bl_dataset *ds, size_t nref)
{
    bl_error err = { 0 };
    bl_model *m = NULL;
    if (bl_model_from_spec(spec, NULL, &m, &err))
        die(spec, &err);
    bl_model_randomize(m, 1);
    size_t F = bl_shape_size(m->input), n = NIMG;
    uint8_t *codes = malloc(n * F);
    bl_inputs *in = NULL;
    const char *src = "synthetic";
    if (ds && bl_dataset_features(ds) == F && bl_dataset_count(ds) >= n &&
        bl_inputs_prepare(m, ds, n, &in, &err) == 0) {
        src = "fashion-mnist:test";
        for (size_t i = 0; i < n; i++)
            memcpy(codes + i * F, bl_dataset_row(ds, i), F);
    } else {
        bl_rng_stream s = bl_rng_stream_init(7, BL_RNG_TEST, 0);
        for (size_t i = 0; i < n * F; i++)
            codes[i] = (uint8_t)bl_rng_stream_u64(&s);
        if (bl_inputs_from_codes(m, codes, NULL, n, &in, &err))
            die("inputs", &err);
    }
    double macs = (double)bl_model_macs(m) * (double)n;
    printf("%s: %zu %s inputs, %.3g binary MACs per image\n", spec, n, src,
           (double)bl_model_macs(m));

    bl_engine *e2 = NULL, *e1 = NULL;
    bl_engine_opts o2 = { .threads = 2 }, o1 = { .threads = 1 };
    if (bl_engine_new(m, &o2, &e2, &err) || bl_engine_new(m, &o1, &e1, &err))
        die("engine", &err);
    int32_t *pred = malloc(n * sizeof *pred), *pred1 = malloc(n * sizeof *pred1);
    double t2 = time_predict(e2, m, in, pred, 5);
    double t1 = time_predict(e1, m, in, pred1, 3);
    if (memcmp(pred, pred1, n * sizeof *pred))
        die("1 and 2 threads disagree", NULL);
    printf("  packed engine (%s), 2 threads: %8.1f ms  %9.0f images/s  %.3g binary MAC/s\n",
           bl_simd_name(bl_engine_simd(e2)), t2 * 1e3, (double)n / t2, macs / t2);
    printf("  packed engine, 1 thread:        %8.1f ms  (2 threads vs 1: %.2fx)\n", t1 * 1e3,
           t1 / t2);

    if (g_quick) {
        for (int r = 0; r < 20; r++)
            time_predict(e2, m, in, pred, 1);
        goto done;
    }
    /* naive float reference on a subset, scaled per image */
    double r0 = bl_now();
    for (size_t i = 0; i < nref; i++)
        if (bl_reference_forward(m, codes + i * F, NULL, NULL) != pred[i])
            die("reference disagrees with the engine", NULL);
    double tref = (bl_now() - r0) / (double)nref * (double)n;
    printf("  naive float reference (1 thread, %zu images scaled): %8.1f ms  "
           "engine speedup %.0fx\n",
           nref, tref * 1e3, tref / t2);

    /* OpenBLAS sgemm baseline, 2 threads, best of 2 */
    openblas_set_num_threads(2);
    double tg = 1e30, tgi;
    size_t agree = 0;
    for (int r = 0; r < (m->layers[0].kind == BL_LAYER_CONV3 ? 1 : 2); r++) {
        agree = gemm_forward(m, codes, n, m->layers[0].kind == BL_LAYER_CONV3 ? 100 : 1000, pred,
                             &tgi);
        if (tgi < tg)
            tg = tgi;
    }
    printf("  OpenBLAS %s sgemm float forward (2 threads): %8.1f ms  engine speedup %.1fx  "
           "(agrees on %zu/%zu)\n",
           openblas_get_corename(), tg * 1e3, tg / t2, agree, n);

    /* cached fault evaluation */
    bl_cache *c = NULL;
    double tc0 = bl_now();
    if (bl_cache_new(e2, m, in, &c, &err))
        die("cache", &err);
    double tcache = bl_now() - tc0;
    bl_model *f = NULL;
    bl_model_clone(m, &f, &err);
    double bers[] = { 0.01, 0.001 };
    for (int bi = 0; bi < 2; bi++) {
        flip_model(f, m, 42, bers[bi]);
        double tf = time_predict(e2, f, in, pred, 3);
        double tcp = time_cached(e2, c, f, pred1, 3);
        if (memcmp(pred, pred1, n * sizeof *pred))
            die("cached and full predictions differ", NULL);
        printf("  faulty copy BER %-5g: full %8.1f ms  cached %8.1f ms  (full/cached %.2fx)\n",
               bers[bi], tf * 1e3, tcp * 1e3, tf / tcp);
    }
    printf("  (building the cache took %.1f ms)\n", tcache * 1e3);
    if (strcmp(spec, "fc") == 0)
        bench_first_layer(codes, n);
    bl_model_free(f);
    bl_cache_free(c);
done:
    free(pred);
    free(pred1);
    bl_engine_free(e1);
    bl_engine_free(e2);
    bl_inputs_free(in);
    free(codes);
    bl_model_free(m);
}

int main(int argc, char **argv)
{
    /* a fair float baseline needs OpenBLAS's fast kernels */
    cli_openblas_fix(NULL, argc, argv);
    bl_error err = { 0 };
    bl_dataset *ds = NULL;
    if (bl_dataset_load("fashion-mnist:test", NULL, &ds, &err) != 0) {
        printf("(fashion-mnist:test not loadable: %s; using synthetic inputs)\n", err.msg);
        ds = NULL;
    }
    const char *only = argc > 1 ? argv[1] : NULL;
    g_quick = argc > 2 && strcmp(argv[2], "quick") == 0;
    if (!only || strcmp(only, "fc") == 0)
        bench_model("fc", ds, 200);
    if (!only || strcmp(only, "vgg3") == 0)
        bench_model("vgg3", ds, 20);
    bl_dataset_free(ds);
    return 0;
}
