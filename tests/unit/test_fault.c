/* test_fault.c - the fault layer: coupled masks, kinds, specs, apply,
 * fault-map files, plugins and activation faults.
 *
 * Plugins are loaded from plugins/NAME.so and tests/plugins/NAME.so relative to
 * the repository root (the tests run there).  When a .so is missing or
 * older than its .c, the test builds it into build/tests/plugins with
 * $CC (default cc); if that fails the test fails, it never skips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/coupled.h"
#include "base/cpu.h"
#include "base/mem.h"
#include "base/rng.h"
#include "bnn/engine.h"
#include "fault/fault.h"

static bl_model *model(const char *spec, uint64_t seed)
{
    bl_model *m = NULL;
    bl_error err = { 0 };
    if (bl_model_from_spec(spec, NULL, &m, &err))
        fail_msg("spec %s: %s", spec, err.msg);
    bl_model_randomize(m, seed);
    return m;
}

static bl_model *clone(const bl_model *m)
{
    bl_model *c = NULL;
    bl_error err = { 0 };
    if (bl_model_clone(m, &c, &err))
        fail_msg("clone: %s", err.msg);
    return c;
}

static bl_fault_registry *registry(void)
{
    bl_fault_registry *r = NULL;
    bl_error err = { 0 };
    assert_int_equal(bl_fault_registry_new(&r, &err), 0);
    return r;
}

static bl_fault_spec *parse(const bl_fault_registry *reg, const char *text, const bl_model *m)
{
    bl_fault_spec *s = NULL;
    bl_error err = { 0 };
    if (bl_fault_spec_parse(reg, text, m, &s, &err))
        fail_msg("parse '%s': %s", text, err.msg);
    return s;
}

static void apply(const bl_fault_spec *s, const bl_model *clean, bl_model *f, uint64_t seed,
                  bl_fault_stats *st)
{
    bl_error err = { 0 };
    if (bl_fault_apply(s, clean, f, seed, st, &err))
        fail_msg("apply: %s", err.msg);
    if (bl_model_validate(f, &err))
        fail_msg("faulty model invalid: %s", err.msg);
}

/* changed bits of layer li: weights XOR */
static uint64_t *diff_words(const bl_model *a, const bl_model *b, int li, size_t *nw)
{
    const bl_layer *la = &a->layers[li], *lb = &b->layers[li];
    *nw = (size_t)la->rows * la->words_per_row;
    uint64_t *d = malloc(*nw * 8 + 8);
    for (size_t i = 0; i < *nw; i++)
        d[i] = la->weights[i] ^ lb->weights[i];
    return d;
}

/* ---- coupled masks ---------------------------------------------------------- */

static void test_coupled_paths(void **state)
{
    (void)state;
    size_t n = 333;
    uint64_t *a = malloc(n * 8), *b = malloc(n * 8);
    double ps[] = { 0, 1e-9, 0.001, 0.01, 0.1, 0.25, 0.5, 0.7, 0.999999, 1 };
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        bl_coupled_mask_simd(BL_SIMD_PORTABLE, 77, 5, ps[i], 1000, n, a);
        for (int s = 1; s <= (int)bl_simd_supported(); s++) {
            bl_coupled_mask_simd((bl_simd)s, 77, 5, ps[i], 1000, n, b);
            assert_memory_equal(a, b, n * 8);
        }
        /* every bit agrees with its uniform, the single-word form too */
        for (size_t w = 0; w < n; w += 37) {
            assert_true(bl_coupled_word(77, 5, 1000 + w, bl_coupled_threshold(ps[i])) == a[w]);
            for (unsigned j = 0; j < 64; j += 7) {
                double u = bl_coupled_uniform(77, 5, (1000 + w) * 64 + j);
                assert_int_equal(u < ps[i], (int)((a[w] >> j) & 1));
            }
        }
    }
    /* the planes are Philox blocks of purpose BL_RNG_FAULT */
    bl_rng_block blk = bl_rng_block_at(5, BL_RNG_FAULT, 9, (11u << 4) | 3);
    uint64_t R7 = (uint64_t)blk.v[0] | (uint64_t)blk.v[1] << 32;
    uint64_t R8 = (uint64_t)blk.v[2] | (uint64_t)blk.v[3] << 32;
    for (unsigned j = 0; j < 64; j++) {
        uint32_t u = bl_coupled_u32(5, 9, 11 * 64 + j);
        assert_int_equal((u >> 25) & 1, (R7 >> j) & 1);
        assert_int_equal((u >> 24) & 1, (R8 >> j) & 1);
    }
    /* several rates on one pass = separate masks */
    double rates[3] = { 0.01, 0.3, 0.3001 };
    uint64_t *m3 = malloc(3 * n * 8);
    uint64_t *outs[3] = { m3, m3 + n, m3 + 2 * n };
    bl_coupled_masks(3, 4, 3, rates, 17, n, outs);
    for (int r = 0; r < 3; r++) {
        bl_coupled_mask_simd(BL_SIMD_PORTABLE, 3, 4, rates[r], 17, n, a);
        assert_memory_equal(a, outs[r], n * 8);
    }
    free(m3);
    free(a);
    free(b);
}

/* ---- kinds -------------------------------------------------------------------- */

