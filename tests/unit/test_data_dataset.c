/* test_data_dataset.c - dataset storage, views (subset, select, composed),
 * reference counting, accessors and the load dispatcher. */
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

static bl_dataset *make_ds(size_t n, int labeled)
{
    float *x = malloc(n * 2 * sizeof *x);
    int32_t *y = labeled ? malloc(n * sizeof *y) : NULL;
    for (size_t i = 0; i < n; i++) {
        x[2 * i] = (float)i;
        x[2 * i + 1] = -(float)i;
        if (y)
            y[i] = (int32_t)(i % 3);
    }
    bl_dataset *d;
    bl_error e;
    assert_int_equal(bl_dataset_from_memory("syn", BL_DT_F32, n, 1, 2, 1, x, y, &d, &e), 0);
    return d;
}

static float first(const bl_dataset *d, size_t i) { return ((const float *)bl_dataset_row(d, i))[0]; }

static void test_dtypes(void **s)
{
    (void)s;
    assert_int_equal(bl_dtype_size(BL_DT_U8), 1);
    assert_int_equal(bl_dtype_size(BL_DT_BOOL), 1);
    assert_int_equal(bl_dtype_size(BL_DT_I32), 4);
    assert_int_equal(bl_dtype_size(BL_DT_F32), 4);
    assert_int_equal(bl_dtype_size(BL_DT_F64), 8);
    assert_int_equal(bl_dtype_size(BL_DT_I64), 8);
    assert_int_equal(bl_dtype_size((bl_dtype)99), 0);
    assert_string_equal(bl_dtype_name(BL_DT_F32), "f32");
    assert_string_equal(bl_dtype_name(BL_DT_U8), "u8");
}

static void test_from_memory(void **s)
{
    (void)s;
    bl_dataset *d = make_ds(10, 1);
    assert_int_equal(bl_dataset_count(d), 10);
    assert_int_equal(bl_dataset_features(d), 2);
    assert_int_equal(bl_dataset_nclasses(d), 3);
    assert_string_equal(bl_dataset_name(d), "syn");
    assert_true(first(d, 7) == 7.0f);
    assert_int_equal(bl_dataset_label(d, 5), 2);
    bl_dataset_free(d);
    bl_dataset_free(NULL);
    /* negative label: rejected, buffers freed (ASan checks) */
    float *x = malloc(8);
    int32_t *y = malloc(8);
    y[0] = 1;
    y[1] = -3;
    bl_error e = {0};
    assert_int_equal(bl_dataset_from_memory("neg", BL_DT_F32, 2, 1, 1, 1, x, y, &d, &e),
                     BL_ERANGE);
    assert_non_null(strstr(e.msg, "neg"));
    assert_int_equal(bl_dataset_from_memory("z", BL_DT_F32, 2, 0, 1, 1, malloc(4), NULL, &d, &e),
                     BL_EINVAL);
}

static void test_row_f32_all_dtypes(void **s)
{
    (void)s;
    bl_dtype dts[] = {BL_DT_U8, BL_DT_BOOL, BL_DT_I32, BL_DT_F32, BL_DT_F64, BL_DT_I64};
    for (size_t k = 0; k < 6; k++) {
        size_t es = bl_dtype_size(dts[k]);
        uint8_t *x = malloc(3 * es);
        for (int i = 0; i < 3; i++) {
            switch (dts[k]) {
            case BL_DT_U8: case BL_DT_BOOL: x[i] = (uint8_t)(i & 1); break;
            case BL_DT_I32: ((int32_t *)x)[i] = -i; break;
            case BL_DT_F32: ((float *)x)[i] = 0.5f * (float)i; break;
            case BL_DT_F64: ((double *)x)[i] = 0.25 * i; break;
            case BL_DT_I64: ((int64_t *)x)[i] = (int64_t)i << 20; break;
            }
        }
        bl_dataset *d;
        bl_error e;
        assert_int_equal(bl_dataset_from_memory("t", dts[k], 1, 3, 1, 1, x, NULL, &d, &e), 0);
        float f[3];
        bl_dataset_row_f32(d, 0, f);
        float want = 0;
        switch (dts[k]) {
        case BL_DT_U8: case BL_DT_BOOL: want = 1.0f; break;
        case BL_DT_I32: want = -1.0f; break;
        case BL_DT_F32: want = 0.5f; break;
        case BL_DT_F64: want = 0.25f; break;
        case BL_DT_I64: want = 1048576.0f; break;
        }
        assert_true(f[1] == want);
        bl_dataset_free(d);
    }
}

