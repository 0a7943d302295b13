/* test_engine.c - the packed engine against the float reference.
 *
 * Random models of every layer kind and awkward sizes: pre-activations of
 * every weight/pool layer and the predicted class must equal the float
 * reference's for every input, for every SIMD level the CPU supports and
 * several thread counts; cached prediction on flipped copies must equal
 * uncached prediction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "base/rng.h"
#include "bnn/engine.h"

static bl_model *make_model(const char *spec, uint64_t seed, int32_t zero, int affine)
{
    bl_model *m = NULL;
    bl_error err = { 0 };
    int rc = bl_model_from_spec(spec, NULL, &m, &err);
    if (rc)
        fail_msg("spec %s: %s", spec, err.msg);
    bl_model_randomize(m, seed);
    m->input_zero = zero;
    if (affine) {
        bl_layer *l = &m->layers[m->nlayers - 1];
        l->out_scale = bl_alloc(l->rows * sizeof(float));
        l->out_bias = bl_alloc(l->rows * sizeof(float));
        bl_rng_stream s = bl_rng_stream_init(seed, BL_RNG_TEST, 999);
        for (uint32_t k = 0; k < l->rows; k++) {
            l->out_scale[k] = (float)(bl_rng_stream_uniform(&s) * 2.0 - 0.5);
            l->out_bias[k] = (float)(bl_rng_stream_uniform(&s) * 20.0 - 10.0);
        }
    }
    assert_int_equal(bl_model_validate(m, &err), 0);
    return m;
}

static uint8_t *make_codes(const bl_model *m, size_t n, uint64_t seed)
{
    size_t F = bl_shape_size(m->input);
    uint8_t *c = malloc(n * F + 1);
    bl_rng_stream s = bl_rng_stream_init(seed, BL_RNG_TEST, 12345);
    for (size_t i = 0; i < n * F; i++) {
        uint64_t r = bl_rng_stream_u64(&s);
        /* mostly uniform, some saturated codes */
        c[i] = (r & 0x700) == 0 ? ((r & 1) ? 255 : 0) : (uint8_t)r;
    }
    return c;
}

static bl_engine *engine(const bl_model *m, int simd, int threads)
{
    bl_engine *e = NULL;
    bl_error err = { 0 };
    bl_engine_opts o = { .threads = threads, .simd = simd, .simd_set = 1 };
    int rc = bl_engine_new(m, &o, &e, &err);
    if (rc)
        fail_msg("engine_new: %s", err.msg);
    assert_int_equal(bl_engine_simd(e), simd);
    assert_int_equal(bl_engine_threads(e), threads);
    return e;
}

/* Reference pre-activations and classes of n inputs. */
typedef struct refres {
    float ***pre;  /* [input][layer] -> array or NULL */
    int *cls;
    float *scores; /* [input][nclasses] */
} refres;

static refres run_reference(const bl_model *m, const uint8_t *codes, size_t n)
{
    refres r;
    size_t F = bl_shape_size(m->input);
    r.pre = calloc(n, sizeof *r.pre);
    r.cls = calloc(n, sizeof *r.cls);
    r.scores = calloc(n * m->nclasses, sizeof *r.scores);
    for (size_t i = 0; i < n; i++) {
        r.pre[i] = calloc(m->nlayers, sizeof **r.pre);
        for (uint32_t li = 0; li < m->nlayers; li++) {
            bl_layer_kind k = m->layers[li].kind;
            if (k == BL_LAYER_DENSE || k == BL_LAYER_CONV3 || k == BL_LAYER_MAXPOOL2)
                r.pre[i][li] = calloc(bl_shape_size(m->layers[li].out), sizeof(float));
        }
        r.cls[i] = bl_reference_forward(m, codes + i * F, r.pre[i], r.scores + i * m->nclasses);
        assert_true(r.cls[i] >= 0 && (uint32_t)r.cls[i] < m->nclasses);
    }
    return r;
}

static void free_reference(refres *r, const bl_model *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (uint32_t li = 0; li < m->nlayers; li++)
            free(r->pre[i][li]);
        free(r->pre[i]);
    }
    free(r->pre);
    free(r->cls);
    free(r->scores);
}

