/* test_model_file.c - the .bnn format: bit-exact round trips, atomic saves,
 * and rejection of every kind of malformed file (betlab-format(5)). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/file.h"
#include "base/mem.h"
#include "bnn/model.h"

static const char *const specs[] = { "fc", "vgg3", "70-65-3", "5x7x3-c65-p-c3-p-10",
                                     "3x3x2-c1-5-2", "64-64-64", "1-1" };

static bl_model *make(const char *spec, uint64_t seed, int with_extras)
{
    bl_model *m;
    bl_error err;
    int rc = bl_model_from_spec(spec, NULL, &m, &err);
    if (rc)
        fail_msg("from_spec(%s): %s", spec, err.msg);
    bl_model_randomize(m, seed);
    if (with_extras) {
        bl_layer *last = &m->layers[m->nlayers - 1];
        last->out_scale = bl_alloc((size_t)last->rows * 4);
        last->out_bias = bl_alloc((size_t)last->rows * 4);
        for (uint32_t c = 0; c < last->rows; c++) {
            last->out_scale[c] = 0.5f + 0.125f * (float)c;
            last->out_bias[c] = -1.0f / (float)(c + 3);
        }
        assert_int_equal(bl_model_meta_set(m, "name", spec), 0);
        assert_int_equal(bl_model_meta_set(m, "dataset", "fashion-mnist"), 0);
        assert_int_equal(bl_model_meta_set(m, "train.p_train", "0.01"), 0);
        assert_int_equal(bl_model_meta_set(m, "accuracy", "0.8731 \xc2\xb1 0.002 (\xe2\x9c\x93)"),
                         0);
        assert_int_equal(bl_model_meta_set(m, "empty", ""), 0);
    }
    return m;
}

static void assert_models_equal(const bl_model *a, const bl_model *b)
{
    assert_int_equal(bl_model_checksum(a), bl_model_checksum(b));
    assert_int_equal(a->nlayers, b->nlayers);
    assert_int_equal(a->nclasses, b->nclasses);
    assert_memory_equal(&a->input, &b->input, sizeof a->input);
    assert_memory_equal(&a->input_scale, &b->input_scale, 4);
    assert_int_equal(a->input_zero, b->input_zero);
    for (uint32_t i = 0; i < a->nlayers; i++) {
        const bl_layer *x = &a->layers[i], *y = &b->layers[i];
        assert_int_equal(x->kind, y->kind);
        assert_string_equal(x->name, y->name);
        assert_memory_equal(&x->in, &y->in, sizeof x->in);
        assert_memory_equal(&x->out, &y->out, sizeof x->out);
        assert_int_equal(x->real_input, y->real_input);
        assert_int_equal(x->rows, y->rows);
        assert_int_equal(x->cols, y->cols);
        assert_int_equal(x->words_per_tap, y->words_per_tap);
        assert_int_equal(x->words_per_row, y->words_per_row);
        if (x->weights)
            assert_memory_equal(x->weights, y->weights, (size_t)x->rows * x->words_per_row * 8);
        if (x->tau) {
            assert_memory_equal(x->tau, y->tau, (size_t)x->out.c * 4);
            assert_memory_equal(x->dir, y->dir, x->out.c);
        }
        assert_int_equal(!x->out_scale, !y->out_scale);
        assert_int_equal(!x->out_bias, !y->out_bias);
        if (x->out_scale)
            assert_memory_equal(x->out_scale, y->out_scale, (size_t)x->rows * 4);
        if (x->out_bias)
            assert_memory_equal(x->out_bias, y->out_bias, (size_t)x->rows * 4);
    }
    assert_int_equal(a->nmeta, b->nmeta);
    for (uint32_t i = 0; i < a->nmeta; i++) {
        assert_string_equal(a->meta[i].key, b->meta[i].key);
        assert_string_equal(a->meta[i].value, b->meta[i].value);
    }
}

/* ---- helpers to edit a serialised image ------------------------------- */

