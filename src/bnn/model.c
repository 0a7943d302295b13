/* model.c - building, checking, copying and describing models. */
#include "bnn/model.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/mem.h"
#include "base/rng.h"

const char *bl_layer_kind_name(bl_layer_kind k)
{
    switch (k) {
    case BL_LAYER_DENSE: return "dense";
    case BL_LAYER_CONV3: return "conv3x3";
    case BL_LAYER_MAXPOOL2: return "maxpool2";
    case BL_LAYER_THRESH: return "thresh";
    case BL_LAYER_FLATTEN: return "flatten";
    }
    return "?";
}

/* ---- construction ---------------------------------------------------- */

/* Architecture tokens parsed from a spec before layers are materialised. */
typedef struct {
    char kind;        /* 'c' conv, 'p' pool, 'd' dense */
    uint32_t n;
} spec_tok;

static int parse_u32(const char *s, const char *end, uint32_t *out)
{
    if (s == end)
        return -1;
    uint64_t v = 0;
    for (const char *p = s; p < end; p++) {
        if (!isdigit((unsigned char)*p))
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > (1u << 24))
            return -1; /* far beyond any sensible layer size */
    }
    *out = (uint32_t)v;
    return v == 0 ? -1 : 0;
}

/* Largest weight array a spec may ask for (one layer): far beyond any BNN
 * that fits a workbench, small enough that a typo cannot make us try to
 * allocate terabytes. */
#define BL_MAX_LAYER_BYTES ((size_t)1 << 31)
/* And the whole model: checked from the spec before the first allocation
 * (layers each under the limit above could otherwise add up to many GiB). */
#define BL_MAX_MODEL_BYTES ((uint64_t)4 << 30)

static int alloc_weight_layer(bl_layer *l)
{
    size_t words;
    if (!bl_size_mul(l->rows, l->words_per_row, &words) || !bl_size_mul(words, 8, &words) ||
        words > BL_MAX_LAYER_BYTES)
        return BL_ERANGE;
    l->weights = bl_alloc(words);
    return l->weights ? 0 : BL_ENOMEM;
}

static int alloc_thresh_layer(bl_layer *l)
{
    l->tau = bl_alloc((size_t)l->out.c * sizeof *l->tau);
    l->dir = bl_alloc((size_t)l->out.c);
    if (!l->tau || !l->dir)
        return BL_ENOMEM;
    for (uint32_t c = 0; c < l->out.c; c++)
        l->dir[c] = 1;
    return 0;
}

/* The tokens of a spec (at most 64 layers) and its input shape; errors
 * name the spec. */
