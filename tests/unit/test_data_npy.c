/* test_data_npy.c - .npy/.npz: numpy-written fixtures (C and Fortran order,
 * savez, savez_compressed), writer round trips, malformed headers and
 * archives (CRC, offsets, zip64). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/error.h"
#include "base/mem.h"
#include "data/dataset.h"

#include "support/data_files.h"
#define BL_TEST_DIR "tests/unit"
#include "data/npy.h"

static uint8_t *slurp(const char *p, size_t *n)
{
    *n = 0;
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    static uint8_t buf[1 << 16];
    *n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return buf;
}

/* .npy image with the given header text (padded to 64 with spaces + \n). */
static size_t mk_npy(uint8_t *out, int major, const char *dict, const void *data, size_t dlen)
{
    size_t pre = major == 1 ? 10 : 12, hl = strlen(dict) + 1;
    hl += (64 - (pre + hl) % 64) % 64;
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (uint8_t)major;
    out[7] = 0;
    if (major == 1) {
        out[8] = (uint8_t)hl;
        out[9] = (uint8_t)(hl >> 8);
    } else {
        out[8] = (uint8_t)hl;
        out[9] = (uint8_t)(hl >> 8);
        out[10] = out[11] = 0;
    }
    memset(out + pre, ' ', hl);
    memcpy(out + pre, dict, strlen(dict));
    out[pre + hl - 1] = '\n';
    if (dlen)
        memcpy(out + pre + hl, data, dlen);
    return pre + hl + dlen;
}

static void expect_npy_fail(const char *name, const uint8_t *b, size_t n, int code,
                            const char *needle)
{
    bl_array a;
    bl_error e = {0};
    int rc = bl_npy_parse(b, n, name, &a, &e);
    if (rc != code)
        fail_msg("%s: expected %d got %d (%s)", name, code, rc, e.msg);
    assert_null(a.data);
    if (!strstr(e.msg, name) || !strstr(e.msg, needle))
        fail_msg("%s: message \"%s\" lacks \"%s\"", name, e.msg, needle);
    /* the same through the file loader */
    const char *p = write_file(name, b, n);
    rc = bl_npy_load(p, &a, &e);
    assert_int_equal(rc, code);
    assert_non_null(strstr(e.msg, p));
}

static const char *fixture(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "tests/data/%s", name);
    if (access(p, R_OK) != 0)
        snprintf(p, sizeof p, "%s/../data/%s", BL_TEST_DIR, name);
    return p;
}