typedef struct {
    uint8_t *p;
    size_t n;
} img;

static img serialize(const bl_model *m)
{
    img r;
    bl_error err;
    if (bl_model_serialize(m, &r.p, &r.n, &err))
        fail_msg("serialize: %s", err.msg);
    return r;
}

static uint32_t crc(const uint8_t *p, size_t n)
{
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
}

static void fix_file_hdr(uint8_t *p) { bl_wr32(p + 20, crc(p, 20)); }

/* Offset of the header of the section with tag t, or 0. */
static size_t find_sec(const img *f, const char *t)
{
    size_t pos = 24;
    uint32_t ns = bl_rd32(f->p + 12);
    for (uint32_t i = 0; i < ns && pos + 24 <= f->n; i++) {
        if (memcmp(f->p + pos, t, 4) == 0)
            return pos;
        uint64_t len = bl_rd64(f->p + pos + 8);
        pos += 24 + len + ((8 - (len & 7)) & 7);
    }
    return 0;
}

static void fix_sec(img *f, size_t h)
{
    uint64_t len = bl_rd64(f->p + h + 8);
    bl_wr32(f->p + h + 16, crc(f->p + h + 24, (size_t)len));
    bl_wr32(f->p + h + 20, crc(f->p + h, 20));
}

static int parse(const img *f, bl_error *err)
{
    bl_model *m = NULL;
    int rc = bl_model_parse(f->p, f->n, "m.bnn", &m, err);
    if (rc == 0)
        assert_non_null(m);
    else
        assert_null(m);
    bl_model_free(m);
    return rc;
}

static img dup_img(const img *f)
{
    img r = { malloc(f->n), f->n };
    memcpy(r.p, f->p, f->n);
    return r;
}

/* ---- round trips ------------------------------------------------------ */

static void test_roundtrip_memory(void **state)
{
    (void)state;
    for (size_t s = 0; s < sizeof specs / sizeof *specs; s++)
        for (int extras = 0; extras < 2; extras++) {
            bl_model *m = make(specs[s], 100 + s, extras);
            img f = serialize(m);
            assert_int_equal(f.n % 8, 0);
            bl_model *back;
            bl_error err;
            int rc = bl_model_parse(f.p, f.n, specs[s], &back, &err);
            if (rc)
                fail_msg("%s: %s", specs[s], err.msg);
            assert_models_equal(m, back);
            img g = serialize(back);
            assert_int_equal(f.n, g.n);
            assert_memory_equal(f.p, g.p, f.n);
            free(f.p);
            free(g.p);
            bl_model_free(back);
            bl_model_free(m);
        }
}

static char tmpdir[256];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/bl_test_model_file.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[600];
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(tmpdir);
    return 0;
}

static int count_files(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    if (d)
        closedir(d);
    return n;
}

