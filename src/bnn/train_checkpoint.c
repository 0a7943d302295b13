/* train_checkpoint.c - saving and resuming training.
 *
 * Checkpoint file (little-endian, saved atomically):
 *   "BLTRCKPT"  u32 version (1)  u32 0
 *   settings:   spec[128]  i32 epochs  i32 batch  f64 lr  f64 p01  f64 p10
 *               i32 flip_mode  f64 reg_lambda  f64 reg_b  i32 loss  u64 seed
 *   data:       u64 ntrain  u64 ntest  char train_name[256]  char test_name[256]
 *   progress:   i32 epochs_done  u64 step_in_epoch  u64 step  f64 epoch_loss_sum
 *               u64 epoch_correct  u64 epoch_seen  f64 epoch_seconds
 *   history:    i32 n, then n x (i32 epoch, f64 loss, train_acc, test_acc, lr, seconds)
 *   tensors:    u32 n, then per tensor (latent weights of each weight layer, then
 *               BN gamma, beta, in layer order, then alpha):
 *               u64 count, f32 values[count], adam_m[count], adam_v[count]
 *   BN stats:   u32 n, then per THRESH layer: u64 c, f32 running_mean[c], running_var[c]
 *   u32 CRC-32 (zlib) of every byte before it.
 * The RNG position is implied: shuffles are a pure function of (seed, epoch)
 * and flips of (seed, step). */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/file.h"
#include "base/mem.h"
#include "bnn/train_internal.h"

#define CK_MAGIC "BLTRCKPT"
#define CK_VERSION 1u

typedef struct {
    uint8_t *p;
    size_t n, cap;
    int oom;
} wbuf;

static void put(wbuf *b, const void *src, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}
static void put32(wbuf *b, uint32_t v)
{
    uint8_t x[4];
    bl_wr32(x, v);
    put(b, x, 4);
}
static void put64(wbuf *b, uint64_t v)
{
    uint8_t x[8];
    bl_wr64(x, v);
    put(b, x, 8);
}
static void putf64(wbuf *b, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    put64(b, v);
}
static void putf32s(wbuf *b, const float *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t v;
        memcpy(&v, &f[i], 4);
        put32(b, v);
    }
}

typedef struct {
    const uint8_t *p;
    size_t n, off;
    int bad;
} rbuf;

static const uint8_t *take(rbuf *r, size_t n)
{
    if (r->bad || n > r->n - r->off) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *q = r->p + r->off;
    r->off += n;
    return q;
}
static uint32_t get32(rbuf *r)
{
    const uint8_t *q = take(r, 4);
    return q ? bl_rd32(q) : 0;
}
static uint64_t get64(rbuf *r)
{
    const uint8_t *q = take(r, 8);
    return q ? bl_rd64(q) : 0;
}
static double getf64(rbuf *r)
{
    uint64_t v = get64(r);
    double d;
    memcpy(&d, &v, 8);
    return d;
}
static void getf32s(rbuf *r, float *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t v = get32(r);
        memcpy(&f[i], &v, 4);
    }
}

static void put_opts(wbuf *b, const bl_train_opts *o)
{
    put(b, o->spec, sizeof o->spec);
    put32(b, (uint32_t)o->epochs);
    put32(b, (uint32_t)o->batch);
    putf64(b, o->lr);
    putf64(b, o->p01);
    putf64(b, o->p10);
    put32(b, (uint32_t)o->flip_mode);
    putf64(b, o->reg_lambda);
    putf64(b, o->reg_b);
    put32(b, (uint32_t)o->loss);
    put64(b, o->seed);
}

static void get_opts(rbuf *r, bl_train_opts *o)
{
    bl_train_opts_default(o);
    const uint8_t *s = take(r, sizeof o->spec);
    if (s)
        memcpy(o->spec, s, sizeof o->spec);
    o->spec[sizeof o->spec - 1] = 0;
    o->epochs = (int32_t)get32(r);
    o->batch = (int32_t)get32(r);
    o->lr = getf64(r);
    o->p01 = getf64(r);
    o->p10 = getf64(r);
    o->flip_mode = (bl_flip_mode)get32(r);
    o->reg_lambda = getf64(r);
    o->reg_b = getf64(r);
    o->loss = (bl_loss_kind)get32(r);
    o->seed = get64(r);
}

