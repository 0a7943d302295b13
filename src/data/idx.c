/* idx.c - IDX files (the MNIST / FashionMNIST format), plain or gzip.
 *
 * Layout: 2 zero bytes, a dtype byte, a dimension count, then that many
 * big-endian u32 dimensions, then the row-major big-endian payload.
 * Supported element types: 0x08 ubyte, 0x0C int32, 0x0D float32 (stored
 * as u8 / i32 / f32); 0x09 sbyte, 0x0B short and 0x0E double are rejected
 * with BL_EUNSUPPORTED. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/file.h"
#include "base/mem.h"
#include "data/data_internal.h"

typedef struct idx_hdr {
    int ndim;
    uint32_t dims[4];
    bl_dtype dtype;
    size_t esize;
    size_t count;  /* product of dims */
    size_t hdr;    /* header bytes */
} idx_hdr;

static void dims_str(const idx_hdr *h, int from, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = 0;
    for (int i = from; i < h->ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i > from ? "x%u" : "%u", h->dims[i]);
}

static int idx_header(const uint8_t *b, size_t size, const char *what, const char *kind,
                      idx_hdr *h, bl_error *err)
{
    memset(h, 0, sizeof *h);
    if (size < 4)
        return bl_error_set(err, BL_EFORMAT,
                            "%s: too short for an IDX header: data ends at byte %zu", what, size);
    if (b[0] != 0 || b[1] != 0)
        return bl_error_set(err, BL_EFORMAT,
                            "%s: bad magic 0x%08x at byte 0 (not an IDX file; expected "
                            "0x000008nn)",
                            what, bl_rd32be(b));
    switch (b[2]) {
    case 0x08: h->dtype = BL_DT_U8; h->esize = 1; break;
    case 0x0C: h->dtype = BL_DT_I32; h->esize = 4; break;
    case 0x0D: h->dtype = BL_DT_F32; h->esize = 4; break;
    case 0x09: case 0x0B: case 0x0E:
        return bl_error_set(err, BL_EUNSUPPORTED,
                            "%s: IDX element type 0x%02x at byte 2 is not supported (supported: "
                            "0x08 ubyte, 0x0C int32, 0x0D float32)",
                            what, b[2]);
    default:
        return bl_error_set(err, BL_EFORMAT,
                            "%s: bad magic 0x%08x: invalid IDX element type 0x%02x at byte 2",
                            what, bl_rd32be(b), b[2]);
    }
    h->ndim = b[3];
    if (h->ndim < 1 || h->ndim > 4)
        return bl_error_set(err, BL_EFORMAT,
                            "%s: bad magic 0x%08x: %d dimensions at byte 3 (IDX %s need 1..4)",
                            what, bl_rd32be(b), h->ndim, kind);
    h->hdr = 4 + 4 * (size_t)h->ndim;
    if (size < h->hdr)
        return bl_error_set(err, BL_EFORMAT,
                            "%s: truncated header: %d dimensions need %zu bytes but data ends at "
                            "byte %zu",
                            what, h->ndim, h->hdr, size);
    size_t count = 1;
    for (int i = 0; i < h->ndim; i++) {
        h->dims[i] = bl_rd32be(b + 4 + 4 * i);
        if (h->dims[i] == 0)
            return bl_error_set(err, BL_EFORMAT, "%s: dimension %d (at byte %d) is zero", what,
                                i, 4 + 4 * i);
        if (!bl_size_mul(count, h->dims[i], &count)) {
            char d[64];
            dims_str(h, 0, d, sizeof d);
            return bl_error_set(err, BL_ERANGE, "%s: dimensions %s overflow the address space",
                                what, d);
        }
    }
    h->count = count;
    size_t payload, total;
    if (!bl_size_mul(count, h->esize, &payload) || !bl_size_add(payload, h->hdr, &total)) {
        char d[64];
        dims_str(h, 0, d, sizeof d);
        return bl_error_set(err, BL_ERANGE, "%s: dimensions %s overflow the address space",
                            what, d);
    }
    if (size != total) {
        char d[64];
        if (h->ndim > 1) {
            char rest[48];
            dims_str(h, 1, rest, sizeof rest);
            snprintf(d, sizeof d, "%u %s of %s", h->dims[0], kind, rest);
        } else {
            snprintf(d, sizeof d, "%u %s", h->dims[0], kind);
        }
        if (size < total)
            return bl_error_set(err, BL_EFORMAT,
                                "%s: truncated: header says %s (%zu bytes) but data ends at "
                                "byte %zu",
                                what, d, total, size);
        return bl_error_set(err, BL_EFORMAT,
                            "%s: %zu trailing bytes: header says %s (%zu bytes) but the file "
                            "has %zu",
                            what, size - total, d, total, size);
    }
    return 0;
}

/* Decode the big-endian payload into native elements. */
static void idx_decode(const uint8_t *p, const idx_hdr *h, void *dst)
{
    if (h->esize == 1) {
        memcpy(dst, p, h->count);
        return;
    }
    uint32_t *d = dst;
    for (size_t i = 0; i < h->count; i++)
        d[i] = bl_rd32be(p + 4 * i);
}

