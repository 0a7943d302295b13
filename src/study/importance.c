/* importance.c - the inter-neuron importance metric (metrics.h).
 *
 * FAST (exact, when only DENSE/THRESH/FLATTEN layers follow the hidden
 * layer): for each input, the clean pre-activations of every later dense
 * layer are known (bl_engine_preacts).  Inverting neuron j changes the
 * inputs C of the next dense layer (one index for a dense neuron, every
 * position of the channel for a conv channel); a neuron i of that layer
 * moves by sum_{u in C} -2 w_iu x_u, so only neurons whose flips needed
 * K*_i <= |C| can change: they are visited in increasing K* order and
 * checked exactly; the changed ones form C for the next layer.  At the
 * output the scores move by -2 w_ku x_u per changed input; the class is the
 * argmax (after the optional affine, lowest index on ties) exactly as the
 * engine computes it.  Cost per (input, neuron): the near-threshold
 * neurons of the later layers, typically a few percent of them.
 *
 * BRUTE: one full evaluation per neuron with its threshold complemented:
 * O(neurons x evaluation). */
#include "base/clock.h"
#include "study/metrics.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/pool.h"


void bl_importance_free(bl_importance *imp)
{
    if (imp) {
        free(imp->imp);
        imp->imp = NULL;
    }
}

static int wbit(const bl_layer *l, uint32_t i, uint32_t u)
{
    return (int)((l->weights[(size_t)i * l->words_per_row + u / 64] >> (u % 64)) & 1);
}

static int32_t argmax_scores(const bl_layer *l, const int64_t *s)
{
    double best = 0.0;
    int32_t cls = 0;
    for (uint32_t k = 0; k < l->rows; k++) {
        double v = (double)s[k];
        if (l->out_scale)
            v = (double)l->out_scale[k] * v;
        if (l->out_bias)
            v = v + (double)l->out_bias[k];
        if (k == 0 || v > best) {
            best = v;
            cls = (int32_t)k;
        }
    }
    return cls;
}

/* ---- fast path ---- */

typedef struct chain {
    int nd;                 /* dense layers after the hidden layer         */
    const bl_layer *d[16];  /* dense layers                                */
    const bl_layer *t[16];  /* THRESH after d[l] (NULL for the last)       */
    int32_t *A[16];         /* clean pre-activations [count][rows]         */
} chain;

typedef struct fctx {
    const bl_model *m;
    const bl_hidden *h;
    const int32_t *pre;     /* hidden source pre-activations               */
    size_t per, C, count;
    chain ch;
    uint32_t maxrows;
    uint32_t **counts;      /* [worker][C]                                 */
    /* per-worker scratch */
    uint8_t **scratch;
    size_t scratch_size;
} fctx;

typedef struct chg {
    uint32_t u;
    int8_t v;               /* old value +-1 */
} chg;

