/* model_file.c - the .bnn model file: serialise, parse, load, save.
 *
 * Layout (all little-endian; the full description is betlab-format(5)):
 *
 *   file header, 24 bytes
 *     0  u8[8] magic "BETLAB\0\0"
 *     8  u16   major version (1)
 *    10  u16   minor version (0)
 *    12  u32   number of sections
 *    16  u32   reserved, 0
 *    20  u32   CRC32 of bytes 0..19
 *   then each section: a 24-byte header
 *     0  u8[4] tag ("ARCH", "WGHT", "THRS", "OAFF", "META")
 *     4  u32   flags (bit 0: a reader that does not know the tag may skip it)
 *     8  u64   payload length
 *    16  u32   CRC32 of the payload
 *    20  u32   CRC32 of bytes 0..19 of this section header
 *   followed by the payload and zero bytes up to a multiple of 8.
 *
 * The parser checks everything (bounds, CRCs, geometry, sizes implied by the
 * architecture) before it allocates anything sized by the file, then runs
 * bl_model_validate() on the result. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/file.h"
#include "base/mem.h"
#include "base/text.h"
#include "bnn/model.h"

#define MAGIC "BETLAB\0\0"
#define FMT_MAJOR 1
#define FMT_MINOR 0
#define FILE_HDR 24
#define SEC_HDR 24
#define ARCH_HDR 32
#define LAYER_REC 80
#define OAFF_HDR 16

#define SEC_MAY_SKIP 1u

#define MAX_FILE_SIZE ((size_t)1 << 30) /* bl_model_load refuses larger files */
#define MAX_LAYERS 4096u
#define MAX_SECTIONS 1024u
#define MAX_ELEMS ((size_t)1 << 28)     /* elements of one layer's output     */
#define MAX_META 65536u

enum { TAG_ARCH, TAG_WGHT, TAG_THRS, TAG_OAFF, TAG_META, NTAGS };
static const char tag_names[NTAGS][5] = { "ARCH", "WGHT", "THRS", "OAFF", "META" };

static uint32_t crc(const uint8_t *p, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    /* zlib takes uInt lengths: feed large buffers in pieces */
    while (n > 0) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

static size_t pad8(size_t n) { return (8 - (n & 7)) & 7; }

/* ---- serialising ----------------------------------------------------- */

typedef struct {
    uint8_t *p;
    size_t n, cap;
} wbuf;

static uint8_t *wb_grow(wbuf *b, size_t k)
{
    if (b->n + k > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + k)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q)
            return NULL;
        b->p = q;
        b->cap = cap;
    }
    uint8_t *r = b->p + b->n;
    memset(r, 0, k);
    b->n += k;
    return r;
}

static int wb_u32(wbuf *b, uint32_t v)
{
    uint8_t *p = wb_grow(b, 4);
    if (!p)
        return -1;
    bl_wr32(p, v);
    return 0;
}