static void test_coupling_every_kind(void **state)
{
    (void)state;
    bl_fault_registry *reg = registry();
    bl_model *m = model("64-200-130-10", 1);
    bl_model *f1 = clone(m), *f2 = clone(m);
    const char *kinds[] = { "bitflip", "asym:ratio=4", "asym:p01=0.02,p10=0.001", "stuck" };
    double rates[] = { 0.001, 0.01, 0.05, 0.2, 0.5 };
    for (size_t k = 0; k < 4; k++) {
        bl_fault_spec *s = parse(reg, kinds[k], m);
        for (size_t r = 0; r + 1 < 5; r++) {
            bl_error err = { 0 };
            assert_int_equal(bl_fault_spec_set_rate(s, rates[r], &err), 0);
            apply(s, m, f1, 9, NULL);
            assert_int_equal(bl_fault_spec_set_rate(s, rates[r + 1], &err), 0);
            apply(s, m, f2, 9, NULL);
            for (uint32_t li = 0; li < m->nlayers; li++) {
                if (m->layers[li].kind != BL_LAYER_DENSE)
                    continue;
                size_t nw;
                uint64_t *d1 = diff_words(m, f1, (int)li, &nw), *d2 = diff_words(m, f2, (int)li, &nw);
                for (size_t i = 0; i < nw; i++)
                    if (d1[i] & ~d2[i])
                        fail_msg("%s: bit faulty at %g but not at %g", kinds[k], rates[r],
                                 rates[r + 1]);
                free(d1);
                free(d2);
            }
        }
        bl_fault_spec_free(s);
    }
    bl_model_free(f1);
    bl_model_free(f2);
    bl_model_free(m);
    bl_fault_registry_free(reg);
}

static void test_rates_and_asymmetry(void **state)
{
    (void)state;
    bl_fault_registry *reg = registry();
    bl_model *m = model("784-2048-10", 2);
    bl_model *f = clone(m);
    const double ps[] = { 0.001, 0.01, 0.2 };
    for (int i = 0; i < 3; i++) {
        char spec[64];
        snprintf(spec, sizeof spec, "bitflip:p=%g", ps[i]);
        bl_fault_spec *s = parse(reg, spec, m);
        bl_fault_stats st;
        apply(s, m, f, 100 + (uint64_t)i, &st);
        double n = (double)st.bits[BL_FT_WEIGHTS], se = sqrt(ps[i] * (1 - ps[i]) / n);
        double frac = (double)st.changed[BL_FT_WEIGHTS] / n;
        assert_true(n == (double)bl_model_stored_bits(m));
        if (fabs(frac - ps[i]) > 4 * se)
            fail_msg("p=%g: fraction %g, 4 se = %g", ps[i], frac, 4 * se);
        bl_fault_spec_free(s);
    }
    /* asym: only 0 -> 1 with p10 = 0; only 1 -> 0 with p01 = 0; rates per value */
    const char *asy[] = { "asym:p01=0.05,p10=0", "asym:p01=0,p10=0.05", "asym:p01=0.03,p10=0.01" };
    for (int a = 0; a < 3; a++) {
        bl_fault_spec *s = parse(reg, asy[a], m);
        apply(s, m, f, 7, NULL);
        uint64_t z = 0, o = 0, zf = 0, of = 0;
        for (uint32_t li = 0; li < m->nlayers; li++) {
            const bl_layer *l = &m->layers[li];
            if (l->kind != BL_LAYER_DENSE)
                continue;
            for (uint32_t r = 0; r < l->rows; r++)
                for (uint32_t c = 0; c < l->cols; c++) {
                    size_t b = (size_t)r * l->words_per_row * 64 + c;
                    int v0 = bl_bit_get(l->weights, b), v1 = bl_bit_get(f->layers[li].weights, b);
                    if (v0) { o++; of += v1 != v0; } else { z++; zf += v1 != v0; }
                }
        }
        double p01 = a == 1 ? 0 : (a == 0 ? 0.05 : 0.03), p10 = a == 0 ? 0 : (a == 1 ? 0.05 : 0.01);
        if (p01 == 0) assert_int_equal(zf, 0);
        if (p10 == 0) assert_int_equal(of, 0);
        assert_true(fabs((double)zf / (double)z - p01) <= 4 * sqrt(p01 * (1 - p01) / (double)z) + 1e-12);
        assert_true(fabs((double)of / (double)o - p10) <= 4 * sqrt(p10 * (1 - p10) / (double)o) + 1e-12);
        bl_fault_spec_free(s);
    }
    bl_model_free(f);
    bl_model_free(m);
    bl_fault_registry_free(reg);
}

static void test_stuck_semantics(void **state)
{
    (void)state;
    bl_fault_registry *reg = registry();
    bl_model *m = model("100-70-10", 3);
    bl_model *f = clone(m);
    bl_fault_spec *s = parse(reg, "stuck:p0=0.1,p1=0.2;*.thresholds=stuck:p0=0.05,p1=0.3", m);
    apply(s, m, f, 42, NULL);
    for (uint32_t li = 0; li < m->nlayers; li++) {
        const bl_layer *l = &m->layers[li];
        if (l->kind == BL_LAYER_DENSE) {
            for (uint32_t r = 0; r < l->rows; r++)
                for (uint32_t c = 0; c < l->cols; c++) {
                    size_t b = (size_t)r * l->words_per_row * 64 + c;
                    double u = bl_fault_uniform(42, li, BL_FT_WEIGHTS, b);
                    int want = u < 0.1 ? 0 : u >= 1 - 0.2 ? 1 : bl_bit_get(l->weights, b);
                    assert_int_equal(bl_bit_get(f->layers[li].weights, b), want);
                }
        } else if (l->kind == BL_LAYER_THRESH) {
            for (uint32_t c = 0; c < l->out.c; c++)
                for (int k = 0; k < 32; k++) {
                    double u = bl_fault_uniform(42, li, BL_FT_THRESHOLDS, 32ull * c + (unsigned)k);
                    int old = (int)(((uint32_t)l->tau[c] >> k) & 1);
                    int want = u < 0.05 ? 0 : u >= 1 - 0.3 ? 1 : old;
                    assert_int_equal((int)(((uint32_t)f->layers[li].tau[c] >> k) & 1), want);
                }
        }
    }
    bl_fault_spec_free(s);
    bl_model_free(f);
    bl_model_free(m);
    bl_fault_registry_free(reg);
}