/* Compare every pre-activation, score and class of the engine with the
 * reference, for every SIMD level and thread counts 1, 2, 7. */
static void check_model_all(const bl_model *m, size_t n, uint64_t seed)
{
    uint8_t *codes = make_codes(m, n, seed);
    refres r = run_reference(m, codes, n);
    bl_error err = { 0 };
    int threads[] = { 1, 2, 7 };
    for (int simd = 0; simd <= (int)bl_simd_supported(); simd++)
        for (int ti = 0; ti < 3; ti++) {
            bl_engine *e = engine(m, simd, threads[ti]);
            bl_inputs *in = NULL;
            assert_int_equal(bl_inputs_from_codes(m, codes, NULL, n, &in, &err), 0);
            assert_int_equal(bl_inputs_count(in), n);
            /* pre-activations of every weight/pool layer (single-thread
             * runs check all layers; the others check the last one) */
            for (uint32_t li = 0; li < m->nlayers; li++) {
                const bl_layer *l = &m->layers[li];
                if (l->kind != BL_LAYER_DENSE && l->kind != BL_LAYER_CONV3 &&
                    l->kind != BL_LAYER_MAXPOOL2)
                    continue;
                if (ti != 0 && li != m->nlayers - 1)
                    continue;
                size_t sz = bl_shape_size(l->out);
                int32_t *pre = malloc(n * sz * sizeof *pre);
                int rc = bl_engine_preacts(e, m, in, (int)li, pre, &err);
                if (rc)
                    fail_msg("preacts %s: %s", l->name, err.msg);
                for (size_t i = 0; i < n; i++)
                    for (size_t k = 0; k < sz; k++)
                        if ((float)pre[i * sz + k] != r.pre[i][li][k])
                            fail_msg("simd %d threads %d layer %s input %zu unit %zu: engine %d "
                                     "reference %g",
                                     simd, threads[ti], l->name, i, k, pre[i * sz + k],
                                     (double)r.pre[i][li][k]);
                free(pre);
            }
            int32_t *sc = malloc(n * m->nclasses * sizeof *sc);
            assert_int_equal(bl_engine_scores(e, m, in, sc, &err), 0);
            for (size_t i = 0; i < n * m->nclasses; i++)
                assert_true((float)sc[i] == r.scores[i]);
            free(sc);
            int32_t *pred = malloc(n * sizeof *pred);
            assert_int_equal(bl_engine_predict(e, m, in, pred, &err), 0);
            for (size_t i = 0; i < n; i++)
                if (pred[i] != r.cls[i])
                    fail_msg("simd %d threads %d input %zu: class %d, reference %d", simd,
                             threads[ti], i, pred[i], r.cls[i]);
            free(pred);
            bl_inputs_free(in);
            bl_engine_free(e);
        }
    free_reference(&r, m, n);
    free(codes);
}

static void run_specs(const char *const *specs, size_t nspecs, size_t n)
{
    for (size_t i = 0; i < nspecs; i++)
        for (uint64_t seed = 1; seed <= 2; seed++) {
            int32_t zero = seed == 1 ? 0 : 37;
            bl_model *m = make_model(specs[i], seed * 7919 + i, zero, seed == 2);
            check_model_all(m, n, seed + 100 * i);
            bl_model_free(m);
        }
}

static void test_dense_stacks(void **state)
{
    (void)state;
    static const char *const specs[] = {
        "70-65-1-3", "1-1-2", "200-129-7", "64-64-64-4", "130-1-5", "3-200-128-63-2",
    };
    run_specs(specs, sizeof specs / sizeof *specs, 70);
}

static void test_convs(void **state)
{
    (void)state;
    static const char *const specs[] = {
        "1x1x1-c3-5",
        "1x1x3-c2-c64-4",
        "2x2x1-c64-c64-p-3",
        "2x2x3-c64-p-7",
        "3x5x63-c65-p-3",
        "5x7x3-c65-p-c3-p-10",
        "7x7x3-c63-c65-p-c130-c64-p-9",
        "3x5x130-c1-c7-2",
        "4x3x64-c2-p-6-5",
    };
    run_specs(specs, sizeof specs / sizeof *specs, 65);
}

