/* test_names.c - names resolved in one place (issue 10, parts 4 and 5):
 * model arguments (bnn/model_names.h), plugins by name along a search path
 * (fault/fault.h), and the process settings the front end reads from the
 * environment (cli/env.h) and passes down to the core. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cpu.h"
#include "base/file.h"
#include "base/paths.h"
#include "bnn/model_names.h"
#include "cli/env.h"
#include "data/dataset.h"
#include "fault/fault.h"

static char tmp[256];

static int setup(void **state)
{
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/bl_test_namesXXXXXX");
    return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *T(const char *rel)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, rel);
    return buf[k];
}

static uint32_t checksum_of(const char *spec, uint64_t seed)
{
    bl_model *m;
    bl_error err = { 0 };
    assert_int_equal(bl_model_from_spec(spec, NULL, &m, &err), 0);
    bl_model_randomize(m, seed);
    uint32_t c = bl_model_checksum(m);
    bl_model_free(m);
    return c;
}

static void test_random_models(void **state)
{
    (void)state;
    bl_model *m;
    bl_error err = { 0 };
    char path[256] = "x";
    assert_int_equal(bl_model_resolve("random:fc@3", NULL, &m, path, sizeof path, &err), 0);
    assert_string_equal(path, ""); /* no file behind it */
    assert_int_equal(bl_model_checksum(m), checksum_of("fc", 3));
    assert_string_equal(bl_model_meta_get(m, "name"), "random:fc@3");
    bl_model_free(m);
    /* the default seed is 1; the largest seed is UINT64_MAX */
    assert_int_equal(bl_model_resolve("random:6-4-3", NULL, &m, NULL, 0, &err), 0);
    assert_int_equal(bl_model_checksum(m), checksum_of("6-4-3", 1));
    bl_model_free(m);
    assert_int_equal(bl_model_resolve("random:6-4-3@18446744073709551615", NULL, &m, NULL, 0, &err),
                     0);
    assert_int_equal(bl_model_checksum(m), checksum_of("6-4-3", UINT64_MAX));
    bl_model_free(m);
}

static void test_bad_seeds(void **state)
{
    (void)state;
    static const char *const bad[] = { "random:fc@",    "random:fc@x",  "random:fc@-1",
                                       "random:fc@ 7",  "random:fc@0x10", "random:fc@+3",
                                       "random:fc@18446744073709551616", "random:fc@3@4" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        bl_model *m = (bl_model *)1;
        bl_error err = { 0 };
        assert_int_equal(bl_model_resolve(bad[i], NULL, &m, NULL, 0, &err), BL_EINVAL);
        assert_null(m);
        if (!strstr(err.msg, bad[i]) || !strstr(err.msg, "seed"))
            fail_msg("%s: message does not name the argument and the seed: %s", bad[i], err.msg);
    }
    bl_model *m;
    bl_error err = { 0 };
    assert_int_not_equal(bl_model_resolve("random:", NULL, &m, NULL, 0, &err), 0);
    assert_non_null(strstr(err.msg, "random:"));
    assert_int_not_equal(bl_model_resolve("random:nosuch@2", NULL, &m, NULL, 0, &err), 0);
    assert_non_null(strstr(err.msg, "random:nosuch@2"));
    assert_int_equal(bl_model_resolve("", NULL, &m, NULL, 0, &err), BL_EINVAL);
}

