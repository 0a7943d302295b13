/* test_data_idx.c - IDX loader: plain and gzip round trips, label lookup,
 * and rejection of malformed headers, sizes and labels. */
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

/* Build an IDX image: dtype byte, dims, then payload bytes (already BE). */
static size_t mk_idx(uint8_t *out, int dtype, int ndim, const uint32_t *dims, const void *payload,
                     size_t plen)
{
    out[0] = 0;
    out[1] = 0;
    out[2] = (uint8_t)dtype;
    out[3] = (uint8_t)ndim;
    for (int i = 0; i < ndim; i++) {
        out[4 + 4 * i] = (uint8_t)(dims[i] >> 24);
        out[5 + 4 * i] = (uint8_t)(dims[i] >> 16);
        out[6 + 4 * i] = (uint8_t)(dims[i] >> 8);
        out[7 + 4 * i] = (uint8_t)dims[i];
    }
    size_t h = 4 + 4 * (size_t)ndim;
    if (plen)
        memcpy(out + h, payload, plen);
    return h + plen;
}

static uint8_t pix[3 * 2 * 2];
static const uint8_t lab_vals[3] = {7, 0, 255};
static uint8_t img_buf[64], lab_buf[64];
static size_t img_n, lab_n;

static void make_pair(void)
{
    for (int i = 0; i < 12; i++)
        pix[i] = (uint8_t)(i * 20 + 1);
    uint32_t d3[3] = {3, 2, 2}, d1[1] = {3};
    img_n = mk_idx(img_buf, 0x08, 3, d3, pix, 12);
    lab_n = mk_idx(lab_buf, 0x08, 1, d1, lab_vals, 3);
}

static void check_pair(bl_dataset *d)
{
    assert_int_equal(bl_dataset_count(d), 3);
    uint32_t h, w, c;
    bl_dataset_shape(d, &h, &w, &c);
    assert_int_equal(h, 2);
    assert_int_equal(w, 2);
    assert_int_equal(c, 1);
    assert_int_equal(bl_dataset_dtype(d), BL_DT_U8);
    assert_true(bl_dataset_has_labels(d));
    assert_int_equal(bl_dataset_nclasses(d), 256);
    for (int i = 0; i < 3; i++) {
        assert_memory_equal(bl_dataset_row(d, (size_t)i), pix + 4 * i, 4);
        assert_int_equal(bl_dataset_label(d, (size_t)i), lab_vals[i]);
    }
    float f[4];
    bl_dataset_row_f32(d, 2, f);
    assert_true(f[3] == (float)pix[11]);
}

static void test_plain_guessed_labels(void **s)
{
    (void)s;
    make_pair();
    const char *ip = write_file("a-images-idx3-ubyte", img_buf, img_n);
    write_file("a-labels-idx1-ubyte", lab_buf, lab_n);
    bl_dataset *d = load_ok(ip, NULL);
    check_pair(d);
    assert_string_equal(bl_dataset_name(d), ip);
    bl_dataset_free(d);
}

static void test_gz_both_and_mixed(void **s)
{
    (void)s;
    make_pair();
    const char *ip = write_gz("b-images-idx3-ubyte.gz", img_buf, img_n);
    write_gz("b-labels-idx1-ubyte.gz", lab_buf, lab_n);
    bl_dataset *d = load_ok(ip, NULL);
    check_pair(d);
    bl_dataset_free(d);
    /* plain images, gzipped labels */
    ip = write_file("c-images-idx3-ubyte", img_buf, img_n);
    write_gz("c-labels-idx1-ubyte.gz", lab_buf, lab_n);
    d = load_ok(ip, NULL);
    check_pair(d);
    bl_dataset_free(d);
    /* gz images, plain labels */
    ip = write_gz("e-images-idx3-ubyte.gz", img_buf, img_n);
    write_file("e-labels-idx1-ubyte", lab_buf, lab_n);
    d = load_ok(ip, NULL);
    check_pair(d);
    bl_dataset_free(d);
}

static void test_explicit_and_unlabeled(void **s)
{
    (void)s;
    make_pair();
    const char *ip = write_file("pics.idx", img_buf, img_n);
    const char *lp = write_file("lbl.idx", lab_buf, lab_n);
    bl_load_opts o = {0};
    o.labels_path = lp;
    bl_dataset *d = load_ok(ip, &o);
    check_pair(d);
    bl_dataset_free(d);
    d = load_ok(ip, NULL);
    assert_false(bl_dataset_has_labels(d));
    assert_int_equal(bl_dataset_label(d, 1), -1);
    assert_int_equal(bl_dataset_nclasses(d), 0);
    bl_dataset_free(d);
    o.labels_path = P("missing-labels");
    EXPECT_FAIL(ip, &o, BL_ENOTFOUND, "missing-labels");
}

