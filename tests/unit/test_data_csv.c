/* test_data_csv.c - CSV loader: header detection, delimiters, quoting, CRLF,
 * label columns, locale independence and errors with line and byte. */
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
#include <locale.h>

static const char *wr(const char *name, const char *text) { return write_file(name, text, strlen(text)); }

static void expect_row(const bl_dataset *d, size_t i, const float *want, size_t n, int label)
{
    assert_int_equal(bl_dataset_features(d), n);
    const float *x = bl_dataset_row(d, i);
    for (size_t k = 0; k < n; k++)
        if (x[k] != want[k])
            fail_msg("row %zu col %zu: %g != %g", i, k, (double)x[k], (double)want[k]);
    assert_int_equal(bl_dataset_label(d, i), label);
}

static void test_basic_header_last(void **s)
{
    (void)s;
    bl_dataset *d = load_ok(wr("a.csv", "f1,f2,label\n1.5,-2,3\n0,1e2,0\n"), NULL);
    assert_int_equal(bl_dataset_count(d), 2);
    assert_int_equal(bl_dataset_dtype(d), BL_DT_F32);
    uint32_t h, w, c;
    bl_dataset_shape(d, &h, &w, &c);
    assert_int_equal(h * 100 + w * 10 + c, 112);
    expect_row(d, 0, (float[]){1.5f, -2.0f}, 2, 3);
    expect_row(d, 1, (float[]){0.0f, 100.0f}, 2, 0);
    assert_int_equal(bl_dataset_nclasses(d), 4);
    bl_dataset_free(d);
}

static void test_label_modes(void **s)
{
    (void)s;
    const char *p = wr("b.csv", "1,0.25,0.5\n2,0.75,1\n");
    bl_load_opts o = {0};
    o.csv_label = BL_CSV_LABEL_FIRST;
    bl_dataset *d = load_ok(p, &o);
    expect_row(d, 1, (float[]){0.75f, 1.0f}, 2, 2);
    bl_dataset_free(d);
    o.csv_label = BL_CSV_LABEL_NONE;
    d = load_ok(p, &o);
    assert_false(bl_dataset_has_labels(d));
    expect_row(d, 0, (float[]){1.0f, 0.25f, 0.5f}, 3, -1);
    bl_dataset_free(d);
    /* labels written as 3.0 are integers too */
    d = load_ok(wr("b2.csv", "0.5,3.0\n"), NULL);
    assert_int_equal(bl_dataset_label(d, 0), 3);
    bl_dataset_free(d);
    o.csv_label = 7;
    EXPECT_FAIL(p, &o, BL_EINVAL, "b.csv");
}

static void test_dialects(void **s)
{
    (void)s;
    /* semicolons, CRLF, blank lines, quotes, spaces, BOM */
    bl_dataset *d = load_ok(wr("c.csv", "\xEF\xBB\xBF\"x\";\"y\";\"cls\"\r\n\r\n 1 ; \"2.5\" ;1\r\n  \r\n3;4;0\r\n"),
                            NULL);
    assert_int_equal(bl_dataset_count(d), 2);
    expect_row(d, 0, (float[]){1.0f, 2.5f}, 2, 1);
    expect_row(d, 1, (float[]){3.0f, 4.0f}, 2, 0);
    bl_dataset_free(d);
    /* tabs, no header, no final newline */
    d = load_ok(wr("d.tsv", "1\t2\t1\n-0.5\t.5\t2"), NULL);
    expect_row(d, 1, (float[]){-0.5f, 0.5f}, 2, 2);
    bl_dataset_free(d);
    /* header with quoted delimiter inside */
    d = load_ok(wr("e.csv", "\"a,b\",c\n1,2\n"), NULL);
    assert_int_equal(bl_dataset_count(d), 1);
    expect_row(d, 0, (float[]){1.0f}, 1, 2);
    bl_dataset_free(d);
    /* gzip-compressed CSV */
    const char *t = "1,2,3\n4,5,6\n";
    d = load_ok(write_gz("f.csv.gz", t, strlen(t)), NULL);
    expect_row(d, 1, (float[]){4.0f, 5.0f}, 2, 6);
    bl_dataset_free(d);
}