static void test_save_load_atomic(void **state)
{
    (void)state;
    char path[600];
    snprintf(path, sizeof path, "%s/m.bnn", tmpdir);
    bl_error err;
    /* an existing file is replaced whole */
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    for (int i = 0; i < 100000; i++)
        fputc('x', fp);
    fclose(fp);
    bl_model *m = make("vgg3", 7, 1);
    assert_int_equal(bl_model_save(m, path, &err), 0);
    bl_model *back;
    if (bl_model_load(path, &back, &err))
        fail_msg("load: %s", err.msg);
    assert_models_equal(m, back);
    bl_model_free(back);
    /* saving a smaller model over it leaves exactly the new bytes */
    bl_model *small = make("70-65-3", 8, 0);
    assert_int_equal(bl_model_save(small, path, &err), 0);
    img f = serialize(small);
    uint8_t *data;
    size_t n;
    assert_int_equal(bl_file_read(path, 1 << 26, &data, &n, &err), 0);
    assert_int_equal(n, f.n);
    assert_memory_equal(data, f.p, n);
    free(data);
    free(f.p);
    assert_int_equal(count_files(tmpdir), 1); /* no temporary left behind */

    /* a missing directory fails cleanly and creates nothing */
    char bad[700];
    snprintf(bad, sizeof bad, "%s/no/such/dir/m.bnn", tmpdir);
    int rc = bl_model_save(small, bad, &err);
    assert_int_equal(rc, BL_EIO);
    assert_non_null(strstr(err.msg, "no/such/dir/m.bnn"));
    assert_int_equal(count_files(tmpdir), 1);

    /* loading errors name the file */
    snprintf(bad, sizeof bad, "%s/absent.bnn", tmpdir);
    rc = bl_model_load(bad, &back, &err);
    assert_int_equal(rc, BL_ENOTFOUND);
    assert_null(back);
    assert_non_null(strstr(err.msg, "absent.bnn"));
    /* a garbage file: error starts with the path */
    fp = fopen(path, "wb");
    fputs("hello", fp);
    fclose(fp);
    rc = bl_model_load(path, &back, &err);
    assert_int_equal(rc, BL_EFORMAT);
    assert_int_equal(strncmp(err.msg, path, strlen(path)), 0);
    bl_model_free(small);
    bl_model_free(m);
}

/* ---- malformed files ---------------------------------------------------- */

static void test_every_prefix_fails(void **state)
{
    (void)state;
    bl_model *m = make("70-65-3", 3, 1);
    img f = serialize(m);
    for (size_t n = 0; n < f.n; n++) {
        /* a fresh copy of exactly n bytes so ASan catches any over-read */
        uint8_t *p = malloc(n ? n : 1);
        memcpy(p, f.p, n);
        bl_model *x = NULL;
        bl_error err;
        int rc = bl_model_parse(p, n, "m.bnn", &x, &err);
        if (rc != BL_EFORMAT)
            fail_msg("prefix of %zu/%zu bytes: rc %d (%s)", n, f.n, rc, rc ? err.msg : "loaded");
        assert_null(x);
        assert_int_equal(strncmp(err.msg, "m.bnn: ", 7), 0);
        free(p);
    }
    free(f.p);
    bl_model_free(m);
}

static void test_every_byte_flip_fails(void **state)
{
    (void)state;
    bl_model *m = make("5x7x3-c65-p-c3-p-10", 4, 1);
    img f = serialize(m);
    const char *tags[] = { "ARCH", "WGHT", "THRS", "OAFF", "META" };
    size_t hdrs[5];
    for (int t = 0; t < 5; t++) {
        hdrs[t] = find_sec(&f, tags[t]);
        assert_true(hdrs[t] > 0);
    }
    for (size_t i = 0; i < f.n; i++) {
        uint8_t save = f.p[i];
        f.p[i] ^= (uint8_t)(1u << (i % 8));
        bl_error err;
        int rc = parse(&f, &err);
        if (rc == 0)
            fail_msg("flip at byte %zu accepted", i);
        if (i >= 8)  /* past the magic every flip is a checksum or padding error */
            assert_true(rc == BL_ECHECKSUM || rc == BL_EFORMAT);
        for (int t = 0; t < 5; t++) {
            uint64_t len = bl_rd64(f.p + hdrs[t] + 8);
            if (i >= hdrs[t] + 24 && i < hdrs[t] + 24 + len) {
                if (rc != BL_ECHECKSUM)
                    fail_msg("flip in %s payload at %zu: rc %d %s", tags[t], i, rc, err.msg);
                char want[64];
                snprintf(want, sizeof want, "m.bnn: section %s at byte %zu: CRC mismatch",
                         tags[t], hdrs[t]);
                assert_non_null(strstr(err.msg, want));
            }
        }
        f.p[i] = save;
    }
    bl_error err;
    assert_int_equal(parse(&f, &err), 0);
    free(f.p);
    bl_model_free(m);
}