static void test_subset_views(void **s)
{
    (void)s;
    bl_dataset *d = make_ds(100, 1), *a, *b, *c;
    bl_error e;
    assert_int_equal(bl_dataset_subset(d, 10, 50, &a, &e), 0);
    assert_int_equal(bl_dataset_count(a), 50);
    assert_true(first(a, 0) == 10.0f);
    assert_int_equal(bl_dataset_subset(a, 5, 10, &b, &e), 0);
    assert_true(first(b, 0) == 15.0f);
    assert_true(first(b, 9) == 24.0f);
    assert_int_equal(bl_dataset_label(b, 0), 0);   /* 15 % 3 */
    assert_int_equal(bl_dataset_nclasses(b), 3);
    assert_int_equal(bl_dataset_subset(b, 0, 0, &c, &e), 0); /* empty view is fine */
    assert_int_equal(bl_dataset_count(c), 0);
    bl_dataset_free(c);
    /* out of range */
    c = (bl_dataset *)1;
    assert_int_equal(bl_dataset_subset(b, 5, 6, &c, &e), BL_ERANGE);
    assert_null(c);
    assert_non_null(strstr(e.msg, "syn"));
    assert_int_equal(bl_dataset_subset(b, SIZE_MAX, 2, &c, &e), BL_ERANGE);
    /* the parent can go first: views keep the storage alive */
    bl_dataset_free(d);
    bl_dataset_free(a);
    assert_true(first(b, 3) == 18.0f);
    float f[2];
    bl_dataset_row_f32(b, 3, f);
    assert_true(f[1] == -18.0f);
    bl_dataset_free(b);
}

static void test_select_views(void **s)
{
    (void)s;
    bl_dataset *d = make_ds(20, 1), *sub, *sel, *sel2, *sub2;
    bl_error e;
    assert_int_equal(bl_dataset_subset(d, 4, 10, &sub, &e), 0);   /* 4..13 */
    uint32_t idx[] = {9, 0, 3, 3};
    assert_int_equal(bl_dataset_select(sub, idx, 4, &sel, &e), 0); /* 13, 4, 7, 7 */
    assert_int_equal(bl_dataset_count(sel), 4);
    assert_true(first(sel, 0) == 13.0f);
    assert_true(first(sel, 1) == 4.0f);
    assert_true(first(sel, 3) == 7.0f);
    assert_int_equal(bl_dataset_label(sel, 0), 1);
    uint32_t idx2[] = {2, 0};
    assert_int_equal(bl_dataset_select(sel, idx2, 2, &sel2, &e), 0); /* 7, 13 */
    assert_true(first(sel2, 0) == 7.0f);
    assert_true(first(sel2, 1) == 13.0f);
    assert_int_equal(bl_dataset_subset(sel, 1, 2, &sub2, &e), 0);   /* 4, 7 */
    assert_true(first(sub2, 0) == 4.0f);
    assert_true(first(sub2, 1) == 7.0f);
    uint32_t bad[] = {1, 4};
    bl_dataset *x = (bl_dataset *)1;
    assert_int_equal(bl_dataset_select(sel, bad, 2, &x, &e), BL_ERANGE);
    assert_null(x);
    assert_non_null(strstr(e.msg, "index 4"));
    assert_int_equal(bl_dataset_select(sel, NULL, 1, &x, &e), BL_EINVAL);
    assert_int_equal(bl_dataset_select(sel, NULL, 0, &x, &e), 0);
    assert_int_equal(bl_dataset_count(x), 0);
    bl_dataset_free(x);
    bl_dataset_free(d);
    bl_dataset_free(sub);
    bl_dataset_free(sel);
    assert_true(first(sel2, 1) == 13.0f);
    assert_true(first(sub2, 1) == 7.0f);
    bl_dataset_free(sel2);
    bl_dataset_free(sub2);
}