static void test_vgg3_fc(void **state)
{
    (void)state;
    bl_model *m = make_model("vgg3", 5, 0, 0);
    check_model_all(m, 3, 11);
    bl_model_free(m);
    m = make_model("fc", 6, 128, 1);
    check_model_all(m, 5, 12);
    bl_model_free(m);
}

/* Ties: equal scores everywhere pick the lowest index on every path. */
static void test_ties(void **state)
{
    (void)state;
    bl_model *m = make_model("20-9-6", 3, 0, 0);
    bl_layer *l = &m->layers[m->nlayers - 1];
    for (uint32_t r = 1; r < l->rows; r++)
        memcpy(l->weights + r * l->words_per_row, l->weights, l->words_per_row * 8);
    check_model_all(m, 9, 1);
    /* and ties only after the affine map */
    l->out_scale = bl_alloc(l->rows * sizeof(float));
    l->out_bias = bl_alloc(l->rows * sizeof(float));
    for (uint32_t k = 0; k < l->rows; k++)
        l->out_bias[k] = k >= 3 ? 5.0f : 1.0f; /* scale 0: classes 3.. tie */
    uint8_t *codes = make_codes(m, 9, 2);
    assert_int_equal(bl_reference_forward(m, codes, NULL, NULL), 3);
    check_model_all(m, 9, 1);
    free(codes);
    bl_model_free(m);
}

/* Flip each stored weight bit with probability p (padding untouched). */
static void flip_model(bl_model *m, uint64_t seed, double p)
{
    for (uint32_t li = 0; li < m->nlayers; li++) {
        bl_layer *l = &m->layers[li];
        if (!l->weights)
            continue;
        uint64_t bit = 0;
        for (uint32_t r = 0; r < l->rows; r++)
            for (uint32_t c = 0; c < l->cols; c++, bit++) {
                if (bl_rng_uniform(seed, BL_RNG_FAULT, li, bit) >= p)
                    continue;
                size_t pos = l->kind == BL_LAYER_CONV3
                                 ? (c / l->in.c) * l->words_per_tap * 64 + c % l->in.c
                                 : c;
                bl_bit_flip(l->weights + (size_t)r * l->words_per_row, pos);
            }
    }
}

static void test_cached(void **state)
{
    (void)state;
    static const char *const specs[] = { "300-200-50-10", "6x6x2-c8-p-5", "65-3-4" };
    bl_error err = { 0 };
    for (size_t si = 0; si < 3; si++)
        for (int simd = 0; simd <= (int)bl_simd_supported(); simd++) {
            bl_model *m = make_model(specs[si], 40 + si, si == 0 ? 19 : 0, 0);
            size_t n = 150;
            uint8_t *codes = make_codes(m, n, 3);
            bl_engine *e = engine(m, simd, 2);
            bl_inputs *in = NULL;
            assert_int_equal(bl_inputs_from_codes(m, codes, NULL, n, &in, &err), 0);
            bl_cache *c = NULL;
            assert_int_equal(bl_cache_new(e, m, in, &c, &err), 0);
            if (simd > 0) /* the correction path at every rate; the default threshold on portable */
                bl_cache_set_max_changed(c, 1.0);
            bl_model *f = NULL;
            assert_int_equal(bl_model_clone(m, &f, &err), 0);
            int32_t *p1 = malloc(n * sizeof *p1), *p2 = malloc(n * sizeof *p2);
            /* 0.45: > 128 flips per first-layer row of 300 (int16 flushes) */
            double ps[] = { 0.0, 0.001, 0.01, 0.2, 0.45 };
            for (int pi = 0; pi < 5; pi++)
                for (uint64_t seed = 1; seed <= 2; seed++) {
                    assert_int_equal(bl_model_copy_params(f, m, &err), 0);
                    flip_model(f, seed, ps[pi]);
                    assert_int_equal(bl_model_validate(f, &err), 0);
                    assert_int_equal(bl_engine_predict(e, f, in, p1, &err), 0);
                    assert_int_equal(bl_engine_predict_cached(e, c, f, p2, &err), 0);
                    size_t F = bl_shape_size(m->input);
                    for (size_t i = 0; i < n; i++) {
                        assert_int_equal(p1[i], p2[i]);
                        if (i % 16 == 0)
                            assert_int_equal(p1[i], bl_reference_forward(f, codes + i * F,
                                                                         NULL, NULL));
                    }
                }
            free(p1);
            free(p2);
            bl_model_free(f);
            bl_cache_free(c);
            bl_inputs_free(in);
            bl_engine_free(e);
            free(codes);
            bl_model_free(m);
        }
}