static void test_layers_targets_padding(void **state)
{
    (void)state;
    bl_fault_registry *reg = registry();
    /* conv layers of 65 channels (2 words per tap), dense rows of 70 bits */
    bl_model *m = model("6x6x1-c65-p-c65-70-10", 4);
    bl_model *f = clone(m);
    int conv2 = bl_model_find_layer(m, "conv2");
    assert_true(conv2 >= 0);
    /* per-layer: only conv2's weights change */
    bl_fault_spec *s = parse(reg, "conv2=bitflip:p=0.3", m);
    bl_fault_stats st;
    apply(s, m, f, 5, &st);
    assert_true(st.changed[BL_FT_WEIGHTS] > 0);
    assert_int_equal(st.bits[BL_FT_WEIGHTS], bl_layer_stored_bits(&m->layers[conv2]));
    for (uint32_t li = 0; li < m->nlayers; li++) {
        const bl_layer *l = &m->layers[li];
        if (l->weights && (int)li != conv2)
            assert_memory_equal(l->weights, f->layers[li].weights,
                                (size_t)l->rows * l->words_per_row * 8);
        if (l->tau)
            assert_memory_equal(l->tau, f->layers[li].tau, l->out.c * 4);
    }
    bl_fault_spec_free(s);
    /* thresholds only: weights untouched */
    s = parse(reg, "*.thresholds=bitflip:p=0.2", m);
    apply(s, m, f, 5, &st);
    assert_int_equal(st.changed[BL_FT_WEIGHTS], 0);
    assert_true(st.changed[BL_FT_THRESHOLDS] > 0);
    for (uint32_t li = 0; li < m->nlayers; li++)
        if (m->layers[li].weights)
            assert_memory_equal(m->layers[li].weights, f->layers[li].weights,
                                (size_t)m->layers[li].rows * m->layers[li].words_per_row * 8);
    bl_fault_spec_free(s);
    /* a layer rule beats the "*" rule; weight-layer names reach their thresholds */
    s = parse(reg, "bitflip:p=0.5;conv1=bitflip:p=0;fc1.thresholds=stuck:p1=1", m);
    apply(s, m, f, 6, &st);
    int conv1 = bl_model_find_layer(m, "conv1"), fc1 = bl_model_find_layer(m, "fc1");
    assert_memory_equal(m->layers[conv1].weights, f->layers[conv1].weights,
                        (size_t)m->layers[conv1].rows * m->layers[conv1].words_per_row * 8);
    for (uint32_t li = (uint32_t)fc1; li < m->nlayers; li++)
        if (m->layers[li].kind == BL_LAYER_THRESH) {
            for (uint32_t c = 0; c < m->layers[li].out.c; c++)
                assert_int_equal(f->layers[li].tau[c], -1);
            break;
        }
    bl_fault_spec_free(s);
    /* every bit set and stuck: padding stays zero (validate checks it) */
    const char *all[] = { "bitflip:p=1", "stuck:p1=1", "asym:p01=1,p10=0", "*.thresholds=bitflip:p=1" };
    for (int i = 0; i < 4; i++) {
        s = parse(reg, all[i], m);
        apply(s, m, f, 1, &st);
        if (i < 3) {
            uint64_t real = 0;
            for (uint32_t li = 0; li < m->nlayers; li++)
                real += m->layers[li].weights ? bl_layer_stored_bits(&m->layers[li]) : 0;
            assert_int_equal(st.bits[BL_FT_WEIGHTS], real);
        }
        if (i == 1)
            for (uint32_t li = 0; li < m->nlayers; li++) {
                const bl_layer *l = &f->layers[li];
                if (!l->weights)
                    continue;
                uint64_t pop = 0;
                for (size_t w = 0; w < (size_t)l->rows * l->words_per_row; w++)
                    pop += (uint64_t)__builtin_popcountll(l->weights[w]);
                assert_int_equal(pop, bl_layer_stored_bits(l));
            }
        bl_fault_spec_free(s);
    }
    bl_model_free(f);
    bl_model_free(m);
    bl_fault_registry_free(reg);
}

/* ---- specs -------------------------------------------------------------------- */

static void expect_error(const bl_fault_registry *reg, const bl_model *m, const char *text,
                         const char *needle)
{
    bl_fault_spec *s = NULL;
    bl_error err = { 0 };
    int rc = bl_fault_spec_parse(reg, text, m, &s, &err);
    if (rc == 0)
        fail_msg("'%s' parsed", text);
    assert_null(s);
    if (!strstr(err.msg, needle))
        fail_msg("'%s': message '%s' lacks '%s'", text, err.msg, needle);
}

