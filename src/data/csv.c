/* csv.c - numeric CSV datasets.
 *
 * One sample per line.  The delimiter (',', ';' or tab) is detected from the
 * first non-blank line: the one that occurs most often outside quotes (ties:
 * ',' then ';' then tab).  That line is a header when one of its fields is
 * not a number.  Blank lines are skipped, CRLF and a UTF-8 BOM are accepted,
 * fields may be quoted ("1.5") and padded with spaces.  Numbers are decimal
 * ([+-]digits[.digits][e[+-]digits]) parsed in the C locale whatever the
 * process locale is; nan, inf and hex floats are rejected as non-numeric,
 * and values beyond the float range are an error.  Features are stored as
 * f32, shape 1x1xd; labels must be integers >= 0 (3 and 3.0 both read as 3). */
#include <errno.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/mem.h"
#include "base/text.h"
#include "data/data_internal.h"

typedef struct csv_ctx {
    const char *b;
    size_t size;
    const char *what;
    locale_t loc;
    char delim;
    bl_error *err;
} csv_ctx;

typedef struct fld {
    size_t s, e;  /* content [s, e) */
} fld;

static int is_blank_line(const char *b, size_t s, size_t e)
{
    for (size_t i = s; i < e; i++)
        if (b[i] != ' ' && b[i] != '\t')
            return 0;
    return 1;
}

static char detect_delim(const char *b, size_t s, size_t e)
{
    size_t nc = 0, ns = 0, nt = 0;
    int q = 0;
    for (size_t i = s; i < e; i++) {
        if (b[i] == '"')
            q = !q;
        else if (!q && b[i] == ',')
            nc++;
        else if (!q && b[i] == ';')
            ns++;
        else if (!q && b[i] == '\t')
            nt++;
    }
    if (nc >= ns && nc >= nt)
        return ',';
    if (ns >= nt)
        return ';';
    return '\t';
}

static int is_space(const csv_ctx *c, char ch)
{
    return ch == ' ' || (ch == '\t' && c->delim != '\t');
}

/* Split line [s, e) (line number ln) into fields.  With f == NULL only
 * counts.  Returns the number of fields or a negative error code. */
static long split(const csv_ctx *c, size_t s, size_t e, size_t ln, fld *f, size_t fmax)
{
    const char *b = c->b;
    size_t i = s, n = 0;
    for (;;) {
        while (i < e && is_space(c, b[i]))
            i++;
        size_t fs, fe;
        if (i < e && b[i] == '"') {
            size_t q = i++;
            fs = i;
            for (;;) {
                if (i >= e)
                    return bl_error_set(c->err, BL_EFORMAT,
                                        "%s: line %zu (byte %zu): unterminated quoted field",
                                        c->what, ln, q);
                if (b[i] == '"') {
                    if (i + 1 < e && b[i + 1] == '"') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i++;
            }
            fe = i++;
            while (i < e && is_space(c, b[i]))
                i++;
            if (i < e && b[i] != c->delim) {
                /* the byte is data: shown escaped, never raw to a terminal */
                char ch[2] = { b[i], 0 }, shown[8];
                return bl_error_set(c->err, BL_EFORMAT,
                                    "%s: line %zu (byte %zu): unexpected '%s' after a quoted "
                                    "field",
                                    c->what, ln, i,
                                    ch[0] ? bl_text_terminal_buf(ch, shown, sizeof shown)
                                          : "\\x00");
            }
        } else {
            fs = i;
            while (i < e && b[i] != c->delim)
                i++;
            fe = i;
            while (fe > fs && is_space(c, b[fe - 1]))
                fe--;
        }
        if (f && n < fmax) {
            f[n].s = fs;
            f[n].e = fe;
        }
        n++;
        if (i < e && b[i] == c->delim) {
            i++;
            continue;
        }
        break;
    }
    return (long)n;
}

/* Strict decimal number; returns 0 and *v, or -1. */
static int parse_num(const csv_ctx *c, const fld *f, double *v)
{
    const char *p = c->b + f->s;
    size_t len = f->e - f->s, i = 0;
    if (len == 0 || len >= 128)
        return -1;
    if (p[i] == '+' || p[i] == '-')
        i++;
    size_t d1 = 0, d2 = 0;
    while (i < len && p[i] >= '0' && p[i] <= '9')
        i++, d1++;
    if (i < len && p[i] == '.') {
        i++;
        while (i < len && p[i] >= '0' && p[i] <= '9')
            i++, d2++;
    }
    if (d1 + d2 == 0)
        return -1;
    if (i < len && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < len && (p[i] == '+' || p[i] == '-'))
            i++;
        size_t d3 = 0;
        while (i < len && p[i] >= '0' && p[i] <= '9')
            i++, d3++;
        if (d3 == 0)
            return -1;
    }
    if (i != len)
        return -1;
    char tmp[128];
    memcpy(tmp, p, len);
    tmp[len] = 0;
    errno = 0;
    char *end;
    double d = strtod_l(tmp, &end, c->loc);
    if (end != tmp + len)
        return -1;
    if (!isfinite(d))
        return -2;
    *v = d;
    return 0;
}

