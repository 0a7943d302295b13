/* stats.c - Welford, Student-t and Wilson intervals, binomial (stats.h). */
#include "study/stats.h"

#include <float.h>
#include <math.h>

void bl_welford_add(bl_welford *w, double x)
{
    w->n++;
    double d = x - w->mean;
    w->mean += d / (double)w->n;
    w->m2 += d * (x - w->mean);
}

double bl_welford_variance(const bl_welford *w)
{
    return w->n < 2 ? 0.0 : (w->m2 > 0 ? w->m2 : 0.0) / (double)(w->n - 1);
}

double bl_welford_pvariance(const bl_welford *w)
{
    return w->n < 1 ? 0.0 : (w->m2 > 0 ? w->m2 : 0.0) / (double)w->n;
}

static double lgam(double x)
{
    int sign;
    return lgamma_r(x, &sign); /* reentrant: no write to the global signgam */
}

double bl_lbeta(double a, double b) { return lgam(a) + lgam(b) - lgam(a + b); }

/* Continued fraction of the incomplete beta (modified Lentz). */
static double betacf(double a, double b, double x)
{
    const double tiny = 1e-300, eps = 1e-16;
    double qab = a + b, qap = a + 1.0, qam = a - 1.0;
    double c = 1.0, d = 1.0 - qab * x / qap;
    if (fabs(d) < tiny)
        d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= 100000; m++) {
        double m2 = 2.0 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny)
            d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1.0 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny)
            d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < eps)
            break;
    }
    return h;
}

double bl_betainc(double a, double b, double x)
{
    if (!(x > 0.0))
        return 0.0;
    if (!(x < 1.0))
        return 1.0;
    double lfront = a * log(x) + b * log1p(-x) - bl_lbeta(a, b);
    if (x < (a + 1.0) / (a + b + 2.0))
        return exp(lfront) * betacf(a, b, x) / a;
    return 1.0 - exp(lfront) * betacf(b, a, 1.0 - x) / b;
}

double bl_normal_cdf(double z) { return 0.5 * erfc(-z / M_SQRT2); }

double bl_t_cdf(double t, double v)
{
    if (isnan(t) || isnan(v) || v <= 0)
        return NAN;
    if (isinf(v) || v > 1e8)
        return bl_normal_cdf(t);
    if (isinf(t))
        return t > 0 ? 1.0 : 0.0;
    double tail = 0.5 * bl_betainc(0.5 * v, 0.5, v / (v + t * t)); /* P(T > |t|) */
    return t >= 0 ? 1.0 - tail : tail;
}

/* Bisection on a monotone CDF; upper tail only (p > 0.5). */
static double invert_upper(double p, double v, int normal)
{
    double lo = 0.0, hi = 1.0;
    while ((normal ? bl_normal_cdf(hi) : bl_t_cdf(hi, v)) < p && hi < 1e300)
        hi *= 2.0;
    for (int i = 0; i < 2000 && hi - lo > 1e-13 * (hi > 1.0 ? hi : 1.0); i++) {
        double mid = 0.5 * (lo + hi);
        if ((normal ? bl_normal_cdf(mid) : bl_t_cdf(mid, v)) < p)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

double bl_normal_quantile(double p)
{
    if (!(p > 0.0 && p < 1.0))
        return p == 0.0 ? -INFINITY : p == 1.0 ? INFINITY : NAN;
    if (p == 0.5)
        return 0.0;
    return p > 0.5 ? invert_upper(p, 0, 1) : -invert_upper(1.0 - p, 0, 1);
}

double bl_t_quantile(double p, double v)
{
    if (isnan(v) || v <= 0)
        return NAN;
    if (isinf(v) || v > 1e8)
        return bl_normal_quantile(p);
    if (!(p > 0.0 && p < 1.0))
        return p == 0.0 ? -INFINITY : p == 1.0 ? INFINITY : NAN;
    if (p == 0.5)
        return 0.0;
    return p > 0.5 ? invert_upper(p, v, 0) : -invert_upper(1.0 - p, v, 0);
}

static void clamp(bl_ci *c, double lo, double hi)
{
    if (c->low < lo)
        c->low = lo;
    if (c->high > hi)
        c->high = hi;
    if (c->low > c->mean)
        c->low = c->mean;
    if (c->high < c->mean)
        c->high = c->mean;
}

void bl_ci_student_w(const bl_welford *w, double level, double lo, double hi, bl_ci *out)
{
    out->mean = w->mean;
    out->half = 0.0;
    if (w->n >= 2) {
        double t = bl_t_quantile(1.0 - 0.5 * (1.0 - level), (double)(w->n - 1));
        out->half = t * sqrt(bl_welford_variance(w) / (double)w->n);
    }
    out->low = out->mean - out->half;
    out->high = out->mean + out->half;
    clamp(out, lo, hi);
}

void bl_ci_student(const double *x, size_t n, double level, double lo, double hi, bl_ci *out)
{
    bl_welford w;
    bl_welford_init(&w);
    for (size_t i = 0; i < n; i++)
        bl_welford_add(&w, x[i]);
    bl_ci_student_w(&w, level, lo, hi, out);
}

void bl_ci_wilson(uint64_t k, uint64_t n, double level, bl_ci *out)
{
    if (n == 0) {
        out->mean = 0.0;
        out->low = 0.0;
        out->high = 1.0;
        out->half = 0.5;
        return;
    }
    double z = bl_normal_quantile(1.0 - 0.5 * (1.0 - level));
    double nn = (double)n, ph = (double)k / nn, z2 = z * z;
    double den = 1.0 + z2 / nn;
    double ctr = (ph + z2 / (2.0 * nn)) / den;
    double half = z * sqrt(ph * (1.0 - ph) / nn + z2 / (4.0 * nn * nn)) / den;
    out->mean = ph;
    out->low = ctr - half;
    out->high = ctr + half;
    out->half = half;
    clamp(out, 0.0, 1.0);
}

double bl_binom_logpmf(uint64_t k, uint64_t n, double p)
{
    if (k > n)
        return -INFINITY;
    if (p <= 0.0)
        return k == 0 ? 0.0 : -INFINITY;
    if (p >= 1.0)
        return k == n ? 0.0 : -INFINITY;
    double dn = (double)n, dk = (double)k;
    return lgam(dn + 1.0) - lgam(dk + 1.0) - lgam(dn - dk + 1.0) + dk * log(p) +
           (dn - dk) * log1p(-p);
}

double bl_binom_cdf(int64_t k, uint64_t n, double p)
{
    if (k < 0)
        return 0.0;
    if ((uint64_t)k >= n)
        return 1.0;
    if (p <= 0.0)
        return 1.0;
    if (p >= 1.0)
        return 0.0;
    return bl_betainc((double)(n - (uint64_t)k), (double)k + 1.0, 1.0 - p);
}

double bl_binom_sf(int64_t k, uint64_t n, double p)
{
    if (k <= 0)
        return 1.0;
    if ((uint64_t)k > n)
        return 0.0;
    if (p <= 0.0)
        return 0.0;
    if (p >= 1.0)
        return 1.0;
    return bl_betainc((double)k, (double)(n - (uint64_t)k) + 1.0, p);
}