static void test_spec_errors(void **state)
{
    (void)state;
    bl_fault_registry *reg = registry();
    bl_model *m = model("fc", 1);
    expect_error(reg, m, "flipflop:p=0.1", "unknown fault model 'flipflop'");
    expect_error(reg, m, "bitflip:q=0.1", "unknown parameter 'q'");
    expect_error(reg, m, "bitflip:p=1.5", "p=1.5 out of range [0, 1]");
    expect_error(reg, m, "bitflip:p=abc", "'abc' is not a number");
    expect_error(reg, m, "bitflip:p=nan", "is not a number");
    expect_error(reg, m, "fc9=bitflip:p=0.1", "unknown layer 'fc9'");
    expect_error(reg, m, "fc1.gates=bitflip:p=0.1", "unknown target 'gates'");
    expect_error(reg, m, "bn1=bitflip:p=0.1", "has no weights");
    expect_error(reg, m, "bitflip:p=0.1;;bitflip", "rule 2: empty rule");
    expect_error(reg, m, "", "empty");
    expect_error(reg, m, "bitflip:", "empty parameter list");
    expect_error(reg, m, "bitflip:p", "expected KEY=VALUE");
    expect_error(reg, m, "bitflip:p=0.1,p=0.2", "given twice");
    expect_error(reg, m, "bitflip;bitflip:p=0.1", "already has a rule");
    expect_error(reg, m, "asym:p01=0.1,ratio=3", "either p01/p10 or p/ratio");
    expect_error(reg, m, "stuck:p0=0.6,p1=0.6", "exceeds 1");
    expect_error(reg, m, "fc1.activations=stuck:p0=0.1", "bitflip kind only");
    expect_error(reg, m, "f c1=bitflip", "bad layer name");
    /* model NULL: layer names wait for apply */
    bl_fault_spec *s = parse(reg, "fc9=bitflip:p=0.1", NULL);
    bl_model *f = clone(m);
    bl_error err = { 0 };
    assert_int_not_equal(bl_fault_apply(s, m, f, 1, NULL, &err), 0);
    assert_non_null(strstr(err.msg, "unknown layer 'fc9'"));
    bl_fault_spec_free(s);
    bl_model_free(f);
    bl_model_free(m);
    bl_fault_registry_free(reg);
}

static void test_spec_format_and_rates(void **state)
{
    (void)state;
    bl_fault_registry *reg = registry();
    bl_model *m = model("fc", 1);
    const char *in[][2] = {
        { "bitflip:p=0.01", "bitflip:p=0.01" },
        { " fc2 = bitflip : p = 0.05 ; asym:p01=0.01,p10=0.001", "fc2=bitflip:p=0.05;asym:p01=0.01,p10=0.001" },
        { "*.thresholds=stuck:p0=1e-4,p1=1e-4", "*.thresholds=stuck:p0=0.0001,p1=0.0001" },
        { "asym:ratio=10", "asym:p=0,ratio=10" },
        { "bn1.activations=bitflip:p=0.003;stuck", "bn1.activations=bitflip:p=0.003;stuck:p0=0,p1=0" },
        { "fc1.weights=bitflip:p=0.1", "fc1=bitflip:p=0.1" },
    };
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        bl_fault_spec *s = parse(reg, in[i][0], m);
        char *t = bl_fault_spec_format(s);
        assert_string_equal(t, in[i][1]);
        bl_fault_spec *s2 = parse(reg, t, m);
        char *t2 = bl_fault_spec_format(s2);
        assert_string_equal(t, t2);
        free(t);
        free(t2);
        bl_fault_spec_free(s);
        bl_fault_spec_free(s2);
    }
    bl_error err = { 0 };
    bl_fault_spec *s = parse(reg, "bitflip:p=0.1;fc2=asym:p01=0.02,p10=0.01;*.thresholds=stuck;"
                                  "fc3=asym:ratio=4", m);
    assert_int_equal(bl_fault_spec_set_rate(s, 0.004, &err), 0);
    char *t = bl_fault_spec_format(s);
    assert_string_equal(t, "bitflip:p=0.004;fc2=asym:p01=0.004,p10=0.002;"
                           "*.thresholds=stuck:p0=0.002,p1=0.002;fc3=asym:p=0.004,ratio=4");
    free(t);
    assert_int_not_equal(bl_fault_spec_set_rate(s, 1.5, &err), 0);
    assert_int_equal(bl_fault_spec_set_layer_rate(s, "fc1", BL_FT_WEIGHTS, 0.05, &err), 0);
    assert_int_equal(bl_fault_spec_set_layer_rate(s, "fc2", BL_FT_WEIGHTS, 0.01, &err), 0);
    assert_int_equal(bl_fault_spec_set_layer_rate(s, "bn2", BL_FT_ACTIVATIONS, 0.02, &err), 0);
    t = bl_fault_spec_format(s);
    assert_string_equal(t, "bitflip:p=0.004;fc2=asym:p01=0.01,p10=0.005;"
                           "*.thresholds=stuck:p0=0.002,p1=0.002;fc3=asym:p=0.004,ratio=4;"
                           "fc1=bitflip:p=0.05;bn2.activations=bitflip:p=0.02");
    free(t);
    double rates[16];
    assert_int_equal(bl_fault_activation_rates(s, m, rates, &err), 0);
    for (uint32_t i = 0; i < m->nlayers; i++)
        assert_true(rates[i] == (strcmp(m->layers[i].name, "bn2") == 0 ? 0.02 : 0));
    bl_fault_spec_free(s);
    /* registry listing */
    assert_int_equal(bl_fault_registry_count(reg), 3);
    const bl_fault_kind *k = bl_fault_registry_find(reg, "asym");
    assert_non_null(k);
    assert_int_equal(bl_fault_kind_nparams(k), 4);
    assert_string_equal(bl_fault_kind_source(k), "built-in");
    bl_model_free(m);
    bl_fault_registry_free(reg);
}

