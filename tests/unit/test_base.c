/* test_base.c - errors, checked sizes, RNG determinism, thread pool, files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/cpu.h"
#include "base/error.h"
#include "base/file.h"
#include "base/half.h"
#include "base/mem.h"
#include "base/pool.h"
#include "base/rng.h"

static void test_error_set_and_prefix(void **state)
{
    (void)state;
    bl_error e = { 0 };
    assert_int_equal(bl_error_set(&e, BL_EFORMAT, "bad %s at %d", "magic", 4), BL_EFORMAT);
    assert_string_equal(e.msg, "bad magic at 4");
    bl_error_prefix(&e, "x.bnn");
    assert_string_equal(e.msg, "x.bnn: bad magic at 4");
    assert_int_equal(e.code, BL_EFORMAT);
    /* NULL error records are allowed everywhere */
    assert_int_equal(bl_error_set(NULL, BL_EIO, "x"), BL_EIO);
    /* an overlong prefix is cut, never overflows */
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    bl_error_prefix(&e, "%s", big);
    assert_true(strlen(e.msg) < BL_ERROR_MSG_MAX);
    assert_string_equal(bl_strerror(BL_ECHECKSUM), "checksum mismatch");
}

static void test_size_checks(void **state)
{
    (void)state;
    size_t r;
    assert_true(bl_size_mul(1000, 1000, &r) && r == 1000000);
    assert_false(bl_size_mul(SIZE_MAX / 2 + 1, 2, &r));
    assert_false(bl_size_add(SIZE_MAX, 1, &r));
    assert_null(bl_alloc(SIZE_MAX - 3));
    uint8_t *p = bl_alloc(100);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % BL_ALIGN, 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(p[i], 0);
    bl_free(p);
    assert_int_equal(bl_words_for_bits(0), 0);
    assert_int_equal(bl_words_for_bits(64), 1);
    assert_int_equal(bl_words_for_bits(65), 2);
    uint64_t w[2] = { 0, 0 };
    bl_bit_set(w, 70, 1);
    assert_int_equal(w[1], 1ull << 6);
    assert_int_equal(bl_bit_get(w, 70), 1);
    bl_bit_flip(w, 70);
    assert_int_equal(w[1], 0);
}

static void test_rng_known_answer(void **state)
{
    (void)state;
    /* Philox4x32-10 known-answer vector from Random123 (kat_vectors):
     * counter 0, key 0 -> 6627e8d5 e169c58d bc57ac4c 9b00dbd8.  Our
     * mapping: counter = (index lo, index hi, layer, purpose), key = seed. */
    bl_rng_block b = bl_rng_block_at(0, 0, 0, 0);
    assert_int_equal(b.v[0], 0x6627e8d5u);
    assert_int_equal(b.v[1], 0xe169c58du);
    assert_int_equal(b.v[2], 0xbc57ac4cu);
    assert_int_equal(b.v[3], 0x9b00dbd8u);
    /* counter ffffffff x4, key ffffffff x2 -> 408f276d 41c83b0e a20bc7c6 6d5451fd */
    b = bl_rng_block_at(UINT64_MAX, UINT32_MAX, UINT32_MAX, UINT64_MAX);
    assert_int_equal(b.v[0], 0x408f276du);
    assert_int_equal(b.v[1], 0x41c83b0eu);
    assert_int_equal(b.v[2], 0xa20bc7c6u);
    assert_int_equal(b.v[3], 0x6d5451fdu);
}

