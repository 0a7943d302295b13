/* test_ocl.c - the OpenCL layer: discovery, device strings, error names,
 * build logs, the binary cache (miss, hit, corrupt entry rebuilt).  Without
 * an OpenCL device the device tests skip with a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/file.h"
#include "cli/env.h"
#include "ocl/ocl.h"

static char tmpdir[256];

static int have_device(void)
{
    bl_ocl_device_info *all;
    size_t n = 0;
    if (bl_ocl_list(&all, &n, NULL) == 0) free(all);
    if (n == 0) fprintf(stderr, "skip: no OpenCL platform/device present (make deps installs PoCL)\n");
    return n > 0;
}

static void test_error_names(void **state)
{
    (void)state;
    assert_string_equal(bl_ocl_strerror(CL_SUCCESS), "CL_SUCCESS");
    assert_string_equal(bl_ocl_strerror(CL_BUILD_PROGRAM_FAILURE), "CL_BUILD_PROGRAM_FAILURE");
    assert_string_equal(bl_ocl_strerror(CL_INVALID_WORK_GROUP_SIZE), "CL_INVALID_WORK_GROUP_SIZE");
    assert_string_equal(bl_ocl_strerror(CL_OUT_OF_RESOURCES), "CL_OUT_OF_RESOURCES");
    assert_string_equal(bl_ocl_strerror(-1001), "CL_PLATFORM_NOT_FOUND_KHR");
    assert_string_equal(bl_ocl_strerror(-9999), "CL_UNKNOWN_ERROR(-9999)");
    /* every standard code from 0 to -72 (except the gaps of the spec) has a name */
    for (int c = 0; c >= -72; --c) {
        if ((c < -19 && c > -30) || c == -15) continue;
        assert_null(strstr(bl_ocl_strerror(c), "UNKNOWN"));
    }
    bl_error e = { 0 };
    assert_int_equal(bl_ocl_error(&e, CL_MEM_OBJECT_ALLOCATION_FAILURE, "allocating V"), BL_ENOMEM);
    assert_string_equal(e.msg, "allocating V: CL_MEM_OBJECT_ALLOCATION_FAILURE (-4)");
}

static void test_list_and_select(void **state)
{
    (void)state;
    if (!have_device()) skip();
    bl_ocl_device_info *all;
    size_t n;
    bl_error err = { 0 };
    assert_int_equal(bl_ocl_list(&all, &n, &err), 0);
    assert_true(n >= 1);
    assert_true(all[0].compute_units >= 1);
    assert_true(all[0].global_mem > 0 && all[0].local_mem > 0 && all[0].max_wg >= 1);
    assert_true(strlen(all[0].name) > 0);
    bl_ocl_device_info d;
    assert_int_equal(bl_ocl_select("opencl", &d, &err), 0);
    assert_string_equal(d.name, all[0].name);
    char spec[64];
    snprintf(spec, sizeof spec, "opencl:%d:%d", all[n - 1].platform, all[n - 1].index);
    assert_int_equal(bl_ocl_select(spec, &d, &err), 0);
    assert_string_equal(d.name, all[n - 1].name);
    snprintf(spec, sizeof spec, "opencl:%d", all[0].platform);
    assert_int_equal(bl_ocl_select(spec, &d, &err), 0);
    /* by name, case-insensitive: a piece of the first device's name */
    char piece[8] = { 0 };
    for (int i = 0; i < 4 && all[0].name[i]; ++i) piece[i] = (char)(all[0].name[i] ^ ((all[0].name[i] >= 'a' && all[0].name[i] <= 'z') || (all[0].name[i] >= 'A' && all[0].name[i] <= 'Z') ? 0x20 : 0));
    snprintf(spec, sizeof spec, "opencl:%s", piece);
    assert_int_equal(bl_ocl_select(spec, &d, &err), 0);
    /* bad strings: clear errors naming the string */
    const char *bad[] = { "opencl:nosuchvendor", "opencl:99:0", "opencl:0:99", "cuda", "opencl:", "opencl:0:x", "openclx" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; ++i) {
        memset(&err, 0, sizeof err);
        assert_int_not_equal(bl_ocl_select(bad[i], &d, &err), 0);
        if (!strstr(err.msg, bad[i])) { fprintf(stderr, "'%s': %s\n", bad[i], err.msg); fail(); }
    }
    free(all);
}

static void write_file(const char *path, const char *text)
{
    assert_int_equal(bl_file_write_atomic(path, text, strlen(text), NULL), 0);
}

static void test_build_log(void **state)
{
    (void)state;
    if (!have_device()) skip();
    bl_ocl *o;
    bl_error err = { 0 };
    assert_int_equal(bl_ocl_open("opencl", NULL, &o, &err), 0);
    char path[512];
    snprintf(path, sizeof path, "%s/broken.cl", tmpdir);
    write_file(path, "__kernel void k(__global float *x) { x[0] = undeclared_thing + 1; }\n");
    cl_program p = NULL;
    int rc = bl_ocl_build(o, path, "", &p, NULL, &err);
    assert_int_not_equal(rc, 0);
    assert_null(p);
    assert_non_null(strstr(err.msg, "CL_BUILD_PROGRAM_FAILURE"));
    assert_non_null(strstr(err.msg, "undeclared_thing"));  /* the build log */
    assert_non_null(strstr(err.msg, "broken.cl"));
    /* a missing file */
    assert_int_not_equal(bl_ocl_build(o, "/nonexistent/x.cl", "", &p, NULL, &err), 0);
    bl_ocl_close(o);
}