static void test_4d_int32_float32(void **s)
{
    (void)s;
    uint8_t buf[256];
    uint8_t p[2 * 1 * 2 * 3];
    for (int i = 0; i < 12; i++)
        p[i] = (uint8_t)i;
    uint32_t d4[4] = {2, 1, 2, 3};
    size_t n = mk_idx(buf, 0x08, 4, d4, p, 12);
    bl_dataset *d = load_ok(write_file("rgb.idx", buf, n), NULL);
    uint32_t h, w, c;
    bl_dataset_shape(d, &h, &w, &c);
    assert_int_equal(h * 100 + w * 10 + c, 123);
    assert_int_equal(bl_dataset_features(d), 6);
    assert_int_equal(((const uint8_t *)bl_dataset_row(d, 1))[5], 11);
    bl_dataset_free(d);
    /* int32, big-endian: values 1, -2 as 2 samples of 1 feature (2-d) */
    uint8_t be[8] = {0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFE};
    uint32_t d2[2] = {2, 1};
    n = mk_idx(buf, 0x0C, 2, d2, be, 8);
    d = load_ok(write_file("i32.idx", buf, n), NULL);
    assert_int_equal(bl_dataset_dtype(d), BL_DT_I32);
    assert_int_equal(*(const int32_t *)bl_dataset_row(d, 1), -2);
    bl_dataset_free(d);
    /* float32 1.5f = 0x3FC00000 */
    uint8_t fb[4] = {0x3F, 0xC0, 0, 0};
    uint32_t d21[2] = {1, 1};
    n = mk_idx(buf, 0x0D, 2, d21, fb, 4);
    d = load_ok(write_file("f32.idx", buf, n), NULL);
    assert_true(*(const float *)bl_dataset_row(d, 0) == 1.5f);
    bl_dataset_free(d);
    /* int32 labels */
    make_pair();
    uint8_t lb[12] = {0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3};
    uint32_t d1[1] = {3};
    n = mk_idx(buf, 0x0C, 1, d1, lb, 12);
    bl_load_opts o = {0};
    o.labels_path = write_file("i32lab.idx", buf, n);
    d = load_ok(write_file("p3.idx", img_buf, img_n), &o);
    assert_int_equal(bl_dataset_label(d, 2), 3);
    assert_int_equal(bl_dataset_nclasses(d), 4);
    bl_dataset_free(d);
}

static void test_truncated(void **s)
{
    (void)s;
    make_pair();
    /* cut at several points: inside magic, inside dims, inside payload */
    size_t cuts[] = {0, 2, 3, 4, 9, 15, 16, 20, img_n - 1};
    for (size_t k = 0; k < sizeof cuts / sizeof *cuts; k++) {
        const char *p = write_file("trunc.idx", img_buf, cuts[k]);
        char needle[64];
        snprintf(needle, sizeof needle, "ends at byte %zu", cuts[k]);
        bl_error e = {0};
        bl_dataset *d;
        int rc = bl_dataset_load(p, NULL, &d, &e);
        assert_int_equal(rc, BL_EFORMAT);
        assert_non_null(strstr(e.msg, p));
        if (cuts[k] >= 4 && !strstr(e.msg, needle))
            fail_msg("cut %zu: %s", cuts[k], e.msg);
    }
    const char *p = write_file("tr2.idx", img_buf, img_n - 1);
    EXPECT_FAIL(p, NULL, BL_EFORMAT, "header says 3 images of 2x2 (28 bytes) but data ends at byte 27");
    /* truncated labels */
    write_file("t-images-idx3-ubyte", img_buf, img_n);
    write_file("t-labels-idx1-ubyte", lab_buf, lab_n - 1);
    EXPECT_FAIL(P("t-images-idx3-ubyte"), NULL, BL_EFORMAT, "t-labels-idx1-ubyte: truncated");
    /* truncated gzip stream */
    const char *g = write_gz("tg-images-idx3-ubyte.gz", img_buf, img_n);
    FILE *f = fopen(g, "rb");
    uint8_t raw[256];
    size_t rn = fread(raw, 1, sizeof raw, f);
    fclose(f);
    write_file("tg-images-idx3-ubyte.gz", raw, rn - 10);
    EXPECT_FAIL(g, NULL, BL_EFORMAT, "tg-images-idx3-ubyte.gz");
}