static int wb_bytes(wbuf *b, const void *src, size_t n)
{
    uint8_t *p = wb_grow(b, n);
    if (!p)
        return -1;
    if (n)
        memcpy(p, src, n);
    return 0;
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Start a section: writes a header to be completed by sec_end. */
static int sec_begin(wbuf *b, int tag, uint32_t flags, size_t *start)
{
    *start = b->n;
    uint8_t *h = wb_grow(b, SEC_HDR);
    if (!h)
        return -1;
    memcpy(h, tag_names[tag], 4);
    bl_wr32(h + 4, flags);
    return 0;
}

static int sec_end(wbuf *b, size_t start)
{
    size_t len = b->n - start - SEC_HDR;
    uint8_t *h = b->p + start;
    bl_wr64(h + 8, (uint64_t)len);
    bl_wr32(h + 16, crc(h + SEC_HDR, len));
    bl_wr32(h + 20, crc(h, 20));
    return wb_grow(b, pad8(len)) ? 0 : -1;
}

/* Metadata the loader would reject (it requires non-empty keys and UTF-8
 * without NUL, see the META checks in bl_model_parse) is refused here,
 * naming the entry, so that no save leaves a model betlab cannot load. */
static int check_meta(const bl_model *m, bl_error *err)
{
    for (uint32_t i = 0; i < m->nmeta; i++) {
        const char *k = m->meta[i].key, *v = m->meta[i].value;
        char shown[96];
        bl_text_terminal_buf(k, shown, sizeof shown);
        if (!k[0])
            return bl_error_set(err, BL_EINVAL, "metadata entry %u has an empty key", i);
        size_t kl = strlen(k), at = bl_text_utf8_error_at(k, kl);
        if (at < kl)
            return bl_error_set(err, BL_EINVAL, "metadata key '%s' is not valid UTF-8 (byte %zu "
                                "is 0x%02x); metadata is stored as UTF-8", shown, at,
                                (unsigned)(uint8_t)k[at]);
        size_t vl = strlen(v);
        at = bl_text_utf8_error_at(v, vl);
        if (at < vl)
            return bl_error_set(err, BL_EINVAL, "metadata '%s' is not valid UTF-8 (byte %zu is "
                                "0x%02x); metadata is stored as UTF-8", shown, at,
                                (unsigned)(uint8_t)v[at]);
    }
    return 0;
}

int bl_model_serialize(const bl_model *m, uint8_t **buf, size_t *size, bl_error *err)
{
    *buf = NULL;
    *size = 0;
    int rc = bl_model_validate(m, err);
    if (!rc)
        rc = check_meta(m, err);
    if (rc)
        return bl_error_prefix(err, "cannot save model");
    const bl_layer *last = &m->layers[m->nlayers - 1];
    int has_oaff = last->out_scale || last->out_bias;
    uint32_t nsec = 3 + (has_oaff ? 1 : 0) + (m->nmeta ? 1 : 0);

    wbuf b = { 0 };
    size_t s;
    uint8_t *h = wb_grow(&b, FILE_HDR);
    if (!h)
        goto oom;
    memcpy(h, MAGIC, 8);
    bl_wr16(h + 8, FMT_MAJOR);
    bl_wr16(h + 10, FMT_MINOR);
    bl_wr32(h + 12, nsec);
    bl_wr32(h + 16, 0);
    bl_wr32(h + 20, crc(h, 20));

    /* ARCH */
    if (sec_begin(&b, TAG_ARCH, 0, &s))
        goto oom;
    uint8_t *a = wb_grow(&b, ARCH_HDR);
    if (!a)
        goto oom;
    bl_wr32(a, m->input.h);
    bl_wr32(a + 4, m->input.w);
    bl_wr32(a + 8, m->input.c);
    bl_wr32(a + 12, m->nclasses);
    bl_wr32(a + 16, f32_bits(m->input_scale));
    bl_wr32(a + 20, (uint32_t)m->input_zero);
    bl_wr32(a + 24, m->nlayers);
    bl_wr32(a + 28, 0);
    for (uint32_t i = 0; i < m->nlayers; i++) {
        const bl_layer *l = &m->layers[i];
        uint8_t *r = wb_grow(&b, LAYER_REC);
        if (!r)
            goto oom;
        bl_wr32(r, (uint32_t)l->kind);
        /* name NUL-padded: bytes after the terminator are zero */
        memcpy(r + 4, l->name, strnlen(l->name, BL_NAME_MAX - 1));
        uint32_t v[11] = { l->in.h, l->in.w, l->in.c, l->out.h, l->out.w, l->out.c,
                           (uint32_t)(l->real_input ? 1 : 0), l->rows, l->cols,
                           l->words_per_tap, l->words_per_row };
        if (!l->weights)
            v[6] = v[7] = v[8] = v[9] = v[10] = 0;
        for (int k = 0; k < 11; k++)
            bl_wr32(r + 36 + 4 * k, v[k]);
    }
    if (sec_end(&b, s))
        goto oom;

    /* WGHT */
    if (sec_begin(&b, TAG_WGHT, 0, &s))
        goto oom;
    for (uint32_t i = 0; i < m->nlayers; i++) {
        const bl_layer *l = &m->layers[i];
        if (!l->weights)
            continue;
        size_t nw = (size_t)l->rows * l->words_per_row;
        uint8_t *w = wb_grow(&b, nw * 8);
        if (!w)
            goto oom;
        for (size_t k = 0; k < nw; k++)
            bl_wr64(w + 8 * k, l->weights[k]);
    }
    if (sec_end(&b, s))
        goto oom;

    /* THRS */
    if (sec_begin(&b, TAG_THRS, 0, &s))
        goto oom;
    for (uint32_t i = 0; i < m->nlayers; i++) {
        const bl_layer *l = &m->layers[i];
        if (l->kind != BL_LAYER_THRESH)
            continue;
        uint8_t *t = wb_grow(&b, (size_t)l->out.c * 5);
        if (!t)
            goto oom;
        for (uint32_t c = 0; c < l->out.c; c++)
            bl_wr32(t + 4 * c, (uint32_t)l->tau[c]);
        for (uint32_t c = 0; c < l->out.c; c++)
            t[(size_t)4 * l->out.c + c] = (uint8_t)l->dir[c];
    }
    if (sec_end(&b, s))
        goto oom;

    /* OAFF */
    if (has_oaff) {
        if (sec_begin(&b, TAG_OAFF, 0, &s))
            goto oom;
        uint8_t *o = wb_grow(&b, OAFF_HDR);
        if (!o)
            goto oom;
        bl_wr32(o, m->nlayers - 1);
        bl_wr32(o + 4, (last->out_scale ? 1u : 0u) | (last->out_bias ? 2u : 0u));
        bl_wr32(o + 8, last->rows);
        bl_wr32(o + 12, 0);
        const float *arrs[2] = { last->out_scale, last->out_bias };
        for (int k = 0; k < 2; k++) {
            if (!arrs[k])
                continue;
            uint8_t *f = wb_grow(&b, (size_t)last->rows * 4);
            if (!f)
                goto oom;
            for (uint32_t c = 0; c < last->rows; c++)
                bl_wr32(f + 4 * c, f32_bits(arrs[k][c]));
        }
        if (sec_end(&b, s))
            goto oom;
    }

    /* META */
    if (m->nmeta) {
        if (sec_begin(&b, TAG_META, SEC_MAY_SKIP, &s))
            goto oom;
        if (wb_u32(&b, m->nmeta))
            goto oom;
        for (uint32_t i = 0; i < m->nmeta; i++) {
            size_t kl = strlen(m->meta[i].key), vl = strlen(m->meta[i].value);
            if (kl > UINT32_MAX || vl > UINT32_MAX) {
                free(b.p);
                return bl_error_set(err, BL_ERANGE, "cannot save model: metadata too long");
            }
            if (wb_u32(&b, (uint32_t)kl) || wb_bytes(&b, m->meta[i].key, kl) ||
                wb_u32(&b, (uint32_t)vl) || wb_bytes(&b, m->meta[i].value, vl))
                goto oom;
        }
        if (sec_end(&b, s))
            goto oom;
    }
    *buf = b.p;
    *size = b.n;
    return 0;
oom:
    free(b.p);
    return bl_error_set(err, BL_ENOMEM, "cannot save model: out of memory");
}

static int reload_check(const char *tmp, void *ctx, bl_error *err)
{
    (void)ctx;
    bl_model *back = NULL;
    int rc = bl_model_load(tmp, &back, err);
    bl_model_free(back);
    return rc;
}

int bl_model_save(const bl_model *m, const char *path, bl_error *err)
{
    uint8_t *buf;
    size_t n;
    int rc = bl_model_serialize(m, &buf, &n, err);
    if (rc) {
        bl_error_prefix(err, "%s", path);
        return rc;
    }
    /* the bytes must load before they are written anywhere ("-", a
     * device), and the written file must load before it replaces the old
     * one (reload_check) */
    bl_model *back = NULL;
    rc = bl_model_parse(buf, n, path, &back, err);
    bl_model_free(back);
    if (rc) {
        free(buf);
        return bl_error_prefix(err, "%s: not saved, it would not load again", path);
    }
    rc = bl_file_write_checked(path, buf, n, reload_check, NULL, err);
    free(buf);
    return rc;
}

/* ---- parsing ------------------------------------------------------------ */

typedef struct {
    int present;
    size_t hdr;   /* byte offset of the section header */
    size_t off;   /* byte offset of the payload        */
    size_t len;   /* payload length                    */
} sec_ref;

static void tag_text(const uint8_t *t, char out[20])
{
    int printable = 1;
    for (int i = 0; i < 4; i++)
        if (t[i] < 0x20 || t[i] > 0x7e)
            printable = 0;
    if (printable)
        snprintf(out, 20, "%c%c%c%c", t[0], t[1], t[2], t[3]);
    else
        snprintf(out, 20, "0x%02x%02x%02x%02x", t[0], t[1], t[2], t[3]);
}

static int valid_utf8(const uint8_t *s, size_t n) { return bl_text_valid_utf8(s, n); }

/* Layer record as read from ARCH, before anything is trusted. */
typedef struct {
    uint32_t kind;
    char name[BL_NAME_MAX];
    bl_shape in, out;
    uint32_t real_input, rows, cols, wpt, wpr;
} layer_rec;

static int shape_elems(bl_shape s, size_t *n)
{
    size_t a;
    if (s.h == 0 || s.w == 0 || s.c == 0)
        return -1;
    if (!bl_size_mul(s.h, s.w, &a) || !bl_size_mul(a, s.c, &a) || a > MAX_ELEMS)
        return -1;
    *n = a;
    return 0;
}

static int same_shape(bl_shape a, bl_shape b) { return a.h == b.h && a.w == b.w && a.c == b.c; }

/* Check one layer record against the geometry its shapes imply.  Returns 0
 * or fills err (message without the file prefix). */
static int check_layer(const layer_rec *r, uint32_t i, bl_shape cur, int first_weight,
                       size_t rec_off, bl_error *err)
{
    size_t nin, nout;
    const char *nm = r->name;
    if (!same_shape(r->in, cur))
        return bl_error_set(err, BL_EFORMAT,
                            "layer %u (%s) at byte %zu: input %ux%ux%u does not match the "
                            "previous output %ux%ux%u",
                            i, nm, rec_off, r->in.h, r->in.w, r->in.c, cur.h, cur.w, cur.c);
    if (shape_elems(r->in, &nin) || shape_elems(r->out, &nout))
        return bl_error_set(err, BL_EFORMAT,
                            "layer %u (%s) at byte %zu: shape %ux%ux%u -> %ux%ux%u is empty or "
                            "larger than %zu elements",
                            i, nm, rec_off, r->in.h, r->in.w, r->in.c, r->out.h, r->out.w,
                            r->out.c, MAX_ELEMS);
    int is_w = r->kind == BL_LAYER_DENSE || r->kind == BL_LAYER_CONV3;
    if (!is_w && (r->real_input || r->rows || r->cols || r->wpt || r->wpr))
        return bl_error_set(err, BL_EFORMAT,
                            "layer %u (%s) at byte %zu: %s layer has weight geometry fields set",
                            i, nm, rec_off, bl_layer_kind_name((bl_layer_kind)r->kind));
    bl_shape want;
    uint32_t cols = 0, wpt = 0, wpr = 0;
    switch (r->kind) {
    case BL_LAYER_DENSE:
        want = (bl_shape){ 1, 1, r->rows };
        cols = (uint32_t)nin;
        wpr = (uint32_t)bl_words_for_bits(nin);
        break;
    case BL_LAYER_CONV3:
        if (r->in.c > MAX_ELEMS / 9)
            return bl_error_set(err, BL_EFORMAT, "layer %u (%s) at byte %zu: too many channels",
                                i, nm, rec_off);
        want = (bl_shape){ r->in.h, r->in.w, r->rows };
        cols = 9 * r->in.c;
        wpt = (uint32_t)bl_words_for_bits(r->in.c);
        wpr = 9 * wpt;
        break;
    case BL_LAYER_MAXPOOL2:
        if (r->in.h < 2 || r->in.w < 2)
            return bl_error_set(err, BL_EFORMAT,
                                "layer %u (%s) at byte %zu: max-pool on a %ux%u map", i, nm,
                                rec_off, r->in.h, r->in.w);
        want = (bl_shape){ r->in.h / 2, r->in.w / 2, r->in.c };
        break;
    case BL_LAYER_THRESH:
        want = r->in;
        break;
    case BL_LAYER_FLATTEN:
        want = (bl_shape){ 1, 1, (uint32_t)nin };
        break;
    default:
        return bl_error_set(err, BL_EFORMAT, "layer %u at byte %zu: unknown layer kind %u", i,
                            rec_off, r->kind);
    }
    if (!same_shape(r->out, want))
        return bl_error_set(err, BL_EFORMAT,
                            "layer %u (%s) at byte %zu: output %ux%ux%u, but a %s layer on "
                            "%ux%ux%u gives %ux%ux%u",
                            i, nm, rec_off, r->out.h, r->out.w, r->out.c,
                            bl_layer_kind_name((bl_layer_kind)r->kind), r->in.h, r->in.w,
                            r->in.c, want.h, want.w, want.c);
    if (is_w) {
        if (r->rows == 0 || r->cols != cols || r->wpt != wpt || r->wpr != wpr)
            return bl_error_set(err, BL_EFORMAT,
                                "layer %u (%s) at byte %zu: stored geometry rows %u cols %u "
                                "words/tap %u words/row %u, expected rows %u cols %u words/tap "
                                "%u words/row %u",
                                i, nm, rec_off, r->rows, r->cols, r->wpt, r->wpr, r->out.c, cols,
                                wpt, wpr);
        if (r->real_input != (uint32_t)first_weight)
            return bl_error_set(err, BL_EFORMAT,
                                "layer %u (%s) at byte %zu: real_input is %u, expected %d", i, nm,
                                rec_off, r->real_input, first_weight);
    }
    return 0;
}

#define FAIL(code, ...)                                                     \
    do {                                                                    \
        rc = bl_error_set(err, code, __VA_ARGS__);                          \
        goto fail;                                                          \
    } while (0)

int bl_model_parse(const uint8_t *buf, size_t size, const char *what, bl_model **out,
                   bl_error *err)
{
    *out = NULL;
    if (!what)
        what = "model";
    int rc = 0;
    bl_model *m = NULL;
    layer_rec *recs = NULL;

    /* -- file header -- */
    if (size < FILE_HDR)
        FAIL(BL_EFORMAT, "%s: truncated: %zu bytes, a model file has at least %d", what, size,
             FILE_HDR);
    if (memcmp(buf, MAGIC, 8) != 0)
        FAIL(BL_EFORMAT, "%s: not a betlab model file (bad magic at byte 0)", what);
    uint32_t hstored = bl_rd32(buf + 20), hcomp = crc(buf, 20);
    if (hstored != hcomp)
        FAIL(BL_ECHECKSUM,
             "%s: file header at byte 0: CRC mismatch (stored 0x%08x, computed 0x%08x)", what,
             hstored, hcomp);
    uint16_t major = bl_rd16(buf + 8), minor = bl_rd16(buf + 10);
    if (major != FMT_MAJOR)
        FAIL(BL_EUNSUPPORTED,
             "%s: format version %u.%u is not supported (this betlab reads version %d.x, up to "
             "%d.%d)",
             what, major, minor, FMT_MAJOR, FMT_MAJOR, FMT_MINOR);
    uint32_t nsec = bl_rd32(buf + 12);
    if (bl_rd32(buf + 16) != 0)
        FAIL(BL_EFORMAT, "%s: reserved header field at byte 16 is 0x%08x, must be 0", what,
             bl_rd32(buf + 16));
    if (nsec > MAX_SECTIONS || nsec > (size - FILE_HDR) / SEC_HDR)
        FAIL(BL_EFORMAT, "%s: header at byte 12 claims %u sections, more than a %zu-byte file "
             "can hold",
             what, nsec, size);

    /* -- section table: bounds and CRCs of everything -- */
    sec_ref secs[NTAGS];
    memset(secs, 0, sizeof secs);
    size_t pos = FILE_HDR;
    for (uint32_t si = 0; si < nsec; si++) {
        if (size - pos < SEC_HDR)
            FAIL(BL_EFORMAT, "%s: truncated: section %u header at byte %zu needs %d bytes, %zu "
                 "left",
                 what, si, pos, SEC_HDR, size - pos);
        const uint8_t *h = buf + pos;
        char tname[20];
        tag_text(h, tname);
        uint32_t sh_stored = bl_rd32(h + 20), sh_comp = crc(h, 20);
        if (sh_stored != sh_comp)
            FAIL(BL_ECHECKSUM,
                 "%s: section %u (%s) header at byte %zu: CRC mismatch (stored 0x%08x, computed "
                 "0x%08x)",
                 what, si, tname, pos, sh_stored, sh_comp);
        uint32_t flags = bl_rd32(h + 4);
        uint64_t len64 = bl_rd64(h + 8);
        size_t off = pos + SEC_HDR;
        if (len64 > size - off)
            FAIL(BL_EFORMAT, "%s: truncated: section %s at byte %zu has a %llu-byte payload, only "
                 "%zu bytes left",
                 what, tname, pos, (unsigned long long)len64, size - off);
        size_t len = (size_t)len64;
        size_t padded = len + pad8(len);
        if (padded > size - off)
            FAIL(BL_EFORMAT, "%s: truncated: section %s at byte %zu lacks its %zu padding bytes",
                 what, tname, pos, pad8(len));
        if (flags & ~SEC_MAY_SKIP)
            FAIL(BL_EFORMAT, "%s: section %s at byte %zu: unknown flag bits 0x%08x", what, tname,
                 pos, flags & ~SEC_MAY_SKIP);
        uint32_t pstored = bl_rd32(h + 16), pcomp = crc(buf + off, len);
        if (pstored != pcomp)
            FAIL(BL_ECHECKSUM,
                 "%s: section %s at byte %zu: CRC mismatch (stored 0x%08x, computed 0x%08x)",
                 what, tname, pos, pstored, pcomp);
        for (size_t k = off + len; k < off + padded; k++)
            if (buf[k] != 0)
                FAIL(BL_EFORMAT, "%s: section %s at byte %zu: nonzero padding byte at byte %zu",
                     what, tname, pos, k);
        int t;
        for (t = 0; t < NTAGS; t++)
            if (memcmp(h, tag_names[t], 4) == 0)
                break;
        if (t == NTAGS) {
            if (!(flags & SEC_MAY_SKIP))
                FAIL(BL_EUNSUPPORTED,
                     "%s: section %s at byte %zu is required but unknown to this betlab (format "
                     "%u.%u file, reader %d.%d)",
                     what, tname, pos, major, minor, FMT_MAJOR, FMT_MINOR);
        } else {
            if (secs[t].present)
                FAIL(BL_EFORMAT, "%s: section %s at byte %zu: duplicate (first at byte %zu)",
                     what, tname, pos, secs[t].hdr);
            secs[t] = (sec_ref){ 1, pos, off, len };
        }
        pos = off + padded;
    }
    if (pos != size)
        FAIL(BL_EFORMAT, "%s: %zu unexpected bytes after the last section at byte %zu", what,
             size - pos, pos);
    for (int t = 0; t <= TAG_THRS; t++)
        if (!secs[t].present)
            FAIL(BL_EFORMAT, "%s: required section %s is missing", what, tag_names[t]);

    /* -- ARCH -- */
    const sec_ref *A = &secs[TAG_ARCH];
    const uint8_t *a = buf + A->off;
    if (A->len < ARCH_HDR)
        FAIL(BL_EFORMAT, "%s: section ARCH at byte %zu: payload of %zu bytes, need at least %d",
             what, A->hdr, A->len, ARCH_HDR);
    bl_shape input = { bl_rd32(a), bl_rd32(a + 4), bl_rd32(a + 8) };
    uint32_t nclasses = bl_rd32(a + 12);
    float input_scale = bits_f32(bl_rd32(a + 16));
    int32_t input_zero = (int32_t)bl_rd32(a + 20);
    uint32_t nlayers = bl_rd32(a + 24);
    size_t tmp;
    if (bl_rd32(a + 28) != 0)
        FAIL(BL_EFORMAT, "%s: section ARCH: reserved field at byte %zu is not 0", what,
             A->off + 28);
    if (shape_elems(input, &tmp))
        FAIL(BL_EFORMAT, "%s: section ARCH: input shape %ux%ux%u at byte %zu is empty or too "
             "large",
             what, input.h, input.w, input.c, A->off);
    if (!isfinite(input_scale) || !(input_scale > 0) || input_zero < 0 || input_zero > 255)
        FAIL(BL_EFORMAT, "%s: section ARCH: bad input encoding at byte %zu (scale %g, zero %d)",
             what, A->off + 16, (double)input_scale, input_zero);
    if (nlayers == 0 || nlayers > MAX_LAYERS)
        FAIL(BL_EFORMAT, "%s: section ARCH: layer count at byte %zu is %u (must be 1..%u)", what,
             A->off + 24, nlayers, MAX_LAYERS);
    if (A->len != ARCH_HDR + (size_t)nlayers * LAYER_REC)
        FAIL(BL_EFORMAT, "%s: section ARCH at byte %zu: %zu-byte payload, %u layers need %zu",
             what, A->hdr, A->len, nlayers, ARCH_HDR + (size_t)nlayers * LAYER_REC);
    recs = calloc(nlayers, sizeof *recs); /* bounded: nlayers <= MAX_LAYERS */
    if (!recs)
        FAIL(BL_ENOMEM, "%s: out of memory", what);
    bl_shape cur = input;
    int seen_weight = 0;
    size_t wbytes = 0, tbytes = 0;
    for (uint32_t i = 0; i < nlayers; i++) {
        size_t ro = A->off + ARCH_HDR + (size_t)i * LAYER_REC;
        const uint8_t *r = buf + ro;
        layer_rec *L = &recs[i];
        L->kind = bl_rd32(r);
        const uint8_t *nm = r + 4;
        const uint8_t *nul = memchr(nm, 0, BL_NAME_MAX);
        if (!nul)
            FAIL(BL_EFORMAT, "%s: section ARCH: layer %u name at byte %zu is not NUL-terminated",
                 what, i, ro + 4);
        if (nul == nm)
            FAIL(BL_EFORMAT, "%s: section ARCH: layer %u name at byte %zu is empty", what, i,
                 ro + 4);
        for (const uint8_t *q = nm; q < nm + BL_NAME_MAX; q++) {
            if (q < nul && (*q <= 0x20 || *q >= 0x7f))
                FAIL(BL_EFORMAT,
                     "%s: section ARCH: layer %u name at byte %zu has a non-printable or space "
                     "character at byte %zu",
                     what, i, ro + 4, (size_t)(q - buf));
            if (q > nul && *q != 0)
                FAIL(BL_EFORMAT,
                     "%s: section ARCH: layer %u name at byte %zu: nonzero byte after the "
                     "terminator at byte %zu",
                     what, i, ro + 4, (size_t)(q - buf));
        }
        memcpy(L->name, nm, BL_NAME_MAX);
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(recs[j].name, L->name) == 0)
                FAIL(BL_EFORMAT, "%s: section ARCH: layer %u at byte %zu: duplicate name '%s'",
                     what, i, ro, L->name);
        const uint8_t *g = r + 36;
        L->in = (bl_shape){ bl_rd32(g), bl_rd32(g + 4), bl_rd32(g + 8) };
        L->out = (bl_shape){ bl_rd32(g + 12), bl_rd32(g + 16), bl_rd32(g + 20) };
        L->real_input = bl_rd32(g + 24);
        L->rows = bl_rd32(g + 28);
        L->cols = bl_rd32(g + 32);
        L->wpt = bl_rd32(g + 36);
        L->wpr = bl_rd32(g + 40);
        int is_w = L->kind == BL_LAYER_DENSE || L->kind == BL_LAYER_CONV3;
        rc = check_layer(L, i, cur, is_w && !seen_weight, ro, err);
        if (rc) {
            bl_error_prefix(err, "%s: section ARCH", what);
            goto fail;
        }
        if (is_w) {
            seen_weight = 1;
            size_t lw;
            if (!bl_size_mul(L->rows, L->wpr, &lw) || !bl_size_mul(lw, 8, &lw) ||
                !bl_size_add(wbytes, lw, &wbytes))
                FAIL(BL_EFORMAT, "%s: section ARCH: layer %u (%s): weight size overflows", what,
                     i, L->name);
        }
        if (L->kind == BL_LAYER_THRESH &&
            (!bl_size_mul(L->out.c, 5, &tmp) || !bl_size_add(tbytes, tmp, &tbytes)))
            FAIL(BL_EFORMAT, "%s: section ARCH: layer %u (%s): threshold size overflows", what, i,
                 L->name);
        cur = L->out;
    }
    if (recs[nlayers - 1].kind != BL_LAYER_DENSE)
        FAIL(BL_EFORMAT, "%s: section ARCH: last layer %s is not dense", what,
             recs[nlayers - 1].name);
    if (nclasses != recs[nlayers - 1].rows)
        FAIL(BL_EFORMAT, "%s: section ARCH: byte %zu: %u classes, but the last layer %s has %u "
             "outputs",
             what, A->off + 12, nclasses, recs[nlayers - 1].name, recs[nlayers - 1].rows);

    /* -- sizes of the other sections, before allocating anything -- */
    if (secs[TAG_WGHT].len != wbytes)
        FAIL(BL_EFORMAT, "%s: section WGHT at byte %zu: %zu-byte payload, the architecture "
             "needs %zu",
             what, secs[TAG_WGHT].hdr, secs[TAG_WGHT].len, wbytes);
    if (secs[TAG_THRS].len != tbytes)
        FAIL(BL_EFORMAT, "%s: section THRS at byte %zu: %zu-byte payload, the architecture "
             "needs %zu",
             what, secs[TAG_THRS].hdr, secs[TAG_THRS].len, tbytes);
    uint32_t oaff_flags = 0;
    const sec_ref *O = &secs[TAG_OAFF];
    if (O->present) {
        const uint8_t *o = buf + O->off;
        if (O->len < OAFF_HDR)
            FAIL(BL_EFORMAT, "%s: section OAFF at byte %zu: payload of %zu bytes, need at least "
                 "%d",
                 what, O->hdr, O->len, OAFF_HDR);
        uint32_t li = bl_rd32(o), cnt = bl_rd32(o + 8);
        oaff_flags = bl_rd32(o + 4);
        if (li != nlayers - 1)
            FAIL(BL_EFORMAT, "%s: section OAFF: byte %zu: layer index %u, the output layer is "
                 "%u",
                 what, O->off, li, nlayers - 1);
        if (oaff_flags == 0 || (oaff_flags & ~3u) || bl_rd32(o + 12) != 0)
            FAIL(BL_EFORMAT, "%s: section OAFF: bad flags 0x%08x at byte %zu", what, oaff_flags,
                 O->off + 4);
        if (cnt != recs[nlayers - 1].rows)
            FAIL(BL_EFORMAT, "%s: section OAFF: byte %zu: %u entries, the output layer has %u",
                 what, O->off + 8, cnt, recs[nlayers - 1].rows);
        size_t want = OAFF_HDR + (size_t)cnt * 4 * ((oaff_flags & 1) + ((oaff_flags >> 1) & 1));
        if (O->len != want)
            FAIL(BL_EFORMAT, "%s: section OAFF at byte %zu: %zu-byte payload, need %zu", what,
                 O->hdr, O->len, want);
        for (size_t k = 0; k < (O->len - OAFF_HDR) / 4; k++) {
            float f = bits_f32(bl_rd32(o + OAFF_HDR + 4 * k));
            if (!isfinite(f))
                FAIL(BL_EFORMAT, "%s: section OAFF: value at byte %zu is not finite", what,
                     O->off + OAFF_HDR + 4 * k);
        }
    }
    const sec_ref *M = &secs[TAG_META];
    uint32_t nmeta = 0;
    if (M->present) {
        /* walk the entries to check them before copying any */
        const uint8_t *p = buf + M->off, *end = p + M->len;
        if (M->len < 4)
            FAIL(BL_EFORMAT, "%s: section META at byte %zu: payload too short", what, M->hdr);
        nmeta = bl_rd32(p);
        p += 4;
        if (nmeta > MAX_META || nmeta > (M->len - 4) / 8)
            FAIL(BL_EFORMAT, "%s: section META: byte %zu: %u entries cannot fit in %zu bytes",
                 what, M->off, nmeta, M->len);
        for (uint32_t e = 0; e < nmeta; e++) {
            for (int kv = 0; kv < 2; kv++) {
                size_t at = (size_t)(p - buf);
                if (end - p < 4)
                    FAIL(BL_EFORMAT, "%s: section META: entry %u truncated at byte %zu", what, e,
                         at);
                uint32_t n = bl_rd32(p);
                p += 4;
                if ((size_t)(end - p) < n)
                    FAIL(BL_EFORMAT, "%s: section META: entry %u %s at byte %zu: length %u "
                         "overruns the section",
                         what, e, kv ? "value" : "key", at, n);
                if ((kv == 0 && n == 0) || !valid_utf8(p, n))
                    FAIL(BL_EFORMAT, "%s: section META: entry %u %s at byte %zu is %s", what, e,
                         kv ? "value" : "key", at,
                         n == 0 ? "empty" : "not valid UTF-8 (or contains NUL)");
                p += n;
            }
        }
        if (p != end)
            FAIL(BL_EFORMAT, "%s: section META: %zu stray bytes at byte %zu", what,
                 (size_t)(end - p), (size_t)(p - buf));
    }

    /* -- build the model: every size is now bounded by the file's -- */
    m = calloc(1, sizeof *m);
    if (!m || !(m->layers = calloc(nlayers, sizeof *m->layers)))
        FAIL(BL_ENOMEM, "%s: out of memory", what);
    m->nlayers = nlayers;
    m->input = input;
    m->nclasses = nclasses;
    m->input_scale = input_scale;
    m->input_zero = input_zero;
    const uint8_t *wp = buf + secs[TAG_WGHT].off;
    const uint8_t *tp = buf + secs[TAG_THRS].off;
    for (uint32_t i = 0; i < nlayers; i++) {
        const layer_rec *L = &recs[i];
        bl_layer *l = &m->layers[i];
        l->kind = (bl_layer_kind)L->kind;
        memcpy(l->name, L->name, BL_NAME_MAX);
        l->in = L->in;
        l->out = L->out;
        l->real_input = (int)L->real_input;
        l->rows = L->rows;
        l->cols = L->cols;
        l->words_per_tap = L->wpt;
        l->words_per_row = L->wpr;
        if (l->kind == BL_LAYER_DENSE || l->kind == BL_LAYER_CONV3) {
            size_t nw = (size_t)l->rows * l->words_per_row;
            if (!(l->weights = bl_alloc(nw * 8)))
                FAIL(BL_ENOMEM, "%s: out of memory for layer %s", what, l->name);
            uint32_t cin = l->kind == BL_LAYER_CONV3 ? l->in.c : l->cols;
            uint32_t per = l->kind == BL_LAYER_CONV3 ? l->words_per_tap : l->words_per_row;
            for (size_t k = 0; k < nw; k++) {
                uint64_t v = bl_rd64(wp + 8 * k);
                uint32_t lo = (uint32_t)((k % l->words_per_row) % per) * 64;
                uint64_t mask = cin >= lo + 64 ? ~0ull : ((1ull << (cin - lo)) - 1);
                if (v & ~mask)
                    FAIL(BL_EFORMAT,
                         "%s: section WGHT: layer %s row %zu word %zu at byte %zu: padding bits "
                         "set (0x%016llx)",
                         what, l->name, k / l->words_per_row, k % l->words_per_row,
                         (size_t)(wp + 8 * k - buf), (unsigned long long)(v & ~mask));
                l->weights[k] = v;
            }
            wp += nw * 8;
        } else if (l->kind == BL_LAYER_THRESH) {
            uint32_t c = l->out.c;
            l->tau = bl_alloc((size_t)c * 4);
            l->dir = bl_alloc(c);
            if (!l->tau || !l->dir)
                FAIL(BL_ENOMEM, "%s: out of memory for layer %s", what, l->name);
            for (uint32_t k = 0; k < c; k++) {
                l->tau[k] = (int32_t)bl_rd32(tp + 4 * k);
                int8_t d = (int8_t)tp[(size_t)4 * c + k];
                if (d != 1 && d != -1)
                    FAIL(BL_EFORMAT,
                         "%s: section THRS: layer %s channel %u at byte %zu: direction %d (want "
                         "+1 or -1)",
                         what, l->name, k, (size_t)(tp + (size_t)4 * c + k - buf), d);
                l->dir[k] = d;
            }
            tp += (size_t)c * 5;
        }
    }
    if (O->present) {
        bl_layer *l = &m->layers[nlayers - 1];
        const uint8_t *f = buf + O->off + OAFF_HDR;
        float **dst[2] = { &l->out_scale, &l->out_bias };
        for (int k = 0; k < 2; k++) {
            if (!(oaff_flags & (1u << k)))
                continue;
            if (!(*dst[k] = bl_alloc((size_t)l->rows * 4)))
                FAIL(BL_ENOMEM, "%s: out of memory", what);
            for (uint32_t c = 0; c < l->rows; c++)
                (*dst[k])[c] = bits_f32(bl_rd32(f + 4 * c));
            f += (size_t)l->rows * 4;
        }
    }
    if (M->present) {
        const uint8_t *p = buf + M->off + 4;
        for (uint32_t e = 0; e < nmeta; e++) {
            uint32_t kl = bl_rd32(p);
            char *k = strndup((const char *)p + 4, kl);
            p += 4 + kl;
            uint32_t vl = bl_rd32(p);
            char *v = strndup((const char *)p + 4, vl);
            p += 4 + vl;
            if (!k || !v) {
                free(k);
                free(v);
                FAIL(BL_ENOMEM, "%s: out of memory", what);
            }
            if (bl_model_meta_get(m, k))
                rc = BL_EFORMAT;
            else if (bl_model_meta_set(m, k, v))
                rc = BL_ENOMEM;
            free(v);
            if (rc == BL_EFORMAT) {
                bl_error_set(err, rc, "%s: section META: duplicate key '%.64s'", what, k);
                free(k);
                goto fail;
            }
            free(k);
            if (rc)
                FAIL(BL_ENOMEM, "%s: out of memory", what);
        }
    }
    rc = bl_model_validate(m, err);
    if (rc) {
        bl_error_prefix(err, "%s", what);
        goto fail;
    }
    free(recs);
    *out = m;
    return 0;
fail:
    free(recs);
    bl_model_free(m);
    return rc;
}

int bl_model_load(const char *path, bl_model **out, bl_error *err)
{
    *out = NULL;
    uint8_t *buf;
    size_t n;
    int rc = bl_file_read(path, MAX_FILE_SIZE, &buf, &n, err);
    if (rc)
        return rc;
    rc = bl_model_parse(buf, n, path, out, err);
    free(buf);
    return rc;
}
