/* engine.c - the packed inference engine (engine.h).
 *
 * Work is split into blocks of BL_KB = 64 inputs; one block is one pool
 * task and runs the whole network with per-worker scratch, so results do
 * not depend on which worker runs which block.  Inside a block:
 *
 *   inputs    u8 codes in the Q4 layout (kernels.h), built once by
 *             bl_inputs_*: [block][quad][64 inputs][4 features].
 *   layer 1   dense: u8 x s8 dot products (VNNI vpdpbusd / AVX2 vpmaddubsw)
 *             against the weights expanded once per call to +-1 bytes,
 *             minus a per-neuron correction zero * sum(w).
 *             conv: masked adds of (q - zero) per valid tap.
 *   binary    XOR + popcount of weight words against activation words with
 *             the 64 inputs in lanes (IL layout): no horizontal reductions.
 *             Conv = the same kernel over the <= 3 runs of valid taps of an
 *             output pixel (a row of 3 taps is contiguous in both the
 *             pixel-major activations and the tap-major weights); border
 *             pixels simply have fewer valid words, nvalid = cin * taps.
 *   outputs   int32 pre-activations neuron-major [neuron][64 inputs]; a
 *             pool takes the max of the 4 conv pixels; THRESH makes one
 *             64-bit mask per neuron (bit b = input b) and a 64x64 bit
 *             transpose turns 64 such masks into one activation word per
 *             input.
 *
 * Cache (bl_cache): clean first-layer pre-activations [block][neuron][64]
 * and the inputs transposed [feature][input]; a faulty model's changed
 * first-layer bits (clean XOR faulty) each add 2*s*(q_i - zero) to one
 * neuron's row of 64 inputs (summed per neuron in int16, then added once).
 * A conv first layer, or a faulty model with another input_zero, falls
 * back to the full forward pass (same results, no saving).
 *
 * Limits: the first layer needs cols * 255 < 2^31 (int32 sums); calls on
 * one engine are serialised by a mutex (scratch and the expanded first
 * layer are per engine); inputs and caches may be shared between engines
 * of the same architecture, read-only. */
#include "base/clock.h"
#include "bnn/engine.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/coupled.h"
#include "base/mem.h"
#include "base/pool.h"
#include "bnn/kernels.h"

/* ---- inputs ------------------------------------------------------------ */

struct bl_inputs {
    size_t n, npad, nblocks;
    size_t F;        /* features per input                       */
    uint32_t nq;     /* quads of features                        */
    uint8_t *codes;  /* [n][F]                                   */
    uint8_t *q4;     /* [nblocks][nq][64][4]                     */
    int32_t *labels; /* [n] or NULL                              */
};

static int inputs_build(size_t F, const uint8_t *codes, const int32_t *labels, size_t n,
                        bl_inputs **out, bl_error *err)
{
    *out = NULL;
    bl_inputs *in = calloc(1, sizeof *in);
    if (!in)
        return bl_error_set(err, BL_ENOMEM, "out of memory preparing inputs");
    in->n = n;
    in->nblocks = (n + BL_KB - 1) / BL_KB;
    in->npad = in->nblocks * BL_KB;
    in->F = F;
    in->nq = (uint32_t)((F + 3) / 4);
    size_t csz, qsz;
    if (!bl_size_mul(n, F, &csz) || !bl_size_mul(in->npad, (size_t)in->nq * 4, &qsz)) {
        free(in);
        return bl_error_set(err, BL_ERANGE, "inputs too large (%zu x %zu)", n, F);
    }
    in->codes = bl_alloc(csz ? csz : 1);
    in->q4 = bl_alloc(qsz ? qsz : 1);
    if (labels)
        in->labels = bl_alloc(n ? n * sizeof *in->labels : 1);
    if (!in->codes || !in->q4 || (labels && !in->labels)) {
        bl_inputs_free(in);
        return bl_error_set(err, BL_ENOMEM, "out of memory preparing %zu inputs", n);
    }
    if (csz)
        memcpy(in->codes, codes, csz);
    if (labels && n)
        memcpy(in->labels, labels, n * sizeof *labels);
    size_t bstride = (size_t)in->nq * BL_KB * 4;
    for (size_t i = 0; i < n; i++) {
        uint8_t *blk = in->q4 + (i / BL_KB) * bstride + (i % BL_KB) * 4;
        const uint8_t *src = codes + i * F;
        for (size_t f = 0; f < F; f++)
            blk[(f >> 2) * BL_KB * 4 + (f & 3)] = src[f];
    }
    *out = in;
    return 0;
}

int bl_inputs_from_codes(const bl_model *m, const uint8_t *codes, const int32_t *labels, size_t n,
                         bl_inputs **out, bl_error *err)
{
    *out = NULL;
    if (!m || (!codes && n))
        return bl_error_set(err, BL_EINVAL, "inputs: no model or no codes");
    return inputs_build(bl_shape_size(m->input), codes, labels, n, out, err);
}

