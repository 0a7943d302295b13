/* test_plugin_checks.c - every field of a plugin's info struct is checked
 * against the ABI and sane bounds before the host uses it, with a message
 * naming the field (bl_plugin_info_check, fed structs directly), and the
 * plugin's own message survives host->error(NULL, ...).  The hostile test
 * plugins (the .c files in tests/plugins) are built by the Makefile into
 * $BUILD/tests/plugins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../plugins/betlab_plugin.h"
#include "fault/fault.h"
#include "fault/fault_internal.h"

static int apply_nop(void *s, const betlab_target_view *v)
{
    (void)s;
    (void)v;
    return 0;
}

static betlab_param_decl good_params[3];
static betlab_plugin_info good;

/* A valid info with three parameters; each test breaks one field. */
static void reset(void)
{
    betlab_param_decl p[3] = {
        { sizeof(betlab_param_decl), BETLAB_PARAM_RATE, "p", 0.01, 0, 1, "rate" },
        { sizeof(betlab_param_decl), 0, "len", 4, 1, 64, "burst length" },
        { sizeof(betlab_param_decl), 0, "T_k", 300, 200, 400, "temperature in kelvin" },
    };
    memcpy(good_params, p, sizeof p);
    good = (betlab_plugin_info){
        .struct_size = sizeof(betlab_plugin_info),
        .abi_major = BETLAB_PLUGIN_ABI_MAJOR,
        .abi_minor = BETLAB_PLUGIN_ABI_MINOR,
        .name = "good",
        .help = "a good fault model: déjà vu in UTF-8",
        .params = good_params,
        .nparams = 3,
        .param_size = sizeof(betlab_param_decl),
        .apply = apply_nop,
    };
}

static void expect_bad(const char *what, const char *needle)
{
    bl_error err = { 0 };
    int rc = bl_plugin_info_check("x.so", &good, &err);
    if (rc == 0)
        fail_msg("%s: accepted", what);
    if (!strstr(err.msg, "x.so") || !strstr(err.msg, needle))
        fail_msg("%s: message '%s' lacks the path or '%s'", what, err.msg, needle);
    reset();
}

static void test_info_fields(void **state)
{
    (void)state;
    reset();
    bl_error err = { 0 };
    assert_int_equal(bl_plugin_info_check("x.so", &good, &err), 0);
    assert_int_not_equal(bl_plugin_info_check("x.so", NULL, &err), 0);
    assert_non_null(strstr(err.msg, "no info"));

    /* struct sizes and version */
    good.struct_size = 8;
    expect_bad("tiny struct_size", "struct_size 8 is too small");
    good.struct_size = offsetof(betlab_plugin_info, apply);
    expect_bad("struct_size short of fini", "struct_size");
    good.struct_size = 1u << 30;
    expect_bad("huge struct_size", "struct_size 1073741824");
    good.abi_major = 7;
    expect_bad("major", "ABI 7.0, this betlab supports ABI 1.");

    /* names and help */
    good.name = NULL;
    expect_bad("no name", "bad fault model name");
    good.name = "Bitflip";
    expect_bad("upper-case name", "bad fault model name");
    good.name = "a_name_that_is_far_too_long_for_a_kind_x";
    expect_bad("long name", "< 32 chars");
    good.name = "bad-name";
    expect_bad("dash", "bad fault model name");
    good.help = NULL;
    expect_bad("no help", "help line missing");
    good.help = "";
    expect_bad("empty help", "help line empty");
    good.help = "clear \x1b[2J screen";
    expect_bad("ESC in help", "help line has a control character");
    good.help = "two\nlines";
    expect_bad("newline in help", "control character");
    good.help = "C1 \xc2\x9b" "2J";
    expect_bad("C1 CSI in help", "control character");
    good.help = "latin-1 caf\xe9";
    expect_bad("bad UTF-8", "not valid UTF-8");
    char longhelp[400];
    memset(longhelp, 'h', sizeof longhelp - 1);
    longhelp[sizeof longhelp - 1] = 0;
    good.help = longhelp;
    expect_bad("long help", "too long");
    good.apply = NULL;
    expect_bad("no apply", "no apply function");

    /* the parameter table */
    good.nparams = 17;
    expect_bad("nparams", "nparams: 17 parameters declared, at most 16");
    good.nparams = 0xffffffffu;
    expect_bad("nparams max", "at most 16");
    good.params = NULL;
    expect_bad("params NULL", "params is NULL");
    good.param_size = 1u << 30;
    expect_bad("param_size 1 GiB", "param_size 1073741824");
    good.param_size = 8;
    expect_bad("param_size small", "param_size 8");
    good.param_size = sizeof(betlab_param_decl) + 1;
    expect_bad("param_size odd", "param_size");
    good.params = (const betlab_param_decl *)((const char *)good_params + 4);
    good.nparams = 1;
    expect_bad("misaligned params", "aligned");
}