static void test_eval_and_errors(void **state)
{
    (void)state;
    bl_error err = { 0 };
    bl_model *m = make_model("50-20-4", 9, 0, 0);
    size_t n = 100;
    uint8_t *codes = make_codes(m, n, 5);
    int32_t *labels = malloc(n * sizeof *labels);
    size_t want = 0;
    for (size_t i = 0; i < n; i++) {
        int cls = bl_reference_forward(m, codes + i * 50, NULL, NULL);
        labels[i] = i % 3 == 0 ? (cls + 1) % 4 : cls;
        want += labels[i] == cls;
    }
    bl_engine *e = engine(m, (int)bl_simd_supported(), 2);
    bl_inputs *in = NULL, *unl = NULL;
    assert_int_equal(bl_inputs_from_codes(m, codes, labels, n, &in, &err), 0);
    assert_non_null(bl_inputs_labels(in));
    bl_eval_stats st;
    assert_int_equal(bl_engine_eval(e, m, in, &st, &err), 0);
    assert_int_equal(st.images, n);
    assert_int_equal(st.correct, want);
    assert_true(st.accuracy == (double)want / (double)n);

    /* unlabeled inputs */
    assert_int_equal(bl_inputs_from_codes(m, codes, NULL, n, &unl, &err), 0);
    assert_null(bl_inputs_labels(unl));
    assert_int_equal(bl_engine_eval(e, m, unl, &st, &err), BL_EINVAL);

    /* inputs of another shape */
    bl_model *m2 = make_model("40-20-4", 9, 0, 0);
    bl_inputs *in2 = NULL;
    assert_int_equal(bl_inputs_from_codes(m2, codes, NULL, n, &in2, &err), 0);
    int32_t *pred = malloc(n * sizeof *pred);
    assert_int_equal(bl_engine_predict(e, m, in2, pred, &err), BL_EINVAL);
    assert_non_null(strstr(err.msg, "features"));
    /* a model of another architecture */
    assert_int_equal(bl_engine_predict(e, m2, in2, pred, &err), BL_EINVAL);
    bl_model *m3 = make_model("50-21-4", 9, 0, 0);
    assert_int_equal(bl_engine_predict(e, m3, in, pred, &err), BL_EINVAL);
    /* preacts of a threshold layer */
    assert_int_equal(bl_engine_preacts(e, m, in, 1, pred, &err), BL_EINVAL);
    assert_int_equal(bl_engine_preacts(e, m, in, 99, pred, &err), BL_EINVAL);
    /* unsupported SIMD level */
    if (bl_simd_supported() < BL_SIMD_AVX512) {
        bl_engine *bad = NULL;
        bl_engine_opts o = { .threads = 1, .simd = BL_SIMD_AVX512, .simd_set = 1 };
        assert_int_equal(bl_engine_new(m, &o, &bad, &err), BL_EUNSUPPORTED);
    }
    /* defaults */
    bl_engine *d = NULL;
    assert_int_equal(bl_engine_new(m, NULL, &d, &err), 0);
    assert_true(bl_engine_threads(d) >= 1);
    assert_int_equal(bl_engine_simd(d), bl_simd_default());
    assert_int_equal(bl_engine_predict(d, m, in, pred, &err), 0);
    /* empty inputs */
    bl_inputs *none = NULL;
    assert_int_equal(bl_inputs_from_codes(m, codes, NULL, 0, &none, &err), 0);
    assert_int_equal(bl_engine_predict(d, m, none, pred, &err), 0);
    bl_inputs_free(none);
    bl_engine_free(d);

    free(pred);
    bl_model_free(m3);
    bl_model_free(m2);
    bl_inputs_free(in2);
    bl_inputs_free(unl);
    bl_inputs_free(in);
    bl_engine_free(e);
    free(labels);
    free(codes);
    bl_model_free(m);
}