static void test_magic_and_versions(void **state)
{
    (void)state;
    bl_model *m = make("70-65-3", 5, 0);
    img f = serialize(m);
    bl_error err;

    img g = dup_img(&f);
    memcpy(g.p, "BETLAX\0\0", 8);
    fix_file_hdr(g.p);
    assert_int_equal(parse(&g, &err), BL_EFORMAT);
    assert_non_null(strstr(err.msg, "magic"));
    free(g.p);

    g = dup_img(&f);
    bl_wr16(g.p + 8, 2);
    fix_file_hdr(g.p);
    assert_int_equal(parse(&g, &err), BL_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "m.bnn: "));
    assert_non_null(strstr(err.msg, "2.0"));
    assert_non_null(strstr(err.msg, "1.x"));
    free(g.p);

    g = dup_img(&f);
    bl_wr16(g.p + 8, 0);
    fix_file_hdr(g.p);
    assert_int_equal(parse(&g, &err), BL_EUNSUPPORTED);
    free(g.p);

    /* a newer minor version loads */
    g = dup_img(&f);
    bl_wr16(g.p + 10, 7);
    fix_file_hdr(g.p);
    assert_int_equal(parse(&g, &err), 0);
    free(g.p);

    /* reserved header field */
    g = dup_img(&f);
    bl_wr32(g.p + 16, 1);
    fix_file_hdr(g.p);
    assert_int_equal(parse(&g, &err), BL_EFORMAT);
    free(g.p);

    /* absurd section counts */
    uint32_t counts[] = { 0, 2, 4, 1000, 0xffffffffu };
    for (size_t k = 0; k < 5; k++) {
        g = dup_img(&f);
        bl_wr32(g.p + 12, counts[k]);
        fix_file_hdr(g.p);
        assert_int_equal(parse(&g, &err), BL_EFORMAT);
        free(g.p);
    }
    /* trailing garbage */
    g = dup_img(&f);
    g.p = realloc(g.p, g.n + 8);
    memset(g.p + g.n, 0, 8);
    g.n += 8;
    assert_int_equal(parse(&g, &err), BL_EFORMAT);
    assert_non_null(strstr(err.msg, "after the last section"));
    free(g.p);
    free(f.p);
    bl_model_free(m);
}

static void test_section_lengths(void **state)
{
    (void)state;
    bl_model *m = make("70-65-3", 6, 1);
    img f = serialize(m);
    bl_error err;
    const char *tags[] = { "ARCH", "WGHT", "THRS", "OAFF", "META" };
    uint64_t lens[] = { UINT64_MAX, UINT64_MAX - 7, (uint64_t)1 << 63, 0xffffffffull, 0, 8 };
    for (int t = 0; t < 5; t++)
        for (size_t k = 0; k < sizeof lens / sizeof *lens; k++) {
            img g = dup_img(&f);
            size_t h = find_sec(&g, tags[t]);
            bl_wr64(g.p + h + 8, lens[k]);
            bl_wr32(g.p + h + 20, crc(g.p + h, 20)); /* header CRC made valid */
            int rc = parse(&g, &err);
            if (rc != BL_EFORMAT && rc != BL_ECHECKSUM)
                fail_msg("%s length %llu: rc %d", tags[t], (unsigned long long)lens[k], rc);
            free(g.p);
        }
    /* a section whose (valid-CRC) payload length disagrees with the architecture */
    img g = dup_img(&f);
    size_t h = find_sec(&g, "THRS");
    uint64_t len = bl_rd64(g.p + h + 8);
    bl_wr64(g.p + h + 8, len - 8);
    fix_sec(&g, h);
    /* the section table is now off by 8: that is a format error either way */
    assert_int_equal(parse(&g, &err), BL_EFORMAT);
    free(g.p);
    free(f.p);
    bl_model_free(m);
}

