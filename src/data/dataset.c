/* dataset.c - reference-counted sample storage, views, accessors and the
 * bl_dataset_load dispatcher. */
#include "data/dataset.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/file.h"
#include "base/mem.h"
#include "data/data_internal.h"
#include "data/npy.h"

/* Shared storage: one buffer of n rows, freed when the last view goes. */
typedef struct bl_store {
    atomic_size_t refs;
    bl_dtype dtype;
    size_t n;
    uint32_t h, w, c;
    size_t feat;       /* h*w*c */
    size_t row_bytes;  /* feat * dtype size */
    uint8_t *x;        /* malloc/bl_alloc'ed, freed with free() */
    int32_t *y;        /* NULL when unlabeled */
    int nclasses;      /* max label + 1, 0 when unlabeled */
} bl_store;

/* A view: rows [start, start+count) of the store, or the rows listed in
 * idx (absolute store indices) when idx is non-NULL. */
struct bl_dataset {
    bl_store *st;
    size_t start, count;
    uint32_t *idx;
    char *name;
};

size_t bl_dtype_size(bl_dtype t)
{
    switch (t) {
    case BL_DT_U8: return 1;
    case BL_DT_BOOL: return 1;
    case BL_DT_I32: return 4;
    case BL_DT_F32: return 4;
    case BL_DT_F64: return 8;
    case BL_DT_I64: return 8;
    }
    return 0;
}

const char *bl_dtype_name(bl_dtype t)
{
    switch (t) {
    case BL_DT_U8: return "u8";
    case BL_DT_BOOL: return "bool";
    case BL_DT_I32: return "i32";
    case BL_DT_F32: return "f32";
    case BL_DT_F64: return "f64";
    case BL_DT_I64: return "i64";
    }
    return "?";
}

static void store_unref(bl_store *st)
{
    if (!st)
        return;
    if (atomic_fetch_sub_explicit(&st->refs, 1, memory_order_acq_rel) == 1) {
        free(st->x);
        free(st->y);
        free(st);
    }
}

int bl_dataset_create(const char *name, bl_dtype dtype, size_t n, uint32_t h, uint32_t w,
                      uint32_t c, void *x, int32_t *y, bl_dataset **out, bl_error *err)
{
    *out = NULL;
    const char *nm = name ? name : "dataset";
    int rc = 0;
    size_t es = bl_dtype_size(dtype), feat = 0, rowb = 0, total = 0;
    if (es == 0)
        rc = bl_error_set(err, BL_EINVAL, "%s: invalid dtype %d", nm, (int)dtype);
    else if (h == 0 || w == 0 || c == 0)
        rc = bl_error_set(err, BL_EINVAL, "%s: empty sample shape %ux%ux%u", nm, h, w, c);
    else if (!bl_size_mul((size_t)h * w, c, &feat) || !bl_size_mul(feat, es, &rowb) ||
             !bl_size_mul(rowb, n, &total))
        rc = bl_error_set(err, BL_ERANGE, "%s: %zu samples of %ux%ux%u overflow size_t", nm, n,
                          h, w, c);
    else if (!x && n > 0)
        rc = bl_error_set(err, BL_EINVAL, "%s: no sample data", nm);
    int maxl = -1;
    if (!rc && y) {
        for (size_t i = 0; i < n; i++) {
            if (y[i] < 0) {
                rc = bl_error_set(err, BL_ERANGE, "%s: label of sample %zu is negative (%d)", nm,
                                  i, (int)y[i]);
                break;
            }
            if (y[i] > maxl)
                maxl = y[i];
        }
    }
    /* garbage in is an error, not a number: a NaN or infinite feature would
     * silently become some pixel code (or poison a clustering distance) */
    if (!rc && (dtype == BL_DT_F32 || dtype == BL_DT_F64)) {
        for (size_t i = 0, k = 0; i < n && !rc; i++)
            for (size_t f = 0; f < feat; f++, k++) {
                double v = dtype == BL_DT_F32 ? (double)((const float *)x)[k]
                                              : ((const double *)x)[k];
                if (!isfinite(v)) {
                    rc = bl_error_set(err, BL_EFORMAT,
                                      "%s: row %zu (sample %zu), feature %zu: value %s is not a "
                                      "finite number",
                                      nm, i + 1, i, f, isnan(v) ? "NaN" : v > 0 ? "inf" : "-inf");
                    break;
                }
            }
    }
    bl_store *st = NULL;
    bl_dataset *ds = NULL;
    if (!rc) {
        st = calloc(1, sizeof *st);
        ds = calloc(1, sizeof *ds);
        char *dn = strdup(nm);
        if (!st || !ds || !dn) {
            free(dn);
            rc = bl_error_set(err, BL_ENOMEM, "%s: out of memory", nm);
        } else {
            ds->name = dn;
        }
    }
    if (rc) {
        free(st);
        free(ds);
        free(x);
        free(y);
        return rc;
    }
    atomic_init(&st->refs, 1);
    st->dtype = dtype;
    st->n = n;
    st->h = h;
    st->w = w;
    st->c = c;
    st->feat = feat;
    st->row_bytes = rowb;
    st->x = x;
    st->y = y;
    st->nclasses = y ? maxl + 1 : 0;
    ds->st = st;
    ds->start = 0;
    ds->count = n;
    *out = ds;
    return 0;
}

