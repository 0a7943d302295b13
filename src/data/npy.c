/* npy.c - NumPy .npy arrays and .npz (zip) archives: reading and writing.
 *
 * .npy (format versions 1.0, 2.0, 3.0): "\x93NUMPY", major, minor, header
 * length (u16 for 1.0, u32 for 2.0/3.0), then a Python dict literal with
 * exactly the keys 'descr', 'fortran_order' and 'shape', then the data.
 * .npz: a zip archive of .npy members, stored or deflated, zip64 aware.
 * Everything read is validated against the buffer size before use and
 * every zip member's CRC-32 is verified. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/file.h"
#include "base/mem.h"
#include "data/data_internal.h"
#include "data/npy.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "npy.c assumes a little-endian host");

#define NPY_SUPPORTED "<f4 <f8 |u1 <i4 <i8 |b1"

void bl_array_free(bl_array *a)
{
    if (!a)
        return;
    bl_free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---- .npy header dict ---------------------------------------------------- */

typedef struct hp {
    const uint8_t *b;
    size_t i, end;  /* absolute offsets into the file */
    const char *what;
    bl_error *err;
} hp;

static void hp_ws(hp *p)
{
    while (p->i < p->end &&
           (p->b[p->i] == ' ' || p->b[p->i] == '\t' || p->b[p->i] == '\n' || p->b[p->i] == '\r'))
        p->i++;
}

static int hp_fail(hp *p, const char *expect)
{
    if (p->i >= p->end)
        return bl_error_set(p->err, BL_EFORMAT,
                            "%s: npy header: expected %s but the header ends at byte %zu",
                            p->what, expect, p->end);
    char c = (char)p->b[p->i];
    return bl_error_set(p->err, BL_EFORMAT, "%s: npy header: expected %s at byte %zu, found '%c'",
                        p->what, expect, p->i, (c >= 32 && c < 127) ? c : '?');
}

static int hp_char(hp *p, char c, const char *expect)
{
    hp_ws(p);
    if (p->i < p->end && p->b[p->i] == c) {
        p->i++;
        return 0;
    }
    return hp_fail(p, expect);
}

/* Python string literal without escapes; writes into s (size n). */
static int hp_string(hp *p, char *s, size_t n, const char *expect)
{
    hp_ws(p);
    if (p->i >= p->end || (p->b[p->i] != '\'' && p->b[p->i] != '"'))
        return hp_fail(p, expect);
    uint8_t q = p->b[p->i++];
    size_t k = 0, start = p->i;
    while (p->i < p->end && p->b[p->i] != q) {
        if (p->b[p->i] == '\\' || p->b[p->i] == '\n' || k + 1 >= n)
            return bl_error_set(p->err, BL_EFORMAT,
                                "%s: npy header: bad or overlong string at byte %zu", p->what,
                                start - 1);
        s[k++] = (char)p->b[p->i++];
    }
    if (p->i >= p->end)
        return bl_error_set(p->err, BL_EFORMAT,
                            "%s: npy header: unterminated string starting at byte %zu", p->what,
                            start - 1);
    p->i++;
    s[k] = 0;
    return 0;
}

static int hp_word(hp *p, const char *w)
{
    size_t n = strlen(w);
    if (p->end - p->i >= n && memcmp(p->b + p->i, w, n) == 0) {
        p->i += n;
        return 1;
    }
    return 0;
}