static void fast_task(void *vctx, size_t x, int worker)
{
    fctx *f = vctx;
    const bl_layer *th = &f->m->layers[f->h->thresh];
    uint8_t *s = f->scratch[worker];
    /* layout: cur/next change lists, out values, K*, order per layer, scores */
    size_t per = f->per, C = f->C, cap = per > f->maxrows ? per : f->maxrows;
    chg *cur = (chg *)s, *nxt = cur + cap;
    int8_t *hout = (int8_t *)(nxt + cap);
    int8_t *out[16];
    int32_t *Ks[16];
    uint32_t *ord[16];
    uint8_t *p = (uint8_t *)(hout + per);
    p = (uint8_t *)(((uintptr_t)p + 7) & ~(uintptr_t)7);
    for (int l = 0; l < f->ch.nd; l++) {
        uint32_t R = f->ch.d[l]->rows;
        out[l] = (int8_t *)p;
        p += (R + 7) & ~7u;
        Ks[l] = (int32_t *)p;
        p += ((size_t)R * 4 + 7) & ~(size_t)7;
        ord[l] = (uint32_t *)p;
        p += (size_t)(R + 2) * 4 * 2;
    }
    int64_t *sc = (int64_t *)p;

    for (size_t u = 0; u < per; u++)
        hout[u] = (int8_t)bl_thresh_out(f->pre[x * per + u], th->tau[u % C], th->dir[u % C]);
    for (int l = 0; l + 1 < f->ch.nd; l++) {
        const bl_layer *d = f->ch.d[l], *t = f->ch.t[l];
        uint32_t R = d->rows;
        const int32_t *a = f->ch.A[l] + x * R;
        uint32_t *cnt = ord[l] + R; /* R + 2 counters: K* clamped to R + 1 */
        memset(cnt, 0, (R + 2) * sizeof *cnt);
        for (uint32_t i = 0; i < R; i++) {
            out[l][i] = (int8_t)bl_thresh_out(a[i], t->tau[i], t->dir[i]);
            int64_t K = bl_flips_needed(a[i], t->tau[i], t->dir[i]);
            Ks[l][i] = (int32_t)(K > R ? R + 1 : K);
            cnt[Ks[l][i]]++;
        }
        uint32_t acc = 0;
        for (uint32_t k = 0; k < R + 2; k++) {
            uint32_t c = cnt[k];
            cnt[k] = acc;
            acc += c;
        }
        uint32_t *o = ord[l]; /* [0, R): order; [R, 2R + 2): counters */
        for (uint32_t i = 0; i < R; i++)
            o[cnt[Ks[l][i]]++] = i; /* stable: index order within a K* */
    }
    const bl_layer *last = f->ch.d[f->ch.nd - 1];
    const int32_t *A_last = f->ch.A[f->ch.nd - 1] + x * last->rows;
    int64_t base[256];
    for (uint32_t k = 0; k < last->rows; k++)
        base[k] = A_last[k];
    int32_t clean = argmax_scores(last, base);

    for (size_t j = 0; j < C; j++) {
        size_t nc = 0;
        for (size_t u = j; u < per; u += C)
            cur[nc++] = (chg){ (uint32_t)u, hout[u] };
        for (int l = 0; l + 1 < f->ch.nd && nc; l++) {
            const bl_layer *d = f->ch.d[l];
            const int32_t *a = f->ch.A[l] + x * d->rows;
            size_t nn = 0;
            for (uint32_t r = 0; r < d->rows; r++) {
                uint32_t i = ord[l][r];
                if ((size_t)Ks[l][i] > nc)
                    break;
                int64_t delta = 0;
                for (size_t c = 0; c < nc; c++)
                    delta -= 2 * (wbit(d, i, cur[c].u) ? 1 : -1) * cur[c].v;
                int o = bl_thresh_out((int32_t)(a[i] + delta), f->ch.t[l]->tau[i],
                                      f->ch.t[l]->dir[i]);
                if (o != out[l][i])
                    nxt[nn++] = (chg){ i, out[l][i] };
            }
            chg *sw = cur;
            cur = nxt;
            nxt = sw;
            nc = nn;
        }
        if (!nc)
            continue;
        for (uint32_t k = 0; k < last->rows; k++) {
            int64_t v = base[k];
            for (size_t c = 0; c < nc; c++)
                v -= 2 * (wbit(last, k, cur[c].u) ? 1 : -1) * cur[c].v;
            sc[k] = v;
        }
        if (argmax_scores(last, sc) != clean)
            f->counts[worker][j]++;
    }
}