/* Rewrite field `at` (relative to the ARCH payload) and fix the CRCs. */
static int parse_arch_edit(const img *f, size_t at, uint32_t v, bl_error *err)
{
    img g = dup_img(f);
    size_t h = find_sec(&g, "ARCH");
    bl_wr32(g.p + h + 24 + at, v);
    fix_sec(&g, h);
    int rc = parse(&g, err);
    free(g.p);
    return rc;
}

static void test_arch_fields(void **state)
{
    (void)state;
    bl_model *m = make("5x7x3-c65-p-c3-p-10", 9, 0);
    img f = serialize(m);
    bl_error err;
    /* layer counts */
    uint32_t counts[] = { 0, 1, 7, 9, 4097, 0x7fffffffu, 0xffffffffu };
    for (size_t k = 0; k < sizeof counts / sizeof *counts; k++) {
        int rc = parse_arch_edit(&f, 24, counts[k], &err);
        if (rc != BL_EFORMAT)
            fail_msg("nlayers %u: rc %d", counts[k], rc);
    }
    assert_int_equal(parse_arch_edit(&f, 24, 0xffffffffu, &err), BL_EFORMAT);
    assert_non_null(strstr(err.msg, "layer count at byte 72 is 4294967295"));
    /* input shapes whose product overflows, or is zero */
    uint32_t dims[] = { 0, 0x10000, 0xffffffffu };
    for (int d = 0; d < 3; d++)
        for (size_t k = 0; k < 3; k++)
            assert_int_equal(parse_arch_edit(&f, 4 * (size_t)d, dims[k], &err), BL_EFORMAT);
    /* the same in a layer record, consistently for in and out of a conv */
    {
        img g = dup_img(&f);
        size_t h = find_sec(&g, "ARCH");
        uint8_t *r = g.p + h + 24 + 32; /* first layer record */
        for (int k = 0; k < 3; k++) {
            bl_wr32(r + 36 + 4 * k, 0x10000);
            bl_wr32(r + 48 + 4 * k, 0x10000);
        }
        bl_wr32(g.p + h + 24, 0x10000);
        bl_wr32(g.p + h + 28, 0x10000);
        bl_wr32(g.p + h + 32, 0x10000);
        fix_sec(&g, h);
        assert_int_equal(parse(&g, &err), BL_EFORMAT);
        free(g.p);
    }
    /* classes, encoding */
    assert_int_equal(parse_arch_edit(&f, 12, 11, &err), BL_EFORMAT);
    assert_non_null(strstr(err.msg, "classes"));
    assert_int_equal(parse_arch_edit(&f, 16, 0x7f800000u, &err), BL_EFORMAT); /* +inf scale */
    assert_int_equal(parse_arch_edit(&f, 16, 0xbf800000u, &err), BL_EFORMAT); /* -1 */
    assert_int_equal(parse_arch_edit(&f, 16, 0x7fc00000u, &err), BL_EFORMAT); /* NaN */
    assert_int_equal(parse_arch_edit(&f, 20, 256, &err), BL_EFORMAT);
    assert_int_equal(parse_arch_edit(&f, 20, (uint32_t)-1, &err), BL_EFORMAT);
    assert_int_equal(parse_arch_edit(&f, 20, 128, &err), 0);
    assert_int_equal(parse_arch_edit(&f, 28, 1, &err), BL_EFORMAT);
    /* every u32 field of every layer record, set to a few wrong values */
    for (uint32_t li = 0; li < m->nlayers; li++)
        for (size_t fld = 0; fld < 20; fld++) {
            if (fld >= 1 && fld <= 8)
                continue; /* name bytes: below */
            size_t at = 32 + (size_t)li * 80 + 4 * fld;
            uint32_t orig = bl_rd32(f.p + find_sec(&f, "ARCH") + 24 + at);
            uint32_t vals[] = { orig + 1, orig - 1, 0, 0xffffffffu, orig * 2 + 64 };
            for (int k = 0; k < 5; k++) {
                if (vals[k] == orig)
                    continue;
                int rc = parse_arch_edit(&f, at, vals[k], &err);
                if (rc == 0)
                    fail_msg("layer %u field %zu = %u accepted", li, fld, vals[k]);
                assert_int_equal(rc, BL_EFORMAT);
                assert_int_equal(strncmp(err.msg, "m.bnn: ", 7), 0);
            }
        }
    /* names: unterminated, empty, junk after NUL, control chars, duplicates */
    {
        size_t h = find_sec(&f, "ARCH");
        size_t name0 = h + 24 + 32 + 4, name1 = name0 + 80;
        img g = dup_img(&f);
        memset(g.p + name0, 'a', 32);
        fix_sec(&g, h);
        assert_int_equal(parse(&g, &err), BL_EFORMAT);
        assert_non_null(strstr(err.msg, "NUL"));
        free(g.p);
        g = dup_img(&f);
        g.p[name0] = 0;
        fix_sec(&g, h);
        assert_int_equal(parse(&g, &err), BL_EFORMAT);
        free(g.p);
        g = dup_img(&f);
        g.p[name0 + 30] = 'z';
        fix_sec(&g, h);
        assert_int_equal(parse(&g, &err), BL_EFORMAT);
        free(g.p);
        g = dup_img(&f);
        g.p[name0 + 1] = '\n';
        fix_sec(&g, h);
        assert_int_equal(parse(&g, &err), BL_EFORMAT);
        free(g.p);
        g = dup_img(&f);
        memcpy(g.p + name1, g.p + name0, 32);
        fix_sec(&g, h);
        assert_int_equal(parse(&g, &err), BL_EFORMAT);
        assert_non_null(strstr(err.msg, "duplicate"));
        free(g.p);
    }
    free(f.p);
    bl_model_free(m);
}