static void test_param_fields(void **state)
{
    (void)state;
    reset();
    good_params[1].struct_size = 4;
    expect_bad("param struct_size small", "parameter 1: struct_size 4");
    good_params[1].struct_size = sizeof(betlab_param_decl) + 64;
    expect_bad("param struct_size over stride", "outside");
    good_params[2].name = "2x";
    expect_bad("param name digit", "parameter 2: bad name");
    good_params[2].name = "a_parameter_name_of_forty_characters_xx";
    expect_bad("param name long", "parameter 2: bad name");
    good_params[2].name = NULL;
    expect_bad("param name NULL", "parameter 2: bad name");
    good_params[2].name = "p";
    expect_bad("duplicate", "parameter 'p' declared twice");
    good_params[1].max = NAN;
    expect_bad("NaN max", "parameter 'len': need finite min <= default <= max");
    good_params[1].min = -INFINITY;
    expect_bad("inf min", "parameter 'len'");
    good_params[1].def = 100;
    expect_bad("default above max", "parameter 'len'");
    good_params[1].min = 70;
    expect_bad("min above max", "parameter 'len'");
    good_params[1].help = "";
    expect_bad("param help empty", "parameter 'len': help line empty");
    good_params[1].help = "bell\a";
    expect_bad("param help control", "parameter 'len': help line has a control character");
    good_params[1].flags = 0x10;
    expect_bad("flags", "parameter 'len': unknown flags 0x10");
    good_params[1].flags = BETLAB_PARAM_RATE;
    expect_bad("two rates", "more than one rate parameter ('p', 'len')");

    /* a larger stride (a newer minor's bigger declarations) is fine */
    static _Alignas(betlab_param_decl) unsigned char wide[3][sizeof(betlab_param_decl) + 16];
    for (int i = 0; i < 3; i++)
        memcpy(wide[i], &good_params[i], sizeof good_params[i]);
    good.params = (const betlab_param_decl *)wide;
    good.param_size = sizeof wide[0];
    bl_error err = { 0 };
    assert_int_equal(bl_plugin_info_check("x.so", &good, &err), 0);
    reset();
}

/* ---- the test plugins, loaded for real --------------------------------------- */

static void load_fails(const char *name, const char *needle)
{
    char path[512];
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    snprintf(path, sizeof path, "%s/tests/plugins/%s.so", build, name);
    bl_fault_registry *reg = NULL;
    bl_error err = { 0 };
    assert_int_equal(bl_fault_registry_new(&reg, &err), 0);
    size_t before = bl_fault_registry_count(reg);
    if (bl_fault_registry_load_plugin(reg, path, &err) == 0)
        fail_msg("%s: loaded", path);
    if (strstr(err.msg, "cannot load plugin"))
        fail_msg("%s missing: run through make test (it builds %s)", path, path);
    assert_int_equal(bl_fault_registry_count(reg), before);
    if (!strstr(err.msg, path) || !strstr(err.msg, needle))
        fail_msg("%s: message '%s' lacks the path or '%s'", name, err.msg, needle);
    bl_fault_registry_free(reg);
}

static void test_hostile_plugins(void **state)
{
    (void)state;
    load_fails("huge_param_size", "param_size 1073741824");
    load_fails("huge_struct_size", "struct_size 1048576");
    load_fails("bad_help", "help line has a control character");
    load_fails("nan_range", "parameter 'p': need finite min <= default <= max");
    /* the plugin's message, not "no message" */
    load_fails("entry_error_null", "plugin entry failed: calibration file rram.cal not found");
    load_fails("init_error_null", "failed: no device table for chip-7");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_info_fields),
        cmocka_unit_test(test_param_fields),
        cmocka_unit_test(test_hostile_plugins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
