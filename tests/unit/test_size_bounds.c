/* test_size_bounds.c - totals are bounded before anything of that size is
 * allocated, with an error naming the size: an architecture spec whose
 * layers each fit but add up to many GiB, and clustering data too wide
 * (one row of 1e6 values) or too large in all (features x rows). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <cmocka.h>

#include "bnn/model.h"
#include "cluster/cluster.h"
#include "cluster/subsets.h"
#include "data/dataset.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long maxrss_kb(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

static void test_spec_total(void **state)
{
    (void)state;
    bl_error err = { 0 };
    bl_model *m = NULL;
    /* four layers of 1.7 GB each: every one under the per-layer limit */
    const char *big = "120000-120000-120000-120000-10";
    uint64_t bytes = 0;
    assert_int_equal(bl_model_spec_bytes(big, NULL, &bytes, &err), 0);
    assert_true(bytes > ((uint64_t)5 << 30));
    long rss0 = maxrss_kb();
    double t0 = now();
    assert_int_not_equal(bl_model_from_spec(big, NULL, &m, &err), 0);
    assert_null(m);
    assert_non_null(strstr(err.msg, "GiB"));
    assert_non_null(strstr(err.msg, "at most 4 GiB"));
    /* rejected up front: no GiB allocated (and touched) first */
    assert_true(now() - t0 < 1.0);
    assert_true(maxrss_kb() - rss0 < 64 * 1024);

    /* the sizer agrees with what is built */
    assert_int_equal(bl_model_spec_bytes("784-2048-2048-10", NULL, &bytes, &err), 0);
    uint64_t weights = (784 * 2048 + 2048 * 2048 + 2048 * 10) / 8;
    assert_true(bytes >= weights && bytes < weights + 65536);
    assert_int_equal(bl_model_from_spec("784-2048-2048-10", NULL, &m, &err), 0);
    bl_model_free(m);
    assert_int_equal(bl_model_spec_bytes("vgg3", NULL, &bytes, &err), 0);
    assert_int_not_equal(bl_model_spec_bytes("10-x", NULL, &bytes, &err), 0);
}

static void test_cluster_bounds(void **state)
{
    (void)state;
    bl_error err = { 0 };
    assert_int_equal(bl_cluster_size_check(70000, 784, &err), 0);
    assert_int_not_equal(bl_cluster_size_check(1, 1000000, &err), 0);
    assert_non_null(strstr(err.msg, "1000000 values each"));
    assert_int_not_equal(bl_cluster_size_check(1000000, 1000, &err), 0);
    assert_non_null(strstr(err.msg, "GiB"));
    assert_int_not_equal(bl_cluster_size_check(SIZE_MAX, 2, &err), 0);

    /* one row of 1e6 values (a CSV row of 1e6 columns) */
    size_t d = 1000000;
    uint8_t *x = calloc(2, d);
    assert_non_null(x);
    bl_dataset *ds = NULL;
    assert_int_equal(bl_dataset_from_memory("wide", BL_DT_U8, 2, 1, 1, (uint32_t)d, x, NULL,
                                            &ds, &err), 0);
    double *v = NULL;
    size_t n = 0, dd = 0;
    assert_int_not_equal(bl_cluster_features(ds, 0, &v, &n, &dd, &err), 0);
    assert_null(v);
    assert_non_null(strstr(err.msg, "at most 16384 values per point"));
    bl_dataset_free(ds);

    /* the backend checks too (data made another way: blobs, Lua tables) */
    double one[4] = { 0 };
    bl_cluster_data data = { 1, BL_CLUSTER_MAX_DIM + 1, one };
    bl_cluster_backend *b = NULL;
    assert_int_not_equal(bl_cluster_backend_new("cpu", &data, BL_PREC_FP32, 1, 1, NULL, &b, &err),
                         0);
    assert_null(b);
    assert_non_null(strstr(err.msg, "values per point"));
    double *bx = NULL;
    assert_int_not_equal(bl_cluster_blobs(1000000, 1000, 3, 1, &bx, NULL, &err), 0);
    assert_null(bx);
    assert_non_null(strstr(err.msg, "GiB"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_total),
        cmocka_unit_test(test_cluster_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
