/* test_study_stats.c - t quantiles against tables, Wilson, Welford,
 * binomial pmf/cdf against direct sums. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>

#include <cmocka.h>

#include "study/stats.h"

static void near(double got, double want, double tol, const char *what)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("%s: got %.9g, want %.9g (tol %g)", what, got, want, tol);
}

static void test_t_quantiles(void **s)
{
    (void)s;
    /* two-sided 95% (p = 0.975), printed tables to 3 decimals */
    near(bl_t_quantile(0.975, 1), 12.706, 5e-4, "t(1)");
    near(bl_t_quantile(0.975, 2), 4.303, 5e-4, "t(2)");
    near(bl_t_quantile(0.975, 4), 2.776, 5e-4, "t(4)");
    near(bl_t_quantile(0.975, 9), 2.262, 5e-4, "t(9)");
    near(bl_t_quantile(0.975, 29), 2.045, 5e-4, "t(29)");
    near(bl_t_quantile(0.975, INFINITY), 1.960, 5e-4, "t(inf)");
    near(bl_t_quantile(0.975, 1e9), 1.959964, 1e-6, "t(1e9)");
    /* more digits: t(0.975;1) = tan(0.475 pi), exact for df = 1 (Cauchy) */
    near(bl_t_quantile(0.975, 1), tan(0.475 * M_PI), 1e-9, "cauchy");
    near(bl_t_quantile(0.995, 9), 3.249835542, 1e-8, "t(0.995;9)");
    near(bl_t_quantile(0.025, 4), -2.776445105, 1e-8, "lower tail");
    near(bl_t_quantile(0.5, 7), 0.0, 0, "median");
    near(bl_normal_quantile(0.975), 1.959963985, 1e-8, "z");
    near(bl_t_cdf(2.262157163, 9), 0.975, 1e-9, "cdf");
    near(bl_betainc(2, 3, 0.4), 0.5248, 1e-12, "I_0.4(2,3)");
}

static void test_welford_student(void **s)
{
    (void)s;
    double x[] = { 0.9, 0.8, 0.85, 0.95, 0.7 };
    bl_welford w;
    bl_welford_init(&w);
    for (int i = 0; i < 5; i++)
        bl_welford_add(&w, x[i]);
    near(w.mean, 0.84, 1e-15, "mean");
    near(bl_welford_variance(&w), 0.00925, 1e-15, "variance");
    bl_ci c;
    bl_ci_student(x, 5, 0.95, 0, 1, &c);
    double half = 2.776445105 * sqrt(0.00925 / 5);
    near(c.half, half, 1e-8, "half");
    near(c.low, 0.84 - half, 1e-8, "low");
    near(c.high, 0.84 + half, 1e-8, "high");
    bl_ci_student(x, 1, 0.95, 0, 1, &c);
    near(c.low, 0.9, 0, "one rep low");
    /* clamping */
    double y[] = { 0.99, 1.0 };
    bl_ci_student(y, 2, 0.95, 0, 1, &c);
    near(c.high, 1.0, 0, "clamped");
}

static void test_wilson(void **s)
{
    (void)s;
    bl_ci c;
    /* k = 81 of n = 263 (reference values from an independent Python
     * evaluation of the closed form) */
    bl_ci_wilson(81, 263, 0.95, &c);
    near(c.low, 0.2552885199, 1e-9, "wilson low");
    near(c.high, 0.3662095770, 1e-9, "wilson high");
    bl_ci_wilson(0, 10, 0.95, &c);
    near(c.low, 0.0, 1e-12, "k=0 low");
    near(c.high, 0.2775327999, 1e-9, "k=0 high");
    bl_ci_wilson(10, 10, 0.95, &c);
    near(c.high, 1.0, 1e-12, "k=n high");
    near(c.low, 0.7224672001, 1e-9, "k=n low");
}

static void test_binomial(void **s)
{
    (void)s;
    const uint64_t n = 50;
    const double p = 0.07;
    double sum = 0, direct[51];
    for (uint64_t k = 0; k <= n; k++) {
        direct[k] = exp(bl_binom_logpmf(k, n, p));
        sum += direct[k];
    }
    near(sum, 1.0, 1e-12, "pmf sums to 1");
    near(direct[3], 19600.0 * pow(0.07, 3) * pow(0.93, 47), 1e-14, "pmf(3)");
    double cdf = 0;
    for (int64_t k = 0; k <= (int64_t)n; k++) {
        cdf += direct[k];
        near(bl_binom_cdf(k, n, p), cdf, 1e-12, "cdf");
        near(bl_binom_sf(k + 1, n, p), 1.0 - cdf, 1e-12, "sf");
    }
    near(bl_binom_cdf(-1, n, p), 0, 0, "cdf(-1)");
    near(bl_binom_sf(0, n, p), 1, 0, "sf(0)");
    near(bl_binom_sf(1, n, 0.0), 0, 0, "p=0");
    /* deep tail stays accurate in log space */
    near(bl_binom_logpmf(40, 2048, 1e-4), -174.3336370076, 1e-8, "log pmf tail");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_t_quantiles),
        cmocka_unit_test(test_welford_student),
        cmocka_unit_test(test_wilson),
        cmocka_unit_test(test_binomial),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