static void test_determinism(void **state)
{
    (void)state;
    bl_fault_registry *reg = registry();
    bl_model *m = model("fc", 8);
    bl_model *a = clone(m), *b = clone(m);
    bl_fault_spec *s = parse(reg, "bitflip:p=0.01;*.thresholds=bitflip:p=0.01", m);
    apply(s, m, a, 11, NULL);
    apply(s, m, b, 12, NULL);
    assert_int_not_equal(bl_model_checksum(a), bl_model_checksum(b));
    apply(s, m, b, 11, NULL);
    assert_int_equal(bl_model_checksum(a), bl_model_checksum(b));
    bl_fault_spec_free(s);
    bl_model_free(a);
    bl_model_free(b);
    bl_model_free(m);
    bl_fault_registry_free(reg);
}

/* ---- fault-map files ----------------------------------------------------------- */

static void test_fault_map_files(void **state)
{
    (void)state;
    bl_fault_registry *reg = registry();
    bl_model *m = model("6x6x1-c65-p-70-10", 9);
    bl_model *f = clone(m), *g = clone(m);
    bl_fault_spec *s = parse(reg, "bitflip:p=0.05;*.thresholds=bitflip:p=0.02", m);
    apply(s, m, f, 3, NULL);
    bl_error err = { 0 };
    bl_fault_map *map = NULL;
    assert_int_equal(bl_fault_map_diff(m, f, &map, &err), 0);
    assert_true(bl_fault_map_bits(map) > 0);
    char path[] = "/tmp/betlab_test_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(bl_fault_map_save(map, path, &err), 0);
    bl_fault_map *back = NULL;
    if (bl_fault_map_load(path, &back, &err))
        fail_msg("load: %s", err.msg);
    assert_int_equal(bl_fault_map_apply(back, m, g, &err), 0);
    assert_int_equal(bl_model_checksum(f), bl_model_checksum(g));
    uint8_t *buf;
    size_t n;
    assert_int_equal(bl_fault_map_serialize(map, &buf, &n, &err), 0);
    /* every truncation fails with a message naming the source */
    for (size_t k = 0; k < n; k++) {
        bl_fault_map *x = NULL;
        assert_int_not_equal(bl_fault_map_parse(buf, k, "t.bfm", &x, &err), 0);
        assert_null(x);
        assert_true(strncmp(err.msg, "t.bfm: offset ", 14) == 0);
    }
    uint8_t *c = malloc(n);
    bl_fault_map *x = NULL;
    memcpy(c, buf, n);
    c[0] ^= 1;
    assert_int_equal(bl_fault_map_parse(c, n, "t.bfm", &x, &err), BL_EFORMAT);
    assert_non_null(strstr(err.msg, "bad magic"));
    memcpy(c, buf, n);
    c[30] ^= 4;
    assert_int_equal(bl_fault_map_parse(c, n, "t.bfm", &x, &err), BL_ECHECKSUM);
    memcpy(c, buf, n);
    c[8] = 2;
    assert_int_equal(bl_fault_map_parse(c, n, "t.bfm", &x, &err), BL_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "version 2.0"));
    free(c);
    /* wrong model: another architecture */
    bl_model *other = model("6x6x1-c64-p-70-10", 9);
    bl_model *of = clone(other);
    assert_int_not_equal(bl_fault_map_apply(back, other, of, &err), 0);
    assert_non_null(strstr(err.msg, "bits in the map"));
    bl_model *other2 = model("36-70-10", 9);
    bl_model *of2 = clone(other2);
    assert_int_not_equal(bl_fault_map_apply(back, other2, of2, &err), 0);
    assert_non_null(strstr(err.msg, "no layer 'conv1'"));
    bl_model_free(other);
    bl_model_free(of);
    bl_model_free(other2);
    bl_model_free(of2);
    assert_int_not_equal(bl_fault_map_load("/nonexistent/x.bfm", &x, &err), 0);
    free(buf);
    unlink(path);
    bl_fault_map_free(map);
    bl_fault_map_free(back);
    bl_fault_spec_free(s);
    bl_model_free(f);
    bl_model_free(g);
    bl_model_free(m);
    bl_fault_registry_free(reg);
}

/* ---- plugins ---------------------------------------------------------------------- */

/* Path of a plugin .so, built from src (a .c) when missing or stale. */
static const char *plugin_path(const char *src, char *buf, size_t n)
{
    snprintf(buf, n, "%.*s.so", (int)(strlen(src) - 2), src);
    struct stat ss, so;
    if (stat(src, &ss) != 0)
        fail_msg("plugin source %s missing (run the tests from the repository root)", src);
    if (stat(buf, &so) == 0 && so.st_mtime >= ss.st_mtime)
        return buf;
    const char *base = strrchr(src, '/') + 1;
    snprintf(buf, n, "build/tests/plugins/%.*s.so", (int)(strlen(base) - 2), base);
    const char *cc = getenv("CC") ? getenv("CC") : "cc";
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "mkdir -p build/tests/plugins && %s -shared -fPIC -O2 -Iplugins -o %s %s -lm",
             cc, buf, src);
    if (system(cmd) != 0)
        fail_msg("cannot build plugin: %s", cmd);
    return buf;
}

static bl_fault_kind const *load(bl_fault_registry *reg, const char *src)
{
    char p[512];
    bl_error err = { 0 };
    const char *path = plugin_path(src, p, sizeof p);
    if (bl_fault_registry_load_plugin(reg, path, &err))
        fail_msg("load %s: %s", path, err.msg);
    return bl_fault_registry_at(reg, bl_fault_registry_count(reg) - 1);
}