static void test_rng_streams(void **state)
{
    (void)state;
    /* pure function of the key */
    assert_true(bl_rng_u64(1, BL_RNG_FAULT, 2, 3) == bl_rng_u64(1, BL_RNG_FAULT, 2, 3));
    assert_true(bl_rng_u64(1, BL_RNG_FAULT, 2, 3) != bl_rng_u64(2, BL_RNG_FAULT, 2, 3));
    assert_true(bl_rng_u64(1, BL_RNG_FAULT, 2, 3) != bl_rng_u64(1, BL_RNG_SHUFFLE, 2, 3));
    assert_true(bl_rng_u64(1, BL_RNG_FAULT, 2, 3) != bl_rng_u64(1, BL_RNG_FAULT, 3, 3));
    /* uniforms in [0,1), mean near 1/2 and a rough chi-square over 16 bins */
    int bins[16] = { 0 };
    double sum = 0;
    const int n = 160000;
    for (int i = 0; i < n; i++) {
        double u = bl_rng_uniform(42, BL_RNG_TEST, 0, (uint64_t)i);
        assert_true(u >= 0.0 && u < 1.0);
        sum += u;
        bins[(int)(u * 16)]++;
    }
    assert_true(sum / n > 0.495 && sum / n < 0.505);
    double chi = 0;
    for (int i = 0; i < 16; i++) {
        double d = bins[i] - n / 16.0;
        chi += d * d / (n / 16.0);
    }
    assert_true(chi < 40.0); /* 15 dof: p < 0.001 beyond 37.7 */
    bl_rng_stream s = bl_rng_stream_init(7, BL_RNG_TEST, 0);
    for (int i = 0; i < 1000; i++)
        assert_true(bl_rng_stream_below(&s, 3) < 3);
}

static atomic_int hits[1000];
static void count_task(void *ctx, size_t task, int worker)
{
    int nthreads = *(int *)ctx;
    assert_true(worker >= 0 && worker < nthreads);
    atomic_fetch_add(&hits[task], 1);
}

static void test_pool_runs_every_task_once(void **state)
{
    (void)state;
    int counts[] = { 1, 2, 3, 7 };
    for (size_t k = 0; k < sizeof counts / sizeof *counts; k++) {
        bl_pool *p = bl_pool_new(counts[k]);
        assert_non_null(p);
        assert_int_equal(bl_pool_threads(p), counts[k]);
        for (int rep = 0; rep < 20; rep++) {
            for (int i = 0; i < 1000; i++)
                atomic_store(&hits[i], 0);
            int nt = counts[k];
            bl_pool_run(p, 1000, count_task, &nt);
            for (int i = 0; i < 1000; i++)
                assert_int_equal(atomic_load(&hits[i]), 1);
        }
        bl_pool_run(p, 0, count_task, NULL); /* no tasks: returns at once */
        bl_pool_free(p);
    }
    assert_true(bl_cpu_count() >= 1);
}

static void test_cpu_levels(void **state)
{
    (void)state;
    assert_int_equal(bl_simd_parse("portable"), BL_SIMD_PORTABLE);
    assert_int_equal(bl_simd_parse("avx512"), BL_SIMD_AVX512);
    assert_int_equal(bl_simd_parse("sse9"), -1);
    assert_true(bl_simd_default() <= bl_simd_supported());
    /* the front end caps the level (BETLAB_SIMD, cli/env.c) */
    bl_simd_set_limit(BL_SIMD_PORTABLE);
    assert_int_equal(bl_simd_default(), BL_SIMD_PORTABLE);
    bl_simd_set_limit(-1);
    assert_int_equal(bl_simd_default(), bl_simd_supported());
}