int bl_dataset_from_memory(const char *name, bl_dtype dtype, size_t n, uint32_t h, uint32_t w,
                           uint32_t c, void *x, int32_t *y, bl_dataset **out, bl_error *err)
{
    return bl_dataset_create(name, dtype, n, h, w, c, x, y, out, err);
}

static size_t abs_index(const bl_dataset *ds, size_t i)
{
    return ds->idx ? ds->idx[i] : ds->start + i;
}

static int new_view(const bl_dataset *ds, char *name, bl_dataset **out, bl_error *err)
{
    bl_dataset *v = calloc(1, sizeof *v);
    if (!v || !name) {
        free(v);
        free(name);
        return bl_error_set(err, BL_ENOMEM, "%s: out of memory", ds->name);
    }
    v->st = ds->st;
    v->name = name;
    atomic_fetch_add_explicit(&ds->st->refs, 1, memory_order_relaxed);
    *out = v;
    return 0;
}

static char *fmt_name(const char *fmt, const char *base, size_t a, size_t b)
{
    int len = snprintf(NULL, 0, fmt, base, a, b);
    if (len < 0)
        return NULL;
    char *s = malloc((size_t)len + 1);
    if (s)
        snprintf(s, (size_t)len + 1, fmt, base, a, b);
    return s;
}

int bl_dataset_subset(const bl_dataset *ds, size_t start, size_t count, bl_dataset **out,
                      bl_error *err)
{
    *out = NULL;
    if (!ds)
        return bl_error_set(err, BL_EINVAL, "subset of a NULL dataset");
    size_t end;
    if (!bl_size_add(start, count, &end) || end > ds->count)
        return bl_error_set(err, BL_ERANGE,
                            "%s: subset [%zu, %zu+%zu) is out of range (%zu samples)", ds->name,
                            start, start, count, ds->count);
    uint32_t *idx = NULL;
    if (ds->idx) {
        idx = malloc((count ? count : 1) * sizeof *idx);
        if (!idx)
            return bl_error_set(err, BL_ENOMEM, "%s: out of memory", ds->name);
        memcpy(idx, ds->idx + start, count * sizeof *idx);
    }
    bl_dataset *v;
    int rc = new_view(ds, fmt_name("%s[%zu:%zu]", ds->name, start, end), &v, err);
    if (rc) {
        free(idx);
        return rc;
    }
    v->idx = idx;
    v->start = ds->idx ? 0 : ds->start + start;
    v->count = count;
    *out = v;
    return 0;
}