static void test_padding_bits(void **state)
{
    (void)state;
    /* 70 inputs: 2 words per row, the second has 58 padding bits; conv with
     * 3 channels: each tap word has 61 padding bits */
    const char *sp[] = { "70-65-3", "5x7x3-c65-p-c3-p-10" };
    for (int s = 0; s < 2; s++) {
        bl_model *m = make(sp[s], 10, 0);
        img f = serialize(m);
        size_t h = find_sec(&f, "WGHT");
        bl_error err;
        img g = dup_img(&f);
        g.p[h + 24 + 15] |= 0x80; /* top bit of word 1 of row 0 */
        fix_sec(&g, h);
        assert_int_equal(parse(&g, &err), BL_EFORMAT);
        assert_non_null(strstr(err.msg, "padding bits"));
        assert_non_null(strstr(err.msg, "section WGHT"));
        free(g.p);
        /* a real bit in the same word is fine */
        g = dup_img(&f);
        g.p[h + 24 + 8] ^= 1;
        fix_sec(&g, h);
        assert_int_equal(parse(&g, &err), 0);
        free(g.p);
        /* section padding bytes must be zero (THRS of 70-65-3 is 325 bytes) */
        if (s == 0) {
            size_t t = find_sec(&f, "THRS");
            uint64_t len = bl_rd64(f.p + t + 8);
            assert_true(len % 8 != 0);
            g = dup_img(&f);
            g.p[t + 24 + len] = 1;
            assert_int_equal(parse(&g, &err), BL_EFORMAT);
            assert_non_null(strstr(err.msg, "padding"));
            free(g.p);
        }
        free(f.p);
        bl_model_free(m);
    }
}