static void test_atomic_write_and_gz_read(void **state)
{
    (void)state;
    char dir[] = "/tmp/bl_test_baseXXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], gzpath[256];
    snprintf(path, sizeof path, "%s/a.txt", dir);
    snprintf(gzpath, sizeof gzpath, "%s/a.txt.gz", dir);
    bl_error e = { 0 };
    assert_int_equal(bl_file_write_atomic(path, "hello", 5, &e), 0);
    assert_int_equal(bl_file_write_atomic(path, "world!", 6, &e), 0);
    uint8_t *d;
    size_t n;
    assert_int_equal(bl_file_read(path, 100, &d, &n, &e), 0);
    assert_int_equal(n, 6);
    assert_memory_equal(d, "world!", 6);
    free(d);
    /* size cap */
    assert_int_equal(bl_file_read(path, 3, &d, &n, &e), BL_ERANGE);
    assert_non_null(strstr(e.msg, "a.txt"));
    /* missing file, missing directory */
    assert_int_equal(bl_file_read("/nonexistent/x", 100, &d, &n, &e), BL_ENOTFOUND);
    assert_int_equal(bl_file_write_atomic("/nonexistent/dir/x", "a", 1, &e), BL_EIO);
    /* gzip round trip, and truncated gzip is an error */
    gzFile g = gzopen(gzpath, "wb");
    assert_non_null(g);
    char big[10000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 7);
    gzwrite(g, big, sizeof big);
    gzclose(g);
    assert_int_equal(bl_file_read_maybe_gz(gzpath, 1 << 20, &d, &n, &e), 0);
    assert_int_equal(n, sizeof big);
    assert_memory_equal(d, big, sizeof big);
    free(d);
    assert_int_equal(bl_file_read_maybe_gz(gzpath, 100, &d, &n, &e), BL_ERANGE);
    assert_int_equal(truncate(gzpath, 40), 0);
    assert_int_equal(bl_file_read_maybe_gz(gzpath, 1 << 20, &d, &n, &e), BL_EFORMAT);
    assert_non_null(strstr(e.msg, "a.txt.gz"));
    /* no temporary files left behind */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c tmp >/dev/null", dir);
    assert_int_not_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_half_conversions(void **state)
{
    (void)state;
    /* every half converts to the float it denotes and back to itself */
    for (uint32_t h = 0; h < 65536; h++) {
        float f = bl_half_to_float((bl_half)h);
        if (f != f) { /* nan stays nan */
            assert_true((bl_float_to_half(f) & 0x7c00u) == 0x7c00u);
            continue;
        }
        assert_int_equal(bl_float_to_half(f), h);
#ifdef __FLT16_MAX__
        /* and agrees with the compiler's _Float16 where there is one */
        _Float16 c;
        uint16_t hv = (uint16_t)h;
        memcpy(&c, &hv, 2);
        assert_true((float)c == f);
#endif
    }
    /* rounding: to nearest, ties to even, overflow to inf, tiny to zero */
    assert_int_equal(bl_float_to_half(1.0f + 0x1p-11f), 0x3c00); /* tie -> even */
    assert_int_equal(bl_float_to_half(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
    assert_int_equal(bl_float_to_half(65520.0f), 0x7c00);
    assert_int_equal(bl_float_to_half(65519.0f), 0x7bff);
    assert_int_equal(bl_float_to_half(0x1p-26f), 0x0000);
    assert_int_equal(bl_float_to_half(0x1p-24f), 0x0001);
    assert_int_equal(bl_float_to_half(-2.0f), 0xc000);
#ifdef __FLT16_MAX__
    bl_rng_stream s = bl_rng_stream_init(3, BL_RNG_TEST, 0);
    for (int i = 0; i < 200000; i++) {
        uint32_t bits = (uint32_t)bl_rng_stream_u64(&s);
        float f;
        memcpy(&f, &bits, 4);
        if (f != f)
            continue;
        _Float16 c = (_Float16)f;
        uint16_t cv;
        memcpy(&cv, &c, 2);
        assert_int_equal(bl_float_to_half(f), cv);
    }
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_set_and_prefix),
        cmocka_unit_test(test_size_checks),
        cmocka_unit_test(test_rng_known_answer),
        cmocka_unit_test(test_rng_streams),
        cmocka_unit_test(test_pool_runs_every_task_once),
        cmocka_unit_test(test_cpu_levels),
        cmocka_unit_test(test_atomic_write_and_gz_read),
        cmocka_unit_test(test_half_conversions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
