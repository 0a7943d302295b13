/* optimizers.c - the seven optimizers over any backend (bl_cluster_ops).
 *
 * Greedy: gains of every remaining candidate per step, in batches (one
 *   backend call per batch); argmax, ties to the lowest index.
 * LazyGreedy (Minoux): a max-heap of stale upper bounds ordered by
 *   (bound desc, index asc); stale tops are re-evaluated up to 64 per call.
 *   Backends compute gains with rounding that is monotone in every minimum,
 *   so gains never grow as S grows, bounds stay valid and the output is
 *   identical to Greedy's (tested).
 * StochasticGreedy (Mirzasoleiman et al. 2015): per step a seeded uniform
 *   sample (without replacement) of ceil((n/k) ln(1/eps)) remaining elements.
 * Streaming optimizers read V once in a seeded random order and evaluate
 * one element against all live sieves in one gains_slots call (slot 0 is
 * kept empty, so the same call yields the singleton value f({e})):
 *   SieveStreaming (Badanidiyuru et al. 2014): thresholds v = (1+eps)^i in
 *     [m, 2km], m = largest singleton so far; add e to S_v when
 *     gain >= (v/2 - f(S_v)) / (k - |S_v|).
 *   SieveStreaming++ (Kazemi et al. 2019): gain thresholds tau = (1+eps)^i
 *     in [tau_min/(1+eps), m], tau_min = max(LB, m)/(2k), LB = best f so
 *     far; add when gain >= tau; sieves below tau_min are dropped.
 *   ThreeSieves (Buschjaeger et al. 2021): one sieve; thresholds v from km
 *     down to m, m = max singleton (one batched pass before streaming);
 *     add when gain >= (v/2 - f(S)) / (k - |S|), else count a failure;
 *     after T consecutive failures move to the next lower v.
 *   Salsa (Norouzi-Fard et al. 2018): for every v = (1+eps)^i in [m, km]
 *     three threshold rules run in parallel (fixed (1/2 + 1/6) v/k;
 *     high/low (1/2 + 0.05) v/k for the first 10% of the stream, then
 *     (1/2 - 0.025) v/k; dense 10 v/k for the first 80%, then v/(0.2k)),
 *     constants of the paper's experiments; the best set wins. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/rng.h"
#include "cluster/cluster.h"
#include "cluster/optimizers.h"


static double eps_of(const bl_cluster_opts *o) { return o->epsilon > 0 ? o->epsilon : 0.1; }

static int nthresh(double lo_over_m, double hi_over_m, double eps)
{
    /* exponents i with lo <= (1+eps)^i <= hi, for any m: at most this many */
    return (int)floor(log(hi_over_m / lo_over_m) / log1p(eps)) + 2;
}

int bl_cluster_slots_needed(const bl_cluster_opts *o)
{
    double eps = eps_of(o), k = (double)(o->k ? o->k : 1);
    switch (o->optimizer) {
    case BL_OPT_SIEVE_STREAMING: return nthresh(1, 2 * k, eps) + 1;
    case BL_OPT_SIEVE_STREAMING_PP: return nthresh(1, 2 * k * (1 + eps), eps) + 1;
    case BL_OPT_THREE_SIEVES: return 2;
    case BL_OPT_SALSA: return 3 * nthresh(1, k, eps) + 1;
    default: return 1;
    }
}

/* ---- shared result bookkeeping ---------------------------------------- */

static int result_init(bl_cluster_result *r, size_t k, bl_error *err)
{
    memset(r, 0, sizeof *r);
    r->exemplars = calloc(k, sizeof *r->exemplars);
    r->f_trace = calloc(k, sizeof *r->f_trace);
    if (!r->exemplars || !r->f_trace)
        return bl_error_set(err, BL_ENOMEM, "cluster: out of memory");
    return 0;
}

void bl_cluster_result_free(bl_cluster_result *res)
{
    if (!res)
        return;
    free(res->exemplars);
    free(res->f_trace);
    res->exemplars = NULL;
    res->f_trace = NULL;
    res->k = 0;
}

static int progress(const bl_cluster_opts *o, double frac, double f)
{
    return o->on_progress && o->on_progress(o->ctx, frac, f);
}

/* ---- greedy family ------------------------------------------------------ */

