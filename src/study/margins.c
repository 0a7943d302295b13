/* margins.c - hidden layers, their pre-activations, and the neuron-level
 * margin metric (metrics.h). */
#include "study/metrics.h"

#include <stdlib.h>
#include <string.h>

const double bl_margin_qlevels[BL_MARGIN_NQ] = { 0.01, 0.05, 0.25, 0.50, 0.75 };
const int bl_margin_ks[BL_MARGIN_NK] = { 1, 2, 4, 8 };

int bl_hidden_layers(const bl_model *m, bl_hidden *out, int max)
{
    int n = 0;
    for (uint32_t t = 1; t < m->nlayers; t++) {
        if (m->layers[t].kind != BL_LAYER_THRESH)
            continue;
        int src = (int)t - 1, w = src;
        bl_layer_kind k = m->layers[src].kind;
        if (k == BL_LAYER_MAXPOOL2) {
            w = src - 1;
            if (w < 0 || m->layers[w].kind != BL_LAYER_CONV3)
                continue;
        } else if (k != BL_LAYER_DENSE && k != BL_LAYER_CONV3) {
            continue;
        }
        if (n < max) {
            out[n].thresh = (int)t;
            out[n].src = src;
            out[n].weight = w;
            out[n].name = m->layers[w].name;
        }
        n++;
    }
    return n;
}

int bl_hidden_find(const bl_model *m, const char *name, bl_hidden *out)
{
    bl_hidden hs[64];
    int n = bl_hidden_layers(m, hs, 64);
    for (int i = 0; i < n && i < 64; i++)
        if (strcmp(hs[i].name, name) == 0 || strcmp(m->layers[hs[i].thresh].name, name) == 0 ||
            strcmp(m->layers[hs[i].src].name, name) == 0) {
            *out = hs[i];
            return i;
        }
    return -1;
}

int bl_hidden_preacts(bl_engine *e, const bl_model *m, const bl_inputs *in, const bl_hidden *h,
                      int32_t **pre, bl_error *err)
{
    *pre = NULL;
    size_t per = bl_shape_size(m->layers[h->src].out), n = bl_inputs_count(in);
    if (n && per > SIZE_MAX / sizeof(int32_t) / n)
        return bl_error_set(err, BL_ERANGE, "%s: pre-activations too large", h->name);
    size_t tot = n * per;
    int32_t *p = malloc((tot ? tot : 1) * sizeof *p);
    if (!p)
        return bl_error_set(err, BL_ENOMEM, "%s: out of memory for %zu pre-activations",
                            h->name, tot);
    int rc = n ? bl_engine_preacts(e, m, in, h->src, p, err) : 0;
    if (rc) {
        free(p);
        return rc;
    }
    *pre = p;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void bl_margin_summary_free(bl_margin_summary *s)
{
    if (s) {
        free(s->hist);
        s->hist = NULL;
    }
}

int bl_margin_summarize(const bl_model *m, const bl_hidden *h, const int32_t *pre, size_t count,
                        bl_margin_summary *out, bl_error *err)
{
    return bl_margin_summarize_bins(m, h, pre, count, 0, 0, out, err);
}

int bl_margin_summarize_bins(const bl_model *m, const bl_hidden *h, const int32_t *pre,
                             size_t count, uint32_t bin_width, uint32_t max_bins,
                             bl_margin_summary *out, bl_error *err)
{
    if (max_bins == 0 || max_bins > 256)
        max_bins = 256;
    memset(out, 0, sizeof *out);
    const bl_layer *th = &m->layers[h->thresh];
    size_t per = bl_shape_size(m->layers[h->src].out), C = th->out.c, N = count * per;
    out->count = N;
    if (N == 0)
        return 0;
    int64_t mn = INT64_MAX, mx = 0;
    double sum = 0;
    uint64_t below[BL_MARGIN_NK] = { 0 }, fle[BL_MARGIN_NK] = { 0 };
    for (size_t i = 0; i < N; i++) {
        size_t c = i % C;
        int64_t a = pre[i], mg = a - th->tau[c];
        if (mg < 0)
            mg = -mg;
        if (mg < mn)
            mn = mg;
        if (mg > mx)
            mx = mg;
        sum += (double)mg;
        int64_t K = bl_flips_needed(pre[i], th->tau[c], th->dir[c]);
        for (int k = 0; k < BL_MARGIN_NK; k++) {
            below[k] += mg < 2 * bl_margin_ks[k];
            fle[k] += K <= bl_margin_ks[k];
        }
    }
    out->mean = sum / (double)N;
    out->min = mn;
    out->max = mx;
    for (int k = 0; k < BL_MARGIN_NK; k++) {
        out->below[k] = (double)below[k] / (double)N;
        out->flips_le[k] = (double)fle[k] / (double)N;
    }
    uint32_t w = bin_width ? bin_width : (uint32_t)((mx + max_bins) / max_bins);
    if (w == 0)
        w = 1;
    out->bin_width = w;
    out->nbins = (uint32_t)(mx / w + 1);
    if (out->nbins > max_bins) /* a given width: the last bin takes the rest */
        out->nbins = max_bins;
    out->hist = calloc(out->nbins, sizeof *out->hist);
    if (!out->hist)
        return bl_error_set(err, BL_ENOMEM, "%s: out of memory for the margin histogram", h->name);
    /* exact quantiles: a full-resolution histogram when the range allows it,
     * else a sorted copy */
    int64_t *sorted = NULL;
    uint64_t *fine = NULL;
    if (mx <= (1 << 24))
        fine = calloc((size_t)mx + 1, sizeof *fine);
    else
        sorted = malloc(N * sizeof *sorted);
    if (!fine && !sorted) {
        bl_margin_summary_free(out);
        return bl_error_set(err, BL_ENOMEM, "%s: out of memory for margin quantiles", h->name);
    }
    for (size_t i = 0; i < N; i++) {
        int64_t mg = (int64_t)pre[i] - th->tau[i % C];
        if (mg < 0)
            mg = -mg;
        uint64_t b = (uint64_t)mg / w;
        out->hist[b < out->nbins ? b : out->nbins - 1]++;
        if (fine)
            fine[mg]++;
        else
            sorted[i] = mg;
    }
    for (int q = 0; q < BL_MARGIN_NQ; q++) {
        /* smallest v with #(m <= v) >= ceil(q * N) (at least 1) */
        uint64_t need = (uint64_t)(bl_margin_qlevels[q] * (double)N);
        if ((double)need < bl_margin_qlevels[q] * (double)N)
            need++;
        if (need < 1)
            need = 1;
        if (fine) {
            uint64_t acc = 0;
            int64_t v = 0;
            for (; v <= mx; v++) {
                acc += fine[v];
                if (acc >= need)
                    break;
            }
            out->q[q] = v;
        }
    }
    if (sorted) {
        qsort(sorted, N, sizeof *sorted, cmp_i64);
        for (int q = 0; q < BL_MARGIN_NQ; q++) {
            uint64_t need = (uint64_t)(bl_margin_qlevels[q] * (double)N);
            if ((double)need < bl_margin_qlevels[q] * (double)N)
                need++;
            out->q[q] = sorted[(need < 1 ? 1 : need) - 1];
        }
    }
    free(fine);
    free(sorted);
    return 0;
}
