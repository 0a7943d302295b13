/* test_data_fashion.c - named datasets: fashion-mnist:train|test from the
 * Debian package (a failure when absent: make deps installs it; a skip with
 * BETLAB_ALLOW_SKIP=1), $BETLAB_DATA lookup, mnist:*. */
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
#include "support/needs.h"

#define FM BL_TEST_FASHION_DIR

static void check_split(const char *name, size_t n, size_t per_class)
{
    needs_fashion();
    bl_dataset *d = load_ok(name, NULL); /* no data_dir: the system copy */
    assert_string_equal(bl_dataset_name(d), name);
    assert_int_equal(bl_dataset_count(d), n);
    uint32_t h, w, c;
    bl_dataset_shape(d, &h, &w, &c);
    assert_int_equal(h, 28);
    assert_int_equal(w, 28);
    assert_int_equal(c, 1);
    assert_int_equal(bl_dataset_dtype(d), BL_DT_U8);
    assert_int_equal(bl_dataset_nclasses(d), 10);
    size_t cnt[10] = {0};
    for (size_t i = 0; i < n; i++) {
        int32_t l = bl_dataset_label(d, i);
        assert_true(l >= 0 && l < 10);
        cnt[l]++;
    }
    for (int k = 0; k < 10; k++)
        assert_int_equal(cnt[k], per_class);
    if (n == 10000) {
        int32_t first[5] = {9, 2, 1, 1, 6};
        for (int i = 0; i < 5; i++)
            assert_int_equal(bl_dataset_label(d, (size_t)i), first[i]);
        /* pixels span the full byte range */
        const uint8_t *x = bl_dataset_row(d, 0);
        int mx = 0;
        for (int i = 0; i < 784; i++)
            mx = x[i] > mx ? x[i] : mx;
        assert_true(mx > 200);
    }
    bl_dataset_free(d);
}

static void test_fashion_test(void **s) { (void)s; check_split("fashion-mnist:test", 10000, 1000); }
static void test_fashion_train(void **s) { (void)s; check_split("fashion-mnist:train", 60000, 6000); }

static void put_idx(const char *name, int images, uint32_t n, uint8_t fillv)
{
    uint8_t b[16 + 4 * 4];
    uint8_t hdr[16] = {0, 0, 8, (uint8_t)(images ? 3 : 1)};
    size_t h = images ? 16 : 8;
    hdr[4] = (uint8_t)(n >> 24); hdr[5] = (uint8_t)(n >> 16); hdr[6] = (uint8_t)(n >> 8); hdr[7] = (uint8_t)n;
    if (images) {
        hdr[11] = 2;
        hdr[15] = 2;
    }
    memcpy(b, hdr, h);
    memset(b + h, fillv, images ? 4 * n : n);
    write_gz(name, b, h + (images ? 4 * n : n));
}

static void test_betlab_data_first(void **s)
{
    (void)s;
    /* DATA/fashion-mnist/ wins over the system copy (DATA: bl_load_opts'
     * data_dir, which betlab fills from $BETLAB_DATA) */
    bl_load_opts lo = { .data_dir = tdir };
    mkdir(P("fashion-mnist"), 0755);
    put_idx("fashion-mnist/t10k-images-idx3-ubyte.gz", 1, 3, 7);
    put_idx("fashion-mnist/t10k-labels-idx1-ubyte.gz", 0, 3, 4);
    bl_dataset *d = load_ok("fashion-mnist:test", &lo);
    assert_int_equal(bl_dataset_count(d), 3);
    assert_int_equal(bl_dataset_label(d, 2), 4);
    bl_dataset_free(d);
    /* DATA directly, for mnist */
    put_idx("t10k-images-idx3-ubyte.gz", 1, 2, 1);
    put_idx("t10k-labels-idx1-ubyte.gz", 0, 2, 3);
    d = load_ok("mnist:test", &lo);
    assert_int_equal(bl_dataset_count(d), 2);
    assert_string_equal(bl_dataset_name(d), "mnist:test");
    bl_dataset_free(d);
    /* images without labels is an error for a named dataset */
    put_idx("train-images-idx3-ubyte.gz", 1, 2, 1);
    EXPECT_FAIL("mnist:train", &lo, BL_ENOTFOUND, "no labels file");
    /* a broken labels file is reported, not ignored */
    put_idx("fashion-mnist/train-images-idx3-ubyte.gz", 1, 3, 7);
    put_idx("fashion-mnist/train-labels-idx1-ubyte.gz", 0, 2, 4);
    EXPECT_FAIL("fashion-mnist:train", &lo, BL_EFORMAT, "2 labels but");
    /* not found anywhere: the message lists where it looked */
    char vdir[300];
    snprintf(vdir, sizeof vdir, "%s", P("void")); /* P's buffer is reused */
    lo.data_dir = vdir;
    EXPECT_FAIL("mnist:test", &lo, BL_ENOTFOUND, "void/mnist");
    EXPECT_FAIL("fashion-mnist:valid", &lo, BL_ENOTFOUND, "fashion-mnist:test");
    if (access(FM, F_OK) != 0)
        EXPECT_FAIL("fashion-mnist:test", &lo, BL_ENOTFOUND, "dataset-fashion-mnist");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fashion_test),
        cmocka_unit_test(test_fashion_train),
        cmocka_unit_test(test_betlab_data_first),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