int bl_dataset_select(const bl_dataset *ds, const uint32_t *indices, size_t n, bl_dataset **out,
                      bl_error *err)
{
    *out = NULL;
    if (!ds)
        return bl_error_set(err, BL_EINVAL, "select from a NULL dataset");
    if (n > 0 && !indices)
        return bl_error_set(err, BL_EINVAL, "%s: select: NULL index list", ds->name);
    size_t bytes;
    if (!bl_size_mul(n ? n : 1, sizeof(uint32_t), &bytes))
        return bl_error_set(err, BL_ERANGE, "%s: select: %zu indices overflow", ds->name, n);
    for (size_t i = 0; i < n; i++)
        if (indices[i] >= ds->count)
            return bl_error_set(err, BL_ERANGE,
                                "%s: select: index %u (position %zu) is out of range (%zu "
                                "samples)",
                                ds->name, indices[i], i, ds->count);
    uint32_t *idx = malloc(bytes);
    if (!idx)
        return bl_error_set(err, BL_ENOMEM, "%s: out of memory", ds->name);
    for (size_t i = 0; i < n; i++)
        idx[i] = (uint32_t)abs_index(ds, indices[i]);
    bl_dataset *v;
    int rc = new_view(ds, fmt_name("%s[%zu selected]", ds->name, n, 0), &v, err);
    if (rc) {
        free(idx);
        return rc;
    }
    v->idx = idx;
    v->count = n;
    *out = v;
    return 0;
}

void bl_dataset_free(bl_dataset *ds)
{
    if (!ds)
        return;
    store_unref(ds->st);
    free(ds->idx);
    free(ds->name);
    free(ds);
}

size_t bl_dataset_count(const bl_dataset *ds) { return ds ? ds->count : 0; }

void bl_dataset_shape(const bl_dataset *ds, uint32_t *h, uint32_t *w, uint32_t *c)
{
    if (h) *h = ds->st->h;
    if (w) *w = ds->st->w;
    if (c) *c = ds->st->c;
}

size_t bl_dataset_features(const bl_dataset *ds) { return ds->st->feat; }
bl_dtype bl_dataset_dtype(const bl_dataset *ds) { return ds->st->dtype; }
int bl_dataset_has_labels(const bl_dataset *ds) { return ds->st->y != NULL; }
int bl_dataset_nclasses(const bl_dataset *ds) { return ds->st->nclasses; }
const char *bl_dataset_name(const bl_dataset *ds) { return ds->name; }

const void *bl_dataset_row(const bl_dataset *ds, size_t i)
{
    return ds->st->x + abs_index(ds, i) * ds->st->row_bytes;
}

int32_t bl_dataset_label(const bl_dataset *ds, size_t i)
{
    return ds->st->y ? ds->st->y[abs_index(ds, i)] : -1;
}

void bl_dataset_row_f32(const bl_dataset *ds, size_t i, float *out)
{
    const void *p = bl_dataset_row(ds, i);
    size_t n = ds->st->feat;
    switch (ds->st->dtype) {
    case BL_DT_U8:
    case BL_DT_BOOL: {
        const uint8_t *s = p;
        for (size_t k = 0; k < n; k++)
            out[k] = (float)s[k];
        break;
    }
    case BL_DT_I32: {
        const int32_t *s = p;
        for (size_t k = 0; k < n; k++)
            out[k] = (float)s[k];
        break;
    }
    case BL_DT_F32:
        memcpy(out, p, n * sizeof(float));
        break;
    case BL_DT_F64: {
        const double *s = p;
        for (size_t k = 0; k < n; k++)
            out[k] = (float)s[k];
        break;
    }
    case BL_DT_I64: {
        const int64_t *s = p;
        for (size_t k = 0; k < n; k++)
            out[k] = (float)s[k];
        break;
    }
    }
}

/* ---- dispatch ----------------------------------------------------------- */

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcasecmp(s + a - b, suf) == 0;
}

static int has_prefix(const char *s, const char *pre)
{
    return strncmp(s, pre, strlen(pre)) == 0;
}

/* Guess the format of a file without a telling extension from its first
 * bytes. */
