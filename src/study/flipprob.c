/* flipprob.c - analytic flip probability of binary neurons (metrics.h).
 *
 * D = K_plus - K_minus with K_plus ~ Bin(n_plus, p), K_minus ~ Bin(n_minus,
 * p) independent; P(flip) = P(D >= K*) = sum_j P(K_minus = j) P(K_plus >=
 * K* + j).  Each pmf is evaluated in log space (lgamma) on [mean - 12 sd -
 * 40, mean + 12 sd + 40] (the mass outside is far below 1e-18) and the
 * convolution is exact on that support.  Within one layer P depends only on
 * (n, n_plus, K*), so the tail P(D >= k) for all k is computed once per
 * distinct (n, n_plus) met and reused.
 *
 * First layer: its terms are w_i (q_i - zero) with magnitudes 0..255, so a
 * flipped weight moves a by 2|q_i - zero|, not by 2, and the binomial model
 * does not hold; the exact distribution would need a convolution over the
 * per-input magnitudes for every (neuron, input) pair (a support of ~10^5
 * values each).  We report only the Monte-Carlo measurement there. */
#include "study/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "study/stats.h"

typedef struct tail {
    uint32_t len;  /* T[k] for k in [0, len); 0 beyond */
    double *T;
} tail;

static void range(uint32_t n, double p, uint32_t *lo, uint32_t *hi)
{
    double mu = (double)n * p, sd = sqrt((double)n * p * (1.0 - p));
    double l = floor(mu - 12.0 * sd - 40.0), h = ceil(mu + 12.0 * sd + 40.0);
    *lo = l < 0 ? 0 : (uint32_t)l;
    *hi = h > (double)n ? n : (uint32_t)h;
}

static int make_tail(uint32_t np, uint32_t nm, double p, tail *t)
{
    uint32_t lp, hp, lm, hm;
    range(np, p, &lp, &hp);
    range(nm, p, &lm, &hm);
    /* S[m - lp] = P(K_plus >= m) for m in [lp, hp] */
    uint32_t ns = hp - lp + 1, nmm = hm - lm + 1;
    double *S = malloc((ns + 1) * sizeof *S), *pm = malloc(nmm * sizeof *pm);
    t->len = hp >= lm ? hp - lm + 1 : 1;
    t->T = calloc(t->len, sizeof *t->T);
    if (!S || !pm || !t->T) {
        free(S);
        free(pm);
        free(t->T);
        t->T = NULL;
        return -1;
    }
    S[ns] = 0.0;
    for (uint32_t k = hp + 1; k-- > lp;)
        S[k - lp] = S[k - lp + 1] + exp(bl_binom_logpmf(k, np, p));
    for (uint32_t j = lm; j <= hm; j++)
        pm[j - lm] = exp(bl_binom_logpmf(j, nm, p));
    for (uint32_t k = 0; k < t->len; k++) {
        double acc = 0.0;
        for (uint32_t j = lm; j <= hm; j++) {
            uint64_t need = (uint64_t)k + j; /* K_plus >= need */
            double s = need <= lp ? S[0] : need > hp ? 0.0 : S[need - lp];
            if (s == 0.0)
                break;
            acc += pm[j - lm] * s;
        }
        t->T[k] = acc > 1.0 ? 1.0 : acc;
    }
    free(S);
    free(pm);
    return 0;
}

/* n_plus (supporting terms) and K* for a binary neuron. */
static void neuron_terms(uint32_t n, int32_t a, int32_t tau, int dir, uint32_t *np, int64_t *K)
{
    /* the output flips by a decreasing when it is +1 under dir +1 or -1
     * under dir -1, i.e. when out * dir = +1 */
    int down = bl_thresh_out(a, tau, dir) * dir > 0;
    int64_t plus = ((int64_t)n + (down ? a : -(int64_t)a)) / 2;
    if (plus < 0)
        plus = 0;
    if (plus > n)
        plus = n;
    *np = (uint32_t)plus;
    *K = bl_flips_needed(a, tau, dir);
}

double bl_flip_prob(uint32_t n, int32_t a, int32_t tau, int dir, double p)
{
    if (!(p > 0.0))
        return 0.0;
    uint32_t np;
    int64_t K;
    neuron_terms(n, a, tau, dir, &np, &K);
    tail t;
    if (make_tail(np, n - np, p, &t))
        return NAN;
    double r = K < (int64_t)t.len ? t.T[K] : 0.0;
    free(t.T);
    return r;
}

typedef struct memo {
    uint32_t n;
    tail *t;   /* n + 1 entries, T == NULL until computed */
} memo;

int bl_flip_fraction_analytic(const bl_model *m, const bl_hidden *h, const int32_t *pre,
                              size_t count, double p, double *frac, bl_error *err)
{
    *frac = NAN;
    const bl_layer *wl = &m->layers[h->weight], *th = &m->layers[h->thresh];
    if (wl->real_input)
        return bl_error_set(err, BL_EUNSUPPORTED,
                            "%s: no analytic flip probability for a real-input layer (terms "
                            "of unequal magnitude); Monte-Carlo only", h->name);
    if (h->src != h->weight)
        return bl_error_set(err, BL_EUNSUPPORTED,
                            "%s: no analytic flip probability for a pooled conv layer (the "
                            "pooled pixels share the faulty weights); Monte-Carlo only",
                            h->name);
    if (!(p >= 0.0 && p <= 1.0))
        return bl_error_set(err, BL_EINVAL, "flip probability: BER %g outside [0, 1]", p);
    const bl_layer *sl = &m->layers[h->src];
    size_t per = bl_shape_size(sl->out), C = sl->out.c, N = count * per;
    if (N == 0 || p == 0.0) {
        *frac = 0.0;
        return 0;
    }
    memo memos[4] = { { 0, NULL } };
    int nmemo = 0, rc = 0;
    double sum = 0.0;
    for (size_t i = 0; i < N && !rc; i++) {
        size_t within = i % per, c = within % C, pos = within / C;
        uint32_t n = wl->cols;
        if (wl->kind == BL_LAYER_CONV3) {
            uint32_t H = sl->out.h, W = sl->out.w, y = (uint32_t)(pos / W), x = (uint32_t)(pos % W);
            uint32_t vr = 1 + (y > 0) + (y + 1 < H), vc = 1 + (x > 0) + (x + 1 < W);
            n = wl->in.c * vr * vc;
        }
        int mi = 0;
        while (mi < nmemo && memos[mi].n != n)
            mi++;
        if (mi == nmemo) {
            if (nmemo == 4) {
                rc = bl_error_set(err, BL_EINVAL, "%s: too many input counts", h->name);
                break;
            }
            memos[mi].n = n;
            memos[mi].t = calloc((size_t)n + 1, sizeof(tail));
            if (!memos[mi].t) {
                rc = bl_error_set(err, BL_ENOMEM, "out of memory");
                break;
            }
            nmemo++;
        }
        uint32_t np;
        int64_t K;
        neuron_terms(n, pre[i], th->tau[c], th->dir[c], &np, &K);
        tail *t = &memos[mi].t[np];
        if (!t->T && make_tail(np, n - np, p, t)) {
            rc = bl_error_set(err, BL_ENOMEM, "out of memory");
            break;
        }
        if (K < (int64_t)t->len)
            sum += t->T[K];
    }
    for (int k = 0; k < nmemo; k++) {
        for (uint32_t j = 0; j <= memos[k].n; j++)
            free(memos[k].t[j].T);
        free(memos[k].t);
    }
    if (rc)
        return rc;
    *frac = sum / (double)N;
    return 0;
}
