/* test_cli_opts.c - the declarative option parser (src/cli/opts.h): each
 * argument kind, ranges, required and repeatable options, errors printed
 * once with the command's prefix, suggestions and the edit distance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/opts.h"

typedef struct t_opts {
    const char *model;
    long threads, limit;
    double p, eps;
    int json, mode, verbose;
    char *plugins[3];
    int nplugins;
    int pair[2];
} t_opts;

static const char *const mode_words[] = { "exact", "ste", NULL };
static const int mode_values[] = { 7, 9 };

/* "A,B": two small integers */
static int parse_pair(void *field, const char *arg, char *msg, size_t n)
{
    int *p = field;
    if (sscanf(arg, "%d,%d", &p[0], &p[1]) != 2) {
        snprintf(msg, n, "--pair wants A,B, not '%s'", arg);
        return -1;
    }
    return 0;
}

static const cli_opt t_optv[] = {
    CLI_STR("model", 'm', "MODEL", t_opts, model, "the model", CLI_REQUIRED),
    CLI_INT("threads", 't', "T", 1, 1024, t_opts, threads, "worker threads", 0),
    CLI_INT("limit", 'n', "N", 1, CLI_INT_MAX, t_opts, limit, "first N inputs", 0),
    CLI_REAL("p", 'p', "P", 0, 1, t_opts, p, "a probability", 0),
    CLI_REAL("epsilon", 'e', "E", 0, 1, t_opts, eps, "open both ends", CLI_LO_OPEN | CLI_HI_OPEN),
    CLI_ENUM("mode", 0, mode_words, mode_values, t_opts, mode, "the mode", 0),
    CLI_LIST("plugin", 0, "FILE.so", 3, t_opts, plugins, nplugins, "a plugin", 0),
    CLI_CALL("pair", 0, "A,B", parse_pair, t_opts, pair, "two integers", 0),
    CLI_FLAG("json", 'j', t_opts, json, "JSON output", 0),
    CLI_FLAG("verbose", 'v', t_opts, verbose, "talk more", 0),
    CLI_END,
};

static const cli_spec t_spec = { "demo", "a test command", "FILE", 0, 1, 0, t_optv };

typedef struct run_result {
    int rc;
    t_opts o;
    cli_args a;
    char out[4096], err[4096];
    char *argv[32]; /* a.argv points in here */
} run_result;

/* Parse a NULL-terminated list of arguments (after the command name). */
static void run_spec(const cli_spec *spec, run_result *r, ...)
{
    memset(r, 0, sizeof *r);
    char **argv = r->argv;
    int argc = 0;
    argv[argc++] = (char *)spec->name;
    va_list ap;
    va_start(ap, r);
    for (const char *s; (s = va_arg(ap, const char *)) && argc < 31;)
        argv[argc++] = (char *)s;
    va_end(ap);
    argv[argc] = NULL;
    FILE *out = fmemopen(r->out, sizeof r->out - 1, "w");
    FILE *err = fmemopen(r->err, sizeof r->err - 1, "w");
    assert_non_null(out);
    assert_non_null(err);
    r->rc = cli_parse_to(spec, argc, argv, &r->o, &r->a, out, err);
    fclose(out);
    fclose(err);
}
#define RUN(r, ...) run_spec(&t_spec, r, __VA_ARGS__, (const char *)NULL)