static void test_locale_independent(void **s)
{
    (void)s;
    /* A decimal-comma locale must not change how "1.5" reads. */
    const char *loc = setlocale(LC_NUMERIC, "de_DE.UTF-8");
    bl_dataset *d = load_ok(wr("g.csv", "1.5,2\n"), NULL);
    expect_row(d, 0, (float[]){1.5f}, 1, 2);
    bl_dataset_free(d);
    setlocale(LC_NUMERIC, "C");
    if (!loc)
        print_message("(de_DE.UTF-8 locale not installed; checked in C locale only)\n");
}

static void test_errors(void **s)
{
    (void)s;
    EXPECT_FAIL(wr("r.csv", "1,2,3\n4,5,6\n\n7,8\n"), NULL, BL_EFORMAT,
                "r.csv: line 4 (byte 13): 2 columns, but line 1 has 3");
    EXPECT_FAIL(wr("r2.csv", "h1,h2\n1,2\n3,4,5\n"), NULL, BL_EFORMAT, "line 3");
    EXPECT_FAIL(wr("n.csv", "1,2,3\n4,abc,6\n"), NULL, BL_EFORMAT,
                "n.csv: line 2 (byte 8): field 2 \"abc\" is not a number");
    EXPECT_FAIL(wr("n2.csv", "1,2,3\n4,,6\n"), NULL, BL_EFORMAT, "field 2 is empty");
    EXPECT_FAIL(wr("n3.csv", "1,2,3\n4,nan,6\n"), NULL, BL_EFORMAT, "\"nan\" is not a number");
    EXPECT_FAIL(wr("n4.csv", "1,inf,3\n"), NULL, BL_EFORMAT, "n4.csv");
    EXPECT_FAIL(wr("n5.csv", "1,1e999,3\n"), NULL, BL_ERANGE, "out of range");
    EXPECT_FAIL(wr("n6.csv", "1,1e39,3\n"), NULL, BL_ERANGE, "out of range");
    EXPECT_FAIL(wr("n7.csv", "1,0x10,3\n"), NULL, BL_EFORMAT, "n7.csv");
    EXPECT_FAIL(wr("l.csv", "1,2,-1\n"), NULL, BL_EFORMAT, "label \"-1\" is not an integer >= 0");
    EXPECT_FAIL(wr("l2.csv", "1,2,1.5\n"), NULL, BL_EFORMAT, "l2.csv: line 1");
    EXPECT_FAIL(wr("l3.csv", "1,2,x\n1,2,x\n"), NULL, BL_EFORMAT, "l3.csv: line 2");
    EXPECT_FAIL(wr("l4.csv", "1,2,9999999999\n"), NULL, BL_EFORMAT, "l4.csv");
    EXPECT_FAIL(wr("q.csv", "1,\"2,3\n"), NULL, BL_EFORMAT, "unterminated quoted field");
    EXPECT_FAIL(wr("q2.csv", "1,\"2\"x,3\n"), NULL, BL_EFORMAT, "q2.csv");
    EXPECT_FAIL(wr("e.csv", ""), NULL, BL_EFORMAT, "no data rows");
    EXPECT_FAIL(wr("e2.csv", "a,b,c\n\n"), NULL, BL_EFORMAT, "e2.csv: no data rows");
    EXPECT_FAIL(wr("one.csv", "1\n2\n"), NULL, BL_EFORMAT, "one column");
    EXPECT_FAIL(write_file("bin.csv", "1,2\0,3\n", 7), NULL, BL_EFORMAT, "bin.csv");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_header_last),
        cmocka_unit_test(test_label_modes),
        cmocka_unit_test(test_dialects),
        cmocka_unit_test(test_locale_independent),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