static int parse_spec(const char *spec, const bl_shape *input, spec_tok toks[64], int *ntokp,
                      bl_shape *inp, bl_error *err)
{
    if (!spec || !*spec)
        return bl_error_set(err, BL_EINVAL, "empty architecture spec");
    const char *expanded = spec;
    if (strcmp(spec, "fc") == 0)
        expanded = "28x28x1-784-2048-2048-10";
    else if (strcmp(spec, "vgg3") == 0)
        expanded = "28x28x1-c64-p-c64-p-2048-10";

    int ntok = 0;
    bl_shape in = { 1, 1, 0 };
    int have_shape = 0, first_dense_is_input = 0;
    const char *p = expanded;
    int index = 0;
    while (*p) {
        const char *end = strchr(p, '-');
        if (!end)
            end = p + strlen(p);
        if (end == p)
            return bl_error_set(err, BL_EINVAL, "spec '%s': empty token at column %d", spec,
                                (int)(p - expanded) + 1);
        uint32_t v;
        if (index == 0 && memchr(p, 'x', (size_t)(end - p))) {
            /* HxWxC input shape */
            const char *x1 = memchr(p, 'x', (size_t)(end - p));
            const char *x2 = x1 ? memchr(x1 + 1, 'x', (size_t)(end - x1 - 1)) : NULL;
            if (!x2 || parse_u32(p, x1, &in.h) || parse_u32(x1 + 1, x2, &in.w) ||
                parse_u32(x2 + 1, end, &in.c))
                return bl_error_set(err, BL_EINVAL, "spec '%s': bad input shape (want HxWxC)",
                                    spec);
            have_shape = 1;
        } else if (ntok >= 64) {
            return bl_error_set(err, BL_ERANGE, "spec '%s': more than 64 layers", spec);
        } else if (*p == 'c') {
            if (parse_u32(p + 1, end, &v))
                return bl_error_set(err, BL_EINVAL, "spec '%s': bad conv token '%.*s'", spec,
                                    (int)(end - p), p);
            toks[ntok++] = (spec_tok){ 'c', v };
        } else if (*p == 'p' && end == p + 1) {
            toks[ntok++] = (spec_tok){ 'p', 0 };
        } else if (parse_u32(p, end, &v) == 0) {
            if (index == 0) {
                in.c = v; /* dense stack: first number is the input size */
                first_dense_is_input = 1;
            } else if (index == 1 && have_shape && ntok == 0 && v == bl_shape_size(in)) {
                /* "28x28x1-784-..." : the input size repeated, allowed */
                first_dense_is_input = 1;
            } else {
                toks[ntok++] = (spec_tok){ 'd', v };
            }
        } else {
            return bl_error_set(err, BL_EINVAL, "spec '%s': unknown token '%.*s'", spec,
                                (int)(end - p), p);
        }
        index++;
        p = *end ? end + 1 : end;
    }
    (void)first_dense_is_input;
    if (!have_shape && in.c == 0)
        return bl_error_set(err, BL_EINVAL, "spec '%s': no input size", spec);
    if (input && !have_shape) {
        if (bl_shape_size(*input) != in.c)
            return bl_error_set(err, BL_EINVAL,
                                "spec '%s': input size %u does not match data shape %ux%ux%u",
                                spec, in.c, input->h, input->w, input->c);
        in = *input;
    }
    if (ntok == 0 || toks[ntok - 1].kind != 'd')
        return bl_error_set(err, BL_EINVAL, "spec '%s': must end with a dense output layer",
                            spec);
    for (int i = 0; i < ntok; i++) {
        if (toks[i].kind == 'p' && (i == 0 || (toks[i - 1].kind != 'c')))
            return bl_error_set(err, BL_EINVAL,
                                "spec '%s': a pool 'p' must follow a conv layer 'cN'", spec);
        if (toks[i].kind == 'c' && i > 0 && toks[i - 1].kind == 'd')
            return bl_error_set(err, BL_EINVAL, "spec '%s': conv after dense is not supported",
                                spec);
    }

    *ntokp = ntok;
    *inp = in;
    return 0;
}

/* Bytes the model of parsed tokens needs (weights, thresholds, layer
 * table), computed from the shapes alone, so that the total is bounded
 * before anything is allocated.  Saturates at UINT64_MAX. */
static uint64_t spec_bytes(const spec_tok *toks, int ntok, bl_shape in)
{
    uint64_t total = (uint64_t)(ntok * 4 + 1) * sizeof(bl_layer), cur_c = in.c;
    uint64_t h = in.h, w = in.w;
    for (int i = 0; i < ntok; i++) {
        uint64_t bytes = 0;
        if (toks[i].kind == 'c') {
            bytes = (uint64_t)toks[i].n * 9 * bl_words_for_bits((size_t)cur_c) * 8;
            cur_c = toks[i].n;
        } else if (toks[i].kind == 'p') {
            h /= 2;
            w /= 2;
        } else {
            uint64_t cols = h * w * cur_c;   /* flattened after convs */
            if (cols > (1u << 28))
                cols = 1u << 28;   /* rejected later with its own message */
            bytes = (uint64_t)toks[i].n * bl_words_for_bits((size_t)cols) * 8;
            h = w = 1;
            cur_c = toks[i].n;
        }
        bytes += cur_c * (sizeof(int32_t) + 1);   /* a BN layer's thresholds */
        if (total > UINT64_MAX - bytes)
            return UINT64_MAX;
        total += bytes;
    }
    return total;
}

int bl_model_spec_bytes(const char *spec, const bl_shape *input, uint64_t *bytes, bl_error *err)
{
    spec_tok toks[64];
    int ntok;
    bl_shape in;
    int rc = parse_spec(spec, input, toks, &ntok, &in, err);
    if (rc)
        return rc;
    *bytes = spec_bytes(toks, ntok, in);
    return 0;
}