/* Shipped models come from HOME/models when the settings name a home. */
static void test_files_and_shipped_names(void **state)
{
    (void)state;
    bl_model *m;
    bl_error err = { 0 };
    assert_int_equal(mkdir(T("models"), 0755), 0);
    assert_int_equal(bl_model_from_spec("6-4-3", NULL, &m, &err), 0);
    bl_model_randomize(m, 9);
    uint32_t want = bl_model_checksum(m);
    assert_int_equal(bl_model_save(m, T("models/tiny.bnn"), &err), 0);
    assert_int_equal(bl_model_save(m, T("plain.bnn"), &err), 0);
    bl_model_free(m);

    bl_settings s = { .home = tmp };
    char dir[PATH_MAX];
    assert_int_equal(bl_resource_dir(&s, "models", dir, sizeof dir), 0);
    assert_string_equal(dir, T("models"));

    char path[PATH_MAX + 64];
    const char *names[] = { "tiny", "tiny.bnn" };
    for (int i = 0; i < 2; i++) {
        assert_int_equal(bl_model_resolve(names[i], &s, &m, path, sizeof path, &err), 0);
        assert_string_equal(path, T("models/tiny.bnn"));
        assert_int_equal(bl_model_checksum(m), want);
        bl_model_free(m);
    }
    /* a path is a file, whatever the settings */
    assert_int_equal(bl_model_resolve(T("plain.bnn"), &s, &m, path, sizeof path, &err), 0);
    assert_string_equal(path, T("plain.bnn"));
    bl_model_free(m);
    assert_int_equal(bl_model_resolve(T("missing.bnn"), &s, &m, NULL, 0, &err), BL_ENOTFOUND);
    assert_non_null(strstr(err.msg, "missing.bnn"));
    /* a missing name: one error naming the argument and where it looked */
    assert_int_equal(bl_model_resolve("no_such_model", &s, &m, NULL, 0, &err), BL_ENOTFOUND);
    assert_null(m);
    assert_non_null(strstr(err.msg, "no_such_model"));
    assert_non_null(strstr(err.msg, "current folder"));
    assert_non_null(strstr(err.msg, T("models")));
    assert_non_null(strstr(err.msg, "random:SPEC"));
}

static void copy_file(const char *from, const char *to)
{
    uint8_t *buf;
    size_t n;
    bl_error err = { 0 };
    if (bl_file_read(from, (size_t)64 << 20, &buf, &n, &err))
        fail_msg("%s (make builds plugins/burst.so)", err.msg);
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, n, f), n);
    fclose(f);
    free(buf);
}

static void test_plugins_by_name(void **state)
{
    (void)state;
    assert_int_equal(mkdir(T("pa"), 0755), 0);
    assert_int_equal(mkdir(T("pb"), 0755), 0);
    copy_file("plugins/burst.so", T("pb/mine.so"));
    char search[1200], out[PATH_MAX];
    snprintf(search, sizeof search, "%s::%s", T("pa"), T("pb")); /* empty entries are skipped */
    bl_error err = { 0 };
    assert_int_equal(bl_plugin_resolve("mine", search, out, sizeof out, &err), 0);
    assert_string_equal(out, T("pb/mine.so"));
    /* paths are taken as they are */
    assert_int_equal(bl_plugin_resolve("x/y.so", search, out, sizeof out, &err), 0);
    assert_string_equal(out, "x/y.so");
    assert_int_equal(bl_plugin_resolve("z.so", search, out, sizeof out, &err), 0);
    assert_string_equal(out, "z.so");
    /* not found: the folders searched are listed */
    assert_int_equal(bl_plugin_resolve("nosuch", search, out, sizeof out, &err), BL_ENOTFOUND);
    assert_non_null(strstr(err.msg, "nosuch.so"));
    assert_non_null(strstr(err.msg, T("pa")));
    assert_non_null(strstr(err.msg, T("pb")));
    assert_non_null(strstr(err.msg, "BETLAB_PLUGIN_PATH"));

    /* the search path: the settings' folders first, then ./plugins, then
     * the shipped folder; loading by name through it */
    bl_settings s = { .plugin_path = T("pb") };
    char sp[8192];
    assert_int_equal(bl_plugin_search_path(&s, sp, sizeof sp), 0);
    assert_int_equal(strncmp(sp, T("pb"), strlen(T("pb"))), 0);
    assert_non_null(strstr(sp, ":./plugins"));
    assert_int_equal(bl_plugin_search_path(NULL, sp, sizeof sp), 0);
    assert_int_equal(strncmp(sp, "./plugins", 9), 0);
    bl_fault_registry *reg;
    assert_int_equal(bl_fault_registry_new(&reg, &err), 0);
    assert_int_equal(bl_fault_registry_load_named(reg, "mine", &s, &err), 0);
    assert_non_null(bl_fault_registry_find(reg, "burst"));
    bl_fault_registry_free(reg);
    /* the shipped plugins by bare name (./plugins: the tests run at the root) */
    assert_int_equal(bl_fault_registry_new(&reg, &err), 0);
    assert_int_equal(bl_fault_registry_load_named(reg, "burst", NULL, &err), 0);
    assert_non_null(bl_fault_registry_find(reg, "burst"));
    assert_int_equal(bl_fault_registry_load_named(reg, "nosuch", NULL, &err), BL_ENOTFOUND);
    assert_non_null(strstr(err.msg, "./plugins"));
    bl_fault_registry_free(reg);
}

