/* train_flip.c - binarizing latent weights and drawing the per-minibatch
 * bit flips of training.
 *
 * A weight layer's n weights are cut into chunks of TR_FLIP_CHUNK; chunk c
 * of layer l at global step t reads Philox blocks
 *   (seed, BL_RNG_TRAINFLIP, l, t << 36 | c << 18 | k),  k = 0, 1, ...
 * so the flips are a pure function of (seed, step, layer, weight index),
 * whatever the thread count.  Positions are drawn with geometric gaps at
 * rate pmax = max(p01, p10) (one uniform per candidate, so the cost is
 * proportional to the flips, not to n); a candidate is kept with
 * probability p/pmax where p = p10 for a +1 weight (bit 1 -> 0) and p01 for
 * a -1 weight (bit 0 -> 1). */
#include <math.h>
#include <string.h>

#include "base/rng.h"
#include "bnn/train_internal.h"

typedef struct {
    uint64_t seed, base;
    uint32_t layer;
    bl_rng_block blk;
    int used;
    uint64_t k;
} flip_stream;

static double fs_uniform(flip_stream *s)
{
    if (s->used == 4) {
        s->blk = bl_rng_block_at(s->seed, BL_RNG_TRAINFLIP, s->layer, s->base | s->k);
        s->k++;
        s->used = 0;
    }
    return ((double)s->blk.v[s->used++] + 0.5) * (1.0 / 4294967296.0);
}

typedef struct {
    bl_trainer *t;
    tr_layer *l;
    size_t step;
} flip_ctx;

/* Draw chunk `chunk` of layer l's flips for the step and apply them to the
 * clean binarized weights wb (so p depends on the clean sign). */
static void flip_chunk(void *vctx, size_t chunk, int worker)
{
    (void)worker;
    flip_ctx *c = vctx;
    tr_layer *l = c->l;
    size_t n = l->W.n, lo = chunk * TR_FLIP_CHUNK;
    size_t hi = lo + TR_FLIP_CHUNK < n ? lo + TR_FLIP_CHUNK : n;
    float *wb = l->wb;
    memset(l->flipmask + lo / 64, 0, ((hi - lo + 63) / 64) * sizeof(uint64_t));
    double p01 = c->t->o.p01, p10 = c->t->o.p10;
    double pmax = p01 > p10 ? p01 : p10;
    if (!(pmax > 0))
        return;
    flip_stream s = { .seed = c->t->o.seed, .layer = (uint32_t)l->index, .used = 4, .k = 0,
                      .base = ((uint64_t)c->step << 36) | ((uint64_t)chunk << 18) };
    double ilq = pmax < 1 ? 1.0 / log1p(-pmax) : 0;
    size_t pos = lo;
    for (;;) {
        if (pmax < 1) {
            /* geometric gap: P(gap >= k) = (1 - pmax)^k */
            double gap = floor((double)logf((float)fs_uniform(&s)) * ilq);
            if (gap >= (double)(hi - pos))
                break;
            pos += (size_t)gap;
        }
        if (pos >= hi)
            break;
        int keep = 1;
        if (p01 != p10) {
            double p = wb[pos] > 0 ? p10 : p01;
            keep = p >= pmax || fs_uniform(&s) * pmax < p;
        }
        if (keep) {
            wb[pos] = -wb[pos];
            l->flipmask[pos >> 6] |= (uint64_t)1 << (pos & 63);
        }
        pos++;
    }
}

static void sign_chunk(void *vctx, size_t chunk, int worker)
{
    (void)worker;
    tr_layer *l = vctx;
    size_t n = l->W.n, lo = chunk * TR_FLIP_CHUNK;
    size_t hi = lo + TR_FLIP_CHUNK < n ? lo + TR_FLIP_CHUNK : n;
    for (size_t i = lo; i < hi; i++)
        l->wb[i] = l->W.w[i] >= 0 ? 1.0f : -1.0f;
    memset(l->flipmask + lo / 64, 0, ((hi - lo + 63) / 64) * sizeof(uint64_t));
}

void tr_binarize_full(bl_trainer *t)
{
    for (int i = 0; i < t->nl; i++) {
        tr_layer *l = &t->L[i];
        if (l->W.n)
            bl_pool_run(t->pool, (l->W.n + TR_FLIP_CHUNK - 1) / TR_FLIP_CHUNK, sign_chunk, l);
    }
    t->wb_clean = 1;
}

void tr_binarize(bl_trainer *t, size_t step, int flips)
{
    if (!t->wb_clean)
        tr_binarize_full(t);
    if (!flips || !(t->o.p01 > 0 || t->o.p10 > 0))
        return;
    for (int i = 0; i < t->nl; i++) {
        tr_layer *l = &t->L[i];
        if (!l->W.n)
            continue;
        flip_ctx c = { t, l, step };
        bl_pool_run(t->pool, (l->W.n + TR_FLIP_CHUNK - 1) / TR_FLIP_CHUNK, flip_chunk, &c);
    }
    t->wb_clean = 0;
}
