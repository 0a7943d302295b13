/* test_data_cifar.c - CIFAR-10 binary batches: CHW -> HWC conversion,
 * directories of batches, cifar10:train|test names, malformed files. */
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

#define REC 3073

/* Record r: label, then planes where pixel p of channel ch = (r*7 + ch*50 + p) & 255. */
static void fill(uint8_t *b, size_t nrec, const uint8_t *labels)
{
    for (size_t r = 0; r < nrec; r++) {
        uint8_t *p = b + r * REC;
        p[0] = labels[r];
        for (int ch = 0; ch < 3; ch++)
            for (int i = 0; i < 1024; i++)
                p[1 + ch * 1024 + i] = (uint8_t)(r * 7 + ch * 50 + i);
    }
}

static void check_rec(const bl_dataset *d, size_t i, size_t r)
{
    const uint8_t *x = bl_dataset_row(d, i);
    for (int p = 0; p < 1024; p += 97)
        for (int ch = 0; ch < 3; ch++)
            assert_int_equal(x[3 * p + ch], (uint8_t)(r * 7 + ch * 50 + p));
}

static void test_single_batch(void **s)
{
    (void)s;
    static uint8_t b[3 * REC];
    uint8_t l[3] = {3, 9, 0};
    fill(b, 3, l);
    bl_dataset *d = load_ok(write_file("one.bin", b, sizeof b), NULL);
    assert_int_equal(bl_dataset_count(d), 3);
    uint32_t h, w, c;
    bl_dataset_shape(d, &h, &w, &c);
    assert_int_equal(h, 32);
    assert_int_equal(w, 32);
    assert_int_equal(c, 3);
    assert_int_equal(bl_dataset_dtype(d), BL_DT_U8);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(bl_dataset_label(d, i), l[i]);
        check_rec(d, i, i);
    }
    assert_int_equal(bl_dataset_nclasses(d), 10);
    bl_dataset_free(d);
}

static void test_directory_and_names(void **s)
{
    (void)s;
    static uint8_t b[2 * REC];
    mkdir(P("cifar-10-batches-bin"), 0755);
    char name[64];
    for (int k = 1; k <= 5; k++) {
        uint8_t l[2] = {(uint8_t)k, (uint8_t)(k - 1)};
        fill(b, 2, l);
        snprintf(name, sizeof name, "cifar-10-batches-bin/data_batch_%d.bin", k);
        write_file(name, b, sizeof b);
    }
    bl_dataset *d = load_ok(P("cifar-10-batches-bin"), NULL);
    assert_int_equal(bl_dataset_count(d), 10);
    for (int k = 0; k < 5; k++) {
        assert_int_equal(bl_dataset_label(d, (size_t)(2 * k)), k + 1);
        assert_int_equal(bl_dataset_label(d, (size_t)(2 * k + 1)), k);
    }
    check_rec(d, 3, 1);
    bl_dataset_free(d);
    /* named, through BETLAB_DATA */
    uint8_t l1[1] = {4};
    fill(b, 1, l1);
    write_file("cifar-10-batches-bin/test_batch.bin", b, REC);
    bl_load_opts lo = { .data_dir = tdir }; /* betlab: $BETLAB_DATA */
    d = load_ok("cifar10:train", &lo);
    assert_int_equal(bl_dataset_count(d), 10);
    assert_string_equal(bl_dataset_name(d), "cifar10:train");
    bl_dataset_free(d);
    d = load_ok("cifar10:test", &lo);
    assert_int_equal(bl_dataset_count(d), 1);
    assert_int_equal(bl_dataset_label(d, 0), 4);
    bl_dataset_free(d);
    EXPECT_FAIL("cifar10:valid", &lo, BL_ENOTFOUND, "cifar10:valid");
    /* a missing batch */
    remove(P("cifar-10-batches-bin/data_batch_4.bin"));
    EXPECT_FAIL(P("cifar-10-batches-bin"), NULL, BL_ENOTFOUND, "data_batch_4.bin");
    EXPECT_FAIL("cifar10:train", &lo, BL_ENOTFOUND, "data_batch_4.bin");
    char nothing[300];
    snprintf(nothing, sizeof nothing, "%s", P("nothing-here"));
    lo.data_dir = nothing;
    EXPECT_FAIL("cifar10:test", &lo, BL_ENOTFOUND, "nothing-here");
    /* an empty directory */
    mkdir(P("emptydir"), 0755);
    EXPECT_FAIL(P("emptydir"), NULL, BL_ENOTFOUND, "data_batch_1.bin");
}

static void test_malformed(void **s)
{
    (void)s;
    static uint8_t b[3 * REC];
    uint8_t l[3] = {1, 2, 3};
    fill(b, 3, l);
    /* partial record: truncated at several points */
    size_t cuts[] = {1, 100, REC + 1, 2 * REC + 3072};
    for (size_t k = 0; k < 4; k++) {
        char needle[64];
        snprintf(needle, sizeof needle, "partial record at byte %zu", cuts[k] - cuts[k] % REC);
        EXPECT_FAIL(write_file("cut.bin", b, cuts[k]), NULL, BL_EFORMAT, needle);
    }
    EXPECT_FAIL(write_file("empty.bin", b, 0), NULL, BL_EFORMAT, "empty.bin");
    /* trailing bytes are a partial record too */
    static uint8_t t[2 * REC + 5];
    memcpy(t, b, 2 * REC);
    EXPECT_FAIL(write_file("tail.bin", t, sizeof t), NULL, BL_EFORMAT, "at byte 6146");
    /* label out of range */
    b[REC] = 10;
    EXPECT_FAIL(write_file("lab.bin", b, sizeof b), NULL, BL_ERANGE,
                "record 1 (byte 3073): label 10");
    b[REC] = 2;
    bl_load_opts o = {0};
    o.max_bytes = 1000;
    EXPECT_FAIL(write_file("big.bin", b, sizeof b), &o, BL_ERANGE, "big.bin");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_batch),
        cmocka_unit_test(test_directory_and_names),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