static int fast_possible(const bl_model *m, const bl_hidden *h, chain *ch)
{
    ch->nd = 0;
    for (uint32_t i = (uint32_t)h->thresh + 1; i < m->nlayers; i++) {
        const bl_layer *l = &m->layers[i];
        if (l->kind == BL_LAYER_FLATTEN)
            continue;
        if (l->kind == BL_LAYER_DENSE) {
            if (ch->nd == 16 || l->real_input)
                return 0;
            ch->d[ch->nd] = l;
            ch->t[ch->nd] = NULL;
            ch->A[ch->nd] = NULL;
            ch->nd++;
            continue;
        }
        if (l->kind == BL_LAYER_THRESH && ch->nd && !ch->t[ch->nd - 1]) {
            ch->t[ch->nd - 1] = l;
            continue;
        }
        return 0;
    }
    if (ch->nd == 0 || ch->t[ch->nd - 1] || ch->d[ch->nd - 1]->rows > 256)
        return 0;
    for (int l = 0; l + 1 < ch->nd; l++)
        if (!ch->t[l])
            return 0;
    return 1;
}

static int run_fast(bl_engine *e, const bl_model *m, const bl_inputs *in, const bl_hidden *h,
                    chain *ch, int threads, uint64_t *total, bl_error *err)
{
    fctx f = { .m = m, .h = h, .count = bl_inputs_count(in) };
    f.per = bl_shape_size(m->layers[h->src].out);
    f.C = m->layers[h->thresh].out.c;
    f.ch = *ch;
    int rc = bl_hidden_preacts(e, m, in, h, (int32_t **)&f.pre, err);
    if (rc)
        return rc;
    for (int l = 0; l < f.ch.nd && !rc; l++) {
        int li = (int)(f.ch.d[l] - m->layers);
        uint32_t R = f.ch.d[l]->rows;
        if (R > f.maxrows)
            f.maxrows = R;
        f.ch.A[l] = malloc((f.count ? f.count : 1) * R * sizeof(int32_t));
        if (!f.ch.A[l])
            rc = bl_error_set(err, BL_ENOMEM, "importance: out of memory");
        else if (f.count)
            rc = bl_engine_preacts(e, m, in, li, f.ch.A[l], err);
    }
    bl_pool *pool = NULL;
    int nw = 1;
    if (!rc) {
        pool = threads == 1 ? NULL : bl_pool_new(threads);
        nw = pool ? bl_pool_threads(pool) : 1;
        size_t cap = f.per > f.maxrows ? f.per : f.maxrows;
        f.scratch_size = 2 * cap * sizeof(chg) + f.per + 8 + 256 * sizeof(int64_t) + 64;
        for (int l = 0; l < f.ch.nd; l++)
            f.scratch_size += ((f.ch.d[l]->rows + 7) & ~7u) + (size_t)f.ch.d[l]->rows * 4 + 8 +
                              (size_t)(f.ch.d[l]->rows + 2) * 8;
        f.counts = calloc((size_t)nw, sizeof *f.counts);
        f.scratch = calloc((size_t)nw, sizeof *f.scratch);
        if (!f.counts || !f.scratch)
            rc = bl_error_set(err, BL_ENOMEM, "importance: out of memory");
        for (int w = 0; w < nw && !rc; w++) {
            f.counts[w] = calloc(f.C, sizeof **f.counts);
            f.scratch[w] = malloc(f.scratch_size);
            if (!f.counts[w] || !f.scratch[w])
                rc = bl_error_set(err, BL_ENOMEM, "importance: out of memory");
        }
    }
    if (!rc) {
        bl_pool_run(pool, f.count, fast_task, &f);
        for (size_t j = 0; j < f.C; j++) {
            uint64_t t = 0;
            for (int w = 0; w < nw; w++)
                t += f.counts[w][j];
            total[j] = t;
        }
    }
    for (int w = 0; w < nw; w++) {
        if (f.counts)
            free(f.counts[w]);
        if (f.scratch)
            free(f.scratch[w]);
    }
    free(f.counts);
    free(f.scratch);
    bl_pool_free(pool);
    for (int l = 0; l < f.ch.nd; l++)
        free(f.ch.A[l]);
    free((void *)f.pre);
    return rc;
}