static void test_numpy_fixtures(void **s)
{
    (void)s;
    bl_array a;
    bl_error e;
    const char *p = fixture("np_f32_c.npy");
    /* the fixtures are committed (tests/data/): missing means a broken tree */
    if (access(p, R_OK) != 0)
        fail_msg("missing committed fixture %s (run from the repository root)", p);
    assert_int_equal(bl_npy_load(p, &a, &e), 0);
    assert_int_equal(a.dtype, BL_DT_F32);
    assert_int_equal(a.ndim, 2);
    assert_int_equal(a.shape[0], 3);
    assert_int_equal(a.shape[1], 4);
    for (int i = 0; i < 12; i++)
        assert_true(((float *)a.data)[i] == (float)i / 4);
    bl_array_free(&a);
    /* Fortran order, 3-d: must come back in C order */
    assert_int_equal(bl_npy_load(fixture("np_f64_fortran.npy"), &a, &e), 0);
    assert_int_equal(a.dtype, BL_DT_F64);
    assert_int_equal(a.ndim, 3);
    assert_int_equal(a.shape[2], 4);
    for (int i = 0; i < 24; i++)
        assert_true(((double *)a.data)[i] == i);
    bl_array_free(&a);
    assert_int_equal(bl_npy_load(fixture("np_i8_v2.npy"), &a, &e), 0);
    assert_int_equal(a.dtype, BL_DT_I64);
    assert_true(((int64_t *)a.data)[1] == -7);
    assert_true(((int64_t *)a.data)[2] == (int64_t)1 << 40);
    bl_array_free(&a);
    /* np.savez (zip64 local extras) */
    bl_npz *z;
    assert_int_equal(bl_npz_open(fixture("np_savez.npz"), &z, &e), 0);
    assert_int_equal(bl_npz_count(z), 3);
    assert_int_equal(bl_npz_get(z, "flags", &a, &e), 0);
    assert_int_equal(a.dtype, BL_DT_BOOL);
    assert_memory_equal(a.data, "\1\0\1", 3);
    bl_array_free(&a);
    assert_int_equal(bl_npz_get(z, "nope", &a, &e), BL_ENOTFOUND);
    assert_non_null(strstr(e.msg, "members: x, y, flags"));
    bl_npz_close(z);
    bl_dataset *d = load_ok(fixture("np_savez.npz"), NULL);
    assert_int_equal(bl_dataset_count(d), 4);
    uint32_t h, w, c;
    bl_dataset_shape(d, &h, &w, &c);
    assert_int_equal(h * 100 + w * 10 + c, 221);
    assert_int_equal(bl_dataset_label(d, 0), 3);
    assert_int_equal(((const uint8_t *)bl_dataset_row(d, 3))[3], 15);
    bl_dataset_free(d);
    /* np.savez_compressed (deflate) */
    d = load_ok(fixture("np_savez_compressed.npz"), NULL);
    assert_int_equal(bl_dataset_count(d), 5);
    assert_int_equal(bl_dataset_features(d), 3);
    assert_true(((const float *)bl_dataset_row(d, 0))[0] == -1.0f);
    assert_true(((const float *)bl_dataset_row(d, 4))[2] == 1.0f);
    assert_int_equal(bl_dataset_label(d, 2), 2);
    bl_dataset_free(d);
}

static bl_array arr(bl_dtype t, int ndim, const size_t *shape)
{
    bl_array a;
    memset(&a, 0, sizeof a);
    a.dtype = t;
    a.ndim = ndim;
    a.count = 1;
    for (int i = 0; i < ndim; i++) {
        a.shape[i] = shape[i];
        a.count *= shape[i];
    }
    a.data = bl_alloc(a.count * bl_dtype_size(t));
    uint8_t *b = a.data;
    for (size_t i = 0; i < a.count * bl_dtype_size(t); i++)
        b[i] = (uint8_t)(i * 37 + 1);
    if (t == BL_DT_BOOL)
        for (size_t i = 0; i < a.count; i++)
            b[i] &= 1;
    return a;
}

static void test_roundtrip_all_dtypes(void **s)
{
    (void)s;
    bl_dtype dts[] = {BL_DT_U8, BL_DT_I32, BL_DT_F32, BL_DT_F64, BL_DT_I64, BL_DT_BOOL};
    size_t shapes[][3] = {{5, 0, 0}, {2, 3, 0}, {2, 1, 4}};
    bl_error e;
    for (int k = 0; k < 6; k++) {
        for (int sh = 0; sh < 3; sh++) {
            bl_array a = arr(dts[k], sh + 1, shapes[sh]), b;
            const char *p = P("rt.npy");
            assert_int_equal(bl_npy_save(p, &a, &e), 0);
            size_t n;
            uint8_t *raw = slurp(p, &n);
            assert_int_equal((10 + raw[8] + 256 * raw[9]) % 64, 0); /* aligned data */
            assert_int_equal(bl_npy_load(p, &b, &e), 0);
            assert_int_equal(b.dtype, a.dtype);
            assert_int_equal(b.ndim, a.ndim);
            assert_memory_equal(b.shape, a.shape, sizeof a.shape);
            assert_memory_equal(b.data, a.data, a.count * bl_dtype_size(a.dtype));
            bl_array_free(&b);
            bl_array_free(&a);
        }
    }
    /* 0-d array and an empty one */
    bl_array z = arr(BL_DT_F64, 0, NULL), b;
    assert_int_equal(bl_npy_save(P("z.npy"), &z, &e), 0);
    assert_int_equal(bl_npy_load(P("z.npy"), &b, &e), 0);
    assert_int_equal(b.ndim, 0);
    assert_int_equal(b.count, 1);
    assert_memory_equal(b.data, z.data, 8);
    bl_array_free(&b);
    bl_array_free(&z);
    size_t s0[2] = {0, 3};
    z = arr(BL_DT_F32, 2, s0);
    assert_int_equal(bl_npy_save(P("e.npy"), &z, &e), 0);
    assert_int_equal(bl_npy_load(P("e.npy"), &b, &e), 0);
    assert_int_equal(b.count, 0);
    bl_array_free(&b);
    EXPECT_FAIL(P("e.npy"), NULL, BL_EFORMAT, "no samples");
    /* count inconsistent with shape */
    z.count = 5;
    assert_int_equal(bl_npy_save(P("bad.npy"), &z, &e), BL_EINVAL);
    bl_array_free(&z);
}