static void test_thresholds_and_affine(void **state)
{
    (void)state;
    bl_model *m = make("70-65-3", 11, 1);
    img f = serialize(m);
    bl_error err;
    size_t h = find_sec(&f, "THRS");
    img g = dup_img(&f);
    g.p[h + 24 + 65 * 4 + 3] = 0; /* direction 0 */
    fix_sec(&g, h);
    assert_int_equal(parse(&g, &err), BL_EFORMAT);
    assert_non_null(strstr(err.msg, "direction"));
    free(g.p);
    /* extreme thresholds are data, not errors */
    g = dup_img(&f);
    bl_wr32(g.p + h + 24, 0x80000000u);
    bl_wr32(g.p + h + 28, 0x7fffffffu);
    fix_sec(&g, h);
    assert_int_equal(parse(&g, &err), 0);
    free(g.p);
    /* non-finite output affine */
    h = find_sec(&f, "OAFF");
    g = dup_img(&f);
    bl_wr32(g.p + h + 24 + 16, 0x7fc00000u);
    fix_sec(&g, h);
    assert_int_equal(parse(&g, &err), BL_EFORMAT);
    free(g.p);
    uint32_t bad_hdr[][2] = { { 0, 0 }, { 0, 1 }, { 4, 0 }, { 4, 4 }, { 8, 4 }, { 12, 1 } };
    for (int k = 0; k < 6; k++) {
        g = dup_img(&f);
        bl_wr32(g.p + h + 24 + bad_hdr[k][0], bad_hdr[k][1]);
        fix_sec(&g, h);
        assert_int_equal(parse(&g, &err), BL_EFORMAT);
        free(g.p);
    }
    free(f.p);
    bl_model_free(m);
}

/* Append a section with the given tag and flags. */
static img add_section(const img *f, const char *tag, uint32_t flags, size_t len)
{
    size_t padded = len + ((8 - (len & 7)) & 7);
    img g = { calloc(1, f->n + 24 + padded), f->n + 24 + padded };
    memcpy(g.p, f->p, f->n);
    uint8_t *h = g.p + f->n;
    memcpy(h, tag, 4);
    bl_wr32(h + 4, flags);
    bl_wr64(h + 8, len);
    for (size_t i = 0; i < len; i++)
        h[24 + i] = (uint8_t)(i * 7 + 1);
    fix_sec(&g, f->n);
    bl_wr32(g.p + 12, bl_rd32(g.p + 12) + 1);
    fix_file_hdr(g.p);
    return g;
}

static void test_meta_malformed(void **state)
{
    (void)state;
    bl_model *m = make("70-65-3", 12, 1);
    img f = serialize(m);
    bl_error err;
    size_t h = find_sec(&f, "META");
    uint8_t *p0 = f.p + h + 24;
    /* entry count too large */
    img g = dup_img(&f);
    bl_wr32(g.p + h + 24, 0xffffffffu);
    fix_sec(&g, h);
    assert_int_equal(parse(&g, &err), BL_EFORMAT);
    free(g.p);
    /* key length overrunning */
    g = dup_img(&f);
    bl_wr32(g.p + h + 24 + 4, 0xfffffff0u);
    fix_sec(&g, h);
    assert_int_equal(parse(&g, &err), BL_EFORMAT);
    assert_non_null(strstr(err.msg, "overruns"));
    free(g.p);
    /* invalid UTF-8 / NUL in a key */
    uint32_t kl = bl_rd32(p0 + 4);
    assert_true(kl >= 2);
    uint8_t bad[] = { 0xff, 0x00, 0xc0 };
    for (int k = 0; k < 3; k++) {
        g = dup_img(&f);
        g.p[h + 24 + 8] = bad[k];
        fix_sec(&g, h);
        assert_int_equal(parse(&g, &err), BL_EFORMAT);
        free(g.p);
    }
    /* hand-made META payloads (META is the last section of this image) */
    struct {
        const char *bytes;
        size_t n;
        int rc;
    } cases[] = {
        { "\2\0\0\0" "\1\0\0\0k" "\1\0\0\0v" "\1\0\0\0k" "\1\0\0\0w", 24, BL_EFORMAT },
        { "\2\0\0\0" "\1\0\0\0k" "\1\0\0\0v" "\1\0\0\0j" "\0\0\0\0", 23, 0 },
        { "\1\0\0\0" "\0\0\0\0" "\1\0\0\0v", 12, BL_EFORMAT },      /* empty key */
        { "\1\0\0\0" "\1\0\0\0k" "\1\0\0\0v" "x", 15, BL_EFORMAT }, /* stray byte */
        { "\1\0\0\0" "\1\0\0\0k" "\2\0\0\0v", 13, BL_EFORMAT },     /* overrun */
        { "\1\0\0\0" "\1\0\0\0k" "\2\0\0\0\xed\xa0", 14, BL_EFORMAT }, /* surrogate */
        { "\0\0\0\0", 4, 0 },
        { "\0\0\0", 3, BL_EFORMAT },
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        img base = { f.p, h };
        img g2 = add_section(&base, "META", 1, cases[k].n);
        memcpy(g2.p + h + 24, cases[k].bytes, cases[k].n);
        fix_sec(&g2, h);
        bl_wr32(g2.p + 12, bl_rd32(f.p + 12)); /* same section count as before */
        fix_file_hdr(g2.p);
        int rc = parse(&g2, &err);
        if (rc != cases[k].rc)
            fail_msg("META case %zu: rc %d (%s)", k, rc, rc ? err.msg : "ok");
        if (k == 0)
            assert_non_null(strstr(err.msg, "duplicate key 'k'"));
        free(g2.p);
    }
    free(f.p);
    bl_model_free(m);
}