/* ---- brute force ---- */

static int run_brute(bl_engine *e, const bl_model *m, const bl_inputs *in, const bl_hidden *h,
                     uint64_t *total, bl_error *err)
{
    size_t n = bl_inputs_count(in), C = m->layers[h->thresh].out.c;
    int32_t *clean = malloc((n ? n : 1) * sizeof *clean), *pred = malloc((n ? n : 1) * sizeof *pred);
    bl_model *mm = NULL;
    int rc = 0;
    if (!clean || !pred)
        rc = bl_error_set(err, BL_ENOMEM, "importance: out of memory");
    if (!rc)
        rc = bl_model_clone(m, &mm, err);
    if (!rc && n)
        rc = bl_engine_predict(e, m, in, clean, err);
    bl_layer *th = mm ? &mm->layers[h->thresh] : NULL;
    for (size_t j = 0; j < C && !rc && n; j++) {
        int32_t tau = th->tau[j];
        int8_t dir = th->dir[j];
        /* complement: dir +1 (a >= tau) -> a <= tau - 1; dir -1 (a <= tau) -> a >= tau + 1 */
        th->tau[j] = dir > 0 ? tau - 1 : tau + 1;
        th->dir[j] = (int8_t)-dir;
        rc = bl_engine_predict(e, mm, in, pred, err);
        th->tau[j] = tau;
        th->dir[j] = dir;
        uint64_t c = 0;
        for (size_t i = 0; i < n; i++)
            c += pred[i] != clean[i];
        total[j] = c;
    }
    bl_model_free(mm);
    free(clean);
    free(pred);
    return rc;
}

int bl_importance_layer(bl_engine *e, const bl_model *m, const bl_inputs *in, const bl_hidden *h,
                        int method, int threads, bl_importance *out, bl_error *err)
{
    memset(out, 0, sizeof *out);
    double t0 = bl_now();
    size_t C = m->layers[h->thresh].out.c, n = bl_inputs_count(in);
    const bl_layer *th = &m->layers[h->thresh];
    for (size_t j = 0; j < C; j++)
        if (th->dir[j] != 1 && th->dir[j] != -1)
            return bl_error_set(err, BL_EINVAL, "%s: bad direction", th->name);
    chain ch;
    int can_fast = fast_possible(m, h, &ch);
    if (method == BL_IMP_FAST && !can_fast)
        return bl_error_set(err, BL_EUNSUPPORTED,
                            "%s: fast importance needs only dense layers after it", h->name);
    int use_fast = method == BL_IMP_FAST || (method == BL_IMP_AUTO && can_fast);
    uint64_t *total = calloc(C ? C : 1, sizeof *total);
    out->imp = calloc(C ? C : 1, sizeof *out->imp);
    if (!total || !out->imp) {
        free(total);
        bl_importance_free(out);
        return bl_error_set(err, BL_ENOMEM, "importance: out of memory");
    }
    int rc = use_fast ? run_fast(e, m, in, h, &ch, threads, total, err)
                      : run_brute(e, m, in, h, total, err);
    if (rc) {
        free(total);
        bl_importance_free(out);
        return rc;
    }
    out->n = C;
    out->method = use_fast ? BL_IMP_FAST : BL_IMP_BRUTE;
    double sum = 0, mx = 0;
    for (size_t j = 0; j < C; j++) {
        out->imp[j] = n ? (double)total[j] / (double)n : 0.0;
        sum += out->imp[j];
        if (out->imp[j] > mx)
            mx = out->imp[j];
    }
    out->mean = C ? sum / (double)C : 0.0;
    out->max = mx;
    double v = 0;
    for (size_t j = 0; j < C; j++)
        v += (out->imp[j] - out->mean) * (out->imp[j] - out->mean);
    out->variance = C ? v / (double)C : 0.0;
    out->seconds = bl_now() - t0;
    free(total);
    return 0;
}