static void test_npz_roundtrip_and_dataset(void **s)
{
    (void)s;
    size_t sx[3] = {4, 2, 3};
    bl_array x = arr(BL_DT_F32, 3, sx);
    bl_array y;
    memset(&y, 0, sizeof y);
    y.dtype = BL_DT_I64;
    y.ndim = 1;
    y.shape[0] = 4;
    y.count = 4;
    y.data = bl_alloc(32);
    int64_t yv[4] = {2, 0, 1, 5};
    memcpy(y.data, yv, 32);
    bl_array arrays[2] = {x, y};
    const char *names[2] = {"x", "y"};
    bl_error e;
    const char *p = P("ds.npz");
    assert_int_equal(bl_npz_save(p, 2, names, arrays, &e), 0);
    bl_dataset *d = load_ok(p, NULL);
    assert_int_equal(bl_dataset_count(d), 4);
    uint32_t h, w, c;
    bl_dataset_shape(d, &h, &w, &c);
    assert_int_equal(h * 100 + w * 10 + c, 231);
    assert_memory_equal(bl_dataset_row(d, 2), (const float *)x.data + 12, 24);
    assert_int_equal(bl_dataset_label(d, 3), 5);
    assert_int_equal(bl_dataset_nclasses(d), 6);
    bl_dataset_free(d);
    /* other names, chosen through the options */
    const char *names2[2] = {"feat", "cls"};
    assert_int_equal(bl_npz_save(P("ds2.npz"), 2, names2, arrays, &e), 0);
    EXPECT_FAIL(P("ds2.npz"), NULL, BL_ENOTFOUND, "members: feat, cls");
    bl_load_opts o = {0};
    o.npz_x = "feat";
    d = load_ok(P("ds2.npz"), &o);
    assert_false(bl_dataset_has_labels(d));
    bl_dataset_free(d);
    o.npz_y = "cls";
    d = load_ok(P("ds2.npz"), &o);
    assert_int_equal(bl_dataset_label(d, 0), 2);
    bl_dataset_free(d);
    o.npz_y = "missing";
    EXPECT_FAIL(P("ds2.npz"), &o, BL_ENOTFOUND, "\"missing\"");
    /* y not integer, y wrong length, y negative */
    bl_array bad[2] = {x, x};
    assert_int_equal(bl_npz_save(P("yf.npz"), 2, names, bad, &e), 0);
    EXPECT_FAIL(P("yf.npz"), NULL, BL_EFORMAT, "yf.npz:y.npy: labels must be integers");
    size_t s3[1] = {3};
    bl_array y3 = arr(BL_DT_U8, 1, s3);
    bad[1] = y3;
    assert_int_equal(bl_npz_save(P("yl.npz"), 2, names, bad, &e), 0);
    EXPECT_FAIL(P("yl.npz"), NULL, BL_EFORMAT, "3 labels but");
    ((int64_t *)y.data)[1] = -4;
    assert_int_equal(bl_npz_save(P("yn.npz"), 2, names, arrays, &e), 0);
    EXPECT_FAIL(P("yn.npz"), NULL, BL_ERANGE, "label -4 of sample 1");
    /* the .npy path of the dataset loader */
    assert_int_equal(bl_npy_save(P("feat.npy"), &x, &e), 0);
    d = load_ok(P("feat.npy"), NULL);
    assert_int_equal(bl_dataset_count(d), 4);
    assert_false(bl_dataset_has_labels(d));
    bl_dataset_free(d);
    size_t s5[5] = {1, 1, 1, 1, 1};
    bl_array a5 = arr(BL_DT_U8, 5, s5);
    assert_int_equal(bl_npy_save(P("a5.npy"), &a5, &e), 0);
    EXPECT_FAIL(P("a5.npy"), NULL, BL_EUNSUPPORTED, "4 dimensions per sample");
    bl_array_free(&a5);
    /* writer argument checks */
    const char *dup[2] = {"x", "x"};
    assert_int_equal(bl_npz_save(P("dup.npz"), 2, dup, arrays, &e), BL_EINVAL);
    const char *empty[1] = {""};
    assert_int_equal(bl_npz_save(P("emp.npz"), 1, empty, arrays, &e), BL_EINVAL);
    /* an empty archive is valid */
    assert_int_equal(bl_npz_save(P("none.npz"), 0, NULL, NULL, &e), 0);
    bl_npz *z;
    assert_int_equal(bl_npz_open(P("none.npz"), &z, &e), 0);
    assert_int_equal(bl_npz_count(z), 0);
    bl_npz_close(z);
    bl_array_free(&y3);
    bl_array_free(&x);
    bl_array_free(&y);
}

