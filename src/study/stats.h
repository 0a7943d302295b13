/* stats.h - the statistics behind every number a campaign prints.
 *
 *  - Welford's running mean and variance (numerically stable, one pass).
 *  - Student-t quantiles from the t CDF, itself computed from the
 *    regularized incomplete beta function (continued fraction, Lentz):
 *        F(t; v) = 1 - I_{v/(v+t^2)}(v/2, 1/2) / 2     for t >= 0,
 *    inverted by bisection to 1e-12; v = INFINITY gives the normal quantile.
 *  - 95% confidence intervals: Student-t over repetitions
 *        mean +- t(1 - a/2; n-1) * s / sqrt(n),
 *    and the Wilson score interval for one fault map (k of n correct).
 *  - Binomial pmf (log space, via lgamma) and cdf (via the incomplete beta)
 *    for the analytic flip probability.
 * Pure functions, no global state, thread-safe. */
#ifndef BL_STUDY_STATS_H
#define BL_STUDY_STATS_H

#include <stddef.h>
#include <stdint.h>

typedef struct bl_welford {
    uint64_t n;
    double mean, m2;
} bl_welford;

static inline void bl_welford_init(bl_welford *w) { w->n = 0; w->mean = 0.0; w->m2 = 0.0; }
void bl_welford_add(bl_welford *w, double x);
/* Sample variance (divisor n - 1); 0 when n < 2. */
double bl_welford_variance(const bl_welford *w);
/* Population variance (divisor n); 0 when n < 1. */
double bl_welford_pvariance(const bl_welford *w);

/* log Beta(a, b) and the regularized incomplete beta I_x(a, b), a, b > 0. */
double bl_lbeta(double a, double b);
double bl_betainc(double a, double b, double x);

/* Student-t CDF and quantile with v > 0 degrees of freedom (v may be
 * INFINITY: standard normal).  p in (0, 1). */
double bl_t_cdf(double t, double v);
double bl_t_quantile(double p, double v);
double bl_normal_cdf(double z);
double bl_normal_quantile(double p);

typedef struct bl_ci {
    double mean, low, high;  /* low <= mean <= high                        */
    double half;             /* half-width (high - low) / 2 before clamping */
} bl_ci;

/* Student-t interval at `level` (0.95) for the mean of x[0..n).  n == 1
 * gives a zero-width interval at x[0] (no spread to estimate); callers
 * with one fault map use Wilson instead.  Bounds clamped to [lo, hi]. */
void bl_ci_student(const double *x, size_t n, double level, double lo, double hi, bl_ci *out);
/* Same from Welford accumulators. */
void bl_ci_student_w(const bl_welford *w, double level, double lo, double hi, bl_ci *out);
/* Wilson score interval for a proportion: k successes of n trials. */
void bl_ci_wilson(uint64_t k, uint64_t n, double level, bl_ci *out);

/* Binomial Bin(n, p): log P(K = k) (-INFINITY outside 0..n) and
 * P(K <= k), P(K >= k). */
double bl_binom_logpmf(uint64_t k, uint64_t n, double p);
double bl_binom_cdf(int64_t k, uint64_t n, double p);
double bl_binom_sf(int64_t k, uint64_t n, double p);

#endif