int bl_trainer_save_checkpoint(const bl_trainer *tc, const char *path, bl_error *err)
{
    bl_trainer *t = (bl_trainer *)tc; /* tr_params_list takes a mutable trainer */
    wbuf b = { 0 };
    put(&b, CK_MAGIC, 8);
    put32(&b, CK_VERSION);
    put32(&b, 0);
    put_opts(&b, &t->o);
    put64(&b, t->ntrain);
    put64(&b, t->ntest);
    put(&b, t->data_name[0], 256);
    put(&b, t->data_name[1], 256);
    put32(&b, (uint32_t)t->epoch);
    put64(&b, t->step_in_epoch);
    put64(&b, t->step);
    putf64(&b, t->ep_loss_sum);
    put64(&b, t->ep_correct);
    put64(&b, t->ep_seen);
    putf64(&b, t->ep_seconds);
    put32(&b, (uint32_t)t->nhist);
    for (int i = 0; i < t->nhist; i++) {
        const bl_epoch_stats *h = &t->hist[i];
        put32(&b, (uint32_t)h->epoch);
        putf64(&b, h->loss);
        putf64(&b, h->train_acc);
        putf64(&b, h->test_acc);
        putf64(&b, h->lr);
        putf64(&b, h->seconds);
    }
    tr_param *ps[256];
    int np = tr_params_list(t, ps, 256);
    put32(&b, (uint32_t)np);
    for (int i = 0; i < np; i++) {
        put64(&b, ps[i]->n);
        putf32s(&b, ps[i]->w, ps[i]->n);
        putf32s(&b, ps[i]->m, ps[i]->n);
        putf32s(&b, ps[i]->v, ps[i]->n);
    }
    uint32_t nbn = 0;
    for (int i = 0; i < t->nl; i++)
        nbn += t->L[i].kind == BL_LAYER_THRESH;
    put32(&b, nbn);
    for (int i = 0; i < t->nl; i++) {
        const tr_layer *l = &t->L[i];
        if (l->kind != BL_LAYER_THRESH)
            continue;
        put64(&b, l->gamma.n);
        putf32s(&b, l->rmean, l->gamma.n);
        putf32s(&b, l->rvar, l->gamma.n);
    }
    if (!b.oom)
        put32(&b, (uint32_t)crc32(crc32(0L, Z_NULL, 0), b.p, (uInt)b.n));
    if (b.oom) {
        free(b.p);
        return bl_error_set(err, BL_ENOMEM, "%s: out of memory writing the checkpoint", path);
    }
    int rc = bl_file_write_atomic(path, b.p, b.n, err);
    free(b.p);
    return rc;
}

/* Read, check magic/version/CRC; r positioned after the header. */
static int open_ck(const char *path, uint8_t **data, rbuf *r, bl_error *err)
{
    size_t size;
    int rc = bl_file_read(path, (size_t)1 << 34, data, &size, err);
    if (rc)
        return rc;
    *r = (rbuf){ *data, size, 0, 0 };
    if (size < 20 || memcmp(*data, CK_MAGIC, 8) != 0)
        return bl_error_set(err, BL_EFORMAT, "%s: not a betlab training checkpoint", path);
    uint32_t ver = bl_rd32(*data + 8);
    if (ver != CK_VERSION)
        return bl_error_set(err, BL_EUNSUPPORTED, "%s: checkpoint version %u (this betlab reads %u)",
                            path, ver, CK_VERSION);
    uint32_t want = bl_rd32(*data + size - 4);
    uint32_t got = (uint32_t)crc32(crc32(0L, Z_NULL, 0), *data, (uInt)(size - 4));
    if (want != got)
        return bl_error_set(err, BL_ECHECKSUM, "%s: checkpoint CRC mismatch (corrupt or truncated)",
                            path);
    r->n = size - 4;
    r->off = 16;
    return 0;
}

int bl_checkpoint_peek(const char *path, bl_train_opts *opts, char (*names)[256], size_t *ntrain,
                       size_t *ntest, bl_error *err)
{
    uint8_t *data = NULL;
    rbuf r;
    int rc = open_ck(path, &data, &r, err);
    if (!rc) {
        bl_train_opts o;
        get_opts(&r, &o);
        uint64_t a = get64(&r), b = get64(&r);
        const uint8_t *n0 = take(&r, 256), *n1 = take(&r, 256);
        if (r.bad) {
            rc = bl_error_set(err, BL_EFORMAT, "%s: truncated checkpoint", path);
        } else {
            if (opts)
                *opts = o;
            if (ntrain)
                *ntrain = (size_t)a;
            if (ntest)
                *ntest = (size_t)b;
            if (names) {
                memcpy(names[0], n0, 256);
                memcpy(names[1], n1, 256);
                names[0][255] = names[1][255] = 0;
            }
        }
    }
    free(data);
    return rc;
}