static void test_npy_malformed(void **s)
{
    (void)s;
    uint8_t b[512];
    float v[6] = {1, 2, 3, 4, 5, 6};
    const char *good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    size_t n = mk_npy(b, 1, good, v, 24);
    bl_array a;
    bl_error e;
    assert_int_equal(bl_npy_parse(b, n, "ok", &a, &e), 0);
    bl_array_free(&a);
    /* truncated at several points */
    expect_npy_fail("t0.npy", b, 4, BL_EFORMAT, "data ends at byte 4");
    expect_npy_fail("t1.npy", b, 9, BL_EFORMAT, "data ends at byte 9");
    expect_npy_fail("t2.npy", b, 40, BL_EFORMAT, "data ends at byte 40");
    expect_npy_fail("t3.npy", b, n - 1, BL_EFORMAT, "need 24 data bytes from byte 128 but data ends at byte 151");
    expect_npy_fail("t4.npy", b, 64, BL_EFORMAT, "t4.npy: truncated");
    b[n] = 0;
    expect_npy_fail("tail.npy", b, n + 1, BL_EFORMAT, "1 trailing bytes");
    /* magic, version */
    b[1] = 'M';
    expect_npy_fail("magic.npy", b, n, BL_EFORMAT, "bad magic");
    n = mk_npy(b, 1, good, v, 24);
    b[6] = 4;
    expect_npy_fail("ver.npy", b, n, BL_EUNSUPPORTED, "version 4.0");
    /* versions 2.0 and 3.0 are fine */
    n = mk_npy(b, 2, good, v, 24);
    assert_int_equal(bl_npy_parse(b, n, "v2", &a, &e), 0);
    bl_array_free(&a);
    n = mk_npy(b, 3, "{'shape':(6,),'descr':'<f4','fortran_order':False}", v, 24);
    assert_int_equal(bl_npy_parse(b, n, "v3", &a, &e), 0);
    assert_int_equal(a.count, 6);
    bl_array_free(&a);
    /* key order, double quotes, '=' and '<u1' spellings */
    n = mk_npy(b, 1, "{ \"fortran_order\" : False , 'shape' : ( 6 , ) , 'descr' : '=f4' }", v, 24);
    assert_int_equal(bl_npy_parse(b, n, "q", &a, &e), 0);
    bl_array_free(&a);
    n = mk_npy(b, 1, "{'descr': '<u1', 'fortran_order': True, 'shape': (2, 2)}", "\1\2\3\4", 4);
    assert_int_equal(bl_npy_parse(b, n, "fu1", &a, &e), 0);
    assert_memory_equal(a.data, "\1\3\2\4", 4);
    bl_array_free(&a);
    struct { const char *name, *dict; int code; const char *needle; } cases[] = {
        {"garbage.npy", "hello", BL_EFORMAT, "expected '{'"},
        {"unterm.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), ", BL_EFORMAT, "header ends"},
        {"unstr.npy", "{'descr: '<f4'}", BL_EFORMAT, "npy header"},
        {"neg.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }", BL_EFORMAT, "negative dimension"},
        {"nokey.npy", "{'descr': '<f4', 'shape': (2, 3), }", BL_EFORMAT, "missing key 'fortran_order'"},
        {"dupkey.npy", "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", BL_EFORMAT, "repeated key 'descr'"},
        {"extra.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}", BL_EFORMAT, "'x'"},
        {"after.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} x", BL_EFORMAT, "after the dict"},
        {"bool.npy", "{'descr': '<f4', 'fortran_order': maybe, 'shape': (6,)}", BL_EFORMAT, "True or False"},
        {"be.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (6,)}", BL_EUNSUPPORTED, "big-endian"},
        {"f2.npy", "{'descr': '<f2', 'fortran_order': False, 'shape': (12,)}", BL_EUNSUPPORTED, "'<f2' is not supported"},
        {"struct.npy", "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,)}", BL_EUNSUPPORTED, "structured"},
        {"ovf.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296)}", BL_ERANGE, "overflows"},
        {"ovf2.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}", BL_ERANGE, "overflows"},
        {"ovf3.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,)}", BL_ERANGE, "overflows"},
        {"nine.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,6)}", BL_EUNSUPPORTED, "more than 8"},
        {"shp.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (6 7)}", BL_EFORMAT, "shape tuple"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        n = mk_npy(b, 1, cases[k].dict, v, 24);
        expect_npy_fail(cases[k].name, b, n, cases[k].code, cases[k].needle);
    }
    /* header length pointing past the end */
    n = mk_npy(b, 1, good, v, 24);
    b[8] = 0xFF;
    b[9] = 0xFF;
    expect_npy_fail("hlen.npy", b, n, BL_EFORMAT, "hlen.npy: truncated: header");
}

/* Offsets inside the single-member archive written by bl_npz_save. */
static size_t save_one(const char *name, uint8_t *out)
{
    size_t sh[1] = {6};
    bl_array a = arr(BL_DT_F32, 1, sh);
    const char *nm[1] = {"x"};
    bl_error e;
    assert_int_equal(bl_npz_save(P(name), 1, nm, &a, &e), 0);
    bl_array_free(&a);
    size_t n;
    uint8_t *raw = slurp(P(name), &n);
    assert_non_null(raw);
    memcpy(out, raw, n);
    return n;
}

static void npz_fail(const char *name, const uint8_t *b, size_t n, int code, const char *needle)
{
    const char *p = write_file(name, b, n);
    bl_error e = {0};
    bl_npz *z = NULL;
    int rc = bl_npz_open(p, &z, &e);
    if (rc == 0) {
        bl_array a;
        rc = bl_npz_get(z, "x", &a, &e);
        bl_npz_close(z);
        if (rc == 0)
            bl_array_free(&a);
    }
    if (rc != code)
        fail_msg("%s: expected %d got %d (%s)", name, code, rc, e.msg);
    if (!strstr(e.msg, p) || !strstr(e.msg, needle))
        fail_msg("%s: message \"%s\" lacks \"%s\"", name, e.msg, needle);
    EXPECT_FAIL(p, NULL, code, p);
}

static void test_npz_malformed(void **s)
{
    (void)s;
    uint8_t b[1024], c[1024];
    size_t n = save_one("good.npz", b);
    /* layout: local header 30 + "x.npy" 5, npy data (128+24 = 152? ) , cd, eocd */
    size_t eocd = n - 22, cdoff = b[eocd + 16] | (size_t)b[eocd + 17] << 8;
    /* flip a data byte: CRC mismatch naming the member */
    memcpy(c, b, n);
    c[cdoff - 1] ^= 0x40;
    npz_fail("crc.npz", c, n, BL_ECHECKSUM, "x.npy: CRC-32 mismatch");
    /* central directory offset out of range */
    memcpy(c, b, n);
    c[eocd + 16] = 0xF0;
    c[eocd + 17] = 0xFF;
    npz_fail("cdoff.npz", c, n, BL_EFORMAT, "outside the archive");
    /* local header offset out of range */
    memcpy(c, b, n);
    c[cdoff + 42] = 0x77;
    npz_fail("lho.npz", c, n, BL_EFORMAT, "bad local header offset");
    /* compressed size too large */
    memcpy(c, b, n);
    c[cdoff + 20 + 2] = 0x7F;
    npz_fail("csize.npz", c, n, BL_EFORMAT, "runs past");
    /* stored with csize != usize */
    memcpy(c, b, n);
    c[cdoff + 24] ^= 1;
    npz_fail("usize.npz", c, n, BL_EFORMAT, "stored member");
    /* unknown method, encrypted */
    memcpy(c, b, n);
    c[cdoff + 10] = 12;
    npz_fail("meth.npz", c, n, BL_EUNSUPPORTED, "method 12");
    memcpy(c, b, n);
    c[cdoff + 8] = 1;
    npz_fail("enc.npz", c, n, BL_EUNSUPPORTED, "encrypted");
    /* too many entries for the directory */
    memcpy(c, b, n);
    c[eocd + 8] = c[eocd + 10] = 9;
    npz_fail("nent.npz", c, n, BL_EFORMAT, "9 entries");
    /* truncated archives: no EOCD / cut in the middle */
    npz_fail("cut1.npz", b, n - 5, BL_EFORMAT, "no end-of-central-directory");
    npz_fail("cut2.npz", b, 10, BL_EFORMAT, "too short");
    npz_fail("notzip.npz", (const uint8_t *)"this is not a zip archive at all, just text", 43,
             BL_EFORMAT, "not a zip archive");
    /* a corrupted deflate stream from numpy */
    size_t m;
    uint8_t *raw = slurp(fixture("np_savez_compressed.npz"), &m);
    if (raw) {
        memcpy(c, raw, m);
        for (size_t k = 60; k < 90; k++)
            c[k] ^= 0x5A;
        bl_error e;
        bl_npz *z;
        const char *p = write_file("defl.npz", c, m);
        assert_int_equal(bl_npz_open(p, &z, &e), 0);
        bl_array a;
        int rc = bl_npz_get(z, "x", &a, &e);
        assert_true(rc == BL_EFORMAT || rc == BL_ECHECKSUM);
        assert_non_null(strstr(e.msg, "defl.npz:x.npy"));
        bl_npz_close(z);
    }
}

/* Hand-built zip64 archive: central entry with 0xFFFFFFFF sizes/offset and
 * a zip64 extra field, zip64 end record and locator. */
static void test_npz_zip64(void **s)
{
    (void)s;
    uint8_t npy[256], z[1024];
    float v[2] = {0.5f, -2.0f};
    size_t nn = mk_npy(npy, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", v, 8);
    uint32_t crc = (uint32_t)crc32(0, npy, (uInt)nn);
    size_t k = 0;
    /* local header with zip64 extra */
    uint8_t *h = z;
    memset(h, 0, 30);
    bl_wr32(h, 0x04034b50);
    bl_wr16(h + 4, 45);
    bl_wr32(h + 14, crc);
    bl_wr32(h + 18, 0xFFFFFFFF);
    bl_wr32(h + 22, 0xFFFFFFFF);
    bl_wr16(h + 26, 5);
    bl_wr16(h + 28, 20);
    memcpy(h + 30, "x.npy", 5);
    bl_wr16(h + 35, 1);
    bl_wr16(h + 37, 16);
    bl_wr64(h + 39, nn);
    bl_wr64(h + 47, nn);
    k = 55;
    memcpy(z + k, npy, nn);
    k += nn;
    size_t cdoff = k;
    h = z + k;
    memset(h, 0, 46);
    bl_wr32(h, 0x02014b50);
    bl_wr16(h + 4, 45);
    bl_wr16(h + 6, 45);
    bl_wr32(h + 16, crc);
    bl_wr32(h + 20, 0xFFFFFFFF);
    bl_wr32(h + 24, 0xFFFFFFFF);
    bl_wr16(h + 28, 5);
    bl_wr16(h + 30, 28);
    bl_wr32(h + 42, 0xFFFFFFFF);
    memcpy(h + 46, "x.npy", 5);
    bl_wr16(h + 51, 1);
    bl_wr16(h + 53, 24);
    bl_wr64(h + 55, nn);   /* usize */
    bl_wr64(h + 63, nn);   /* csize */
    bl_wr64(h + 71, 0);    /* local header offset */
    k += 79;
    size_t cdsize = k - cdoff, z64 = k;
    h = z + k;
    memset(h, 0, 56);
    bl_wr32(h, 0x06064b50);
    bl_wr64(h + 4, 44);
    bl_wr16(h + 12, 45);
    bl_wr16(h + 14, 45);
    bl_wr64(h + 24, 1);
    bl_wr64(h + 32, 1);
    bl_wr64(h + 40, cdsize);
    bl_wr64(h + 48, cdoff);
    k += 56;
    h = z + k;
    memset(h, 0, 20);
    bl_wr32(h, 0x07064b50);
    bl_wr64(h + 8, z64);
    bl_wr32(h + 16, 1);
    k += 20;
    h = z + k;
    memset(h, 0, 22);
    bl_wr32(h, 0x06054b50);
    bl_wr16(h + 8, 0xFFFF);
    bl_wr16(h + 10, 0xFFFF);
    bl_wr32(h + 12, 0xFFFFFFFF);
    bl_wr32(h + 16, 0xFFFFFFFF);
    k += 22;
    const char *p = write_file("z64.npz", z, k);
    bl_error e;
    bl_npz *zz;
    assert_int_equal(bl_npz_open(p, &zz, &e), 0);
    bl_array a;
    assert_int_equal(bl_npz_get(zz, "x", &a, &e), 0);
    assert_int_equal(a.count, 2);
    assert_true(((float *)a.data)[1] == -2.0f);
    bl_array_free(&a);
    bl_npz_close(zz);
    /* broken zip64 locator offset */
    bl_wr64(z + k - 22 - 20 + 8, 3);
    p = write_file("z64b.npz", z, k);
    assert_int_equal(bl_npz_open(p, &zz, &e), BL_EFORMAT);
    assert_non_null(strstr(e.msg, "zip64"));
    /* zip64 extra too short */
    bl_wr64(z + k - 22 - 20 + 8, z64);
    bl_wr16(z + cdoff + 53, 8);
    p = write_file("z64c.npz", z, k);
    assert_int_equal(bl_npz_open(p, &zz, &e), BL_EFORMAT);
    assert_non_null(strstr(e.msg, "z64c.npz"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numpy_fixtures),
        cmocka_unit_test(test_roundtrip_all_dtypes),
        cmocka_unit_test(test_npz_roundtrip_and_dataset),
        cmocka_unit_test(test_npy_malformed),
        cmocka_unit_test(test_npz_malformed),
        cmocka_unit_test(test_npz_zip64),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