static int sniff(const char *path, char *kind, size_t kn)
{
    uint8_t b[8] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    const char *k = NULL;
    if (n >= 6 && memcmp(b, "\x93NUMPY", 6) == 0)
        k = "npy";
    else if (n >= 4 && b[0] == 'P' && b[1] == 'K' && (b[2] == 3 || b[2] == 5))
        k = "npz";
    else if (n >= 4 && b[0] == 0 && b[1] == 0 && b[2] >= 0x08 && b[2] <= 0x0E && b[3] >= 1 &&
             b[3] <= 4)
        k = "idx";
    else if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
        k = "idx";
    if (!k)
        return -1;
    snprintf(kind, kn, "%s", k);
    return 0;
}

int bl_dataset_load(const char *name, const bl_load_opts *opts, bl_dataset **out, bl_error *err)
{
    if (!out)
        return bl_error_set(err, BL_EINVAL, "bl_dataset_load: NULL output");
    *out = NULL;
    if (!name || !*name)
        return bl_error_set(err, BL_EINVAL, "empty dataset name");
    size_t max = bl_data_max_bytes(opts);
    if (has_prefix(name, "fashion-mnist:") || has_prefix(name, "mnist:"))
        return bl_named_idx_load(name, opts ? opts->data_dir : NULL, max, out, err);
    if (has_prefix(name, "cifar10:") || has_prefix(name, "cifar-10:"))
        return bl_cifar_load_named(name, opts ? opts->data_dir : NULL, max, out, err);

    struct stat st;
    if (stat(name, &st) != 0) {
        if (strchr(name, ':') && !strchr(name, '/'))
            return bl_error_set(err, BL_ENOTFOUND,
                                "%s: unknown dataset name (known: fashion-mnist:train, "
                                "fashion-mnist:test, mnist:train, mnist:test, cifar10:train, "
                                "cifar10:test) and no such file",
                                name);
        return bl_error_set(err, BL_ENOTFOUND, "%s: no such file or directory", name);
    }
    if (S_ISDIR(st.st_mode))
        return bl_cifar_load(name, name, max, out, err);
    if (!S_ISREG(st.st_mode))   /* a FIFO would block the sniffing and the loaders */
        return bl_file_check_regular(name, err);

    const char *kind = NULL;
    char sniffed[8];
    if (ends_with(name, ".npy"))
        kind = "npy";
    else if (ends_with(name, ".npz"))
        kind = "npz";
    else if (ends_with(name, ".csv") || ends_with(name, ".csv.gz") || ends_with(name, ".tsv") ||
             ends_with(name, ".tsv.gz"))
        kind = "csv";
    else if (ends_with(name, ".bin"))
        kind = "cifar";
    else if (ends_with(name, ".idx") || ends_with(name, "-ubyte") || ends_with(name, ".gz") ||
             strstr(name, "idx1") || strstr(name, "idx3"))
        kind = "idx";
    else if (sniff(name, sniffed, sizeof sniffed) == 0)
        kind = sniffed;
    else
        return bl_error_set(err, BL_EUNSUPPORTED,
                            "%s: unknown dataset format (expected .idx/-ubyte[.gz], .bin, .csv, "
                            ".npy or .npz)",
                            name);

    if (strcmp(kind, "npy") == 0)
        return bl_npy_dataset(name, max, out, err);
    if (strcmp(kind, "npz") == 0)
        return bl_npz_dataset(name, opts, out, err);
    if (strcmp(kind, "csv") == 0)
        return bl_csv_load(name, opts ? opts->csv_label : BL_CSV_LABEL_LAST, max, out, err);
    if (strcmp(kind, "cifar") == 0)
        return bl_cifar_load(name, name, max, out, err);
    return bl_idx_load(name, opts ? opts->labels_path : NULL, 0, name, max, out, err);
}

void bl_dataset_value_range(const bl_dataset *ds, double *lo, double *hi)
{
    size_t n = bl_dataset_count(ds), f = bl_dataset_features(ds);
    double a = 0, b = 0;
    float *row = malloc((f ? f : 1) * sizeof *row);
    for (size_t i = 0; row && i < n; i++) {
        bl_dataset_row_f32(ds, i, row);
        for (size_t k = 0; k < f; k++) {
            double v = row[k];
            if (i == 0 && k == 0)
                a = b = v;
            if (v < a)
                a = v;
            if (v > b)
                b = v;
        }
    }
    free(row);
    *lo = a;
    *hi = b;
}