static void load_fails(bl_fault_registry *reg, const char *src, const char *needle)
{
    char p[512];
    bl_error err = { 0 };
    const char *path = plugin_path(src, p, sizeof p);
    size_t before = bl_fault_registry_count(reg);
    assert_int_not_equal(bl_fault_registry_load_plugin(reg, path, &err), 0);
    assert_int_equal(bl_fault_registry_count(reg), before);
    if (!strstr(err.msg, path) || !strstr(err.msg, needle))
        fail_msg("%s: message '%s' lacks the path or '%s'", src, err.msg, needle);
}

static void test_plugins_bad(void **state)
{
    (void)state;
    bl_fault_registry *reg = registry();
    load_fails(reg, "tests/plugins/bad_abi.c", "ABI 2.3, this betlab supports ABI 1.");
    load_fails(reg, "tests/plugins/no_entry.c", "no 'betlab_plugin_entry'");
    load_fails(reg, "tests/plugins/bad_init.c", "no RRAM calibration table found");
    load_fails(reg, "tests/plugins/bad_params.c", "min <= default <= max");
    bl_error err = { 0 };
    assert_int_not_equal(bl_fault_registry_load_plugin(reg, "/nonexistent/p.so", &err), 0);
    assert_non_null(strstr(err.msg, "/nonexistent/p.so: cannot load plugin"));
    /* still usable */
    load(reg, "plugins/burst.c");
    load_fails(reg, "plugins/burst.c", "already registered");
    bl_fault_registry_free(reg);
}

/* Coupling and reproducibility of a plugin kind at increasing rates. */
static void plugin_coupled(const bl_fault_registry *reg, const bl_model *m, const char *kind,
                           const double *rates, int nrates)
{
    bl_fault_spec *s = parse(reg, kind, m);
    bl_model *f1 = clone(m), *f2 = clone(m);
    bl_error err = { 0 };
    for (int r = 0; r + 1 < nrates; r++) {
        assert_int_equal(bl_fault_spec_set_rate(s, rates[r], &err), 0);
        apply(s, m, f1, 4, NULL);
        apply(s, m, f2, 4, NULL);
        assert_int_equal(bl_model_checksum(f1), bl_model_checksum(f2));
        assert_int_equal(bl_fault_spec_set_rate(s, rates[r + 1], &err), 0);
        apply(s, m, f2, 4, NULL);
        for (uint32_t li = 0; li < m->nlayers; li++) {
            if (!m->layers[li].weights)
                continue;
            size_t nw;
            uint64_t *d1 = diff_words(m, f1, (int)li, &nw), *d2 = diff_words(m, f2, (int)li, &nw);
            for (size_t i = 0; i < nw; i++)
                if (d1[i] & ~d2[i])
                    fail_msg("%s not coupled between %g and %g", kind, rates[r], rates[r + 1]);
            free(d1);
            free(d2);
        }
    }
    bl_model_free(f1);
    bl_model_free(f2);
    bl_fault_spec_free(s);
}

static void test_plugin_burst(void **state)
{
    (void)state;
    bl_fault_registry *reg = registry();
    const bl_fault_kind *k = load(reg, "plugins/burst.c");
    assert_string_equal(bl_fault_kind_name(k), "burst");
    assert_int_equal(bl_fault_kind_rate_param(k), 0);
    bl_model *m = model("6x6x1-c65-p-700-10", 3);
    double rates[] = { 0.001, 0.01, 0.05 };
    plugin_coupled(reg, m, "burst:len=5", rates, 3);
    /* flipped bits come in runs inside rows; the overall rate is near p */
    bl_model *f = clone(m);
    bl_fault_spec *s = parse(reg, "fc1=burst:p=0.02,len=6", m);
    bl_fault_stats st;
    apply(s, m, f, 8, &st);
    int fc1 = bl_model_find_layer(m, "fc1");
    const bl_layer *l = &m->layers[fc1], *lf = &f->layers[fc1];
    uint64_t runs = 0, flipped = 0;
    for (uint32_t r = 0; r < l->rows; r++) {
        int prev = 0;
        uint32_t len = 0;
        for (uint32_t c = 0; c <= l->cols; c++) {
            size_t b = (size_t)r * l->words_per_row * 64 + c;
            int d = c < l->cols && bl_bit_get(l->weights, b) != bl_bit_get(lf->weights, b);
            if (d) { flipped++; len++; }
            if (!d && prev) {
                runs++;
                if (len < 6 && c != l->cols) /* only a row's end cuts a burst */
                    fail_msg("burst of %u bits inside row %u", len, r);
                len = 0;
            }
            prev = d;
        }
    }
    double frac = (double)flipped / ((double)l->rows * l->cols);
    assert_true(runs > 0 && frac > 0.012 && frac < 0.028);
    bl_fault_spec_free(s);
    bl_model_free(f);
    bl_model_free(m);
    bl_fault_registry_free(reg);
}