static int add_chosen(bl_cluster_backend *b, bl_cluster_result *r, uint32_t e, bl_error *err)
{
    int rc = b->ops->add(b, 0, e, err);
    if (!rc)
        rc = b->ops->value(b, 0, &r->f, err);
    if (!rc) {
        r->exemplars[r->k] = e;
        r->f_trace[r->k] = r->f;
        r->k++;
    }
    return rc;
}

static int run_greedy(bl_cluster_backend *b, const bl_cluster_opts *o, bl_cluster_result *r,
                      bl_error *err)
{
    size_t n = b->n, batch = o->batch ? o->batch : 1024;
    uint32_t *cand = malloc(batch * sizeof *cand);
    double *g = malloc(batch * sizeof *g);
    unsigned char *in = calloc(n, 1);
    int rc = 0;
    if (!cand || !g || !in)
        rc = bl_error_set(err, BL_ENOMEM, "cluster: out of memory");
    while (!rc && r->k < o->k) {
        double best = -1;
        uint32_t arg = 0;
        size_t i = 0;
        while (!rc && i < n) {
            size_t m = 0;
            for (; i < n && m < batch; i++)
                if (!in[i])
                    cand[m++] = (uint32_t)i;
            if (m && !(rc = b->ops->gains(b, 0, cand, m, g, err)))
                for (size_t j = 0; j < m; j++)
                    if (g[j] > best) {
                        best = g[j];
                        arg = cand[j];
                    }
        }
        if (!rc && !(rc = add_chosen(b, r, arg, err))) {
            in[arg] = 1;
            if (progress(o, (double)r->k / (double)o->k, r->f))
                break;
        }
    }
    free(cand);
    free(g);
    free(in);
    return rc;
}

typedef struct heap_ent {
    double ub;
    uint32_t idx, stamp;  /* stamp: step whose gain ub is */
} heap_ent;

static int ent_before(const heap_ent *a, const heap_ent *b)
{
    return a->ub > b->ub || (a->ub == b->ub && a->idx < b->idx);
}

static void heap_push(heap_ent *h, size_t *n, heap_ent e)
{
    size_t i = (*n)++;
    while (i) {
        size_t p = (i - 1) / 2;
        if (!ent_before(&e, &h[p]))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = e;
}

static heap_ent heap_pop(heap_ent *h, size_t *n)
{
    heap_ent top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && ent_before(&h[c + 1], &h[c]))
            c++;
        if (!ent_before(&h[c], &last))
            break;
        h[i] = h[c];
        i = c;
    }
    if (*n)
        h[i] = last;
    return top;
}

static int run_lazy(bl_cluster_backend *b, const bl_cluster_opts *o, bl_cluster_result *r,
                    bl_error *err)
{
    size_t n = b->n, batch = o->batch ? o->batch : 1024, hn = 0;
    enum { RE = 64 };
    heap_ent *h = malloc(n * sizeof *h);
    uint32_t *cand = malloc((batch > RE ? batch : RE) * sizeof *cand);
    double *g = malloc((batch > RE ? batch : RE) * sizeof *g);
    heap_ent pend[RE];
    int rc = 0;
    if (!h || !cand || !g)
        rc = bl_error_set(err, BL_ENOMEM, "cluster: out of memory");
    for (size_t i = 0; !rc && i < n; i += batch) {
        size_t m = n - i < batch ? n - i : batch;
        for (size_t j = 0; j < m; j++)
            cand[j] = (uint32_t)(i + j);
        if (!(rc = b->ops->gains(b, 0, cand, m, g, err)))
            for (size_t j = 0; j < m; j++)
                heap_push(h, &hn, (heap_ent){ g[j], cand[j], 0 });
    }
    uint32_t step = 0;
    while (!rc && r->k < o->k && hn) {
        if (h[0].stamp == step) {
            heap_ent e = heap_pop(h, &hn);
            if ((rc = add_chosen(b, r, e.idx, err)))
                break;
            step++;
            if (progress(o, (double)r->k / (double)o->k, r->f))
                break;
            continue;
        }
        size_t m = 0;
        while (hn && m < RE && h[0].stamp != step)
            pend[m++] = heap_pop(h, &hn);
        for (size_t j = 0; j < m; j++)
            cand[j] = pend[j].idx;
        if ((rc = b->ops->gains(b, 0, cand, m, g, err)))
            break;
        for (size_t j = 0; j < m; j++)
            heap_push(h, &hn, (heap_ent){ g[j], cand[j], step });
    }
    free(h);
    free(cand);
    free(g);
    return rc;
}