int bl_idx_from_memory(const uint8_t *img, size_t isize, const char *iwhat, const uint8_t *lab,
                       size_t lsize, const char *lwhat, const char *name, bl_dataset **out,
                       bl_error *err)
{
    *out = NULL;
    idx_hdr h;
    int rc = idx_header(img, isize, iwhat, "images", &h, err);
    if (rc)
        return rc;
    uint32_t H, W, C;
    switch (h.ndim) {
    case 1:
        return bl_error_set(err, BL_EFORMAT,
                            "%s: 1-dimensional IDX file (a labels file?) where images (n x h x "
                            "w [x c]) were expected",
                            iwhat);
    case 2: H = 1; W = 1; C = h.dims[1]; break;
    case 3: H = h.dims[1]; W = h.dims[2]; C = 1; break;
    default: H = h.dims[1]; W = h.dims[2]; C = h.dims[3]; break;
    }
    size_t n = h.dims[0];
    int32_t *y = NULL;
    if (lab) {
        idx_hdr lh;
        rc = idx_header(lab, lsize, lwhat, "labels", &lh, err);
        if (rc)
            return rc;
        if (lh.ndim != 1)
            return bl_error_set(err, BL_EFORMAT,
                                "%s: labels file has %d dimensions (expected 1) at byte 3",
                                lwhat, lh.ndim);
        if (lh.dtype == BL_DT_F32)
            return bl_error_set(err, BL_EFORMAT,
                                "%s: labels must be integers (ubyte or int32), not float32",
                                lwhat);
        if (lh.count != n)
            return bl_error_set(err, BL_EFORMAT, "%s: %zu labels but %s has %zu images", lwhat,
                                lh.count, iwhat, n);
        y = malloc(n * sizeof *y);
        if (!y)
            return bl_error_set(err, BL_ENOMEM, "%s: out of memory for %zu labels", lwhat, n);
        for (size_t i = 0; i < n; i++) {
            int64_t v = lh.esize == 1 ? lab[lh.hdr + i] : (int32_t)bl_rd32be(lab + lh.hdr + 4 * i);
            if (v < 0 || v > 255) {
                free(y);
                return bl_error_set(err, BL_ERANGE,
                                    "%s: label %lld of sample %zu (byte %zu) is out of range "
                                    "0..255",
                                    lwhat, (long long)v, i, lh.hdr + lh.esize * i);
            }
            y[i] = (int32_t)v;
        }
    }
    void *x = bl_alloc(h.count * h.esize);
    if (!x) {
        free(y);
        return bl_error_set(err, BL_ENOMEM, "%s: out of memory for %zu bytes", iwhat,
                            h.count * h.esize);
    }
    idx_decode(img + h.hdr, &h, x);
    return bl_dataset_create(name ? name : iwhat, h.dtype, n, H, W, C, x, y, out, err);
}

static int file_exists(const char *p) { return access(p, F_OK) == 0; }

/* Labels next to an images file: "images-idx3" -> "labels-idx1", with and
 * without ".gz".  Writes the found path into buf, or returns -1. */
static int guess_labels(const char *path, char *buf, size_t bufsize)
{
    const char *hit = strstr(path, "images-idx3");
    if (!hit)
        return -1;
    char cand[4096];
    int len = snprintf(cand, sizeof cand, "%.*s%s%s", (int)(hit - path), path, "labels-idx1",
                       hit + strlen("images-idx3"));
    if (len < 0 || (size_t)len >= sizeof cand - 4)
        return -1;
    if (file_exists(cand)) {
        snprintf(buf, bufsize, "%s", cand);
        return 0;
    }
    size_t l = (size_t)len;
    if (l > 3 && strcmp(cand + l - 3, ".gz") == 0)
        cand[l - 3] = 0;
    else
        memcpy(cand + l, ".gz", 4);
    if (file_exists(cand)) {
        snprintf(buf, bufsize, "%s", cand);
        return 0;
    }
    return -1;
}

int bl_idx_load(const char *path, const char *labels_path, int labels_required,
                const char *name, size_t max_bytes, bl_dataset **out, bl_error *err)
{
    *out = NULL;
    char guessed[4096];
    const char *lp = labels_path;
    if (!lp && guess_labels(path, guessed, sizeof guessed) == 0)
        lp = guessed;
    if (!lp && labels_required)
        return bl_error_set(err, BL_ENOTFOUND,
                            "%s: no labels file found next to it (expected the name with "
                            "\"labels-idx1\" in place of \"images-idx3\")",
                            path);
    uint8_t *img = NULL, *lab = NULL;
    size_t isz = 0, lsz = 0;
    int rc = bl_file_read_maybe_gz(path, max_bytes, &img, &isz, err);
    if (rc)
        return rc;
    if (lp) {
        rc = bl_file_read_maybe_gz(lp, max_bytes, &lab, &lsz, err);
        if (rc) {
            free(img);
            return rc;
        }
    }
    rc = bl_idx_from_memory(img, isz, path, lab, lsz, lp, name ? name : path, out, err);
    free(img);
    free(lab);
    return rc;
}