int bl_model_from_spec(const char *spec, const bl_shape *input, bl_model **out, bl_error *err)
{
    *out = NULL;
    spec_tok toks[64];
    int ntok;
    bl_shape in;
    int rc = parse_spec(spec, input, toks, &ntok, &in, err);
    if (rc)
        return rc;
    uint64_t need = spec_bytes(toks, ntok, in);
    if (need > BL_MAX_MODEL_BYTES)
        return bl_error_set(err, BL_ERANGE,
                            "spec '%s': the model would need %.3g GiB (at most %d GiB in all)",
                            spec, (double)need / (1 << 30), (int)(BL_MAX_MODEL_BYTES >> 30));

    bl_model *m = calloc(1, sizeof *m);
    bl_layer *ls = calloc((size_t)ntok * 4 + 1, sizeof *ls);
    if (!m || !ls) {
        free(m);
        free(ls);
        return bl_error_set(err, BL_ENOMEM, "out of memory building '%s'", spec);
    }
    m->layers = ls;
    m->input = in;
    m->input_scale = 1.0f / 255.0f;
    m->input_zero = 0;
    int nl = 0, nconv = 0, nfc = 0, nbn = 0, npool = 0;
    bl_shape cur = in;
    int seen_conv = 0, flattened = 0;
    for (int i = 0; i < ntok && rc == 0; i++) {
        bl_layer *l = &ls[nl++];
        l->in = cur;
        int last = (i == ntok - 1);
        if (toks[i].kind == 'c') {
            l->kind = BL_LAYER_CONV3;
            snprintf(l->name, sizeof l->name, "conv%d", ++nconv);
            l->real_input = (nconv == 1);
            l->rows = toks[i].n;
            l->cols = 9 * cur.c;
            l->words_per_tap = (uint32_t)bl_words_for_bits(cur.c);
            l->words_per_row = 9 * l->words_per_tap;
            l->out = (bl_shape){ cur.h, cur.w, toks[i].n };
            rc = alloc_weight_layer(l);
            seen_conv = 1;
        } else if (toks[i].kind == 'p') {
            l->kind = BL_LAYER_MAXPOOL2;
            snprintf(l->name, sizeof l->name, "pool%d", ++npool);
            if (cur.h < 2 || cur.w < 2) {
                rc = bl_error_set(err, BL_EINVAL, "spec '%s': pool on a %ux%u map", spec, cur.h,
                                  cur.w);
                break;
            }
            l->out = (bl_shape){ cur.h / 2, cur.w / 2, cur.c };
        } else {
            if (seen_conv && !flattened) {
                l->kind = BL_LAYER_FLATTEN;
                snprintf(l->name, sizeof l->name, "flatten");
                l->out = (bl_shape){ 1, 1, (uint32_t)bl_shape_size(cur) };
                cur = l->out;
                flattened = 1;
                l = &ls[nl++];
                l->in = cur;
            }
            l->kind = BL_LAYER_DENSE;
            snprintf(l->name, sizeof l->name, "fc%d", ++nfc);
            l->real_input = (nfc == 1 && nconv == 0);
            l->rows = toks[i].n;
            size_t cols = bl_shape_size(cur);
            if (cols > (1u << 28)) {
                rc = bl_error_set(err, BL_ERANGE, "spec '%s': layer %s has too many inputs",
                                  spec, l->name);
                break;
            }
            l->cols = (uint32_t)cols;
            l->words_per_row = (uint32_t)bl_words_for_bits(cols);
            l->out = (bl_shape){ 1, 1, toks[i].n };
            rc = alloc_weight_layer(l);
        }
        cur = l->out;
        /* BN + sign after a weight layer (after its pool when one follows). */
        int wants_bn = !last && (toks[i].kind == 'd' ||
                                 (toks[i].kind == 'c' && !(i + 1 < ntok && toks[i + 1].kind == 'p')) ||
                                 toks[i].kind == 'p');
        if (rc == 0 && wants_bn) {
            bl_layer *b = &ls[nl++];
            b->kind = BL_LAYER_THRESH;
            snprintf(b->name, sizeof b->name, "bn%d", ++nbn);
            b->in = b->out = cur;
            rc = alloc_thresh_layer(b);
        }
    }
    m->nlayers = (uint32_t)nl;
    m->nclasses = toks[ntok - 1].n;
    if (rc) {
        bl_model_free(m);
        if (err && err->code != rc)
            bl_error_set(err, rc, rc == BL_ERANGE ?
                         "spec '%s': a layer would need more than 2 GiB of weights" :
                         "spec '%s': cannot allocate the model", spec);
        return rc;
    }
    rc = bl_model_validate(m, err);
    if (rc) {
        bl_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* Zero the padding bits of every row (words past cols, bits past cin in a
 * tap), so packed and reference paths agree whatever was written there. */
static void clear_padding(bl_layer *l)
{
    for (uint32_t r = 0; r < l->rows; r++) {
        uint64_t *row = l->weights + (size_t)r * l->words_per_row;
        if (l->kind == BL_LAYER_CONV3) {
            uint32_t cin = l->in.c;
            for (int t = 0; t < 9; t++)
                for (uint32_t w = 0; w < l->words_per_tap; w++) {
                    uint32_t lo = w * 64;
                    uint64_t mask = cin >= lo + 64 ? ~0ull : ((1ull << (cin - lo)) - 1);
                    row[t * l->words_per_tap + w] &= mask;
                }
        } else {
            for (uint32_t w = 0; w < l->words_per_row; w++) {
                uint32_t lo = w * 64;
                uint64_t mask = l->cols >= lo + 64 ? ~0ull : ((1ull << (l->cols - lo)) - 1);
                row[w] &= mask;
            }
        }
    }
}

void bl_model_randomize(bl_model *m, uint64_t seed)
{
    for (uint32_t li = 0; li < m->nlayers; li++) {
        bl_layer *l = &m->layers[li];
        bl_rng_stream s = bl_rng_stream_init(seed, BL_RNG_TEST, li);
        if (l->weights) {
            size_t n = (size_t)l->rows * l->words_per_row;
            for (size_t i = 0; i < n; i++)
                l->weights[i] = bl_rng_stream_u64(&s);
            clear_padding(l);
        }
        if (l->kind == BL_LAYER_THRESH) {
            /* Thresholds near zero relative to the spread of a (about sqrt(n)
             * for random +-1 sums) keep outputs mixed; the previous weight
             * layer's fan-in sets the scale. */
            double scale = 4.0;
            for (int k = (int)li - 1; k >= 0; k--)
                if (m->layers[k].weights) {
                    double n = m->layers[k].cols;
                    scale = m->layers[k].real_input ? 60.0 * __builtin_sqrt(n) : __builtin_sqrt(n);
                    break;
                }
            for (uint32_t c = 0; c < l->out.c; c++) {
                double u = bl_rng_stream_uniform(&s) - 0.5;
                l->tau[c] = (int32_t)(u * scale);
                l->dir[c] = (bl_rng_stream_u64(&s) & 7) == 0 ? -1 : 1;
            }
        }
    }
}

int bl_model_validate(const bl_model *m, bl_error *err)
{
    if (!m || m->nlayers == 0 || !m->layers)
        return bl_error_set(err, BL_EFORMAT, "model has no layers");
    if (bl_shape_size(m->input) == 0)
        return bl_error_set(err, BL_EFORMAT, "model input shape is empty");
    if (!(m->input_scale > 0) || !isfinite(m->input_scale) || m->input_zero < 0 || m->input_zero > 255)
        return bl_error_set(err, BL_EFORMAT, "bad input encoding (scale %g, zero %d)",
                            (double)m->input_scale, m->input_zero);
    bl_shape cur = m->input;
    int seen_weights = 0;
    for (uint32_t i = 0; i < m->nlayers; i++) {
        const bl_layer *l = &m->layers[i];
        const char *nm = l->name;
        if (memchr(l->name, 0, sizeof l->name) == NULL)
            return bl_error_set(err, BL_EFORMAT, "layer %u: name not terminated", i);
        if (l->in.h != cur.h || l->in.w != cur.w || l->in.c != cur.c)
            return bl_error_set(err, BL_EFORMAT,
                                "layer %s: input %ux%ux%u does not match previous output %ux%ux%u",
                                nm, l->in.h, l->in.w, l->in.c, cur.h, cur.w, cur.c);
        if (bl_shape_size(l->out) == 0)
            return bl_error_set(err, BL_EFORMAT, "layer %s: empty output", nm);
        switch (l->kind) {
        case BL_LAYER_DENSE:
            if (l->rows != l->out.c || l->out.h != 1 || l->out.w != 1 ||
                l->cols != bl_shape_size(l->in) || l->words_per_row != bl_words_for_bits(l->cols))
                return bl_error_set(err, BL_EFORMAT, "layer %s: inconsistent dense geometry", nm);
            break;
        case BL_LAYER_CONV3:
            if (l->rows != l->out.c || l->out.h != l->in.h || l->out.w != l->in.w ||
                l->cols != 9 * l->in.c || l->words_per_tap != bl_words_for_bits(l->in.c) ||
                l->words_per_row != 9 * l->words_per_tap)
                return bl_error_set(err, BL_EFORMAT, "layer %s: inconsistent conv geometry", nm);
            break;
        case BL_LAYER_MAXPOOL2:
            if (l->in.h < 2 || l->in.w < 2 || l->out.h != l->in.h / 2 ||
                l->out.w != l->in.w / 2 || l->out.c != l->in.c)
                return bl_error_set(err, BL_EFORMAT, "layer %s: inconsistent pool geometry", nm);
            if (i == 0 || m->layers[i - 1].kind != BL_LAYER_CONV3)
                return bl_error_set(err, BL_EFORMAT, "layer %s: pool must follow a conv layer",
                                    nm);
            break;
        case BL_LAYER_THRESH:
            if (l->out.h != l->in.h || l->out.w != l->in.w || l->out.c != l->in.c || !l->tau ||
                !l->dir)
                return bl_error_set(err, BL_EFORMAT, "layer %s: inconsistent threshold layer",
                                    nm);
            for (uint32_t c = 0; c < l->out.c; c++)
                if (l->dir[c] != 1 && l->dir[c] != -1)
                    return bl_error_set(err, BL_EFORMAT,
                                        "layer %s: direction of channel %u is %d (want +1 or -1)",
                                        nm, c, l->dir[c]);
            if (i == 0 || m->layers[i - 1].kind == BL_LAYER_THRESH ||
                m->layers[i - 1].kind == BL_LAYER_FLATTEN)
                return bl_error_set(err, BL_EFORMAT,
                                    "layer %s: threshold must follow a weight or pool layer", nm);
            break;
        case BL_LAYER_FLATTEN:
            if (l->out.h != 1 || l->out.w != 1 || l->out.c != bl_shape_size(l->in))
                return bl_error_set(err, BL_EFORMAT, "layer %s: inconsistent flatten", nm);
            break;
        default:
            return bl_error_set(err, BL_EFORMAT, "layer %u: unknown kind %d", i, (int)l->kind);
        }
        if (l->kind == BL_LAYER_DENSE || l->kind == BL_LAYER_CONV3) {
            if (!l->weights || l->rows == 0)
                return bl_error_set(err, BL_EFORMAT, "layer %s: no weights", nm);
            if (l->real_input != !seen_weights)
                return bl_error_set(err, BL_EFORMAT,
                                    "layer %s: only the first weight layer takes real inputs", nm);
            if (i > 0 && !l->real_input && m->layers[i - 1].kind != BL_LAYER_THRESH &&
                m->layers[i - 1].kind != BL_LAYER_FLATTEN)
                return bl_error_set(err, BL_EFORMAT,
                                    "layer %s: binary layer must follow a threshold layer", nm);
            if (l->real_input && i != 0)
                return bl_error_set(err, BL_EFORMAT, "layer %s: real-input layer must be first",
                                    nm);
            seen_weights = 1;
            /* padding bits must be zero: they never count */
            for (uint32_t r = 0; r < l->rows; r++) {
                const uint64_t *row = l->weights + (size_t)r * l->words_per_row;
                for (uint32_t w = 0; w < l->words_per_row; w++) {
                    uint32_t cin = l->kind == BL_LAYER_CONV3 ? l->in.c : l->cols;
                    uint32_t lo = (l->kind == BL_LAYER_CONV3 ? w % l->words_per_tap : w) * 64;
                    uint64_t mask = cin >= lo + 64 ? ~0ull : ((1ull << (cin - lo)) - 1);
                    if (row[w] & ~mask)
                        return bl_error_set(err, BL_EFORMAT,
                                            "layer %s: padding bits set in row %u word %u", nm,
                                            r, w);
                }
            }
        }
        if ((l->out_scale || l->out_bias) && i != m->nlayers - 1)
            return bl_error_set(err, BL_EFORMAT, "layer %s: output affine on a hidden layer", nm);
        cur = l->out;
    }
    const bl_layer *last = &m->layers[m->nlayers - 1];
    if (last->kind != BL_LAYER_DENSE)
        return bl_error_set(err, BL_EFORMAT, "last layer %s is not dense", last->name);
    if (m->nclasses != last->rows)
        return bl_error_set(err, BL_EFORMAT, "model has %u classes but %s has %u outputs",
                            m->nclasses, last->name, last->rows);
    return 0;
}

/* ---- copying ------------------------------------------------------------ */

static void *dup_aligned(const void *src, size_t n)
{
    if (!src)
        return NULL;
    void *p = bl_alloc(n);
    if (p)
        memcpy(p, src, n);
    return p;
}

int bl_model_clone(const bl_model *m, bl_model **out, bl_error *err)
{
    *out = NULL;
    bl_model *c = calloc(1, sizeof *c);
    if (!c)
        return bl_error_set(err, BL_ENOMEM, "out of memory cloning model");
    *c = *m;
    c->layers = calloc(m->nlayers, sizeof *c->layers);
    c->meta = NULL;
    c->nmeta = 0;
    if (!c->layers) {
        free(c);
        return bl_error_set(err, BL_ENOMEM, "out of memory cloning model");
    }
    int bad = 0;
    for (uint32_t i = 0; i < m->nlayers; i++) {
        const bl_layer *s = &m->layers[i];
        bl_layer *d = &c->layers[i];
        *d = *s;
        d->weights = NULL;
        d->tau = NULL;
        d->dir = NULL;
        d->out_scale = d->out_bias = NULL;
        if (s->weights && !(d->weights = dup_aligned(s->weights, (size_t)s->rows * s->words_per_row * 8)))
            bad = 1;
        if (s->tau && !(d->tau = dup_aligned(s->tau, (size_t)s->out.c * 4)))
            bad = 1;
        if (s->dir && !(d->dir = dup_aligned(s->dir, s->out.c)))
            bad = 1;
        if (s->out_scale && !(d->out_scale = dup_aligned(s->out_scale, (size_t)s->rows * 4)))
            bad = 1;
        if (s->out_bias && !(d->out_bias = dup_aligned(s->out_bias, (size_t)s->rows * 4)))
            bad = 1;
    }
    for (uint32_t i = 0; i < m->nmeta && !bad; i++)
        if (bl_model_meta_set(c, m->meta[i].key, m->meta[i].value))
            bad = 1;
    if (bad) {
        bl_model_free(c);
        return bl_error_set(err, BL_ENOMEM, "out of memory cloning model");
    }
    *out = c;
    return 0;
}

int bl_model_copy_params(bl_model *dst, const bl_model *src, bl_error *err)
{
    if (dst->nlayers != src->nlayers)
        return bl_error_set(err, BL_EINVAL, "copy_params: models differ in layer count");
    for (uint32_t i = 0; i < src->nlayers; i++) {
        const bl_layer *s = &src->layers[i];
        bl_layer *d = &dst->layers[i];
        if (s->kind != d->kind || s->rows != d->rows || s->words_per_row != d->words_per_row ||
            s->out.c != d->out.c)
            return bl_error_set(err, BL_EINVAL, "copy_params: layer %s differs", s->name);
        if (s->weights)
            memcpy(d->weights, s->weights, (size_t)s->rows * s->words_per_row * 8);
        if (s->tau)
            memcpy(d->tau, s->tau, (size_t)s->out.c * 4);
        if (s->dir)
            memcpy(d->dir, s->dir, s->out.c);
        if ((s->out_scale != NULL) != (d->out_scale != NULL) ||
            (s->out_bias != NULL) != (d->out_bias != NULL))
            return bl_error_set(err, BL_EINVAL, "copy_params: output affine of %s differs",
                                s->name);
        if (s->out_scale)
            memcpy(d->out_scale, s->out_scale, (size_t)s->rows * 4);
        if (s->out_bias)
            memcpy(d->out_bias, s->out_bias, (size_t)s->rows * 4);
    }
    return 0;
}

void bl_model_free(bl_model *m)
{
    if (!m)
        return;
    for (uint32_t i = 0; m->layers && i < m->nlayers; i++) {
        bl_layer *l = &m->layers[i];
        bl_free(l->weights);
        bl_free(l->tau);
        bl_free(l->dir);
        bl_free(l->out_scale);
        bl_free(l->out_bias);
    }
    free(m->layers);
    for (uint32_t i = 0; i < m->nmeta; i++) {
        free(m->meta[i].key);
        free(m->meta[i].value);
    }
    free(m->meta);
    free(m);
}

/* ---- description ------------------------------------------------------- */

uint64_t bl_layer_stored_bits(const bl_layer *l)
{
    if (l->kind == BL_LAYER_DENSE || l->kind == BL_LAYER_CONV3)
        return (uint64_t)l->rows * l->cols;
    return 0;
}

uint64_t bl_model_stored_bits(const bl_model *m)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < m->nlayers; i++)
        n += bl_layer_stored_bits(&m->layers[i]);
    return n;
}