/* The front end reads the environment; the core only sees the struct. */
static void test_settings_from_env(void **state)
{
    (void)state;
    setenv("BETLAB_HOME", "/h", 1);
    setenv("BETLAB_DATA", T("void"), 1);
    setenv("BETLAB_PLUGIN_PATH", "/p1:/p2", 1);
    setenv("BETLAB_OCL_CACHE", "/c", 1);
    setenv("BETLAB_OCL_TILE", "64,64,16,4,4", 1);
    setenv("BETLAB_OCL_DIST", "dot", 1);
    setenv("BETLAB_OCL_BATCH", "64", 1);
    setenv("BETLAB_SIMD", "portable", 1);
    bl_settings s;
    char buf[PATH_MAX];
    cli_settings_from_env(&s, buf, sizeof buf);
    assert_string_equal(s.home, "/h");
    assert_string_equal(s.data_dir, T("void"));
    assert_string_equal(s.plugin_path, "/p1:/p2");
    assert_string_equal(s.ocl_cache, "/c");
    assert_string_equal(s.ocl_tile, "64,64,16,4,4");
    assert_int_equal(s.ocl_dist_dot, 1);
    assert_int_equal((int)s.ocl_batch, 64);
    assert_string_equal(s.simd, "portable");
    cli_settings_apply(&s);
    assert_int_equal(bl_simd_default(), BL_SIMD_PORTABLE);

    /* the data folder reaches the named-dataset loader through the options */
    bl_load_opts lo = { .data_dir = s.data_dir };
    bl_dataset *d;
    bl_error err = { 0 };
    assert_int_equal(bl_dataset_load("mnist:test", &lo, &d, &err), BL_ENOTFOUND);
    assert_non_null(strstr(err.msg, T("void/mnist")));

    static const char *const vars[] = { "BETLAB_HOME", "BETLAB_DATA", "BETLAB_PLUGIN_PATH",
                                        "BETLAB_OCL_CACHE", "BETLAB_OCL_TILE", "BETLAB_OCL_DIST",
                                        "BETLAB_OCL_BATCH", "BETLAB_SIMD" };
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);
    cli_settings_from_env(&s, buf, sizeof buf);
    assert_null(s.home);
    assert_null(s.data_dir);
    assert_null(s.plugin_path);
    assert_int_equal((int)s.ocl_batch, 0);
    cli_settings_apply(&s);
    assert_int_equal(bl_simd_default(), bl_simd_supported());
    /* ... and without settings the loader only looks in the system folder */
    if (bl_dataset_load("mnist:test", NULL, &d, &err) == 0)
        bl_dataset_free(d);
    else
        assert_null(strstr(err.msg, T("void")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_models),
        cmocka_unit_test(test_bad_seeds),
        cmocka_unit_test(test_files_and_shipped_names),
        cmocka_unit_test(test_plugins_by_name),
        cmocka_unit_test(test_settings_from_env),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