static void test_unknown_sections(void **state)
{
    (void)state;
    bl_model *m = make("5x7x3-c65-p-c3-p-10", 13, 1);
    img f = serialize(m);
    bl_error err;
    img g = add_section(&f, "XTRA", 1, 13);
    bl_model *back;
    if (bl_model_parse(g.p, g.n, "m.bnn", &back, &err))
        fail_msg("skippable: %s", err.msg);
    assert_models_equal(m, back);
    bl_model_free(back);
    free(g.p);

    g = add_section(&f, "XTRA", 0, 13);
    assert_int_equal(parse(&g, &err), BL_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "XTRA"));
    assert_non_null(strstr(err.msg, "required"));
    free(g.p);

    g = add_section(&f, "XTRA", 2, 0); /* unknown flag bit */
    assert_int_equal(parse(&g, &err), BL_EFORMAT);
    free(g.p);

    g = add_section(&f, "WGHT", 1, 8); /* duplicate known section */
    assert_int_equal(parse(&g, &err), BL_EFORMAT);
    assert_non_null(strstr(err.msg, "duplicate"));
    free(g.p);

    /* a missing required section */
    img h2 = dup_img(&f);
    size_t t = find_sec(&h2, "THRS");
    memcpy(h2.p + t, "THRX", 4);
    h2.p[t + 4] = 1; /* now a skippable unknown section */
    fix_sec(&h2, t);
    assert_int_equal(parse(&h2, &err), BL_EFORMAT);
    assert_non_null(strstr(err.msg, "THRS is missing"));
    free(h2.p);
    free(f.p);
    bl_model_free(m);
}

static void test_serialize_rejects_invalid(void **state)
{
    (void)state;
    bl_model *m = make("70-65-3", 14, 0);
    m->layers[1].dir[0] = 0;
    uint8_t *buf = (uint8_t *)"x";
    size_t n = 1;
    bl_error err;
    assert_int_equal(bl_model_serialize(m, &buf, &n, &err), BL_EFORMAT);
    assert_null(buf);
    bl_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_memory),
        cmocka_unit_test_setup_teardown(test_save_load_atomic, setup_dir, teardown_dir),
        cmocka_unit_test(test_every_prefix_fails),
        cmocka_unit_test(test_every_byte_flip_fails),
        cmocka_unit_test(test_magic_and_versions),
        cmocka_unit_test(test_section_lengths),
        cmocka_unit_test(test_arch_fields),
        cmocka_unit_test(test_padding_bits),
        cmocka_unit_test(test_thresholds_and_affine),
        cmocka_unit_test(test_meta_malformed),
        cmocka_unit_test(test_unknown_sections),
        cmocka_unit_test(test_serialize_rejects_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