int bl_trainer_load_checkpoint(const char *path, const bl_dataset *train, const bl_dataset *test,
                               int threads, bl_trainer **out, bl_error *err)
{
    *out = NULL;
    uint8_t *data = NULL;
    rbuf r;
    bl_trainer *t = NULL;
    int rc = open_ck(path, &data, &r, err);
    if (rc)
        goto done;
    bl_train_opts o;
    get_opts(&r, &o);
    if (threads > 0)
        o.threads = threads;
    uint64_t ntrain = get64(&r), ntest = get64(&r);
    const uint8_t *n0 = take(&r, 256), *n1 = take(&r, 256);
    if (r.bad) {
        rc = bl_error_set(err, BL_EFORMAT, "%s: truncated checkpoint", path);
        goto done;
    }
    if (ntrain != bl_dataset_count(train) || ntest != (test ? bl_dataset_count(test) : 0)) {
        rc = bl_error_set(err, BL_EINVAL,
                          "%s: checkpoint was made with %llu training and %llu test images, "
                          "not %zu and %zu",
                          path, (unsigned long long)ntrain, (unsigned long long)ntest,
                          bl_dataset_count(train), test ? bl_dataset_count(test) : (size_t)0);
        goto done;
    }
    if ((rc = bl_trainer_new(&o, train, test, &t, err))) {
        bl_error_prefix(err, "%s", path);
        goto done;
    }
    memcpy(t->data_name[0], n0, 256);
    memcpy(t->data_name[1], n1, 256);
    t->data_name[0][255] = t->data_name[1][255] = 0;
    t->epoch = (int32_t)get32(&r);
    t->step_in_epoch = (size_t)get64(&r);
    t->step = (size_t)get64(&r);
    t->ep_loss_sum = getf64(&r);
    t->ep_correct = (size_t)get64(&r);
    t->ep_seen = (size_t)get64(&r);
    t->ep_seconds = getf64(&r);
    uint32_t nh = get32(&r);
    if (r.bad || nh > 100000 || t->epoch < 0 || t->epoch > o.epochs || (int)nh != t->epoch) {
        rc = bl_error_set(err, BL_EFORMAT, "%s: bad progress record", path);
        goto done;
    }
    t->hist = calloc(nh ? nh : 1, sizeof *t->hist);
    if (!t->hist) {
        rc = bl_error_set(err, BL_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    t->nhist = (int)nh;
    for (uint32_t i = 0; i < nh; i++) {
        bl_epoch_stats *h = &t->hist[i];
        h->epoch = (int32_t)get32(&r);
        h->loss = getf64(&r);
        h->train_acc = getf64(&r);
        h->test_acc = getf64(&r);
        h->lr = getf64(&r);
        h->seconds = getf64(&r);
    }
    tr_param *ps[256];
    int np = tr_params_list(t, ps, 256);
    if (get32(&r) != (uint32_t)np) {
        rc = bl_error_set(err, BL_EFORMAT, "%s: tensor count does not match '%s'", path, o.spec);
        goto done;
    }
    for (int i = 0; i < np && !r.bad; i++) {
        if (get64(&r) != ps[i]->n) {
            rc = bl_error_set(err, BL_EFORMAT, "%s: tensor %d size does not match '%s'", path, i,
                              o.spec);
            goto done;
        }
        if (r.n - r.off < ps[i]->n * 12) {
            r.bad = 1;
            break;
        }
        getf32s(&r, ps[i]->w, ps[i]->n);
        getf32s(&r, ps[i]->m, ps[i]->n);
        getf32s(&r, ps[i]->v, ps[i]->n);
    }
    uint32_t nbn = get32(&r);
    uint32_t want_bn = 0;
    for (int i = 0; i < t->nl; i++)
        want_bn += t->L[i].kind == BL_LAYER_THRESH;
    if (!r.bad && nbn != want_bn) {
        rc = bl_error_set(err, BL_EFORMAT, "%s: batch-norm count does not match", path);
        goto done;
    }
    for (int i = 0; i < t->nl && !r.bad; i++) {
        tr_layer *l = &t->L[i];
        if (l->kind != BL_LAYER_THRESH)
            continue;
        if (get64(&r) != l->gamma.n || r.n - r.off < l->gamma.n * 8) {
            r.bad = 1;
            break;
        }
        getf32s(&r, l->rmean, l->gamma.n);
        getf32s(&r, l->rvar, l->gamma.n);
    }
    if (r.bad || r.off != r.n) {
        rc = bl_error_set(err, BL_EFORMAT, "%s: malformed checkpoint at byte %zu", path, r.off);
        goto done;
    }
    size_t spe = t->ntrain >= (size_t)o.batch ? t->ntrain / (size_t)o.batch : 1;
    if (t->step_in_epoch >= spe) {
        rc = bl_error_set(err, BL_EFORMAT, "%s: bad minibatch position", path);
        goto done;
    }
    t->wb_clean = 0;
    *out = t;
    t = NULL;
done:
    bl_trainer_free(t);
    free(data);
    return rc;
}