static void test_bad_headers(void **s)
{
    (void)s;
    make_pair();
    uint8_t b[64];
    memcpy(b, img_buf, img_n);
    b[0] = 1;
    EXPECT_FAIL(write_file("m1.idx", b, img_n), NULL, BL_EFORMAT, "bad magic 0x01000803");
    memcpy(b, img_buf, img_n);
    b[2] = 0x07;
    EXPECT_FAIL(write_file("m2.idx", b, img_n), NULL, BL_EFORMAT, "element type 0x07");
    b[2] = 0x0B;
    EXPECT_FAIL(write_file("m3.idx", b, img_n), NULL, BL_EUNSUPPORTED, "m3.idx");
    b[2] = 0x08;
    b[3] = 0;
    EXPECT_FAIL(write_file("m4.idx", b, img_n), NULL, BL_EFORMAT, "0 dimensions");
    b[3] = 5;
    EXPECT_FAIL(write_file("m5.idx", b, img_n), NULL, BL_EFORMAT, "m5.idx");
    /* zero dimension */
    uint32_t dz[3] = {3, 0, 2};
    size_t n = mk_idx(b, 0x08, 3, dz, NULL, 0);
    EXPECT_FAIL(write_file("z.idx", b, n), NULL, BL_EFORMAT, "dimension 1 (at byte 8) is zero");
    /* product overflowing size_t */
    uint32_t dov[4] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
    n = mk_idx(b, 0x08, 4, dov, NULL, 0);
    EXPECT_FAIL(write_file("ov.idx", b, n), NULL, BL_ERANGE, "ov.idx");
    uint32_t dov2[3] = {0xFFFFFFFFu, 0xFFFFFFFFu, 4};
    n = mk_idx(b, 0x0C, 3, dov2, NULL, 0); /* count fits, bytes overflow */
    EXPECT_FAIL(write_file("ov2.idx", b, n), NULL, BL_ERANGE, "overflow");
    /* huge but representable: truncated, nothing allocated */
    uint32_t dbig[3] = {60000, 28, 28};
    n = mk_idx(b, 0x08, 3, dbig, "abcd", 4);
    EXPECT_FAIL(write_file("big.idx", b, n), NULL, BL_EFORMAT,
                "header says 60000 images of 28x28 (47040016 bytes) but data ends at byte 20");
    /* trailing garbage */
    memcpy(b, img_buf, img_n);
    b[img_n] = 9;
    EXPECT_FAIL(write_file("tail.idx", b, img_n + 1), NULL, BL_EFORMAT, "1 trailing bytes");
    /* labels file given as images */
    EXPECT_FAIL(write_file("lab-as-img.idx", lab_buf, lab_n), NULL, BL_EFORMAT, "1-dimensional");
}

static void test_label_problems(void **s)
{
    (void)s;
    make_pair();
    uint8_t b[64];
    bl_load_opts o = {0};
    const char *ip = write_file("q.idx", img_buf, img_n);
    /* count mismatch */
    uint32_t d2[1] = {2};
    size_t n = mk_idx(b, 0x08, 1, d2, lab_vals, 2);
    o.labels_path = write_file("q2.lab", b, n);
    EXPECT_FAIL(ip, &o, BL_EFORMAT, "2 labels but");
    /* out of range int32 labels */
    uint8_t lb[12] = {0, 0, 0, 1, 0, 0, 1, 0x2C, 0, 0, 0, 3};
    uint32_t d3[1] = {3};
    n = mk_idx(b, 0x0C, 1, d3, lb, 12);
    o.labels_path = write_file("q3.lab", b, n);
    EXPECT_FAIL(ip, &o, BL_ERANGE, "label 300 of sample 1 (byte 12)");
    lb[4] = 0xFF;
    n = mk_idx(b, 0x0C, 1, d3, lb, 12);
    o.labels_path = write_file("q4.lab", b, n);
    EXPECT_FAIL(ip, &o, BL_ERANGE, "q4.lab");
    /* labels with 2 dims, float labels */
    uint32_t d31[2] = {3, 1};
    n = mk_idx(b, 0x08, 2, d31, lab_vals, 3);
    o.labels_path = write_file("q5.lab", b, n);
    EXPECT_FAIL(ip, &o, BL_EFORMAT, "q5.lab");
    n = mk_idx(b, 0x0D, 1, d3, lb, 12);
    o.labels_path = write_file("q6.lab", b, n);
    EXPECT_FAIL(ip, &o, BL_EFORMAT, "q6.lab");
}

static void test_max_bytes(void **s)
{
    (void)s;
    make_pair();
    bl_load_opts o = {0};
    o.max_bytes = 10;
    EXPECT_FAIL(write_file("mb.idx", img_buf, img_n), &o, BL_ERANGE, "mb.idx");
    EXPECT_FAIL(write_gz("mb2.idx.gz", img_buf, img_n), &o, BL_ERANGE, "mb2.idx.gz");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_guessed_labels),
        cmocka_unit_test(test_gz_both_and_mixed),
        cmocka_unit_test(test_explicit_and_unlabeled),
        cmocka_unit_test(test_4d_int32_float32),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_label_problems),
        cmocka_unit_test(test_max_bytes),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