static int run_stochastic(bl_cluster_backend *b, const bl_cluster_opts *o, bl_cluster_result *r,
                          bl_error *err)
{
    size_t n = b->n, k = o->k;
    double eps = eps_of(o);
    size_t s = (size_t)ceil((double)n / (double)k * log(1.0 / eps));
    if (s < 1)
        s = 1;
    uint32_t *rest = malloc(n * sizeof *rest);
    double *g = malloc((s < n ? s : n) * sizeof *g);
    uint32_t *cand = malloc((s < n ? s : n) * sizeof *cand);
    int rc = 0;
    if (!rest || !g || !cand)
        rc = bl_error_set(err, BL_ENOMEM, "cluster: out of memory");
    bl_rng_stream rng = bl_rng_stream_init(o->seed, BL_RNG_CLUSTER, 0);
    size_t nr = n;
    for (size_t i = 0; !rc && i < n; i++)
        rest[i] = (uint32_t)i;
    while (!rc && r->k < k && nr) {
        size_t m = s < nr ? s : nr;
        /* partial Fisher-Yates: the sample is rest[0..m) */
        for (size_t i = 0; i < m; i++) {
            size_t j = i + (size_t)bl_rng_stream_below(&rng, nr - i);
            uint32_t t = rest[i];
            rest[i] = rest[j];
            rest[j] = t;
            cand[i] = rest[i];
        }
        if ((rc = b->ops->gains(b, 0, cand, m, g, err)))
            break;
        size_t arg = 0;
        for (size_t i = 1; i < m; i++)
            if (g[i] > g[arg] || (g[i] == g[arg] && cand[i] < cand[arg]))
                arg = i;
        uint32_t e = cand[arg];
        if ((rc = add_chosen(b, r, e, err)))
            break;
        rest[arg] = rest[--nr];
        if (progress(o, (double)r->k / (double)k, r->f))
            break;
    }
    free(rest);
    free(g);
    free(cand);
    return rc;
}

/* ---- streaming ---------------------------------------------------------- */

enum { RULE_SIEVE, RULE_TAU, RULE_FIXED, RULE_HILOW, RULE_DENSE };

typedef struct sieve {
    int slot, rule, expo;
    double v;          /* OPT guess v (or gain threshold tau for RULE_TAU) */
    double f;
    size_t size;
    uint32_t *S;
    double *trace;
} sieve;

typedef struct stream_st {
    bl_cluster_backend *b;
    const bl_cluster_opts *o;
    size_t k;
    sieve *sv;
    size_t nsv, cap;
    int *free_slots;
    int nfree;
    int *slots;
    double *g;
    size_t observed;
    /* best finished (or dropped) sieve so far */
    double best_f;
    size_t best_size;
    uint32_t *best_S;
    double *best_trace;
} stream_st;

static void keep_if_best(stream_st *st, const sieve *s)
{
    if (s->size && (s->f > st->best_f || !st->best_size)) {
        st->best_f = s->f;
        st->best_size = s->size;
        memcpy(st->best_S, s->S, s->size * sizeof *s->S);
        memcpy(st->best_trace, s->trace, s->size * sizeof *s->trace);
    }
}

static int sieve_new(stream_st *st, int rule, int expo, double v, bl_error *err)
{
    if (!st->nfree)
        return bl_error_set(err, BL_ERANGE,
                            "cluster: %s needs more minima slots than the backend has (%d); "
                            "create it with bl_cluster_slots_needed()",
                            bl_optimizer_name(st->o->optimizer), st->b->nslots);
    if (st->nsv == st->cap) {
        size_t nc = st->cap ? 2 * st->cap : 16;
        sieve *p = realloc(st->sv, nc * sizeof *p);
        if (!p)
            return bl_error_set(err, BL_ENOMEM, "cluster: out of memory");
        st->sv = p;
        st->cap = nc;
    }
    sieve *s = &st->sv[st->nsv];
    memset(s, 0, sizeof *s);
    s->S = malloc(st->k * sizeof *s->S);
    s->trace = malloc(st->k * sizeof *s->trace);
    if (!s->S || !s->trace) {
        free(s->S);
        free(s->trace);
        return bl_error_set(err, BL_ENOMEM, "cluster: out of memory");
    }
    s->slot = st->free_slots[--st->nfree];
    s->rule = rule;
    s->expo = expo;
    s->v = v;
    st->nsv++;
    return st->b->ops->reset(st->b, s->slot, err);
}