static void test_cache(void **state)
{
    (void)state;
    if (!have_device()) skip();
    char cdir[300];
    snprintf(cdir, sizeof cdir, "%s/cache", tmpdir);
    bl_settings cs = { .ocl_cache = cdir };
    bl_ocl *o;
    bl_error err = { 0 };
    assert_int_equal(bl_ocl_open("opencl", &cs, &o, &err), 0);
    char path[512];
    snprintf(path, sizeof path, "%s/ok.cl", tmpdir);
    const char *src = "__kernel void twice(__global float *x) { size_t i = get_global_id(0); x[i] = 2 * x[i] + OFF; }\n";
    write_file(path, src);
    cl_program p;
    int st;
    assert_int_equal(bl_ocl_build(o, path, "-DOFF=1", &p, &st, &err), 0);
    assert_int_equal(st, BL_OCL_CACHE_MISS);
    clReleaseProgram(p);
    assert_int_equal(bl_ocl_build(o, path, "-DOFF=1", &p, &st, &err), 0);
    assert_int_equal(st, BL_OCL_CACHE_HIT);
    clReleaseProgram(p);
    /* other options: another entry */
    assert_int_equal(bl_ocl_build(o, path, "-DOFF=2", &p, &st, &err), 0);
    assert_int_equal(st, BL_OCL_CACHE_MISS);
    clReleaseProgram(p);
    /* corrupt the entry: flip bytes in the binary; it must be rebuilt, and the program work */
    char entry[3100];
    assert_int_equal(bl_ocl_cache_path(o, src, strlen(src), "-DOFF=1", entry, sizeof entry), 0);
    uint8_t *data;
    size_t size;
    assert_int_equal(bl_file_read(entry, 1 << 30, &data, &size, NULL), 0);
    for (size_t i = size / 2; i < size / 2 + 16 && i < size; ++i) data[i] ^= 0x5a;
    assert_int_equal(bl_file_write_atomic(entry, data, size, NULL), 0);
    free(data);
    assert_int_equal(bl_ocl_build(o, path, "-DOFF=1", &p, &st, &err), 0);
    assert_int_equal(st, BL_OCL_CACHE_CORRUPT);
    cl_int ce;
    cl_kernel k = clCreateKernel(p, "twice", &ce);
    assert_non_null(k);
    float x[4] = { 1, 2, 3, 4 };
    cl_mem m = clCreateBuffer(o->ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof x, x, &ce);
    assert_int_equal(clSetKernelArg(k, 0, sizeof m, &m), CL_SUCCESS);
    size_t gs = 4;
    assert_int_equal(clEnqueueNDRangeKernel(o->queue, k, 1, NULL, &gs, NULL, 0, NULL, NULL), CL_SUCCESS);
    assert_int_equal(clEnqueueReadBuffer(o->queue, m, CL_TRUE, 0, sizeof x, x, 0, NULL, NULL), CL_SUCCESS);
    assert_true(x[0] == 3 && x[3] == 9);
    clReleaseMemObject(m);
    clReleaseKernel(k);
    clReleaseProgram(p);
    /* rewritten: a hit again; a truncated entry is also rebuilt */
    assert_int_equal(bl_ocl_build(o, path, "-DOFF=1", &p, &st, &err), 0);
    assert_int_equal(st, BL_OCL_CACHE_HIT);
    clReleaseProgram(p);
    assert_int_equal(truncate(entry, 20), 0);
    assert_int_equal(bl_ocl_build(o, path, "-DOFF=1", &p, &st, &err), 0);
    assert_int_equal(st, BL_OCL_CACHE_CORRUPT);
    clReleaseProgram(p);
    /* the kernels folder lookup */
    assert_int_equal(bl_ocl_build(o, "exemplar.cl", "-DSTORE_FLOAT", &p, &st, &err), 0);
    clReleaseProgram(p);
    bl_ocl_close(o);
}

static void test_cache_dir(void **state)
{
    (void)state;
    /* the front end resolves the folder from the environment ... */
    char buf[512], cbuf[512];
    bl_settings s;
    setenv("XDG_CACHE_HOME", "/tmp/xdgtest", 1);
    unsetenv("BETLAB_OCL_CACHE");
    cli_settings_from_env(&s, cbuf, sizeof cbuf);
    assert_int_equal(bl_ocl_cache_dir(&s, buf, sizeof buf), 0);
    assert_string_equal(buf, "/tmp/xdgtest/betlab/kernels");
    setenv("XDG_CACHE_HOME", "relative", 1); /* XDG: only absolute paths count */
    char *home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("HOME", "/tmp/hometest", 1);
    cli_settings_from_env(&s, cbuf, sizeof cbuf);
    assert_int_equal(bl_ocl_cache_dir(&s, buf, sizeof buf), 0);
    assert_string_equal(buf, "/tmp/hometest/.cache/betlab/kernels");
    setenv("BETLAB_OCL_CACHE", "off", 1);
    cli_settings_from_env(&s, cbuf, sizeof cbuf);
    assert_int_not_equal(bl_ocl_cache_dir(&s, buf, sizeof buf), 0);
    unsetenv("BETLAB_OCL_CACHE");
    unsetenv("XDG_CACHE_HOME");
    if (home)
        setenv("HOME", home, 1);
    else
        unsetenv("HOME");
    free(home);
    /* ... and the core uses what it is given, nothing else */
    assert_int_not_equal(bl_ocl_cache_dir(NULL, buf, sizeof buf), 0);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/betlab-test-ocl-XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_names), cmocka_unit_test(test_list_and_select),
        cmocka_unit_test(test_build_log),   cmocka_unit_test(test_cache),
        cmocka_unit_test(test_cache_dir),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd)) { /* best effort */ }
    return rc;
}