int bl_inputs_prepare(const bl_model *m, const bl_dataset *ds, size_t limit, bl_inputs **out,
                      bl_error *err)
{
    *out = NULL;
    size_t F = bl_shape_size(m->input);
    if (bl_dataset_features(ds) != F) {
        uint32_t h, w, c;
        bl_dataset_shape(ds, &h, &w, &c);
        return bl_error_set(err, BL_EINVAL,
                            "dataset '%s' has %ux%ux%u = %zu features, model expects %ux%ux%u",
                            bl_dataset_name(ds), h, w, c, bl_dataset_features(ds), m->input.h,
                            m->input.w, m->input.c);
    }
    size_t n = bl_dataset_count(ds);
    if (limit && limit < n)
        n = limit;
    /* a label the model cannot output would only lower the accuracy
     * silently: every front end gets this error here */
    if (bl_dataset_has_labels(ds) && m->nclasses > 0)
        for (size_t i = 0; i < n; i++) {
            int32_t y = bl_dataset_label(ds, i);
            if (y < 0 || (uint32_t)y >= m->nclasses)
                return bl_error_set(err, BL_ERANGE,
                                    "%s: row %zu (sample %zu): label %d is outside the model's "
                                    "%u classes (0..%u)",
                                    bl_dataset_name(ds), i + 1, i, (int)y, m->nclasses,
                                    m->nclasses - 1);
        }
    size_t csz;
    if (!bl_size_mul(n, F, &csz))
        return bl_error_set(err, BL_ERANGE, "dataset too large");
    uint8_t *codes = malloc(csz ? csz : 1);
    int32_t *labels = bl_dataset_has_labels(ds) ? malloc(n ? n * sizeof *labels : 1) : NULL;
    float *row = bl_dataset_dtype(ds) == BL_DT_U8 ? NULL : malloc(F * sizeof *row);
    if (!codes || (bl_dataset_has_labels(ds) && !labels) ||
        (bl_dataset_dtype(ds) != BL_DT_U8 && !row)) {
        free(codes);
        free(labels);
        free(row);
        return bl_error_set(err, BL_ENOMEM, "out of memory preparing inputs");
    }
    for (size_t i = 0; i < n; i++) {
        if (!row) {
            memcpy(codes + i * F, bl_dataset_row(ds, i), F);
        } else {
            bl_dataset_row_f32(ds, i, row);
            for (size_t f = 0; f < F; f++) {
                double q = round((double)row[f] / (double)m->input_scale) + m->input_zero;
                if (!(q >= 0))
                    q = 0; /* also NaN */
                if (q > 255)
                    q = 255;
                codes[i * F + f] = (uint8_t)q;
            }
        }
        if (labels)
            labels[i] = bl_dataset_label(ds, i);
    }
    int rc = inputs_build(F, codes, labels, n, out, err);
    free(codes);
    free(labels);
    free(row);
    return rc;
}

void bl_inputs_free(bl_inputs *in)
{
    if (!in)
        return;
    bl_free(in->codes);
    bl_free(in->q4);
    bl_free(in->labels);
    free(in);
}

size_t bl_inputs_count(const bl_inputs *in) { return in ? in->n : 0; }
const int32_t *bl_inputs_labels(const bl_inputs *in) { return in ? in->labels : NULL; }

/* ---- engine and plan ------------------------------------------------------ */

typedef struct step {
    int li;           /* weight layer                                   */
    int pool;         /* MAXPOOL2 layer after it, or -1                 */
    int thresh;       /* THRESH layer, or -1 for the last layer         */
    int cons_conv;    /* the next weight layer is a conv                */
    uint32_t cons_wpt;
    size_t out_words; /* IL words per input of the thresholded output   */
} step;

typedef struct scratch {
    uint64_t *il[2];
    int32_t *nm, *nm2, *D, *combo;
    const int32_t **dp;
    uint64_t *masks;
} scratch;

struct bl_engine {
    pthread_mutex_t lock; /* one call at a time: scratch and w8 are shared */
    bl_pool *pool;
    int threads;
    bl_simd simd;
    bl_kernels k;
    bl_model arch;        /* shapes only: layers copied, pointers cleared */
    step *steps;
    int nsteps;
    size_t max_words, max_rows, d_size;
    /* first conv layer: features in G triples, weight bits per triple */
    uint32_t conv_G;
    uint8_t *convidx;   /* [cout][G], per call */
    scratch *ws;
    /* first dense layer, expanded per call */
    int8_t *w8;
    size_t w8_stride;
    uint32_t nq;
    int32_t *corr;
    uint64_t lut8[256]; /* byte k of lut8[v] = bit k of v ? +1 : -1 */
    /* activation faults (bl_engine_set_activation_faults): rate per model
     * layer (THRESH layers only), NULL when off */
    double *act_rate;
    uint64_t act_seed;
};

bl_simd bl_engine_simd(const bl_engine *e) { return e->simd; }
int bl_engine_threads(const bl_engine *e) { return e->threads; }

static int is_weight(const bl_layer *l)
{
    return l->kind == BL_LAYER_DENSE || l->kind == BL_LAYER_CONV3;
}

static int build_plan(bl_engine *e, const bl_model *m, bl_error *err)
{
    e->steps = calloc(m->nlayers, sizeof *e->steps);
    if (!e->steps)
        return bl_error_set(err, BL_ENOMEM, "out of memory planning");
    uint32_t i = 0, n = m->nlayers;
    while (i < n && m->layers[i].kind == BL_LAYER_FLATTEN)
        i++;
    while (i < n) {
        const bl_layer *l = &m->layers[i];
        if (!is_weight(l))
            return bl_error_set(err, BL_EUNSUPPORTED,
                                "engine: layer %s (%s) does not follow a threshold", l->name,
                                bl_layer_kind_name(l->kind));
        step *s = &e->steps[e->nsteps++];
        s->li = (int)i;
        s->pool = s->thresh = -1;
        if (l->rows > e->max_rows)
            e->max_rows = l->rows;
        if (l->real_input) {
            uint64_t bound = (uint64_t)l->cols * 255u;
            if (bound >= (1ull << 31) - 1)
                return bl_error_set(err, BL_ERANGE, "engine: layer %s has too many inputs (%u)",
                                    l->name, l->cols);
            if (l->kind == BL_LAYER_CONV3) {
                e->d_size = (bl_shape_size(l->in) + 1) * BL_KB; /* + a zero row */
                e->conv_G = (l->cols + 2) / 3;
            }
        }
        i++;
        if (l->kind == BL_LAYER_CONV3 && i < n && m->layers[i].kind == BL_LAYER_MAXPOOL2)
            s->pool = (int)i++;
        if (i == n) {
            if (l->kind != BL_LAYER_DENSE || s->pool >= 0)
                return bl_error_set(err, BL_EUNSUPPORTED, "engine: last layer must be dense");
            break;
        }
        if (m->layers[i].kind != BL_LAYER_THRESH)
            return bl_error_set(err, BL_EUNSUPPORTED,
                                "engine: layer %s must be followed by a threshold layer",
                                m->layers[i - 1].name);
        s->thresh = (int)i++;
        while (i < n && m->layers[i].kind == BL_LAYER_FLATTEN)
            i++;
        if (i == n)
            return bl_error_set(err, BL_EUNSUPPORTED, "engine: model ends without a dense layer");
        const bl_layer *nx = &m->layers[i];
        if (!is_weight(nx) || nx->real_input)
            return bl_error_set(err, BL_EUNSUPPORTED,
                                "engine: layer %s cannot follow a threshold layer", nx->name);
        if (nx->kind == BL_LAYER_CONV3) {
            s->cons_conv = 1;
            s->cons_wpt = nx->words_per_tap;
            s->out_words = (size_t)nx->in.h * nx->in.w * nx->words_per_tap;
        } else {
            s->out_words = nx->words_per_row;
        }
        if (s->out_words > e->max_words)
            e->max_words = s->out_words;
    }
    if (e->nsteps == 0)
        return bl_error_set(err, BL_EUNSUPPORTED, "engine: model has no weight layer");
    return 0;
}