static int field_error(const csv_ctx *c, size_t ln, const fld *f, size_t col, int why)
{
    size_t len = f->e - f->s;
    if (len == 0)
        return bl_error_set(c->err, BL_EFORMAT, "%s: line %zu (byte %zu): field %zu is empty",
                            c->what, ln, f->s, col + 1);
    /* the field is data: control bytes (ESC ...) shown escaped */
    char raw[41], shown[200];
    size_t k = len > 40 ? 40 : len;
    memcpy(raw, c->b + f->s, k);
    raw[k] = 0;
    return bl_error_set(c->err, why == -2 ? BL_ERANGE : BL_EFORMAT,
                        "%s: line %zu (byte %zu): field %zu \"%s\" is %s", c->what, ln, f->s,
                        col + 1, bl_text_terminal_buf(raw, shown, sizeof shown),
                        why == -2 ? "out of range" : "not a number");
}

/* One pass over the data.  x == NULL: validate and count only. */
static int scan(csv_ctx *c, int label_mode, size_t *nrows, size_t *ncols, float *x, int32_t *y)
{
    const char *b = c->b;
    size_t pos = 0, ln = 0, rows = 0, cols = 0, cols_line = 0;
    int first = 1;
    fld *f = NULL;
    size_t fcap = 0;
    int rc = 0;
    if (c->size >= 3 && memcmp(b, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;
    while (pos < c->size && !rc) {
        ln++;
        size_t s = pos, e = s;
        while (e < c->size && b[e] != '\n')
            e++;
        pos = e < c->size ? e + 1 : e;
        if (e > s && b[e - 1] == '\r')
            e--;
        if (is_blank_line(b, s, e))
            continue;
        if (first)
            c->delim = detect_delim(b, s, e);
        long nf = split(c, s, e, ln, NULL, 0);
        if (nf < 0) {
            rc = (int)nf;
            break;
        }
        if ((size_t)nf > fcap) {
            free(f);
            fcap = (size_t)nf;
            f = malloc(fcap * sizeof *f);
            if (!f) {
                rc = bl_error_set(c->err, BL_ENOMEM, "%s: out of memory", c->what);
                break;
            }
        }
        split(c, s, e, ln, f, fcap);
        if (first) {
            first = 0;
            cols = (size_t)nf;
            cols_line = ln;
            if (label_mode != BL_CSV_LABEL_NONE && cols < 2) {
                rc = bl_error_set(c->err, BL_EFORMAT,
                                  "%s: line %zu (byte %zu): one column, but a label column and "
                                  "at least one feature are needed (or use no label column)",
                                  c->what, ln, s);
                break;
            }
            if (cols > UINT32_MAX) {
                rc = bl_error_set(c->err, BL_ERANGE, "%s: line %zu: too many columns (%zu)",
                                  c->what, ln, cols);
                break;
            }
            int header = 0;
            double v;
            for (size_t k = 0; k < cols; k++)
                if (parse_num(c, &f[k], &v) == -1)
                    header = 1;
            if (header)
                continue;
        } else if ((size_t)nf != cols) {
            rc = bl_error_set(c->err, BL_EFORMAT,
                              "%s: line %zu (byte %zu): %ld columns, but line %zu has %zu",
                              c->what, ln, s, nf, cols_line, cols);
            break;
        }
        size_t lc = label_mode == BL_CSV_LABEL_FIRST  ? 0
                    : label_mode == BL_CSV_LABEL_NONE ? (size_t)-1
                                                      : cols - 1;
        size_t d = label_mode == BL_CSV_LABEL_NONE ? cols : cols - 1;
        size_t j = 0;
        for (size_t k = 0; k < cols && !rc; k++) {
            double v;
            int pr = parse_num(c, &f[k], &v);
            if (k == lc) {
                if (pr != 0 || v < 0 || v > INT32_MAX || v != floor(v)) {
                    size_t len = f[k].e - f[k].s;
                    rc = bl_error_set(c->err, BL_EFORMAT,
                                      "%s: line %zu (byte %zu): label \"%.*s\" is not an integer "
                                      ">= 0",
                                      c->what, ln, f[k].s, (int)(len > 40 ? 40 : len), b + f[k].s);
                    break;
                }
                if (y)
                    y[rows] = (int32_t)v;
                continue;
            }
            if (pr == 0 && fabs(v) > FLT_MAX)
                pr = -2;
            if (pr != 0) {
                rc = field_error(c, ln, &f[k], k, pr);
                break;
            }
            if (x)
                x[rows * d + j] = (float)v;
            j++;
        }
        rows++;
    }
    free(f);
    if (rc)
        return rc;
    if (rows == 0)
        return bl_error_set(c->err, BL_EFORMAT, "%s: no data rows (%zu lines)", c->what, ln);
    *nrows = rows;
    *ncols = cols;
    return 0;
}

int bl_csv_from_memory(const uint8_t *buf, size_t size, const char *what, int label_mode,
                       bl_dataset **out, bl_error *err)
{
    *out = NULL;
    if (label_mode != BL_CSV_LABEL_LAST && label_mode != BL_CSV_LABEL_FIRST &&
        label_mode != BL_CSV_LABEL_NONE)
        return bl_error_set(err, BL_EINVAL, "%s: bad CSV label mode %d", what, label_mode);
    csv_ctx c = {(const char *)buf, size, what, (locale_t)0, ',', err};
    c.loc = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (!c.loc)
        return bl_error_set(err, BL_ENOMEM, "%s: cannot create the C locale", what);
    size_t n = 0, cols = 0;
    int rc = scan(&c, label_mode, &n, &cols, NULL, NULL);
    if (!rc) {
        size_t d = label_mode == BL_CSV_LABEL_NONE ? cols : cols - 1, bytes;
        float *x = NULL;
        int32_t *y = NULL;
        if (!bl_size_mul(n, d, &bytes) || !bl_size_mul(bytes, sizeof(float), &bytes))
            rc = bl_error_set(err, BL_ERANGE, "%s: %zu rows of %zu values overflow", what, n, d);
        else {
            x = bl_alloc(bytes);
            if (label_mode != BL_CSV_LABEL_NONE)
                y = malloc(n * sizeof *y);
            if (!x || (label_mode != BL_CSV_LABEL_NONE && !y))
                rc = bl_error_set(err, BL_ENOMEM, "%s: out of memory for %zu rows", what, n);
        }
        if (!rc)
            rc = scan(&c, label_mode, &n, &cols, x, y);
        if (!rc)
            rc = bl_dataset_create(what, BL_DT_F32, n, 1, 1, (uint32_t)d, x, y, out, err);
        else {
            free(x);
            free(y);
        }
    }
    freelocale(c.loc);
    return rc;
}

int bl_csv_load(const char *path, int label_mode, size_t max_bytes, bl_dataset **out,
                bl_error *err)
{
    *out = NULL;
    uint8_t *buf;
    size_t size;
    int rc = bl_file_read_maybe_gz(path, max_bytes, &buf, &size, err);
    if (rc)
        return rc;
    rc = bl_csv_from_memory(buf, size, path, label_mode, out, err);
    free(buf);
    return rc;
}