/* bl_inputs_prepare: u8 used as is, floats quantised with scale/zero. */
static void test_prepare(void **state)
{
    (void)state;
    bl_error err = { 0 };
    bl_model *m = make_model("6-4-3", 2, 10, 0);
    m->input_scale = 0.5f;
    size_t n = 3;
    uint8_t *x8 = malloc(n * 6);
    float *xf = malloc(n * 6 * sizeof *xf);
    int32_t *y = malloc(n * sizeof *y), *y2 = malloc(n * sizeof *y2);
    for (size_t i = 0; i < n * 6; i++) {
        x8[i] = (uint8_t)(i * 37);
        xf[i] = (float)i * 0.5f - 6.0f; /* codes i - 12 + 10, clamped at 0 */
    }
    for (size_t i = 0; i < n; i++)
        y[i] = y2[i] = (int32_t)i;
    bl_dataset *d8 = NULL, *df = NULL;
    assert_int_equal(bl_dataset_from_memory("u8", BL_DT_U8, n, 1, 1, 6, x8, y, &d8, &err), 0);
    assert_int_equal(bl_dataset_from_memory("f32", BL_DT_F32, n, 2, 3, 1, xf, y2, &df, &err), 0);
    bl_inputs *a = NULL, *b = NULL;
    assert_int_equal(bl_inputs_prepare(m, d8, 0, &a, &err), 0);
    assert_int_equal(bl_inputs_prepare(m, df, 2, &b, &err), 0);
    assert_int_equal(bl_inputs_count(a), 3);
    assert_int_equal(bl_inputs_count(b), 2);
    assert_int_equal(bl_inputs_labels(a)[2], 2);

    /* predictions equal the reference on the expected codes */
    bl_engine *e = engine(m, 0, 1);
    int32_t pred[3];
    assert_int_equal(bl_engine_predict(e, m, a, pred, &err), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(pred[i], bl_reference_forward(m, (const uint8_t[]){
            (uint8_t)(i * 6 * 37), (uint8_t)((i * 6 + 1) * 37), (uint8_t)((i * 6 + 2) * 37),
            (uint8_t)((i * 6 + 3) * 37), (uint8_t)((i * 6 + 4) * 37), (uint8_t)((i * 6 + 5) * 37) },
            NULL, NULL));
    int32_t pre[2 * 4];
    assert_int_equal(bl_engine_preacts(e, m, b, 0, pre, &err), 0);
    for (size_t i = 0; i < 2; i++) {
        uint8_t q[6];
        for (int f = 0; f < 6; f++) {
            int v = (int)(i * 6 + (size_t)f) - 12 + 10;
            q[f] = (uint8_t)(v < 0 ? 0 : v);
        }
        float *pa[5] = { 0 };
        float p0[4];
        pa[0] = p0;
        bl_reference_forward(m, q, pa, NULL);
        for (int k = 0; k < 4; k++)
            assert_true((float)pre[i * 4 + (size_t)k] == p0[k]);
    }
    /* shape mismatch */
    bl_model *m2 = make_model("7-4-3", 2, 0, 0);
    bl_inputs *c = NULL;
    assert_int_equal(bl_inputs_prepare(m2, d8, 0, &c, &err), BL_EINVAL);
    assert_null(c);
    bl_model_free(m2);
    bl_engine_free(e);
    bl_inputs_free(a);
    bl_inputs_free(b);
    bl_dataset_free(d8);
    bl_dataset_free(df);
    bl_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_stacks),
        cmocka_unit_test(test_convs),
        cmocka_unit_test(test_vgg3_fc),
        cmocka_unit_test(test_ties),
        cmocka_unit_test(test_cached),
        cmocka_unit_test(test_eval_and_errors),
        cmocka_unit_test(test_prepare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