void bl_engine_free(bl_engine *e)
{
    if (!e)
        return;
    bl_pool_free(e->pool);
    if (e->ws)
        for (int w = 0; w < e->threads; w++) {
            bl_free(e->ws[w].il[0]);
            bl_free(e->ws[w].il[1]);
            bl_free(e->ws[w].nm);
            bl_free(e->ws[w].nm2);
            bl_free(e->ws[w].D);
            bl_free(e->ws[w].combo);
            free(e->ws[w].dp);
            bl_free(e->ws[w].masks);
        }
    free(e->ws);
    free(e->steps);
    free(e->arch.layers);
    bl_free(e->w8);
    bl_free(e->corr);
    bl_free(e->convidx);
    free(e->act_rate);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

int bl_engine_new(const bl_model *m, const bl_engine_opts *opts, bl_engine **out, bl_error *err)
{
    *out = NULL;
    if (!m)
        return bl_error_set(err, BL_EINVAL, "engine: no model");
    int rc = bl_model_validate(m, err);
    if (rc)
        return rc;
    bl_engine *e = calloc(1, sizeof *e);
    if (!e)
        return bl_error_set(err, BL_ENOMEM, "out of memory creating engine");
    pthread_mutex_init(&e->lock, NULL);
    bl_simd simd = bl_simd_default();
    if (opts && opts->simd_set && opts->simd >= 0) {
        if (opts->simd >= BL_SIMD_COUNT || (bl_simd)opts->simd > bl_simd_supported()) {
            bl_engine_free(e);
            return bl_error_set(err, BL_EUNSUPPORTED, "engine: SIMD level %d not supported here",
                                opts->simd);
        }
        simd = (bl_simd)opts->simd;
    }
    e->simd = simd;
    for (int v = 0; v < 256; v++) {
        uint64_t x = 0;
        for (int k = 0; k < 8; k++)
            x |= (uint64_t)(((v >> k) & 1) ? 0x01 : 0xFF) << (8 * k);
        e->lut8[v] = x;
    }
    e->k = *bl_kernels_get(simd);
    /* a level may leave kernels to the portable table */
    if (!e->k.bin_nm) e->k.bin_nm = bl_kernels_portable.bin_nm;
    if (!e->k.real_nm) e->k.real_nm = bl_kernels_portable.real_nm;
    if (!e->k.real_conv_nm) e->k.real_conv_nm = bl_kernels_portable.real_conv_nm;
    if (!e->k.thresh_mask) e->k.thresh_mask = bl_kernels_portable.thresh_mask;
    if (!e->k.apply_flips) e->k.apply_flips = bl_kernels_portable.apply_flips;
    if (!e->k.max_into) e->k.max_into = bl_kernels_portable.max_into;

    e->threads = opts && opts->threads > 0 ? opts->threads : bl_cpu_count();
    e->arch = *m;
    e->arch.meta = NULL;
    e->arch.nmeta = 0;
    e->arch.layers = calloc(m->nlayers, sizeof *e->arch.layers);
    if (!e->arch.layers) {
        bl_engine_free(e);
        return bl_error_set(err, BL_ENOMEM, "out of memory creating engine");
    }
    for (uint32_t i = 0; i < m->nlayers; i++) {
        bl_layer *l = &e->arch.layers[i];
        *l = m->layers[i];
        l->weights = NULL;
        l->tau = NULL;
        l->dir = NULL;
        l->out_scale = l->out_bias = NULL;
    }
    rc = build_plan(e, m, err);
    if (rc)
        goto fail;
    const bl_layer *l0 = &m->layers[e->steps[0].li];
    if (l0->kind == BL_LAYER_DENSE) {
        e->nq = (uint32_t)((l0->cols + 3) / 4);
        e->w8_stride = ((size_t)e->nq * 4 + 63) & ~(size_t)63;
        e->w8 = bl_alloc((size_t)l0->rows * e->w8_stride);
        e->corr = bl_alloc((size_t)l0->rows * sizeof *e->corr);
        if (!e->w8 || !e->corr) {
            rc = bl_error_set(err, BL_ENOMEM, "out of memory creating engine");
            goto fail;
        }
    } else if (e->conv_G) {
        e->convidx = bl_alloc((size_t)l0->rows * e->conv_G);
        if (!e->convidx) {
            rc = bl_error_set(err, BL_ENOMEM, "out of memory creating engine");
            goto fail;
        }
    }
    e->pool = e->threads > 1 ? bl_pool_new(e->threads) : NULL;
    if (e->threads > 1 && !e->pool) {
        rc = bl_error_set(err, BL_ENOMEM, "engine: cannot start %d threads", e->threads);
        goto fail;
    }
    e->ws = calloc((size_t)e->threads, sizeof *e->ws);
    if (!e->ws) {
        rc = bl_error_set(err, BL_ENOMEM, "out of memory creating engine");
        goto fail;
    }
    size_t nmsz = (e->max_rows > BL_KB ? e->max_rows : BL_KB) * BL_KB * sizeof(int32_t);
    for (int w = 0; w < e->threads; w++) {
        scratch *s = &e->ws[w];
        size_t ilsz = (e->max_words ? e->max_words : 1) * BL_KB * 8;
        s->il[0] = bl_alloc(ilsz);
        s->il[1] = bl_alloc(ilsz);
        s->nm = bl_alloc(nmsz);
        s->nm2 = bl_alloc(nmsz);
        s->masks = bl_alloc(64 * 8);
        if (e->d_size) {
            s->D = bl_alloc(e->d_size * sizeof(int32_t));
            s->combo = bl_alloc((size_t)e->conv_G * 8 * BL_KB * sizeof(int32_t));
            s->dp = calloc((size_t)e->conv_G * 3, sizeof *s->dp);
        }
        if (!s->il[0] || !s->il[1] || !s->nm || !s->nm2 || !s->masks ||
            (e->d_size && (!s->D || !s->combo || !s->dp))) {
            rc = bl_error_set(err, BL_ENOMEM, "out of memory creating engine scratch");
            goto fail;
        }
    }
    *out = e;
    return 0;
fail:
    bl_engine_free(e);
    return rc;
}

/* Same architecture as the plan (the weights may differ). */
static int check_model(const bl_engine *e, const bl_model *m, bl_error *err)
{
    if (!m || m->nlayers != e->arch.nlayers || m->nclasses != e->arch.nclasses ||
        m->input.h != e->arch.input.h || m->input.w != e->arch.input.w ||
        m->input.c != e->arch.input.c)
        return bl_error_set(err, BL_EINVAL, "engine: model architecture differs from the plan");
    for (uint32_t i = 0; i < m->nlayers; i++) {
        const bl_layer *a = &e->arch.layers[i], *b = &m->layers[i];
        if (a->kind != b->kind || a->rows != b->rows || a->cols != b->cols ||
            a->words_per_row != b->words_per_row || a->words_per_tap != b->words_per_tap ||
            a->real_input != b->real_input || a->in.h != b->in.h || a->in.w != b->in.w ||
            a->in.c != b->in.c || a->out.h != b->out.h || a->out.w != b->out.w ||
            a->out.c != b->out.c)
            return bl_error_set(err, BL_EINVAL,
                                "engine: layer %s differs from the planned architecture",
                                b->name);
        if ((is_weight(b) && !b->weights) || (b->kind == BL_LAYER_THRESH && (!b->tau || !b->dir)))
            return bl_error_set(err, BL_EINVAL, "engine: layer %s has no parameters", b->name);
    }
    return 0;
}

static int check_inputs(const bl_model *m, const bl_inputs *in, bl_error *err)
{
    if (!in)
        return bl_error_set(err, BL_EINVAL, "engine: no inputs");
    if (in->F != bl_shape_size(m->input))
        return bl_error_set(err, BL_EINVAL,
                            "engine: inputs have %zu features, model expects %ux%ux%u = %zu",
                            in->F, m->input.h, m->input.w, m->input.c, bl_shape_size(m->input));
    return 0;
}

/* ---- per-call preparation of the first dense layer ------------------------- */

typedef struct prep_ctx {
    bl_engine *e;
    const bl_layer *l;
    int32_t zero;
} prep_ctx;

static void prep_task(void *vctx, size_t task, int worker)
{
    (void)worker;
    prep_ctx *c = vctx;
    const bl_layer *l = c->l;
    bl_engine *e = c->e;
    uint32_t j0 = (uint32_t)task * 64, j1 = j0 + 64 < l->rows ? j0 + 64 : l->rows;
    size_t nbytes = (l->cols + 7) / 8;
    for (uint32_t j = j0; j < j1; j++) {
        const uint64_t *row = l->weights + (size_t)j * l->words_per_row;
        int8_t *dst = e->w8 + (size_t)j * e->w8_stride;
        for (size_t i = 0; i < nbytes; i++) {
            uint8_t v = (uint8_t)(row[i >> 3] >> (8 * (i & 7)));
            memcpy(dst + 8 * i, &e->lut8[v], 8);
        }
        for (size_t i = l->cols; i < e->w8_stride; i++)
            dst[i] = 0;
        int64_t pop = 0;
        for (uint32_t w = 0; w < l->words_per_row; w++)
            pop += __builtin_popcountll(row[w]);
        e->corr[j] = c->zero * (int32_t)(2 * pop - (int64_t)l->cols);
    }
}

static void prep_first_layer(bl_engine *e, const bl_model *m)
{
    const bl_layer *l = &m->layers[e->steps[0].li];
    if (l->kind == BL_LAYER_CONV3) {
        uint32_t G = e->conv_G, cin = l->in.c;
        for (uint32_t o = 0; o < l->rows; o++) {
            const uint64_t *row = l->weights + (size_t)o * l->words_per_row;
            for (uint32_t g = 0; g < G; g++) {
                uint8_t v = 0;
                for (uint32_t i = 0; i < 3; i++) {
                    uint32_t k = 3 * g + i;
                    if (k < l->cols)
                        v |= (uint8_t)(bl_bit_get(row, (size_t)(k / cin) * l->words_per_tap * 64 +
                                                          k % cin)
                                       << i);
                }
                e->convidx[(size_t)o * G + g] = v;
            }
        }
        return;
    }
    prep_ctx c = { e, l, m->input_zero };
    bl_pool_run(e->pool, (l->rows + 63) / 64, prep_task, &c);
}

/* ---- bit transpose and threshold packing ---------------------------------- */

/* In place: afterwards bit i of a[b] = old bit b of a[i]. */
static void transpose64(uint64_t *a)
{
    uint64_t m = 0x00000000FFFFFFFFull;
    for (unsigned j = 32; j; j >>= 1, m ^= m << j)
        for (unsigned k = 0; k < 64; k = ((k | j) + 1) & ~j) {
            uint64_t t = ((a[k] >> j) ^ a[k | j]) & m;
            a[k] ^= t << j;
            a[k | j] ^= t;
        }
}

/* Activation faults of one THRESH layer in one block: the output of
 * neuron n (HWC index) for input b of the block flips iff mask word
 * word0 + n of the coupled stream (seed, layer, activations) has bit b. */
typedef struct act_fault {
    double rate;       /* 0: off */
    uint64_t seed;
    uint32_t stream;
    uint64_t word0;    /* block * (neurons of the layer) */
    bl_simd simd;
} act_fault;

/* Threshold n neurons (nm[i][64]) and OR their output bits into the IL
 * buffer dst at bit positions base + i; nidx = HWC index of neuron 0. */
static void thresh_pack(const bl_kernels *k, const int32_t *nm, uint32_t n, const int32_t *tau,
                        const int8_t *dir, uint64_t *dst, size_t base, uint64_t *masks,
                        const act_fault *af, size_t nidx)
{
    uint32_t i = 0;
    while (i < n) {
        size_t pos = base + i;
        uint32_t sh = (uint32_t)(pos & 63);
        uint32_t cnt = 64 - sh;
        if (cnt > n - i)
            cnt = n - i;
        k->thresh_mask(nm + (size_t)i * BL_KB, cnt, tau + i, dir + i, masks);
        if (af->rate > 0) {
            uint64_t fm[64];
            bl_coupled_mask_simd(af->simd, af->seed, af->stream, af->rate, af->word0 + nidx + i,
                                 cnt, fm);
            for (uint32_t r = 0; r < cnt; r++)
                masks[r] ^= fm[r];
        }
        for (uint32_t r = cnt; r < 64; r++)
            masks[r] = 0;
        transpose64(masks);
        uint64_t *d = dst + (pos >> 6) * BL_KB;
        for (int b = 0; b < BL_KB; b++)
            d[b] |= masks[b] << sh;
        i += cnt;
    }
}

/* ---- forward pass over one block ---------------------------------------------- */

enum { MODE_PREDICT, MODE_SCORES, MODE_PREACTS, MODE_FILL };

/* Changed first-layer bits of a faulty model, per neuron j: the features
 * whose weight became +1 (feat[start[j] ..][0 .. nplus[j]]), then those that
 * became -1, up to start[j+1]; a_j[:] += 2 (sum plus q - sum minus q) +
 * add[j], add[j] = -2 zero (nplus - nminus). */
typedef struct flips {
    uint32_t *feat;
    size_t *start;
    uint32_t *nplus;
    int32_t *add;
} flips;

struct bl_cache {
    const bl_inputs *in;
    bl_model *clean;    /* private clone: first-layer words and shape */
    int dense;          /* first layer is dense: corrections apply    */
    uint32_t rows;
    int32_t *A;         /* [block][rows][64] clean first-layer preacts */
    uint8_t *xt;        /* [feature][npad]                            */
    double max_changed; /* above this fraction of changed first-layer
                           bits, recomputing is cheaper than correcting */
    int32_t *clean_pred; /* the clean model's classes (NULL: unknown)   */
};

typedef struct call {
    bl_engine *e;
    const bl_model *m;
    const bl_inputs *in;
    int mode;
    int target;        /* MODE_PREACTS: layer captured                 */
    size_t outsize;    /* MODE_PREACTS: entries per input              */
    int32_t *out;      /* preacts / scores / predictions               */
    const bl_cache *cache;
    const flips *fl;   /* with cache: changed first-layer bits          */
} call;

/* Copy nm[ch][64] (n channels starting at channel c0 of pixel p) out. */
static void capture(const call *c, const int32_t *nm, uint32_t n, size_t p, uint32_t C,
                    uint32_t c0, size_t b0, size_t nb)
{
    for (size_t b = 0; b < nb; b++) {
        int32_t *o = c->out + (b0 + b) * c->outsize + p * C + c0;
        for (uint32_t ch = 0; ch < n; ch++)
            o[ch] = nm[(size_t)ch * BL_KB + b];
    }
}

static void finish(const call *c, const bl_layer *l, const int32_t *nm, size_t b0, size_t nb)
{
    uint32_t K = l->rows;
    if (c->mode == MODE_SCORES) {
        for (size_t b = 0; b < nb; b++)
            for (uint32_t k = 0; k < K; k++)
                c->out[(b0 + b) * K + k] = nm[(size_t)k * BL_KB + b];
        return;
    }
    for (size_t b = 0; b < nb; b++) {
        double best = 0.0;
        int32_t cls = 0;
        for (uint32_t k = 0; k < K; k++) {
            double v = (double)nm[(size_t)k * BL_KB + b];
            if (l->out_scale)
                v = (double)l->out_scale[k] * v;
            if (l->out_bias)
                v = v + (double)l->out_bias[k];
            if (k == 0 || v > best) {
                best = v;
                cls = (int32_t)k;
            }
        }
        c->out[b0 + b] = cls;
    }
}

/* Conv pre-activations of output pixel (y, x) for all channels: nm[o][64]. */
static void conv_pixel(const bl_engine *e, const bl_layer *l, const uint64_t *X, const int32_t *D,
                       const int32_t **dp, int32_t *combo, uint32_t y, uint32_t x, int32_t *nm)
{
    uint32_t H = l->in.h, W = l->in.w, cin = l->in.c, wpt = l->words_per_tap;
    int x0 = x > 0 ? -1 : 0, x1 = x + 1 < W ? 1 : 0;
    if (l->real_input) {
        /* feature k = tap * cin + c; missing taps and padding read zeros */
        const int32_t *zero = D + bl_shape_size(l->in) * BL_KB;
        const int32_t *tp[9];
        for (int t = 0; t < 9; t++) {
            long yy = (long)y + t / 3 - 1, xx = (long)x + t % 3 - 1;
            tp[t] = (yy < 0 || yy >= (long)H || xx < 0 || xx >= (long)W)
                        ? NULL
                        : D + ((size_t)yy * W + (size_t)xx) * cin * BL_KB;
        }
        uint32_t K = 3 * e->conv_G;
        for (uint32_t k = 0, t = 0, c = 0; k < K; k++) {
            dp[k] = (k >= l->cols || !tp[t]) ? zero : tp[t] + (size_t)c * BL_KB;
            if (++c == cin) {
                c = 0;
                t++;
            }
        }
        e->k.real_conv_nm(dp, e->conv_G, e->convidx, l->rows, combo, nm);
        return;
    }
    bl_kseg seg[3];
    int ns = 0, ntaps = 0;
    uint32_t run = (uint32_t)(x1 - x0 + 1);
    for (int dy = -1; dy <= 1; dy++) {
        long yy = (long)y + dy;
        if (yy < 0 || yy >= (long)H)
            continue;
        seg[ns].xw = (uint32_t)(((size_t)yy * W + (size_t)((long)x + x0)) * wpt);
        seg[ns].ww = (uint32_t)(((dy + 1) * 3 + x0 + 1) * wpt);
        seg[ns].nw = run * wpt;
        ns++;
        ntaps += (int)run;
    }
    e->k.bin_nm(X, seg, ns, l->weights, l->words_per_row, 0, l->rows,
                (int32_t)(cin * (uint32_t)ntaps), nm);
}

#define DENSE_CHUNK 64

static void block_task(void *vctx, size_t blk, int worker)
{
    const call *c = vctx;
    bl_engine *e = c->e;
    const bl_model *m = c->m;
    const bl_inputs *in = c->in;
    scratch *ws = &e->ws[worker];
    size_t b0 = blk * BL_KB, nb = in->n - b0 < BL_KB ? in->n - b0 : BL_KB;
    const uint8_t *q4 = in->q4 + blk * (size_t)in->nq * BL_KB * 4;
    const uint64_t *cur = NULL;
    int ci = 0;
    for (int si = 0; si < e->nsteps; si++) {
        const step *s = &e->steps[si];
        const bl_layer *l = &m->layers[s->li];
        const bl_layer *t = s->thresh >= 0 ? &m->layers[s->thresh] : NULL;
        uint64_t *nxt = ws->il[ci];
        int last = s->thresh < 0;
        act_fault af = { 0, 0, 0, 0, e->simd };
        if (!last)
            memset(nxt, 0, s->out_words * BL_KB * 8);
        if (!last && e->act_rate && e->act_rate[s->thresh] > 0) {
            af.rate = e->act_rate[s->thresh];
            af.seed = e->act_seed;
            af.stream = bl_coupled_stream((uint32_t)s->thresh, 2 /* BL_FT_ACTIVATIONS */);
            af.word0 = (uint64_t)blk * bl_shape_size(t->out);
        }
        if (l->kind == BL_LAYER_DENSE) {
            int whole = last || c->mode == MODE_FILL || c->target == s->li;
            uint32_t chunk = whole ? l->rows : DENSE_CHUNK;
            for (uint32_t j0 = 0; j0 < l->rows; j0 += chunk) {
                uint32_t nj = l->rows - j0 < chunk ? l->rows - j0 : chunk;
                int32_t *nm = ws->nm;
                if (!l->real_input) {
                    bl_kseg seg = { 0, 0, l->words_per_row };
                    e->k.bin_nm(cur, &seg, 1, l->weights, l->words_per_row, j0, nj,
                                (int32_t)l->cols, nm);
                } else if (c->cache && c->mode != MODE_FILL) {
                    const int32_t *A = c->cache->A + (blk * l->rows + j0) * BL_KB;
                    memcpy(nm, A, (size_t)nj * BL_KB * sizeof *nm);
                    const flips *fl = c->fl;
                    for (uint32_t j = 0; j < nj; j++) {
                        size_t st = fl->start[j0 + j], np = fl->nplus[j0 + j];
                        size_t nmi = fl->start[j0 + j + 1] - st - np;
                        if (np + nmi)
                            e->k.apply_flips(nm + (size_t)j * BL_KB, c->cache->xt + b0, in->npad,
                                             fl->feat + st, np, fl->feat + st + np, nmi,
                                             fl->add[j0 + j]);
                    }
                } else {
                    e->k.real_nm(q4, in->nq, e->w8, e->w8_stride, j0, nj, e->corr, nm);
                }
                if (c->mode == MODE_FILL) {
                    memcpy(c->cache->A + blk * (size_t)l->rows * BL_KB, nm,
                           (size_t)l->rows * BL_KB * sizeof *nm);
                    return;
                }
                if (c->target == s->li) {
                    capture(c, nm, nj, 0, l->rows, j0, b0, nb);
                    continue;
                }
                if (last) {
                    finish(c, l, nm, b0, nb);
                    return;
                }
                thresh_pack(&e->k, nm, nj, t->tau + j0, t->dir + j0, nxt, j0, ws->masks, &af, j0);
            }
            if (c->target == s->li)
                return;
        } else {
            uint32_t H = l->in.h, W = l->in.w, C = l->rows;
            const int32_t *D = NULL;
            if (l->real_input) {
                size_t F = bl_shape_size(l->in);
                int32_t z = m->input_zero;
                for (size_t f = 0; f < F; f++) {
                    const uint8_t *src = q4 + (f >> 2) * BL_KB * 4 + (f & 3);
                    int32_t *d = ws->D + f * BL_KB;
                    for (int b = 0; b < BL_KB; b++)
                        d[b] = (int32_t)src[4 * b] - z;
                }
                D = ws->D;
            }
            if (c->target == s->li) {
                for (uint32_t y = 0; y < H; y++)
                    for (uint32_t x = 0; x < W; x++) {
                        conv_pixel(e, l, cur, D, ws->dp, ws->combo, y, x, ws->nm);
                        capture(c, ws->nm, C, (size_t)y * W + x, C, 0, b0, nb);
                    }
                return;
            }
            uint32_t OH = s->pool >= 0 ? H / 2 : H, OW = s->pool >= 0 ? W / 2 : W;
            for (uint32_t y = 0; y < OH; y++)
                for (uint32_t x = 0; x < OW; x++) {
                    size_t p = (size_t)y * OW + x;
                    if (s->pool >= 0) {
                        conv_pixel(e, l, cur, D, ws->dp, ws->combo, 2 * y, 2 * x, ws->nm);
                        for (int d = 1; d < 4; d++) {
                            conv_pixel(e, l, cur, D, ws->dp, ws->combo, 2 * y + d / 2, 2 * x + d % 2, ws->nm2);
                            e->k.max_into(ws->nm, ws->nm2, (size_t)C * BL_KB);
                        }
                        if (c->target == s->pool) {
                            capture(c, ws->nm, C, p, C, 0, b0, nb);
                            continue;
                        }
                    } else {
                        conv_pixel(e, l, cur, D, ws->dp, ws->combo, y, x, ws->nm);
                    }
                    size_t base = s->cons_conv ? p * s->cons_wpt * 64 : p * C;
                    thresh_pack(&e->k, ws->nm, C, t->tau, t->dir, nxt, base, ws->masks, &af,
                                p * C);
                }
            if (s->pool >= 0 && c->target == s->pool)
                return;
        }
        cur = nxt;
        ci ^= 1;
    }
}

static int run_call(call *c, bl_error *err)
{
    int rc = check_model(c->e, c->m, err);
    if (rc)
        return rc;
    rc = check_inputs(c->m, c->in, err);
    if (rc)
        return rc;
    if (c->in->n == 0)
        return 0;
    pthread_mutex_lock(&c->e->lock);
    if (!c->cache)
        prep_first_layer(c->e, c->m);
    bl_pool_run(c->e->pool, c->in->nblocks, block_task, c);
    pthread_mutex_unlock(&c->e->lock);
    return 0;
}

int bl_engine_predict(bl_engine *e, const bl_model *m, const bl_inputs *in, int32_t *pred,
                      bl_error *err)
{
    call c = { .e = e, .m = m, .in = in, .mode = MODE_PREDICT, .target = -1, .out = pred };
    return run_call(&c, err);
}

int bl_engine_scores(bl_engine *e, const bl_model *m, const bl_inputs *in, int32_t *scores,
                     bl_error *err)
{
    call c = { .e = e, .m = m, .in = in, .mode = MODE_SCORES, .target = -1, .out = scores };
    return run_call(&c, err);
}

int bl_engine_preacts(bl_engine *e, const bl_model *m, const bl_inputs *in, int layer,
                      int32_t *out, bl_error *err)
{
    if (!m || layer < 0 || (uint32_t)layer >= m->nlayers)
        return bl_error_set(err, BL_EINVAL, "preacts: no layer %d", layer);
    const bl_layer *l = &m->layers[layer];
    if (l->kind != BL_LAYER_DENSE && l->kind != BL_LAYER_CONV3 && l->kind != BL_LAYER_MAXPOOL2)
        return bl_error_set(err, BL_EINVAL, "preacts: layer %s is a %s layer (want dense, conv "
                            "or pool)", l->name, bl_layer_kind_name(l->kind));
    call c = { .e = e, .m = m, .in = in, .mode = MODE_PREACTS, .target = layer, .out = out,
               .outsize = bl_shape_size(l->out) };
    return run_call(&c, err);
}


int bl_engine_eval(bl_engine *e, const bl_model *m, const bl_inputs *in, bl_eval_stats *st,
                   bl_error *err)
{
    memset(st, 0, sizeof *st);
    if (!in || !in->labels)
        return bl_error_set(err, BL_EINVAL, "eval: inputs have no labels");
    int32_t *pred = malloc((in->n ? in->n : 1) * sizeof *pred);
    if (!pred)
        return bl_error_set(err, BL_ENOMEM, "out of memory evaluating");
    double t0 = bl_now();
    int rc = bl_engine_predict(e, m, in, pred, err);
    double t1 = bl_now();
    if (rc == 0) {
        st->images = in->n;
        for (size_t i = 0; i < in->n; i++)
            st->correct += pred[i] == in->labels[i];
        st->accuracy = in->n ? (double)st->correct / (double)in->n : 0.0;
        st->seconds = t1 - t0;
        if (st->seconds > 0) {
            st->images_per_s = (double)in->n / st->seconds;
            st->bmacs_per_s = (double)bl_model_macs(m) * (double)in->n / st->seconds;
        }
    }
    free(pred);
    return rc;
}

/* ---- cache ------------------------------------------------------------------------ */

void bl_cache_free(bl_cache *c)
{
    if (!c)
        return;
    bl_model_free(c->clean);
    bl_free(c->A);
    bl_free(c->xt);
    free(c->clean_pred);
    free(c);
}

const int32_t *bl_cache_clean_predictions(const bl_cache *c) { return c ? c->clean_pred : NULL; }

/* The clean model's classes, once: every evaluation against this cache
 * starts from them (a fault map that changes nothing has them as its
 * answer), so an interactive caller does not recompute them per request.
 * Only when no activation faults are armed (they would change them). */
static void cache_clean_predictions(bl_engine *e, bl_cache *c)
{
    if (e->act_rate || c->in->n == 0)
        return;
    int32_t *p = malloc(c->in->n * sizeof *p);
    if (p && bl_engine_predict_cached(e, c, c->clean, p, NULL) == 0)
        c->clean_pred = p;
    else
        free(p);
}

int bl_cache_new(bl_engine *e, const bl_model *clean, const bl_inputs *in, bl_cache **out,
                 bl_error *err)
{
    *out = NULL;
    int rc = check_model(e, clean, err);
    if (rc)
        return rc;
    rc = check_inputs(clean, in, err);
    if (rc)
        return rc;
    bl_cache *c = calloc(1, sizeof *c);
    if (!c)
        return bl_error_set(err, BL_ENOMEM, "out of memory creating cache");
    c->in = in;
    rc = bl_model_clone(clean, &c->clean, err);
    if (rc) {
        free(c);
        return rc;
    }
    const bl_layer *l0 = &clean->layers[e->steps[0].li];
    c->dense = l0->kind == BL_LAYER_DENSE;
    /* Measured on fc (784x2048, 10k inputs, AVX-512): correcting costs
     * about as much as recomputing the first layer at ~2.5% changed bits
     * (40k flips); beyond 1/32 the full path is used. */
    c->max_changed = 1.0 / 32;
    if (!c->dense || in->n == 0) {
        cache_clean_predictions(e, c);
        *out = c;
        return 0;
    }
    c->rows = l0->rows;
    size_t asz, xsz;
    if (!bl_size_mul(in->npad, (size_t)l0->rows * sizeof(int32_t), &asz) ||
        !bl_size_mul(in->npad, in->F, &xsz)) {
        bl_cache_free(c);
        return bl_error_set(err, BL_ERANGE, "cache too large");
    }
    c->A = bl_alloc(asz);
    c->xt = bl_alloc(xsz);
    if (!c->A || !c->xt) {
        bl_cache_free(c);
        return bl_error_set(err, BL_ENOMEM, "out of memory creating cache (%zu MB)",
                            (asz + xsz) >> 20);
    }
    for (size_t i0 = 0; i0 < in->n; i0 += BL_KB) { /* 64 input rows stay in cache */
        size_t i1 = in->n - i0 < BL_KB ? in->n : i0 + BL_KB;
        for (size_t f = 0; f < in->F; f++)
            for (size_t i = i0; i < i1; i++)
                c->xt[f * in->npad + i] = in->codes[i * in->F + f];
    }
    /* MODE_FILL computes the first layer and stores it through c->A */
    call fc = { .e = e, .m = clean, .in = in, .mode = MODE_FILL, .target = -1, .cache = c };
    pthread_mutex_lock(&e->lock);
    prep_first_layer(e, clean);
    bl_pool_run(e->pool, in->nblocks, block_task, &fc);
    pthread_mutex_unlock(&e->lock);
    cache_clean_predictions(e, c);
    *out = c;
    return 0;
}

int bl_engine_predict_cached(bl_engine *e, const bl_cache *c, const bl_model *faulty,
                             int32_t *pred, bl_error *err)
{
    if (!c)
        return bl_error_set(err, BL_EINVAL, "predict_cached: no cache");
    int rc = check_model(e, faulty, err);
    if (rc)
        return rc;
    rc = check_model(e, c->clean, err);
    if (rc)
        return bl_error_prefix(err, "predict_cached: cache made for another engine: ");
    if (!c->dense || faulty->input_zero != c->clean->input_zero)
        return bl_engine_predict(e, faulty, c->in, pred, err);
    if (c->in->n == 0)
        return 0;
    const bl_layer *lc = &c->clean->layers[e->steps[0].li];
    const bl_layer *lf = &faulty->layers[e->steps[0].li];
    uint32_t rows = lc->rows, wpr = lc->words_per_row;
    size_t nw = (size_t)rows * wpr, nflip = 0;
    for (size_t w = 0; w < nw; w++)
        nflip += (size_t)__builtin_popcountll(lc->weights[w] ^ lf->weights[w]);
    if ((double)nflip > c->max_changed * (double)lc->rows * (double)lc->cols)
        return bl_engine_predict(e, faulty, c->in, pred, err);
    flips fl;
    fl.start = malloc((rows + 1) * sizeof *fl.start);
    fl.nplus = malloc(rows * sizeof *fl.nplus);
    fl.add = malloc(rows * sizeof *fl.add);
    fl.feat = malloc((nflip ? nflip : 1) * sizeof *fl.feat);
    if (!fl.start || !fl.nplus || !fl.add || !fl.feat) {
        free(fl.start);
        free(fl.nplus);
        free(fl.add);
        free(fl.feat);
        return bl_error_set(err, BL_ENOMEM, "out of memory listing %zu changed bits", nflip);
    }
    int32_t z = c->clean->input_zero;
    size_t f = 0;
    for (uint32_t j = 0; j < rows; j++) {
        fl.start[j] = f;
        const uint64_t *cw = lc->weights + (size_t)j * wpr, *fw = lf->weights + (size_t)j * wpr;
        for (int side = 0; side < 2; side++) { /* became +1, then became -1 */
            for (uint32_t w = 0; w < wpr; w++) {
                uint64_t d = (cw[w] ^ fw[w]) & (side ? ~fw[w] : fw[w]);
                while (d) {
                    fl.feat[f++] = w * 64 + (uint32_t)__builtin_ctzll(d);
                    d &= d - 1;
                }
            }
            if (side == 0)
                fl.nplus[j] = (uint32_t)(f - fl.start[j]);
        }
        int64_t np = fl.nplus[j], nm = (int64_t)(f - fl.start[j]) - np;
        fl.add[j] = (int32_t)(-2 * (int64_t)z * (np - nm));
    }
    fl.start[rows] = f;
    call cl = { .e = e, .m = faulty, .in = c->in, .mode = MODE_PREDICT, .target = -1, .out = pred,
                .cache = c, .fl = &fl };
    pthread_mutex_lock(&e->lock);
    bl_pool_run(e->pool, c->in->nblocks, block_task, &cl);
    pthread_mutex_unlock(&e->lock);
    free(fl.start);
    free(fl.nplus);
    free(fl.add);
    free(fl.feat);
    return 0;
}

int bl_engine_set_activation_faults(bl_engine *e, const double *rate_per_layer, uint64_t seed,
                                    bl_error *err)
{
    if (!e)
        return bl_error_set(err, BL_EINVAL, "activation faults: no engine");
    double *r = NULL;
    if (rate_per_layer) {
        int any = 0;
        for (uint32_t i = 0; i < e->arch.nlayers; i++) {
            double p = rate_per_layer[i];
            if (!(p >= 0 && p <= 1))
                return bl_error_set(err, BL_ERANGE, "activation faults: layer %s: rate %g "
                                    "outside [0, 1]", e->arch.layers[i].name, p);
            if (p > 0 && e->arch.layers[i].kind != BL_LAYER_THRESH)
                return bl_error_set(err, BL_EINVAL, "activation faults: layer %s is a %s layer, "
                                    "not a threshold", e->arch.layers[i].name,
                                    bl_layer_kind_name(e->arch.layers[i].kind));
            any |= p > 0;
        }
        if (any) {
            r = malloc(e->arch.nlayers * sizeof *r);
            if (!r)
                return bl_error_set(err, BL_ENOMEM, "out of memory");
            memcpy(r, rate_per_layer, e->arch.nlayers * sizeof *r);
        }
    }
    pthread_mutex_lock(&e->lock);
    free(e->act_rate);
    e->act_rate = r;
    e->act_seed = seed;
    pthread_mutex_unlock(&e->lock);
    return 0;
}

void bl_cache_set_max_changed(bl_cache *c, double fraction)
{
    if (c)
        c->max_changed = fraction;
}