static void sieve_drop(stream_st *st, size_t i)
{
    sieve *s = &st->sv[i];
    keep_if_best(st, s);
    st->free_slots[st->nfree++] = s->slot;
    free(s->S);
    free(s->trace);
    memmove(s, s + 1, (st->nsv - i - 1) * sizeof *s);
    st->nsv--;
}

/* Gain needed for sieve s to take an element. */
static double need(const stream_st *st, const sieve *s)
{
    double k = (double)st->k, v = s->v, n = (double)st->b->n, t = (double)st->observed;
    switch (s->rule) {
    case RULE_SIEVE: return (v / 2 - s->f) / (k - (double)s->size);
    case RULE_TAU: return v;
    case RULE_FIXED: return v / k * (0.5 + 1.0 / 6.0);
    case RULE_HILOW: return t <= 0.1 * n ? v / k * (0.5 + 0.05) : v / k * (0.5 - 0.025);
    default: return t <= 0.8 * n ? 10.0 * v / k : v / (0.2 * k);
    }
}

static int sieve_take(stream_st *st, sieve *s, uint32_t e, double gain, bl_error *err)
{
    int rc = st->b->ops->add(st->b, s->slot, e, err);
    if (rc)
        return rc;
    s->S[s->size] = e;
    s->f += gain;
    s->trace[s->size] = s->f;
    s->size++;
    return 0;
}

/* Max singleton value by one batched pass (ThreeSieves, Salsa). */
static int max_singleton(bl_cluster_backend *b, double *m, bl_error *err)
{
    size_t n = b->n, batch = 4096;
    uint32_t *c = malloc(batch * sizeof *c);
    double *g = malloc(batch * sizeof *g);
    int rc = (!c || !g) ? bl_error_set(err, BL_ENOMEM, "cluster: out of memory") : 0;
    *m = 0;
    for (size_t i = 0; !rc && i < n; i += batch) {
        size_t k = n - i < batch ? n - i : batch;
        for (size_t j = 0; j < k; j++)
            c[j] = (uint32_t)(i + j);
        if (!(rc = b->ops->gains(b, 0, c, k, g, err)))
            for (size_t j = 0; j < k; j++)
                if (g[j] > *m)
                    *m = g[j];
    }
    free(c);
    free(g);
    return rc;
}