uint64_t bl_model_macs(const bl_model *m)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < m->nlayers; i++) {
        const bl_layer *l = &m->layers[i];
        if (l->kind == BL_LAYER_DENSE) {
            n += (uint64_t)l->rows * l->cols;
        } else if (l->kind == BL_LAYER_CONV3) {
            /* valid taps: each row of the 3x3 window sees min(3, h) rows ... */
            uint64_t taps = 0, H = l->in.h, W = l->in.w;
            uint64_t vh = H >= 2 ? 3 * H - 2 : 1, vw = W >= 2 ? 3 * W - 2 : 1;
            taps = vh * vw;
            n += taps * l->in.c * l->rows;
        }
    }
    return n;
}

int bl_model_find_layer(const bl_model *m, const char *name)
{
    for (uint32_t i = 0; i < m->nlayers; i++)
        if (strcmp(m->layers[i].name, name) == 0)
            return (int)i;
    return -1;
}

int bl_model_meta_set(bl_model *m, const char *key, const char *value)
{
    for (uint32_t i = 0; i < m->nmeta; i++)
        if (strcmp(m->meta[i].key, key) == 0) {
            char *v = strdup(value);
            if (!v)
                return BL_ENOMEM;
            free(m->meta[i].value);
            m->meta[i].value = v;
            return 0;
        }
    bl_meta_entry *nm = realloc(m->meta, (m->nmeta + 1) * sizeof *nm);
    if (!nm)
        return BL_ENOMEM;
    m->meta = nm;
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return BL_ENOMEM;
    }
    m->meta[m->nmeta].key = k;
    m->meta[m->nmeta].value = v;
    m->nmeta++;
    return 0;
}