static void test_plugin_retention(void **state)
{
    (void)state;
    bl_fault_registry *reg = registry();
    load(reg, "plugins/retention.c");
    bl_model *m = model("784-512-10", 3);
    double rates[] = { 1e-4, 1e-3, 1e-2 };
    plugin_coupled(reg, m, "retention:t=2000,T=330", rates, 3);
    /* the law: BER = ber0 (t/t0)^beta exp(Ea/k (1/T0 - 1/T)) */
    double ber = 1e-3 * pow(2000.0 / 1000.0, 1.0) * exp(1.1 / 8.617333262e-5 * (1.0 / 300 - 1.0 / 310));
    bl_fault_spec *s = parse(reg, "retention:ber0=1e-3,t=2000,T=310", m);
    bl_model *f = clone(m);
    bl_fault_stats st;
    apply(s, m, f, 1, &st);
    double n = (double)st.bits[BL_FT_WEIGHTS], frac = (double)st.changed[BL_FT_WEIGHTS] / n;
    if (fabs(frac - ber) > 4 * sqrt(ber * (1 - ber) / n))
        fail_msg("retention: fraction %g, law %g", frac, ber);
    bl_fault_spec_free(s);
    /* hotter, longer: more faults, coupled */
    bl_model *g = clone(m);
    s = parse(reg, "retention:ber0=1e-3,t=4000,T=320", m);
    apply(s, m, g, 1, NULL);
    int li = bl_model_find_layer(m, "fc1");
    size_t nw;
    uint64_t *d1 = diff_words(m, f, li, &nw), *d2 = diff_words(m, g, li, &nw);
    for (size_t i = 0; i < nw; i++)
        assert_true((d1[i] & ~d2[i]) == 0);
    free(d1);
    free(d2);
    bl_fault_spec_free(s);
    /* parameter values are validated: range and the plugin's check */
    bl_error err = { 0 };
    bl_fault_spec *bad = NULL;
    assert_int_not_equal(bl_fault_spec_parse(reg, "retention:T=1000", m, &bad, &err), 0);
    assert_non_null(strstr(err.msg, "T=1000 out of range"));
    assert_int_not_equal(bl_fault_spec_parse(reg, "retention:t=0,beta=0", m, &bad, &err), 0);
    assert_non_null(strstr(err.msg, "retention.so"));
    assert_non_null(strstr(err.msg, "0^0"));
    bl_model_free(f);
    bl_model_free(g);
    bl_model_free(m);
    bl_fault_registry_free(reg);
}

static void test_plugin_rram(void **state)
{
    (void)state;
    bl_fault_registry *reg = registry();
    load(reg, "plugins/rram.c");
    bl_model *m = model("1000-700-10", 3);
    double rates[] = { 0.001, 0.01, 0.1 };
    plugin_coupled(reg, m, "rram:k10=0.25,nf=4", rates, 3);
    /* class rates: stored value x neighbour differs */
    bl_fault_spec *s = parse(reg, "fc1=rram:p=0.02,k10=0.5,nf=3", m);
    bl_model *f = clone(m);
    apply(s, m, f, 2, NULL);
    int li = bl_model_find_layer(m, "fc1");
    const bl_layer *l = &m->layers[li];
    for (uint32_t r = 0; r < l->rows; r++)
        for (uint32_t c = 0; c < l->cols; c++) {
            size_t b = (size_t)r * l->words_per_row * 64 + c;
            int v = bl_bit_get(l->weights, b);
            int d = (c > 0 && bl_bit_get(l->weights, b - 1) != v) ||
                    (c + 1 < l->words_per_row * 64u && bl_bit_get(l->weights, b + 1) != v);
            double u = bl_fault_uniform(2, (uint32_t)li, BL_FT_WEIGHTS, b);
            double rate = (v ? 0.01 : 0.02) * (d ? 3 : 1);
            assert_int_equal(u < rate, bl_bit_get(f->layers[li].weights, b) != v);
        }
    bl_fault_spec_free(s);
    bl_model_free(f);
    bl_model_free(m);
    bl_fault_registry_free(reg);
}

/* ---- activation faults --------------------------------------------------------- */

/* Straightforward integer forward pass with activation flips from the
 * same uniforms: the reference the engine must match. */
static int32_t ref_forward(const bl_model *m, const uint8_t *codes, size_t idx, const double *rates,
                           uint64_t seed)
{
    size_t cap = 1 << 16;
    int32_t *a = calloc(cap, 4), *b = calloc(cap, 4);
    int8_t *x = calloc(cap, 1); /* +-1 activations, HWC */
    int real = 1;
    for (uint32_t li = 0; li < m->nlayers; li++) {
        const bl_layer *l = &m->layers[li];
        size_t nout = bl_shape_size(l->out);
        if (l->kind == BL_LAYER_DENSE) {
            for (uint32_t j = 0; j < l->rows; j++) {
                int32_t s = 0;
                for (uint32_t i = 0; i < l->cols; i++) {
                    int w = bl_bit_get(l->weights, (size_t)j * l->words_per_row * 64 + i) ? 1 : -1;
                    s += w * (real ? (int32_t)codes[i] - m->input_zero : x[i]);
                }
                a[j] = s;
            }
            real = 0;
        } else if (l->kind == BL_LAYER_CONV3) {
            uint32_t H = l->in.h, W = l->in.w, C = l->in.c;
            for (uint32_t y = 0; y < H; y++)
                for (uint32_t xx = 0; xx < W; xx++)
                    for (uint32_t o = 0; o < l->rows; o++) {
                        int32_t s = 0;
                        for (int t = 0; t < 9; t++) {
                            long yy = (long)y + t / 3 - 1, xc = (long)xx + t % 3 - 1;
                            if (yy < 0 || yy >= (long)H || xc < 0 || xc >= (long)W)
                                continue;
                            for (uint32_t c = 0; c < C; c++) {
                                int w = bl_bit_get(l->weights, (size_t)o * l->words_per_row * 64 +
                                                                   (size_t)t * l->words_per_tap * 64 + c) ? 1 : -1;
                                size_t in = ((size_t)yy * W + (size_t)xc) * C + c;
                                s += w * (real ? (int32_t)codes[in] - m->input_zero : x[in]);
                            }
                        }
                        a[((size_t)y * W + xx) * l->rows + o] = s;
                    }
            real = 0;
        } else if (l->kind == BL_LAYER_MAXPOOL2) {
            uint32_t W = l->in.w, C = l->in.c;
            for (uint32_t y = 0; y < l->out.h; y++)
                for (uint32_t xx = 0; xx < l->out.w; xx++)
                    for (uint32_t c = 0; c < C; c++) {
                        int32_t best = INT32_MIN;
                        for (int d = 0; d < 4; d++) {
                            int32_t v = a[((size_t)(2 * y + d / 2) * W + 2 * xx + d % 2) * C + c];
                            best = v > best ? v : best;
                        }
                        b[((size_t)y * l->out.w + xx) * C + c] = best;
                    }
            memcpy(a, b, nout * 4);
        } else if (l->kind == BL_LAYER_THRESH) {
            uint32_t C = l->out.c;
            for (size_t n = 0; n < nout; n++) {
                uint32_t c = (uint32_t)(n % C);
                int on = l->dir[c] > 0 ? a[n] >= l->tau[c] : a[n] <= l->tau[c];
                if (rates[li] > 0) {
                    uint64_t bit = ((idx / 64) * nout + n) * 64 + idx % 64;
                    if (bl_coupled_uniform(seed, bl_coupled_stream(li, BL_FT_ACTIVATIONS), bit) <
                        rates[li])
                        on = !on;
                }
                x[n] = on ? 1 : -1;
            }
        }
    }
    const bl_layer *last = &m->layers[m->nlayers - 1];
    int32_t cls = 0;
    for (uint32_t k = 1; k < last->rows; k++)
        if (a[k] > a[cls])
            cls = (int32_t)k;
    free(a);
    free(b);
    free(x);
    return cls;
}