static int count_lines(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void test_kinds(void **state)
{
    (void)state;
    static run_result r;
    RUN(&r, "--model", "m.bnn", "-t", "4", "--limit=500", "--p", "0.25", "-e0.5", "--mode", "ste",
        "--pair", "3,4", "-jv", "in.txt");
    assert_int_equal(r.rc, CLI_PARSE_OK);
    assert_string_equal(r.o.model, "m.bnn");
    assert_int_equal(r.o.threads, 4);
    assert_int_equal(r.o.limit, 500);
    assert_true(r.o.p == 0.25);
    assert_true(r.o.eps == 0.5);
    assert_int_equal(r.o.mode, 9);
    assert_int_equal(r.o.pair[0], 3);
    assert_int_equal(r.o.pair[1], 4);
    assert_int_equal(r.o.json, 1);
    assert_int_equal(r.o.verbose, 1);
    assert_int_equal(r.a.argc, 1);
    assert_string_equal(r.a.argv[0], "in.txt");
    assert_int_equal(cli_given(&r.a, "threads"), 1);
    assert_int_equal(cli_given(&r.a, "plugin"), 0);
    assert_string_equal(r.err, "");
}

static void test_positional_anywhere(void **state)
{
    (void)state;
    static run_result r;
    RUN(&r, "in.txt", "--model", "m", "--json");
    assert_int_equal(r.rc, CLI_PARSE_OK);
    assert_int_equal(r.a.argc, 1);
    assert_string_equal(r.a.argv[0], "in.txt");
    RUN(&r, "--model", "m", "--", "--json");
    assert_int_equal(r.rc, CLI_PARSE_OK);
    assert_int_equal(r.o.json, 0);
    assert_string_equal(r.a.argv[0], "--json");
    RUN(&r, "--model", "m", "a", "b");
    assert_int_equal(r.rc, BL_EXIT_USAGE);
    assert_non_null(strstr(r.err, "betlab: demo: unexpected argument 'b'"));
}

static void test_int_range(void **state)
{
    (void)state;
    static run_result r;
    RUN(&r, "--model", "m", "--threads", "x");
    assert_int_equal(r.rc, BL_EXIT_USAGE);
    assert_non_null(strstr(r.err, "betlab: demo: --threads wants an integer in 1..1024, not 'x'"));
    assert_int_equal(count_lines(r.err, "betlab: "), 1); /* printed once */
    assert_non_null(strstr(r.err, "usage: betlab demo --model MODEL [--threads T]"));
    RUN(&r, "--model", "m", "--threads", "0");
    assert_int_equal(r.rc, BL_EXIT_USAGE);
    RUN(&r, "--model", "m", "--threads", "1025");
    assert_int_equal(r.rc, BL_EXIT_USAGE);
    RUN(&r, "--model", "m", "--threads", "1024");
    assert_int_equal(r.rc, CLI_PARSE_OK);
    RUN(&r, "--model", "m", "--threads", "4x");
    assert_int_equal(r.rc, BL_EXIT_USAGE);
    RUN(&r, "--model", "m", "--limit", "0");
    assert_int_equal(r.rc, BL_EXIT_USAGE);
    assert_non_null(strstr(r.err, "--limit wants an integer >= 1, not '0'"));
    RUN(&r, "--model", "m", "--threads");
    assert_int_equal(r.rc, BL_EXIT_USAGE);
    assert_non_null(strstr(r.err, "--threads needs a value (T)"));
}

static void test_real_range(void **state)
{
    (void)state;
    static run_result r;
    RUN(&r, "--model", "m", "--p", "0");
    assert_int_equal(r.rc, CLI_PARSE_OK); /* closed ends */
    RUN(&r, "--model", "m", "--p", "1");
    assert_int_equal(r.rc, CLI_PARSE_OK);
    RUN(&r, "--model", "m", "--p", "1.5");
    assert_int_equal(r.rc, BL_EXIT_USAGE);
    assert_non_null(strstr(r.err, "--p wants a number in [0, 1], not '1.5'"));
    RUN(&r, "--model", "m", "--epsilon", "0");
    assert_int_equal(r.rc, BL_EXIT_USAGE); /* open ends */
    assert_non_null(strstr(r.err, "--epsilon wants a number in (0, 1), not '0'"));
    RUN(&r, "--model", "m", "--epsilon", "1");
    assert_int_equal(r.rc, BL_EXIT_USAGE);
    RUN(&r, "--model", "m", "--epsilon", "nan");
    assert_int_equal(r.rc, BL_EXIT_USAGE);
    RUN(&r, "--model", "m", "--p", "");
    assert_int_equal(r.rc, BL_EXIT_USAGE);
}

static void test_enum_and_callback(void **state)
{
    (void)state;
    static run_result r;
    RUN(&r, "--model", "m", "--mode", "exact");
    assert_int_equal(r.rc, CLI_PARSE_OK);
    assert_int_equal(r.o.mode, 7);
    RUN(&r, "--model", "m", "--mode", "fast");
    assert_int_equal(r.rc, BL_EXIT_USAGE);
    assert_non_null(strstr(r.err, "betlab: demo: --mode wants exact or ste, not 'fast'"));
    RUN(&r, "--model", "m", "--pair", "3");
    assert_int_equal(r.rc, BL_EXIT_USAGE);
    assert_non_null(strstr(r.err, "betlab: demo: --pair wants A,B, not '3'"));
}

static void test_required(void **state)
{
    (void)state;
    static run_result r;
    RUN(&r, "--json");
    assert_int_equal(r.rc, BL_EXIT_USAGE);
    assert_non_null(strstr(r.err, "betlab: demo: --model is required"));
}

static void test_repeatable(void **state)
{
    (void)state;
    static run_result r;
    RUN(&r, "--model", "m", "--plugin", "a.so", "--plugin=b.so");
    assert_int_equal(r.rc, CLI_PARSE_OK);
    assert_int_equal(r.o.nplugins, 2);
    assert_string_equal(r.o.plugins[0], "a.so");
    assert_string_equal(r.o.plugins[1], "b.so");
    assert_int_equal(cli_given(&r.a, "plugin"), 2);
    RUN(&r, "--model", "m", "--plugin", "a", "--plugin", "b", "--plugin", "c", "--plugin", "d");
    assert_int_equal(r.rc, BL_EXIT_USAGE);
    assert_non_null(strstr(r.err, "at most 3 --plugin options"));
}

static void test_unknown_option(void **state)
{
    (void)state;
    static run_result r;
    RUN(&r, "--model", "m", "--thread", "4");
    assert_int_equal(r.rc, BL_EXIT_USAGE);
    assert_non_null(strstr(r.err, "betlab: demo: unknown option '--thread'; did you mean --threads?"));
    assert_int_equal(count_lines(r.err, "betlab: "), 1);
    RUN(&r, "--model", "m", "--jsno");
    assert_non_null(strstr(r.err, "did you mean --json?"));
    RUN(&r, "--model", "m", "--frobnicate");
    assert_int_equal(r.rc, BL_EXIT_USAGE);
    assert_non_null(strstr(r.err, "unknown option '--frobnicate'\n"));
    RUN(&r, "--model", "m", "-x");
    assert_int_equal(r.rc, BL_EXIT_USAGE);
    assert_non_null(strstr(r.err, "unknown option '-x'"));
    RUN(&r, "--model", "m", "--json=1");
    assert_int_equal(r.rc, BL_EXIT_USAGE);
    assert_non_null(strstr(r.err, "--json takes no value"));
}

static void test_help(void **state)
{
    (void)state;
    static run_result r;
    RUN(&r, "--threads", "4", "--help");
    assert_int_equal(r.rc, CLI_PARSE_HELP);
    assert_int_equal(cli_parse_exit(r.rc), BL_EXIT_OK);
    assert_non_null(strstr(r.out, "betlab demo - a test command"));
    assert_non_null(strstr(r.out, "usage: betlab demo --model MODEL"));
    /* one line per option, with its help sentence and declared range */
    assert_non_null(strstr(r.out, "--threads T"));
    assert_non_null(strstr(r.out, "worker threads; 1..1024"));
    assert_non_null(strstr(r.out, "open both ends; in (0, 1)"));
    assert_non_null(strstr(r.out, "--mode exact|ste"));
    assert_non_null(strstr(r.out, "a plugin; repeatable"));
    assert_non_null(strstr(r.out, "the model; required"));
    assert_non_null(strstr(r.out, "-h, --help"));
    assert_string_equal(r.err, "");
    RUN(&r, "-h");
    assert_int_equal(r.rc, CLI_PARSE_HELP);
}

static const cli_opt stop_optv[] = {
    CLI_FLAG("verbose", 'v', t_opts, verbose, "talk more", 0),
    CLI_END,
};
static const cli_spec stop_spec = { "run", "stop at the script", "FILE [ARGS...]", 1, -1,
                                    CLI_ARGS_STOP, stop_optv };

static void test_args_stop(void **state)
{
    (void)state;
    static run_result r;
    run_spec(&stop_spec, &r, "-v", "s.lua", "--help", "-v", (const char *)NULL);
    assert_int_equal(r.rc, CLI_PARSE_OK);
    assert_int_equal(r.o.verbose, 1);
    assert_int_equal(r.a.argc, 3);
    assert_string_equal(r.a.argv[0], "s.lua");
    assert_string_equal(r.a.argv[1], "--help");
    assert_string_equal(r.a.argv[2], "-v");
    run_spec(&stop_spec, &r, "-", (const char *)NULL);
    assert_int_equal(r.rc, CLI_PARSE_OK);
    assert_string_equal(r.a.argv[0], "-");
    run_spec(&stop_spec, &r, "-v", (const char *)NULL);
    assert_int_equal(r.rc, BL_EXIT_USAGE);
    assert_non_null(strstr(r.err, "betlab: run: expected FILE [ARGS...]"));
}

/* Numbers whose range the core checks: any int (or any double but NaN)
 * passes, nothing about the table's bounds is shown; only text that is no
 * number, or a value beyond the field, is refused here. */
static const cli_opt core_optv[] = {
    CLI_INT_CORE("reps", 'r', "R", t_opts, threads, "repetitions, 1..100000", 0),
    CLI_REAL_CORE("ber", 0, "P", t_opts, p, "a rate in [0, 1]", 0),
    CLI_END,
};
static const cli_spec core_spec = { "core", "ranges checked later", NULL, 0, 0, 0, core_optv };

static void test_core_range(void **state)
{
    (void)state;
    static run_result r;
    run_spec(&core_spec, &r, "--reps", "-5", "--ber", "7.5", (const char *)NULL);
    assert_int_equal(r.rc, CLI_PARSE_OK); /* the core reports these */
    assert_int_equal(r.o.threads, -5);
    assert_true(r.o.p == 7.5);
    run_spec(&core_spec, &r, "--reps", "2147483647", (const char *)NULL);
    assert_int_equal(r.rc, CLI_PARSE_OK);
    run_spec(&core_spec, &r, "--reps", "x", (const char *)NULL);
    assert_int_equal(r.rc, BL_EXIT_USAGE);
    assert_non_null(strstr(r.err, "betlab: core: --reps wants an integer, not 'x'\n"));
    run_spec(&core_spec, &r, "--reps", "2147483648", (const char *)NULL); /* beyond an int */
    assert_int_equal(r.rc, BL_EXIT_USAGE);
    assert_non_null(strstr(r.err, "--reps 2147483648 is out of range (see betlab core --help)"));
    run_spec(&core_spec, &r, "--ber", "nan", (const char *)NULL);
    assert_int_equal(r.rc, BL_EXIT_USAGE);
    assert_non_null(strstr(r.err, "betlab: core: --ber wants a number, not 'nan'\n"));
    run_spec(&core_spec, &r, "--help", (const char *)NULL);
    assert_int_equal(r.rc, CLI_PARSE_HELP);
    assert_non_null(strstr(r.out, "repetitions, 1..100000\n")); /* no table bounds added */
    assert_non_null(strstr(r.out, "a rate in [0, 1]\n"));
    assert_null(strstr(r.out, "2147483647"));
    assert_null(strstr(r.out, "inf"));
    assert_string_equal(CLI_STRINGIFY(CLI_MAX_OPTS), "64");
}

static void test_edit_distance(void **state)
{
    (void)state;
    assert_int_equal(cli_edit_distance("", ""), 0);
    assert_int_equal(cli_edit_distance("eval", "eval"), 0);
    assert_int_equal(cli_edit_distance("evl", "eval"), 1);
    assert_int_equal(cli_edit_distance("eavl", "eval"), 1); /* transposition */
    assert_int_equal(cli_edit_distance("kitten", "sitting"), 3);
    assert_int_equal(cli_edit_distance("", "abc"), 3);
    assert_int_equal(cli_edit_distance("thread", "threads"), 1);
}

static void test_suggest(void **state)
{
    (void)state;
    static const char *const cmds[] = { "info", "eval", "train", "run", "console", "import",
                                        "sweep", "metrics", "tui", "faults", "devices",
                                        "cluster", "subset" };
    size_t n = sizeof cmds / sizeof *cmds;
    assert_string_equal(cli_suggest("evl", cmds, n), "eval");
    assert_string_equal(cli_suggest("swep", cmds, n), "sweep");
    assert_string_equal(cli_suggest("clust", cmds, n), "cluster"); /* unique prefix */
    assert_string_equal(cli_suggest("devics", cmds, n), "devices");
    assert_null(cli_suggest("frobnicate", cmds, n));
    assert_null(cli_suggest("", cmds, n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),          cmocka_unit_test(test_positional_anywhere),
        cmocka_unit_test(test_int_range),      cmocka_unit_test(test_real_range),
        cmocka_unit_test(test_enum_and_callback), cmocka_unit_test(test_required),
        cmocka_unit_test(test_repeatable),     cmocka_unit_test(test_unknown_option),
        cmocka_unit_test(test_help),           cmocka_unit_test(test_args_stop),
        cmocka_unit_test(test_edit_distance),  cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_core_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