const char *bl_model_meta_get(const bl_model *m, const char *key)
{
    for (uint32_t i = 0; i < m->nmeta; i++)
        if (strcmp(m->meta[i].key, key) == 0)
            return m->meta[i].value;
    return NULL;
}

uint32_t bl_model_checksum(const bl_model *m)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    uint8_t hdr[24];
    bl_wr32(hdr, m->input.h);
    bl_wr32(hdr + 4, m->input.w);
    bl_wr32(hdr + 8, m->input.c);
    bl_wr32(hdr + 12, m->nclasses);
    memcpy(hdr + 16, &m->input_scale, 4);
    bl_wr32(hdr + 20, (uint32_t)m->input_zero);
    crc = crc32(crc, hdr, sizeof hdr);
    for (uint32_t i = 0; i < m->nlayers; i++) {
        const bl_layer *l = &m->layers[i];
        uint8_t lh[8];
        bl_wr32(lh, (uint32_t)l->kind);
        bl_wr32(lh + 4, l->rows);
        crc = crc32(crc, lh, sizeof lh);
        /* word contents, byte order independent of the host */
        if (l->weights)
            for (size_t w = 0; w < (size_t)l->rows * l->words_per_row; w++) {
                uint8_t b[8];
                bl_wr64(b, l->weights[w]);
                crc = crc32(crc, b, 8);
            }
        if (l->tau)
            for (uint32_t c = 0; c < l->out.c; c++) {
                uint8_t b[5];
                bl_wr32(b, (uint32_t)l->tau[c]);
                b[4] = (uint8_t)l->dir[c];
                crc = crc32(crc, b, 5);
            }
        /* floats by their IEEE bits, little-endian, like the file format */
        for (int which = 0; which < 2; which++) {
            const float *v = which ? l->out_bias : l->out_scale;
            for (uint32_t k = 0; v && k < l->rows; k++) {
                uint32_t bits;
                uint8_t b[4];
                memcpy(&bits, &v[k], 4);
                bl_wr32(b, bits);
                crc = crc32(crc, b, 4);
            }
        }
    }
    return (uint32_t)crc;
}