static void test_activation_faults(void **state)
{
    (void)state;
    const char *specs[] = { "100-70-65-10", "8x8x2-c65-p-c64-70-10" };
    bl_fault_registry *reg = registry();
    for (int si = 0; si < 2; si++) {
        bl_model *m = model(specs[si], 12);
        size_t n = 150, F = bl_shape_size(m->input);
        uint8_t *codes = malloc(n * F);
        bl_rng_stream rs = bl_rng_stream_init(3, BL_RNG_TEST, 1);
        for (size_t i = 0; i < n * F; i++)
            codes[i] = (uint8_t)bl_rng_stream_u64(&rs);
        bl_error err = { 0 };
        bl_inputs *in = NULL;
        assert_int_equal(bl_inputs_from_codes(m, codes, NULL, n, &in, &err), 0);
        bl_fault_spec *s = parse(reg, "*.activations=bitflip:p=0.05", m);
        double rates[32];
        assert_int_equal(bl_fault_activation_rates(s, m, rates, &err), 0);
        int32_t *ref = malloc(n * 4), *ref0 = malloc(n * 4), *pred = malloc(n * 4);
        double zero[32] = { 0 };
        size_t differ = 0;
        for (size_t i = 0; i < n; i++) {
            ref[i] = ref_forward(m, codes + i * F, i, rates, 77);
            ref0[i] = ref_forward(m, codes + i * F, i, zero, 77);
            differ += ref[i] != ref0[i];
        }
        assert_true(differ > 0);
        for (int simd = 0; simd <= (int)bl_simd_supported(); simd++)
            for (int th = 1; th <= 3; th += 2) {
                bl_engine_opts o = { th, simd, 1 };
                bl_engine *e = NULL;
                assert_int_equal(bl_engine_new(m, &o, &e, &err), 0);
                assert_int_equal(bl_engine_predict(e, m, in, pred, &err), 0);
                assert_memory_equal(pred, ref0, n * 4);
                assert_int_equal(bl_engine_set_activation_faults(e, rates, 77, &err), 0);
                assert_int_equal(bl_engine_predict(e, m, in, pred, &err), 0);
                assert_memory_equal(pred, ref, n * 4);
                bl_cache *c = NULL;
                assert_int_equal(bl_cache_new(e, m, in, &c, &err), 0);
                assert_int_equal(bl_engine_predict_cached(e, c, m, pred, &err), 0);
                assert_memory_equal(pred, ref, n * 4);
                bl_cache_free(c);
                assert_int_equal(bl_engine_set_activation_faults(e, NULL, 0, &err), 0);
                assert_int_equal(bl_engine_predict(e, m, in, pred, &err), 0);
                assert_memory_equal(pred, ref0, n * 4);
                /* rates on a non-threshold layer are refused */
                double badr[32] = { 0.1 };
                assert_int_not_equal(bl_engine_set_activation_faults(e, badr, 1, &err), 0);
                bl_engine_free(e);
            }
        free(ref);
        free(ref0);
        free(pred);
        free(codes);
        bl_inputs_free(in);
        bl_fault_spec_free(s);
        bl_model_free(m);
    }
    bl_fault_registry_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coupled_paths),
        cmocka_unit_test(test_coupling_every_kind),
        cmocka_unit_test(test_rates_and_asymmetry),
        cmocka_unit_test(test_stuck_semantics),
        cmocka_unit_test(test_layers_targets_padding),
        cmocka_unit_test(test_spec_errors),
        cmocka_unit_test(test_spec_format_and_rates),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_fault_map_files),
        cmocka_unit_test(test_plugins_bad),
        cmocka_unit_test(test_plugin_burst),
        cmocka_unit_test(test_plugin_retention),
        cmocka_unit_test(test_plugin_rram),
        cmocka_unit_test(test_activation_faults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