static int hp_shape(hp *p, size_t *shape, int *ndim)
{
    int rc = hp_char(p, '(', "'(' starting the shape tuple");
    if (rc)
        return rc;
    int n = 0;
    for (;;) {
        hp_ws(p);
        if (p->i < p->end && p->b[p->i] == ')') {
            p->i++;
            break;
        }
        if (p->i < p->end && p->b[p->i] == '-')
            return bl_error_set(p->err, BL_EFORMAT,
                                "%s: npy header: negative dimension in shape at byte %zu",
                                p->what, p->i);
        if (p->i >= p->end || p->b[p->i] < '0' || p->b[p->i] > '9')
            return hp_fail(p, "a dimension or ')' in the shape tuple");
        size_t v = 0, at = p->i;
        while (p->i < p->end && p->b[p->i] >= '0' && p->b[p->i] <= '9') {
            if (!bl_size_mul(v, 10, &v) || !bl_size_add(v, (size_t)(p->b[p->i] - '0'), &v))
                return bl_error_set(p->err, BL_ERANGE,
                                    "%s: npy header: dimension at byte %zu overflows size_t",
                                    p->what, at);
            p->i++;
        }
        if (p->i < p->end && (p->b[p->i] == 'L' || p->b[p->i] == 'l'))
            p->i++;  /* Python 2 long suffix */
        if (n >= BL_ARRAY_MAX_DIMS)
            return bl_error_set(p->err, BL_EUNSUPPORTED,
                                "%s: npy header: more than %d dimensions (at byte %zu)", p->what,
                                BL_ARRAY_MAX_DIMS, at);
        shape[n++] = v;
        hp_ws(p);
        if (p->i < p->end && p->b[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->end && p->b[p->i] == ')') {
            p->i++;
            break;
        }
        return hp_fail(p, "',' or ')' in the shape tuple");
    }
    *ndim = n;
    return 0;
}

static int parse_descr(const char *d, const char *what, bl_dtype *dt, bl_error *err)
{
    size_t n = strlen(d);
    if (n >= 3 && (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=')) {
        const char *t = d + 1;
        int one = strcmp(t, "u1") == 0 || strcmp(t, "b1") == 0;
        if (one) {
            *dt = t[0] == 'u' ? BL_DT_U8 : BL_DT_BOOL;
            return 0;
        }
        int known = strcmp(t, "f4") == 0 || strcmp(t, "f8") == 0 || strcmp(t, "i4") == 0 ||
                    strcmp(t, "i8") == 0;
        if (known && d[0] == '>')
            return bl_error_set(err, BL_EUNSUPPORTED,
                                "%s: big-endian dtype '%s' is not supported (save it "
                                "little-endian, e.g. a.astype('<%s'))",
                                what, d, t);
        if (known && d[0] != '|') {
            *dt = strcmp(t, "f4") == 0   ? BL_DT_F32
                  : strcmp(t, "f8") == 0 ? BL_DT_F64
                  : strcmp(t, "i4") == 0 ? BL_DT_I32
                                         : BL_DT_I64;
            return 0;
        }
    }
    return bl_error_set(err, BL_EUNSUPPORTED, "%s: dtype '%s' is not supported (supported: %s)",
                        what, d, NPY_SUPPORTED);
}

static void f_to_c(const uint8_t *src, uint8_t *dst, const size_t *shape, int nd, size_t es,
                   size_t count)
{
    size_t fs[BL_ARRAY_MAX_DIMS], idx[BL_ARRAY_MAX_DIMS] = {0}, off = 0;
    for (int k = 0; k < nd; k++)
        fs[k] = k == 0 ? 1 : fs[k - 1] * shape[k - 1];
    for (size_t i = 0; i < count; i++) {
        memcpy(dst + i * es, src + off * es, es);
        for (int k = nd - 1; k >= 0; k--) {
            idx[k]++;
            off += fs[k];
            if (idx[k] < shape[k])
                break;
            off -= fs[k] * shape[k];
            idx[k] = 0;
        }
    }
}

int bl_npy_parse(const uint8_t *buf, size_t size, const char *what, bl_array *out, bl_error *err)
{
    memset(out, 0, sizeof *out);
    if (size < 10 || memcmp(buf, "\x93NUMPY", size < 6 ? size : 6) != 0) {
        if (size >= 6 && memcmp(buf, "\x93NUMPY", 6) != 0)
            return bl_error_set(err, BL_EFORMAT, "%s: bad magic at byte 0 (not a .npy file)",
                                what);
        return bl_error_set(err, BL_EFORMAT,
                            "%s: truncated: the .npy preamble needs 10 bytes but data ends at "
                            "byte %zu",
                            what, size);
    }
    int major = buf[6], minor = buf[7];
    if (major < 1 || major > 3 || minor != 0)
        return bl_error_set(err, BL_EUNSUPPORTED,
                            "%s: .npy format version %d.%d at byte 6 is not supported (1.0, 2.0, "
                            "3.0)",
                            what, major, minor);
    size_t hs = major == 1 ? 10 : 12, hlen;
    if (size < hs)
        return bl_error_set(err, BL_EFORMAT,
                            "%s: truncated: the .npy preamble needs %zu bytes but data ends at "
                            "byte %zu",
                            what, hs, size);
    hlen = major == 1 ? bl_rd16(buf + 8) : bl_rd32(buf + 8);
    size_t he;
    if (!bl_size_add(hs, hlen, &he) || he > size)
        return bl_error_set(err, BL_EFORMAT,
                            "%s: truncated: header of %zu bytes needs %zu bytes but data ends at "
                            "byte %zu",
                            what, hlen, hs + hlen, size);
    hp p = {buf, hs, he, what, err};
    char descr[32] = {0};
    int have_d = 0, have_f = 0, have_s = 0, fortran = 0, ndim = 0;
    size_t shape[BL_ARRAY_MAX_DIMS] = {0};
    int rc = hp_char(&p, '{', "'{' opening the header dict");
    if (rc)
        return rc;
    for (;;) {
        hp_ws(&p);
        if (p.i < p.end && p.b[p.i] == '}') {
            p.i++;
            break;
        }
        char key[32];
        size_t kat = p.i;
        rc = hp_string(&p, key, sizeof key, "a quoted key or '}'");
        if (rc)
            return rc;
        rc = hp_char(&p, ':', "':' after a key");
        if (rc)
            return rc;
        hp_ws(&p);
        if (strcmp(key, "descr") == 0 && !have_d) {
            have_d = 1;
            if (p.i < p.end && p.b[p.i] == '[')
                return bl_error_set(err, BL_EUNSUPPORTED,
                                    "%s: structured dtypes are not supported (byte %zu; "
                                    "supported: %s)",
                                    what, p.i, NPY_SUPPORTED);
            rc = hp_string(&p, descr, sizeof descr, "a dtype string");
        } else if (strcmp(key, "fortran_order") == 0 && !have_f) {
            have_f = 1;
            if (hp_word(&p, "True"))
                fortran = 1;
            else if (hp_word(&p, "False"))
                fortran = 0;
            else
                rc = hp_fail(&p, "True or False");
        } else if (strcmp(key, "shape") == 0 && !have_s) {
            have_s = 1;
            rc = hp_shape(&p, shape, &ndim);
        } else {
            return bl_error_set(err, BL_EFORMAT,
                                "%s: npy header: unexpected or repeated key '%s' at byte %zu",
                                what, key, kat);
        }
        if (rc)
            return rc;
        hp_ws(&p);
        if (p.i < p.end && p.b[p.i] == ',') {
            p.i++;
            continue;
        }
        if (p.i < p.end && p.b[p.i] == '}') {
            p.i++;
            break;
        }
        return hp_fail(&p, "',' or '}' in the header dict");
    }
    hp_ws(&p);
    if (p.i != p.end) {
        return bl_error_set(err, BL_EFORMAT,
                            "%s: npy header: unexpected bytes after the dict at byte %zu", what,
                            p.i);
    }
    if (!have_d || !have_f || !have_s)
        return bl_error_set(err, BL_EFORMAT, "%s: npy header: missing key '%s'", what,
                            !have_d ? "descr" : !have_f ? "fortran_order" : "shape");
    bl_dtype dt = BL_DT_U8;
    rc = parse_descr(descr, what, &dt, err);
    if (rc)
        return rc;
    size_t es = bl_dtype_size(dt), count = 1, bytes;
    for (int k = 0; k < ndim; k++)
        if (!bl_size_mul(count, shape[k], &count))
            return bl_error_set(err, BL_ERANGE, "%s: npy header: shape overflows size_t", what);
    if (!bl_size_mul(count, es, &bytes))
        return bl_error_set(err, BL_ERANGE, "%s: npy header: data size overflows size_t", what);
    size_t have = size - he;
    if (have < bytes)
        return bl_error_set(err, BL_EFORMAT,
                            "%s: truncated: %zu elements of '%s' need %zu data bytes from byte "
                            "%zu but data ends at byte %zu",
                            what, count, descr, bytes, he, size);
    if (have > bytes)
        return bl_error_set(err, BL_EFORMAT,
                            "%s: %zu trailing bytes after the array data (which ends at byte "
                            "%zu)",
                            what, have - bytes, he + bytes);
    uint8_t *data = bl_alloc(bytes);
    if (!data)
        return bl_error_set(err, BL_ENOMEM, "%s: out of memory for %zu bytes", what, bytes);
    if (fortran && ndim > 1 && count > 0)
        f_to_c(buf + he, data, shape, ndim, es, count);
    else
        memcpy(data, buf + he, bytes);
    if (dt == BL_DT_BOOL)
        for (size_t i = 0; i < count; i++)
            data[i] = data[i] != 0;
    out->dtype = dt;
    out->ndim = ndim;
    memcpy(out->shape, shape, sizeof shape);
    out->count = count;
    out->data = data;
    return 0;
}

int bl_npy_load_max(const char *path, size_t max_bytes, bl_array *out, bl_error *err)
{
    memset(out, 0, sizeof *out);
    uint8_t *buf;
    size_t size;
    int rc = bl_file_read_maybe_gz(path, max_bytes, &buf, &size, err);
    if (rc)
        return rc;
    rc = bl_npy_parse(buf, size, path, out, err);
    free(buf);
    return rc;
}

int bl_npy_load(const char *path, bl_array *out, bl_error *err)
{
    return bl_npy_load_max(path, BL_DATA_DEFAULT_MAX_BYTES, out, err);
}

/* ---- datasets from arrays ------------------------------------------------- */

int bl_dataset_from_arrays(const char *name, const char *xwhat, bl_array *x, const char *ywhat,
                           bl_array *y, bl_dataset **out, bl_error *err)
{
    *out = NULL;
    int rc = 0;
    uint32_t dims[3] = {1, 1, 1};
    size_t n = 0;
    int32_t *lab = NULL;
    if (x->ndim < 1)
        rc = bl_error_set(err, BL_EFORMAT,
                          "%s: 0-dimensional array; expected samples along the first axis",
                          xwhat);
    else if ((n = x->shape[0]) == 0)
        rc = bl_error_set(err, BL_EFORMAT, "%s: no samples (first axis is 0)", xwhat);
    else if (x->ndim > 4)
        rc = bl_error_set(err, BL_EUNSUPPORTED,
                          "%s: %d dimensions per sample; at most 3 (h, w, c) are supported",
                          xwhat, x->ndim - 1);
    else {
        int per = x->ndim - 1;
        for (int k = 0; k < per && !rc; k++) {
            if (x->shape[k + 1] == 0 || x->shape[k + 1] > UINT32_MAX)
                rc = bl_error_set(err, BL_ERANGE, "%s: sample dimension %d is %zu", xwhat, k,
                                  x->shape[k + 1]);
            dims[3 - per + k] = (uint32_t)x->shape[k + 1];
        }
        if (per == 2) { /* h x w -> h x w x 1 */
            dims[0] = (uint32_t)x->shape[1];
            dims[1] = (uint32_t)x->shape[2];
            dims[2] = 1;
        }
    }
    if (!rc && y) {
        const char *yw = ywhat ? ywhat : "labels";
        if (y->dtype != BL_DT_U8 && y->dtype != BL_DT_I32 && y->dtype != BL_DT_I64)
            rc = bl_error_set(err, BL_EFORMAT, "%s: labels must be integers (u1, i4, i8), not %s",
                              yw, bl_dtype_name(y->dtype));
        else if (!(y->ndim == 1 || (y->ndim == 2 && y->shape[1] == 1)))
            rc = bl_error_set(err, BL_EFORMAT, "%s: labels must be 1-dimensional (%d dimensions)",
                              yw, y->ndim);
        else if (y->shape[0] != n)
            rc = bl_error_set(err, BL_EFORMAT, "%s: %zu labels but %s has %zu samples", yw,
                              y->shape[0], xwhat, n);
        else if (!(lab = malloc(n * sizeof *lab)))
            rc = bl_error_set(err, BL_ENOMEM, "%s: out of memory", yw);
        for (size_t i = 0; !rc && i < n; i++) {
            int64_t v = y->dtype == BL_DT_U8    ? ((const uint8_t *)y->data)[i]
                        : y->dtype == BL_DT_I32 ? ((const int32_t *)y->data)[i]
                                                : ((const int64_t *)y->data)[i];
            if (v < 0 || v > INT32_MAX)
                rc = bl_error_set(err, BL_ERANGE, "%s: label %lld of sample %zu is out of range",
                                  yw, (long long)v, i);
            else
                lab[i] = (int32_t)v;
        }
    }
    if (rc) {
        free(lab);
        bl_array_free(x);
        if (y)
            bl_array_free(y);
        return rc;
    }
    void *data = x->data;
    bl_dtype dt = x->dtype;
    x->data = NULL;
    bl_array_free(x);
    if (y)
        bl_array_free(y);
    return bl_dataset_create(name, dt, n, dims[0], dims[1], dims[2], data, lab, out, err);
}

int bl_npy_dataset(const char *path, size_t max_bytes, bl_dataset **out, bl_error *err)
{
    *out = NULL;
    bl_array a;
    int rc = bl_npy_load_max(path, max_bytes, &a, err);
    if (rc)
        return rc;
    return bl_dataset_from_arrays(path, path, &a, NULL, NULL, out, err);
}

/* ---- .npy writer --------------------------------------------------------- */

static const char *descr_of(bl_dtype t)
{
    switch (t) {
    case BL_DT_U8: return "|u1";
    case BL_DT_BOOL: return "|b1";
    case BL_DT_I32: return "<i4";
    case BL_DT_F32: return "<f4";
    case BL_DT_F64: return "<f8";
    case BL_DT_I64: return "<i8";
    }
    return NULL;
}

/* Encode a as a complete .npy image (malloc'ed). */
static int npy_encode(const bl_array *a, const char *what, uint8_t **outp, size_t *outn,
                      bl_error *err)
{
    *outp = NULL;
    const char *d = a ? descr_of(a->dtype) : NULL;
    if (!d)
        return bl_error_set(err, BL_EINVAL, "%s: invalid array or dtype", what);
    if (a->ndim < 0 || a->ndim > BL_ARRAY_MAX_DIMS)
        return bl_error_set(err, BL_EINVAL, "%s: invalid number of dimensions %d", what, a->ndim);
    size_t count = 1, bytes;
    for (int k = 0; k < a->ndim; k++)
        if (!bl_size_mul(count, a->shape[k], &count))
            return bl_error_set(err, BL_ERANGE, "%s: shape overflows size_t", what);
    if (count != a->count)
        return bl_error_set(err, BL_EINVAL, "%s: count %zu does not match the shape (%zu)", what,
                            a->count, count);
    if (!bl_size_mul(count, bl_dtype_size(a->dtype), &bytes))
        return bl_error_set(err, BL_ERANGE, "%s: data size overflows", what);
    if (bytes && !a->data)
        return bl_error_set(err, BL_EINVAL, "%s: no data", what);
    char hdr[512];
    int k = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (", d);
    for (int i = 0; i < a->ndim; i++)
        k += snprintf(hdr + k, sizeof hdr - (size_t)k, "%s%zu", i ? ", " : "", a->shape[i]);
    k += snprintf(hdr + k, sizeof hdr - (size_t)k, "%s), }", a->ndim == 1 ? "," : "");
    size_t hl = (size_t)k + 1; /* + '\n' */
    size_t pad = (64 - (10 + hl) % 64) % 64;
    hl += pad;
    size_t total;
    if (!bl_size_add(10 + hl, bytes, &total))
        return bl_error_set(err, BL_ERANGE, "%s: too large", what);
    uint8_t *b = malloc(total ? total : 1);
    if (!b)
        return bl_error_set(err, BL_ENOMEM, "%s: out of memory for %zu bytes", what, total);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    bl_wr16(b + 8, (uint16_t)hl);
    memcpy(b + 10, hdr, (size_t)k);
    memset(b + 10 + k, ' ', pad);
    b[10 + hl - 1] = '\n';
    if (bytes)
        memcpy(b + 10 + hl, a->data, bytes);
    *outp = b;
    *outn = total;
    return 0;
}

int bl_npy_save(const char *path, const bl_array *a, bl_error *err)
{
    uint8_t *b;
    size_t n;
    int rc = npy_encode(a, path, &b, &n, err);
    if (rc)
        return rc;
    rc = bl_file_write_atomic(path, b, n, err);
    free(b);
    return rc;
}

/* ---- .npz ---------------------------------------------------------------- */

typedef struct npz_ent {
    char *name;   /* without .npy */
    char *full;   /* as stored */
    uint16_t flags, method;
    uint32_t crc;
    uint64_t csize, usize, lho;
    size_t data_off;
} npz_ent;

struct bl_npz {
    uint8_t *buf;
    size_t size;
    char *what;
    size_t max_bytes;
    size_t n;
    npz_ent *e;
};

void bl_npz_close(bl_npz *z)
{
    if (!z)
        return;
    for (size_t i = 0; i < z->n; i++) {
        free(z->e[i].name);
        free(z->e[i].full);
    }
    free(z->e);
    free(z->buf);
    free(z->what);
    free(z);
}

size_t bl_npz_count(const bl_npz *z) { return z ? z->n : 0; }
const char *bl_npz_name(const bl_npz *z, size_t i) { return z && i < z->n ? z->e[i].name : NULL; }

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_Z64LOC 0x07064b50u
#define SIG_Z64EOCD 0x06064b50u

static int zerr(bl_npz *z, bl_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int zerr(bl_npz *z, bl_error *err, int code, const char *fmt, ...)
{
    char m[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    return bl_error_set(err, code, "%s: %s", z->what, m);
}

/* Parse the zip64 extra field of a central directory entry. */
static int zip64_extra(const uint8_t *x, size_t xl, npz_ent *e, int need_u, int need_c,
                       int need_o)
{
    size_t i = 0;
    while (i + 4 <= xl) {
        uint16_t id = bl_rd16(x + i), len = bl_rd16(x + i + 2);
        if (i + 4 + len > xl)
            return -1;
        if (id == 1) {
            const uint8_t *p = x + i + 4;
            size_t k = 0;
            if (need_u) {
                if (k + 8 > len) return -1;
                e->usize = bl_rd64(p + k);
                k += 8;
            }
            if (need_c) {
                if (k + 8 > len) return -1;
                e->csize = bl_rd64(p + k);
                k += 8;
            }
            if (need_o) {
                if (k + 8 > len) return -1;
                e->lho = bl_rd64(p + k);
            }
            return 0;
        }
        i += 4 + (size_t)len;
    }
    return need_u || need_c || need_o ? -1 : 0;
}

static int npz_parse(bl_npz *z, bl_error *err)
{
    const uint8_t *b = z->buf;
    size_t size = z->size;
    if (size < 22)
        return zerr(z, err, BL_EFORMAT,
                    "not a zip archive: %zu bytes is too short for the end-of-central-directory "
                    "record",
                    size);
    size_t lo = size - 22 > 65535 ? size - 22 - 65535 : 0, pos = (size_t)-1;
    for (size_t p = size - 22 + 1; p-- > lo;) {
        if (bl_rd32(b + p) == SIG_EOCD && p + 22 + bl_rd16(b + p + 20) <= size) {
            pos = p;
            break;
        }
    }
    if (pos == (size_t)-1)
        return zerr(z, err, BL_EFORMAT,
                    "not a zip archive: no end-of-central-directory record in the last %zu "
                    "bytes",
                    size - lo);
    uint64_t nent = bl_rd16(b + pos + 10), cdsize = bl_rd32(b + pos + 12),
             cdoff = bl_rd32(b + pos + 16);
    if (bl_rd16(b + pos + 4) != 0 || bl_rd16(b + pos + 6) != 0 ||
        bl_rd16(b + pos + 8) != bl_rd16(b + pos + 10))
        return zerr(z, err, BL_EUNSUPPORTED,
                    "multi-disk zip archives are not supported (end record at byte %zu)",
                    pos);
    size_t cd_limit = pos;
    if (nent == 0xFFFF || cdsize == 0xFFFFFFFF || cdoff == 0xFFFFFFFF) {
        if (pos < 20 || bl_rd32(b + pos - 20) != SIG_Z64LOC)
            return zerr(z, err, BL_EFORMAT,
                        "zip64 end-of-central-directory locator missing before byte %zu",
                        pos);
        uint64_t zoff = bl_rd64(b + pos - 20 + 8);
        if (zoff > pos - 20 || pos - 20 - zoff < 56 || bl_rd32(b + zoff) != SIG_Z64EOCD)
            return zerr(z, err, BL_EFORMAT,
                        "bad zip64 end-of-central-directory offset %zu (locator at byte %zu)",
                        (size_t)zoff, pos - 20);
        nent = bl_rd64(b + zoff + 32);
        cdsize = bl_rd64(b + zoff + 40);
        cdoff = bl_rd64(b + zoff + 48);
        cd_limit = (size_t)zoff;
    }
    if (cdoff > cd_limit || cdsize > cd_limit - cdoff)
        return zerr(z, err, BL_EFORMAT,
                    "central directory at byte %zu (%zu bytes) lies outside the archive",
                    (size_t)cdoff, (size_t)cdsize);
    if (nent > cdsize / 46)
        return zerr(z, err, BL_EFORMAT,
                    "%zu entries cannot fit in a central directory of %zu bytes", (size_t)nent,
                    (size_t)cdsize);
    z->e = calloc(nent ? nent : 1, sizeof *z->e);
    if (!z->e)
        return zerr(z, err, BL_ENOMEM, "out of memory for %zu entries", (size_t)nent);
    size_t p = (size_t)cdoff, cdend = (size_t)(cdoff + cdsize);
    for (size_t i = 0; i < nent; i++) {
        if (cdend - p < 46 || bl_rd32(b + p) != SIG_CENTRAL)
            return zerr(z, err, BL_EFORMAT, "bad central directory entry %zu at byte %zu", i, p);
        npz_ent *e = &z->e[i];
        e->flags = bl_rd16(b + p + 8);
        e->method = bl_rd16(b + p + 10);
        e->crc = bl_rd32(b + p + 16);
        e->csize = bl_rd32(b + p + 20);
        e->usize = bl_rd32(b + p + 24);
        size_t nl = bl_rd16(b + p + 28), xl = bl_rd16(b + p + 30), cl = bl_rd16(b + p + 32);
        e->lho = bl_rd32(b + p + 42);
        if (cdend - p - 46 < nl + xl + cl)
            return zerr(z, err, BL_EFORMAT,
                        "central directory entry %zu at byte %zu overruns the directory", i, p);
        const uint8_t *nm = b + p + 46;
        if (nl == 0 || memchr(nm, 0, nl))
            return zerr(z, err, BL_EFORMAT, "entry %zu at byte %zu has an invalid name", i, p);
        if (zip64_extra(nm + nl, xl, e, e->usize == 0xFFFFFFFF, e->csize == 0xFFFFFFFF,
                        e->lho == 0xFFFFFFFF) != 0)
            return zerr(z, err, BL_EFORMAT, "entry %zu at byte %zu: bad zip64 extra field", i, p);
        e->full = strndup((const char *)nm, nl);
        size_t bl = nl > 4 && memcmp(nm + nl - 4, ".npy", 4) == 0 ? nl - 4 : nl;
        e->name = strndup((const char *)nm, bl);
        if (!e->full || !e->name) {
            z->n = i + 1;
            return zerr(z, err, BL_ENOMEM, "out of memory");
        }
        z->n = i + 1;
        /* local header */
        uint64_t lh = e->lho;
        if (lh > cdoff || cdoff - lh < 30 || bl_rd32(b + lh) != SIG_LOCAL)
            return bl_error_set(err, BL_EFORMAT,
                                "%s: member %s: bad local header offset %llu", z->what, e->full,
                                (unsigned long long)lh);
        uint64_t d = lh + 30 + bl_rd16(b + lh + 26) + bl_rd16(b + lh + 28);
        if (d > cdoff || e->csize > cdoff - d)
            return bl_error_set(err, BL_EFORMAT,
                                "%s: member %s: data at byte %llu (%llu bytes) runs past the "
                                "central directory at byte %llu",
                                z->what, e->full, (unsigned long long)d,
                                (unsigned long long)e->csize, (unsigned long long)cdoff);
        e->data_off = (size_t)d;
        p += 46 + nl + xl + cl;
    }
    return 0;
}

int bl_npz_open_buffer(uint8_t *buf, size_t size, const char *what, size_t max_bytes,
                       bl_npz **out, bl_error *err)
{
    *out = NULL;
    bl_npz *z = calloc(1, sizeof *z);
    char *w = strdup(what ? what : "npz");
    if (!z || !w) {
        free(z);
        free(w);
        free(buf);
        return bl_error_set(err, BL_ENOMEM, "%s: out of memory", what);
    }
    z->buf = buf;
    z->size = size;
    z->what = w;
    z->max_bytes = max_bytes ? max_bytes : BL_DATA_DEFAULT_MAX_BYTES;
    int rc = npz_parse(z, err);
    if (rc) {
        bl_npz_close(z);
        return rc;
    }
    *out = z;
    return 0;
}

int bl_npz_open(const char *path, bl_npz **out, bl_error *err)
{
    *out = NULL;
    uint8_t *buf;
    size_t size;
    int rc = bl_file_read(path, BL_DATA_DEFAULT_MAX_BYTES, &buf, &size, err);
    if (rc)
        return rc;
    return bl_npz_open_buffer(buf, size, path, 0, out, err);
}

static void member_list(const bl_npz *z, char *s, size_t n)
{
    size_t k = 0;
    s[0] = 0;
    for (size_t i = 0; i < z->n && k + 1 < n; i++)
        k += (size_t)snprintf(s + k, n - k, "%s%s", i ? ", " : "", z->e[i].name);
    if (z->n == 0)
        snprintf(s, n, "none");
}

static int find_member(const bl_npz *z, const char *name)
{
    for (size_t i = 0; i < z->n; i++)
        if (strcmp(z->e[i].name, name) == 0)
            return (int)i;
    for (size_t i = 0; i < z->n; i++)
        if (strcmp(z->e[i].full, name) == 0)
            return (int)i;
    return -1;
}

int bl_npz_get(bl_npz *z, const char *name, bl_array *out, bl_error *err)
{
    memset(out, 0, sizeof *out);
    if (!z || !name)
        return bl_error_set(err, BL_EINVAL, "bl_npz_get: NULL argument");
    int i = find_member(z, name);
    if (i < 0) {
        char list[200];
        member_list(z, list, sizeof list);
        return bl_error_set(err, BL_ENOTFOUND, "%s: no array \"%s\" in the archive (members: %s)",
                            z->what, name, list);
    }
    const npz_ent *e = &z->e[i];
    char what[1024];
    snprintf(what, sizeof what, "%s:%s", z->what, e->full);
    if (e->flags & 1)
        return bl_error_set(err, BL_EUNSUPPORTED, "%s: encrypted members are not supported",
                            what);
    if (e->method != 0 && e->method != 8)
        return bl_error_set(err, BL_EUNSUPPORTED,
                            "%s: compression method %u is not supported (stored or deflate only)",
                            what, e->method);
    if (e->usize > z->max_bytes)
        return bl_error_set(err, BL_ERANGE, "%s: %llu bytes uncompressed exceeds the limit of %zu",
                            what, (unsigned long long)e->usize, z->max_bytes);
    const uint8_t *src = z->buf + e->data_off;
    uint8_t *tmp = NULL;
    size_t n = (size_t)e->usize;
    if (e->method == 0) {
        if (e->csize != e->usize)
            return bl_error_set(err, BL_EFORMAT,
                                "%s: stored member with compressed size %llu != size %llu", what,
                                (unsigned long long)e->csize, (unsigned long long)e->usize);
    } else {
        tmp = malloc(n ? n : 1);
        if (!tmp)
            return bl_error_set(err, BL_ENOMEM, "%s: out of memory for %zu bytes", what, n);
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        if (inflateInit2(&zs, -15) != Z_OK) {
            free(tmp);
            return bl_error_set(err, BL_ENOMEM, "%s: zlib init failed", what);
        }
        size_t in_left = (size_t)e->csize, out_left = n;
        const uint8_t *ip = src;
        uint8_t *op = tmp;
        int zr = Z_OK;
        for (;;) {
            uInt ic = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
            uInt oc = out_left > UINT_MAX ? UINT_MAX : (uInt)out_left;
            zs.next_in = (Bytef *)ip;
            zs.avail_in = ic;
            zs.next_out = op;
            zs.avail_out = oc;
            zr = inflate(&zs, Z_NO_FLUSH);
            ip += ic - zs.avail_in;
            in_left -= ic - zs.avail_in;
            op += oc - zs.avail_out;
            out_left -= oc - zs.avail_out;
            if (zr == Z_STREAM_END || (zr != Z_OK && zr != Z_BUF_ERROR))
                break;
            if (zr == Z_BUF_ERROR && (in_left == 0 || out_left == 0))
                break;
            if (ic == zs.avail_in && oc == zs.avail_out)
                break; /* no progress */
        }
        inflateEnd(&zs);
        if (zr != Z_STREAM_END || out_left != 0) {
            free(tmp);
            if (zr == Z_STREAM_END || out_left == 0)
                return bl_error_set(err, BL_EFORMAT,
                                    "%s: deflated data does not match the stated size of %zu "
                                    "bytes",
                                    what, n);
            return bl_error_set(err, BL_EFORMAT,
                                "%s: corrupt deflate data near byte %zu of the archive: %s",
                                what, e->data_off + (size_t)(ip - src),
                                zs.msg ? zs.msg : "truncated");
        }
        src = tmp;
    }
    uint32_t crc = (uint32_t)crc32_z(0L, src, n);
    if (crc != e->crc) {
        free(tmp);
        return bl_error_set(err, BL_ECHECKSUM,
                            "%s: CRC-32 mismatch (stored 0x%08x, computed 0x%08x): member is "
                            "corrupt",
                            what, e->crc, crc);
    }
    int rc = bl_npy_parse(src, n, what, out, err);
    free(tmp);
    return rc;
}

int bl_npz_save(const char *path, size_t n, const char *const *names, const bl_array *arrays,
                bl_error *err)
{
    if (n > 0 && (!names || !arrays))
        return bl_error_set(err, BL_EINVAL, "%s: NULL names or arrays", path);
    if (n > 0xFFFE)
        return bl_error_set(err, BL_ERANGE, "%s: too many arrays (%zu)", path, n);
    uint8_t **blobs = calloc(n ? n : 1, sizeof *blobs);
    size_t *lens = calloc(n ? n : 1, sizeof *lens);
    uint32_t *crcs = calloc(n ? n : 1, sizeof *crcs);
    size_t *offs = calloc(n ? n : 1, sizeof *offs);
    int rc = 0;
    if (!blobs || !lens || !crcs || !offs)
        rc = bl_error_set(err, BL_ENOMEM, "%s: out of memory", path);
    size_t total = 0, cd = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        size_t nl = names[i] ? strlen(names[i]) : 0;
        if (nl == 0 || nl > 1000) {
            rc = bl_error_set(err, BL_EINVAL, "%s: array %zu has an empty or overlong name", path,
                              i);
            break;
        }
        for (size_t j = 0; j < i && !rc; j++)
            if (strcmp(names[i], names[j]) == 0)
                rc = bl_error_set(err, BL_EINVAL, "%s: duplicate array name \"%s\"", path,
                                  names[i]);
        if (rc)
            break;
        char what[1200];
        snprintf(what, sizeof what, "%s:%s.npy", path, names[i]);
        rc = npy_encode(&arrays[i], what, &blobs[i], &lens[i], err);
        if (rc)
            break;
        crcs[i] = (uint32_t)crc32_z(0L, blobs[i], lens[i]);
        offs[i] = total;
        total += 30 + nl + 4 + lens[i];
        cd += 46 + nl + 4;
        if (lens[i] >= 0xFFFFFFFFu || total >= 0xFFFFFFFFu)
            rc = bl_error_set(err, BL_ERANGE,
                              "%s: archive would exceed 4 GiB (zip64 is not written)", path);
    }
    uint8_t *o = NULL;
    if (!rc) {
        o = malloc(total + cd + 22);
        if (!o)
            rc = bl_error_set(err, BL_ENOMEM, "%s: out of memory", path);
    }
    if (!rc) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            uint16_t nl = (uint16_t)(strlen(names[i]) + 4);
            uint8_t *h = o + k;
            bl_wr32(h, SIG_LOCAL);
            bl_wr16(h + 4, 20);
            bl_wr16(h + 6, 0);
            bl_wr16(h + 8, 0);
            bl_wr16(h + 10, 0);      /* time */
            bl_wr16(h + 12, 0x21);   /* 1980-01-01 */
            bl_wr32(h + 14, crcs[i]);
            bl_wr32(h + 18, (uint32_t)lens[i]);
            bl_wr32(h + 22, (uint32_t)lens[i]);
            bl_wr16(h + 26, nl);
            bl_wr16(h + 28, 0);
            memcpy(h + 30, names[i], nl - 4u);
            memcpy(h + 30 + nl - 4, ".npy", 4);
            memcpy(h + 30 + nl, blobs[i], lens[i]);
            k += 30 + nl + lens[i];
        }
        for (size_t i = 0; i < n; i++) {
            uint16_t nl = (uint16_t)(strlen(names[i]) + 4);
            uint8_t *h = o + k;
            memset(h, 0, 46);
            bl_wr32(h, SIG_CENTRAL);
            bl_wr16(h + 4, 20);
            bl_wr16(h + 6, 20);
            bl_wr16(h + 14, 0x21);
            bl_wr32(h + 16, crcs[i]);
            bl_wr32(h + 20, (uint32_t)lens[i]);
            bl_wr32(h + 24, (uint32_t)lens[i]);
            bl_wr16(h + 28, nl);
            bl_wr32(h + 38, 0644u << 16);
            bl_wr32(h + 42, (uint32_t)offs[i]);
            memcpy(h + 46, names[i], nl - 4u);
            memcpy(h + 46 + nl - 4, ".npy", 4);
            k += 46 + nl;
        }
        uint8_t *e = o + k;
        memset(e, 0, 22);
        bl_wr32(e, SIG_EOCD);
        bl_wr16(e + 8, (uint16_t)n);
        bl_wr16(e + 10, (uint16_t)n);
        bl_wr32(e + 12, (uint32_t)cd);
        bl_wr32(e + 16, (uint32_t)total);
        rc = bl_file_write_atomic(path, o, total + cd + 22, err);
    }
    free(o);
    for (size_t i = 0; blobs && i < n; i++)
        free(blobs[i]);
    free(blobs);
    free(lens);
    free(crcs);
    free(offs);
    return rc;
}

/* ---- npz datasets ------------------------------------------------------------ */

int bl_npz_dataset(const char *path, const bl_load_opts *opts, bl_dataset **out, bl_error *err)
{
    *out = NULL;
    size_t max = bl_data_max_bytes(opts);
    uint8_t *buf;
    size_t size;
    int rc = bl_file_read(path, max, &buf, &size, err);
    if (rc)
        return rc;
    bl_npz *z;
    rc = bl_npz_open_buffer(buf, size, path, max, &z, err);
    if (rc)
        return rc;
    static const char *const xdef[] = {"x", "X", "images", "arr_0"};
    static const char *const ydef[] = {"y", "Y", "labels", "arr_1"};
    const char *xn = NULL, *yn = NULL;
    if (opts && opts->npz_x)
        xn = opts->npz_x;
    else
        for (int k = 0; k < 4 && !xn; k++)
            if (find_member(z, xdef[k]) >= 0)
                xn = xdef[k];
    if (opts && opts->npz_y)
        yn = opts->npz_y;
    else
        for (int k = 0; k < 4 && !yn; k++)
            if (find_member(z, ydef[k]) >= 0)
                yn = ydef[k];
    if (!xn) {
        char list[200];
        member_list(z, list, sizeof list);
        bl_npz_close(z);
        return bl_error_set(err, BL_ENOTFOUND,
                            "%s: no features array (tried x, X, images, arr_0; members: %s)",
                            path, list);
    }
    bl_array x, y;
    memset(&y, 0, sizeof y);
    rc = bl_npz_get(z, xn, &x, err);
    if (!rc && yn) {
        rc = bl_npz_get(z, yn, &y, err);
        if (rc)
            bl_array_free(&x);
    }
    if (!rc) {
        char xw[1200], yw[1200];
        snprintf(xw, sizeof xw, "%s:%s", path, z->e[find_member(z, xn)].full);
        snprintf(yw, sizeof yw, "%s:%s", path, yn ? z->e[find_member(z, yn)].full : "");
        rc = bl_dataset_from_arrays(path, xw, &x, yw, yn ? &y : NULL, out, err);
    }
    bl_npz_close(z);
    return rc;
}
