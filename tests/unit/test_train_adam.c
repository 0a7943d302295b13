/* test_train_adam.c - the Adam update's SIMD paths (train_adam_avx2.c,
 * train_adam_avx512.c) against the portable loop (tr_adam_range_scalar in
 * train_net.c): bit-identical weights, moments and signs for every length
 * (vector bodies and scalar tails), unaligned starts, clipped and unclipped
 * ranges, first and late steps, gradients from 1e-30 to 1e20 (g*g overflows)
 * and signed zeros, over several consecutive steps.  A level the CPU lacks
 * is skipped (tests/run_tests.sh counts the skip). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cpu.h"
#include "base/rng.h"
#include "bnn/train_internal.h"

#define MAXN 1100

typedef struct state {
    float w[MAXN + 1], m[MAXN + 1], v[MAXN + 1], wb[MAXN + 1], g[MAXN + 1];
} state;

static double u01(uint32_t what, uint64_t i) { return bl_rng_uniform(77, BL_RNG_TEST, what, i); }

/* Latent weights around the clip range, moments of a running Adam, and
 * gradients over many magnitudes with exact and signed zeros. */
static void fill(state *s, uint64_t key)
{
    for (size_t i = 0; i <= MAXN; i++) {
        uint64_t k = key * 4096 + i;
        s->w[i] = (float)(3 * u01(1, k) - 1.5);
        if (i % 17 == 3)
            s->w[i] = i % 2 ? -0.0f : 0.0f;
        if (i % 23 == 5)
            s->w[i] = i % 2 ? -1.0f : 1.0f;
        s->m[i] = (float)(0.02 * (u01(2, k) - 0.5));
        s->v[i] = (float)(1e-4 * u01(3, k));
        if (i % 19 == 7)
            s->m[i] = s->v[i] = 0;
        s->wb[i] = 0;
    }
}

static void gradients(state *s, uint64_t key)
{
    for (size_t i = 0; i <= MAXN; i++) {
        uint64_t k = key * 4096 + i;
        double mag = pow(10, -30 + 50 * u01(4, k)); /* 1e-30 .. 1e20 */
        if (i % 5 != 0)
            mag = pow(10, -6 + 6 * u01(5, k)); /* mostly the usual range */
        float gi = (float)(u01(6, k) < 0.5 ? -mag : mag);
        if (i % 13 == 2)
            gi = i % 2 ? -0.0f : 0.0f;
        s->g[i] = gi;
    }
}

/* Runs `steps` Adam steps with fn and with the portable loop on the same
 * data and compares every array bit for bit. */
static void compare(tr_adam_fn fn, const char *name, size_t off, size_t n, float lo, float hi,
                    float lr, size_t t0, int steps)
{
    static state a, b;
    fill(&a, n * 7 + off);
    memcpy(&b, &a, sizeof a);
    for (int s = 0; s < steps; s++) {
        size_t t = t0 + (size_t)s;
        float ib1 = (float)(1 / (1 - pow(TR_ADAM_B1, (double)t)));
        float ib2 = (float)(1 / (1 - pow(TR_ADAM_B2, (double)t)));
        gradients(&a, n * 131 + (size_t)s);
        memcpy(b.g, a.g, sizeof a.g);
        tr_adam_range_scalar(a.w + off, a.g + off, a.m + off, a.v + off, a.wb + off, n, lo, hi, lr,
                             ib1, ib2);
        fn(b.w + off, b.g + off, b.m + off, b.v + off, b.wb + off, n, lo, hi, lr, ib1, ib2);
        const float *pa[] = { a.w, a.m, a.v, a.wb }, *pb[] = { b.w, b.m, b.v, b.wb };
        const char *what[] = { "w", "m", "v", "wb" };
        for (int k = 0; k < 4; k++)
            for (size_t i = 0; i <= MAXN; i++)
                if (memcmp(&pa[k][i], &pb[k][i], sizeof(float)) != 0)
                    fail_msg("%s: %s[%zu] %.9g (portable %.9g), n=%zu off=%zu clip=%g lr=%g t=%zu",
                             name, what[k], i, (double)pb[k][i], (double)pa[k][i], n, off,
                             (double)hi, (double)lr, t);
    }
}

static void check_level(bl_simd level, tr_adam_fn fn)
{
    if (bl_simd_supported() < level) {
        printf("skip: this CPU has no %s\n", bl_simd_name(level));
        skip();
    }
    const char *name = bl_simd_name(level);
    const size_t lens[] = { 0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 1037, MAXN };
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
        for (size_t off = 0; off < 2 && off + lens[li] <= MAXN; off++) {
            compare(fn, name, off, lens[li], -1, 1, 1e-3f, 1, 4);               /* clipped weights  */
            compare(fn, name, off, lens[li], -INFINITY, INFINITY, 0.1f, 1, 3);  /* BN: no clip      */
            compare(fn, name, off, lens[li], -1, 1, 0.05f, 5000, 3);            /* late: ib ~ 1     */
        }
}

static void test_avx2(void **state) { (void)state; check_level(BL_SIMD_AVX2, tr_adam_range_avx2); }
static void test_avx512(void **state) { (void)state; check_level(BL_SIMD_AVX512, tr_adam_range_avx512); }

/* The portable loop itself: one hand-computed step. */
static void test_portable_step(void **state)
{
    (void)state;
    float w[2] = { 0.5f, -0.999f }, g[2] = { 0.1f, -0.2f }, m[2] = { 0, 0 }, v[2] = { 0, 0 }, wb[2];
    float ib1 = 1 / (1 - TR_ADAM_B1), ib2 = 1 / (1 - TR_ADAM_B2);
    tr_adam_range_scalar(w, g, m, v, wb, 2, -1, 1, 0.01f, ib1, ib2);
    /* first step: m_hat = g, v_hat = g^2, so each weight moves by lr * sign(g) */
    assert_true(fabsf(w[0] - 0.49f) < 1e-6f);
    assert_true(w[1] == -0.989f || fabsf(w[1] + 0.989f) < 1e-6f);
    assert_true(wb[0] == 1.0f && wb[1] == -1.0f);
    /* a step past the clip stops at the bound */
    float w2 = 0.995f, g2 = -1, m2 = 0, v2 = 0, wb2;
    tr_adam_range_scalar(&w2, &g2, &m2, &v2, &wb2, 1, -1, 1, 0.01f, ib1, ib2);
    assert_true(w2 == 1.0f && wb2 == 1.0f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_portable_step),
        cmocka_unit_test(test_avx2),
        cmocka_unit_test(test_avx512),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