static void test_unlabeled(void **s)
{
    (void)s;
    bl_dataset *d = make_ds(5, 0), *v;
    bl_error e;
    assert_false(bl_dataset_has_labels(d));
    assert_int_equal(bl_dataset_label(d, 2), -1);
    assert_int_equal(bl_dataset_subset(d, 1, 2, &v, &e), 0);
    assert_int_equal(bl_dataset_label(v, 0), -1);
    bl_dataset_free(v);
    bl_dataset_free(d);
}

/* NaN and infinite features are errors naming the dataset, row and value
 * (they used to become pixel code 0), in float32 and float64 alike. */
static void test_nonfinite_features(void **s)
{
    (void)s;
    bl_dataset *d = NULL;
    bl_error e = {0};
    float *x = calloc(6, sizeof *x);
    x[3] = 0.0f / 0.0f;
    assert_int_equal(bl_dataset_from_memory("nanset", BL_DT_F32, 3, 1, 2, 1, x, NULL, &d, &e),
                     BL_EFORMAT);
    assert_null(d);
    assert_non_null(strstr(e.msg, "nanset"));
    assert_non_null(strstr(e.msg, "row 2"));
    assert_non_null(strstr(e.msg, "feature 1"));
    assert_non_null(strstr(e.msg, "NaN"));
    double *xd = calloc(4, sizeof *xd);
    xd[0] = -1.0 / 0.0;
    assert_int_equal(bl_dataset_from_memory("infset", BL_DT_F64, 2, 1, 2, 1, xd, NULL, &d, &e),
                     BL_EFORMAT);
    assert_non_null(strstr(e.msg, "-inf"));
}

/* A FIFO is refused at once ("not a regular file"), never opened for a
 * read that would wait for a writer for ever. */
static void test_fifo_refused(void **s)
{
    (void)s;
    char dir[] = "/tmp/bl_fifo_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/f.csv", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    bl_dataset *d = NULL;
    bl_error e = {0};
    assert_true(bl_dataset_load(path, NULL, &d, &e) < 0);
    assert_non_null(strstr(e.msg, "not a regular file"));
    snprintf(path, sizeof path, "%s/f.idx", dir);   /* the loader's own path */
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_true(bl_dataset_load(path, NULL, &d, &e) < 0);
    assert_non_null(strstr(e.msg, "not a regular file"));
    unlink(path);
    snprintf(path, sizeof path, "%s/f.csv", dir);
    unlink(path);
    rmdir(dir);
}

static void test_dispatch(void **s)
{
    (void)s;
    EXPECT_FAIL(P("nope.npy"), NULL, BL_ENOTFOUND, "nope.npy");
    EXPECT_FAIL("nosuch:thing", NULL, BL_ENOTFOUND, "fashion-mnist:train");
    EXPECT_FAIL(write_file("x.weird", "hello world", 11), NULL, BL_EUNSUPPORTED, "x.weird");
    bl_error e;
    bl_dataset *d;
    assert_int_equal(bl_dataset_load("", NULL, &d, &e), BL_EINVAL);
    assert_int_equal(bl_dataset_load(NULL, NULL, &d, &e), BL_EINVAL);
    /* content sniffing: an IDX file with an unhelpful extension */
    uint8_t idx[4 + 8 + 2] = {0, 0, 8, 2, 0, 0, 0, 1, 0, 0, 0, 2, 5, 6};
    d = load_ok(write_file("data.raw", idx, sizeof idx), NULL);
    assert_int_equal(bl_dataset_features(d), 2);
    bl_dataset_free(d);
    /* a CSV by extension, with options */
    bl_load_opts o = {0};
    o.csv_label = BL_CSV_LABEL_FIRST;
    d = load_ok(write_file("s.csv", "2,0.5,1\n0,1,2\n", 14), &o);
    assert_int_equal(bl_dataset_label(d, 0), 2);
    bl_dataset_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtypes),
        cmocka_unit_test(test_from_memory),
        cmocka_unit_test(test_row_f32_all_dtypes),
        cmocka_unit_test(test_subset_views),
        cmocka_unit_test(test_select_views),
        cmocka_unit_test(test_unlabeled),
        cmocka_unit_test(test_dispatch),
        cmocka_unit_test(test_nonfinite_features),
        cmocka_unit_test(test_fifo_refused),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