static int run_stream(bl_cluster_backend *b, const bl_cluster_opts *o, bl_cluster_result *r,
                      bl_error *err)
{
    size_t n = b->n, k = o->k;
    double eps = eps_of(o), lq = log1p(eps);
    int T = o->T > 0 ? o->T : 500;
    bl_optimizer alg = o->optimizer;
    int need_slots = bl_cluster_slots_needed(o);
    if (b->nslots < need_slots)
        return bl_error_set(err, BL_ERANGE,
                            "cluster: %s with k = %zu, epsilon = %g needs %d minima slots; the "
                            "backend has %d", bl_optimizer_name(alg), k, eps, need_slots,
                            b->nslots);
    stream_st st = { .b = b, .o = o, .k = k };
    uint32_t *order = malloc(n * sizeof *order);
    st.free_slots = malloc((size_t)b->nslots * sizeof(int));
    st.slots = malloc(((size_t)b->nslots + 1) * sizeof(int));
    st.g = malloc(((size_t)b->nslots + 1) * sizeof(double));
    double *gain_of = malloc(((size_t)b->nslots + 1) * sizeof(double));
    st.best_S = malloc(k * sizeof *st.best_S);
    st.best_trace = malloc(k * sizeof *st.best_trace);
    int rc = 0;
    if (!order || !gain_of || !st.free_slots || !st.slots || !st.g || !st.best_S || !st.best_trace)
        rc = bl_error_set(err, BL_ENOMEM, "cluster: out of memory");
    if (!rc)
        rc = b->ops->reset(b, 0, err);  /* slot 0: the empty set */
    for (int s = b->nslots - 1; s >= 1 && !rc; s--)
        st.free_slots[st.nfree++] = s;
    bl_rng_stream rng = bl_rng_stream_init(o->seed, BL_RNG_CLUSTER, 1);
    for (size_t i = 0; !rc && i < n; i++)
        order[i] = (uint32_t)i;
    for (size_t i = n; !rc && i > 1; i--) {
        size_t j = (size_t)bl_rng_stream_below(&rng, i);
        uint32_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    double m = 0;
    int fixed_m = alg == BL_OPT_THREE_SIEVES || alg == BL_OPT_SALSA;
    if (!rc && fixed_m)
        rc = max_singleton(b, &m, err);
    int ts_expo = 0, ts_fail = 0, ts_lo = 0;
    if (!rc && fixed_m && m > 0) {
        int lo = (int)ceil(log(m) / lq), hi = (int)floor(log(k * m) / lq);
        if (alg == BL_OPT_THREE_SIEVES) {
            ts_expo = hi;
            ts_lo = lo;
            rc = sieve_new(&st, RULE_SIEVE, hi, exp(hi * lq), err);
        } else
            for (int e = lo; !rc && e <= hi; e++)
                for (int rule = RULE_FIXED; !rc && rule <= RULE_DENSE; rule++)
                    rc = sieve_new(&st, rule, e, exp(e * lq), err);
    }
    for (size_t it = 0; !rc && it < n; it++) {
        uint32_t e = order[it];
        st.observed = it;
        size_t ns = 0;
        st.slots[ns++] = 0;
        for (size_t i = 0; i < st.nsv; i++)
            if (st.sv[i].size < k)
                st.slots[ns++] = st.sv[i].slot;
        if (ns == 1 && fixed_m)
            break;  /* every sieve is full */
        if ((rc = b->ops->gains_slots(b, e, st.slots, ns, st.g, err)))
            break;
        double single = st.g[0];
        /* gains by slot, before sieves are added or dropped */
        size_t gi = 1;
        for (size_t i = 0; i < st.nsv; i++)
            gain_of[i] = st.sv[i].size < k ? st.g[gi++] : 0;
        if (!fixed_m && single > m) {
            m = single;
            /* range of exponents for the new m */
            double lo_v, hi_v;
            if (alg == BL_OPT_SIEVE_STREAMING) {
                lo_v = m;
                hi_v = 2.0 * k * m;
            } else {
                double lb = st.best_f;
                for (size_t i = 0; i < st.nsv; i++)
                    if (st.sv[i].f > lb)
                        lb = st.sv[i].f;
                double tmin = (lb > m ? lb : m) / (2.0 * k);
                lo_v = tmin / (1 + eps);
                hi_v = m;
            }
            int lo = (int)ceil(log(lo_v) / lq - 1e-9), hi = (int)floor(log(hi_v) / lq + 1e-9);
            /* drop sieves below the range (kept sorted by exponent) */
            size_t j = 0;
            while (j < st.nsv) {
                if (st.sv[j].expo < lo) {
                    sieve_drop(&st, j);
                    memmove(gain_of + j, gain_of + j + 1, (st.nsv - j) * sizeof *gain_of);
                } else
                    j++;
            }
            int top = st.nsv ? st.sv[st.nsv - 1].expo : lo - 1;
            for (int x = (top + 1 > lo ? top + 1 : lo); !rc && x <= hi; x++) {
                rc = sieve_new(&st, alg == BL_OPT_SIEVE_STREAMING ? RULE_SIEVE : RULE_TAU, x,
                               exp(x * lq), err);
                if (!rc)
                    gain_of[st.nsv - 1] = single;
            }
        }
        for (size_t i = 0; !rc && i < st.nsv; i++) {
            sieve *s = &st.sv[i];
            if (s->size >= k)
                continue;
            if (gain_of[i] >= need(&st, s) && gain_of[i] > 0) {
                rc = sieve_take(&st, s, e, gain_of[i], err);
                if (alg == BL_OPT_THREE_SIEVES)
                    ts_fail = 0;
            } else if (alg == BL_OPT_THREE_SIEVES && ++ts_fail >= T && ts_expo > ts_lo) {
                ts_expo--;
                ts_fail = 0;
                s->v = exp(ts_expo * lq);
            }
        }
        if (!rc && alg == BL_OPT_SIEVE_STREAMING_PP) {
            /* drop sieves below tau_min = max(LB, m)/(2k) */
            double lb = st.best_f;
            for (size_t i = 0; i < st.nsv; i++)
                if (st.sv[i].f > lb)
                    lb = st.sv[i].f;
            double tmin = (lb > m ? lb : m) / (2.0 * k);
            size_t j = 0;
            while (j < st.nsv)
                if (st.sv[j].v < tmin / (1 + eps) * (1 - 1e-12))
                    sieve_drop(&st, j);
                else
                    j++;
        }
        if (!rc && (it & 255) == 255) {
            double bf = st.best_f;
            for (size_t i = 0; i < st.nsv; i++)
                if (st.sv[i].f > bf)
                    bf = st.sv[i].f;
            if (progress(o, (double)(it + 1) / (double)n, bf))
                break;
        }
    }
    for (size_t i = 0; i < st.nsv; i++)
        keep_if_best(&st, &st.sv[i]);
    if (!rc) {
        r->k = st.best_size;
        memcpy(r->exemplars, st.best_S, st.best_size * sizeof *st.best_S);
        memcpy(r->f_trace, st.best_trace, st.best_size * sizeof *st.best_trace);
        /* f of the returned set, evaluated exactly in slot 0 */
        rc = b->ops->reset(b, 0, err);
        for (size_t i = 0; !rc && i < r->k; i++)
            rc = b->ops->add(b, 0, r->exemplars[i], err);
        if (!rc)
            rc = b->ops->value(b, 0, &r->f, err);
    }
    while (st.nsv) {
        free(st.sv[st.nsv - 1].S);
        free(st.sv[st.nsv - 1].trace);
        st.nsv--;
    }
    free(st.sv);
    free(order);
    free(gain_of);
    free(st.free_slots);
    free(st.slots);
    free(st.g);
    free(st.best_S);
    free(st.best_trace);
    return rc;
}

int bl_cluster_run(bl_cluster_backend *b, const bl_cluster_opts *opts, bl_cluster_result *res,
                   bl_error *err)
{
    memset(res, 0, sizeof *res);
    if (!b || !opts)
        return bl_error_set(err, BL_EINVAL, "cluster: no backend or options");
    if (opts->k == 0)
        return bl_error_set(err, BL_EINVAL, "cluster: k must be at least 1");
    if (opts->k > b->n)
        return bl_error_set(err, BL_EINVAL, "cluster: k = %zu exceeds the %zu data points",
                            opts->k, b->n);
    if ((unsigned)opts->optimizer >= BL_OPT_COUNT)
        return bl_error_set(err, BL_EINVAL, "cluster: unknown optimizer %d", (int)opts->optimizer);
    if (opts->epsilon < 0 || opts->epsilon >= 1)
        return bl_error_set(err, BL_EINVAL, "cluster: epsilon must be in (0, 1) (got %g)",
                            opts->epsilon);
    int rc = result_init(res, opts->k, err);
    if (rc)
        return rc;
    uint64_t ev0 = b->evaluations;
    double t0 = bl_now();
    if (opts->optimizer <= BL_OPT_STOCHASTIC_GREEDY && (rc = b->ops->reset(b, 0, err)))
        goto out;
    switch (opts->optimizer) {
    case BL_OPT_GREEDY: rc = run_greedy(b, opts, res, err); break;
    case BL_OPT_LAZY_GREEDY: rc = run_lazy(b, opts, res, err); break;
    case BL_OPT_STOCHASTIC_GREEDY: rc = run_stochastic(b, opts, res, err); break;
    default: rc = run_stream(b, opts, res, err); break;
    }
out:
    res->seconds = bl_now() - t0;
    res->evaluations = b->evaluations - ev0;
    if (rc) {
        bl_cluster_result_free(res);
        res->seconds = 0;
    }
    return rc;
}
