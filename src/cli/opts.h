/* opts.h - declarative command-line options (tmux's cmd_entry is the model).
 *
 * Each command declares its options ONCE in a table of cli_opt: long name,
 * optional short letter, argument kind, metavar, one help sentence, range,
 * and where the value goes (an offset into the command's options struct, or
 * a callback).  From that one table come the parser (with range checks and
 * "did you mean" for unknown options), `betlab CMD --help`, the usage line
 * printed after an error, the top-level `betlab --help`, and the man page's
 * SYNOPSIS (`betlab help --man`, checked by tests/cli/test_synopsis.sh).
 *
 * Errors are printed once, as "betlab: CMD: message", followed by the
 * generated usage line; the parser then returns BL_EXIT_USAGE.
 *
 * How to add a command (every command in main.c's table has a table;
 * cmd_eval.c and cmd_cluster.c are full examples):
 *
 *   1. Put every option in a struct, defaults set before parsing:
 *
 *        typedef struct { const char *model, *data; long limit, threads; int json;
 *                         char *plugins[CLI_MAX_PLUGINS]; int nplugins; } eval_opts;
 *
 *   2. Declare the table and the spec (exported, so main.c's table can
 *      point at it; declare `extern const cli_spec cli_spec_eval;` in cli.h):
 *
 *        #define T eval_opts
 *        static const cli_opt eval_optv[] = {
 *            CLI_STR("model", 'm', "MODEL", T, model, "the model: file, shipped name or "
 *                    "random:SPEC[@SEED]", CLI_REQUIRED),
 *            CLI_STR("data", 'd', "DATA", T, data, "the labelled dataset", CLI_REQUIRED),
 *            CLI_INT("limit", 'n', "N", 1, CLI_INT_MAX, T, limit, "use the first N inputs", 0),
 *            CLI_INT_CORE("threads", 't', "T", T, threads, "worker threads, 1.."
 *                         CLI_STRINGIFY(BL_THREADS_MAX), 0),
 *            CLI_LIST("plugin", 'p', "NAME|FILE.so", CLI_MAX_PLUGINS, T, plugins, nplugins,
 *                     "load a fault-model plugin", 0),
 *            CLI_FLAG("json", 'j', T, json, "print one JSON object", 0),
 *            CLI_END,
 *        };
 *        #undef T
 *        const cli_spec cli_spec_eval = { "eval", "accuracy of a model on a dataset",
 *                                         NULL, 0, 0, 0, eval_optv };
 *
 *      A range the core validates (bl_evaluate_check_params ...) is not
 *      repeated in the table: use CLI_INT_CORE / CLI_REAL_CORE, state the
 *      range in the help sentence from the core's constants, and report the
 *      core's message as a usage error right after parsing.
 *
 *   3. In cmd_eval(): set defaults, then
 *
 *        eval_opts o = { .threads = 0 };
 *        cli_args a;
 *        int rc = cli_parse(&cli_spec_eval, argc, argv, &o, &a);
 *        if (rc)
 *            return cli_parse_exit(rc);      // --help printed (0) or usage error (2)
 *
 *      Checks that involve several options (exclusions, "go together") stay
 *      in the command or the core: cli_given(&a, "reps") says whether an
 *      option was given; report with cli_usage_error("eval", ...) (exit 2).
 *      Runtime errors go through cli_cmd_error("eval", "%s", err.msg)
 *      (exit 1), so every message reads "betlab: eval: ...".
 *
 *   4. In main.c add the entry { "eval", &cli_spec_eval, cmd_eval }, then
 *      paste `betlab help --man eval` into the man page's SYNOPSIS and
 *      describe each option (tests/cli/test_synopsis.sh checks both).
 */
#ifndef BL_CLI_OPTS_H
#define BL_CLI_OPTS_H

#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include "base/rng.h"

enum { BL_EXIT_OK = 0, BL_EXIT_RUNTIME = 1, BL_EXIT_USAGE = 2 };

typedef enum cli_kind {
    CLI_ARG_NONE,   /* a flag: int field set to 1 */
    CLI_ARG_STRING, /* const char * field, points into argv */
    CLI_ARG_INT,    /* long field, checked against [ilo, ihi] */
    CLI_ARG_REAL,   /* double field, checked against rlo..rhi, ends open or closed */
    CLI_ARG_ENUM,   /* int field: values[i] (or i) for the word words[i] */
    CLI_ARG_LIST,   /* repeatable string: char *field[ihi], int count at count_offset */
    CLI_ARG_CALL,   /* parse(field, arg, msg): custom syntax (LAMBDA,B; optimizer names) */
} cli_kind;

enum {
    CLI_REQUIRED = 1u << 0,      /* the parser reports it missing */
    CLI_SHOW_REQUIRED = 1u << 1, /* shown unbracketed in usage, checked by the command
                                    (required in the usual form, e.g. not with --resume) */
    CLI_LO_OPEN = 1u << 2,       /* real range: lower end excluded */
    CLI_HI_OPEN = 1u << 3,       /* real range: upper end excluded */
    CLI_HIDDEN = 1u << 4,        /* parsed but not listed in help or usage */
    CLI_CORE_RANGE = 1u << 5,    /* the core checks the range (one place, every front end):
                                    the table's bounds only keep the value in its field,
                                    are not shown, and the help sentence states the range
                                    (use CLI_INT_CORE / CLI_REAL_CORE) */
};

/* Bounds large enough to mean "no upper bound" in messages and help. */
#define CLI_INT_MAX (1L << 62)
/* A seed option: 0..BL_SEED_MAX, the range every front end accepts. */
#define CLI_SEED(NAME, SHORT, TYPE, FIELD, HELP, FLAGS)                                        \
    CLI_INT(NAME, SHORT, "S", 0, BL_SEED_MAX, TYPE, FIELD, HELP, FLAGS)

/* A macro's value as a string literal, so a help sentence can quote the
 * core's limits (e.g. "1.." CLI_STRINGIFY(BL_REPS_MAX)) from one source. */
#define CLI_STRINGIFY_(x) #x
#define CLI_STRINGIFY(x) CLI_STRINGIFY_(x)

/* A custom value parser: store into field; on a bad value return -1 and put
 * the whole message (e.g. "--optimizer: unknown optimizer 'x' (greedy, ...)")
 * into msg. */
typedef int (*cli_parse_fn)(void *field, const char *arg, char *msg, size_t msgsize);

typedef struct cli_opt {
    const char *name;         /* long name without "--"; NULL ends the table */
    char short_name;          /* 0 = none */
    cli_kind kind;
    const char *metavar;      /* e.g. "MODEL"; for enums NULL = the words joined by '|' */
    const char *help;         /* one sentence for --help */
    size_t offset;            /* offsetof(options struct, field) */
    size_t count_offset;      /* CLI_ARG_LIST: offsetof the int count */
    unsigned flags;
    long ilo, ihi;            /* CLI_ARG_INT range; CLI_ARG_LIST: ihi = capacity */
    double rlo, rhi;          /* CLI_ARG_REAL range */
    const char *const *words; /* CLI_ARG_ENUM: NULL-terminated */
    const int *values;        /* CLI_ARG_ENUM: value stored for each word (NULL = index) */
    cli_parse_fn parse;       /* CLI_ARG_CALL */
} cli_opt;

#define CLI_FLAG(NAME, SHORT, TYPE, FIELD, HELP, FLAGS)                                        \
    { .name = NAME, .short_name = SHORT, .kind = CLI_ARG_NONE, .help = HELP,                  \
      .offset = offsetof(TYPE, FIELD), .flags = FLAGS }
#define CLI_STR(NAME, SHORT, META, TYPE, FIELD, HELP, FLAGS)                                   \
    { .name = NAME, .short_name = SHORT, .kind = CLI_ARG_STRING, .metavar = META,             \
      .help = HELP, .offset = offsetof(TYPE, FIELD), .flags = FLAGS }
#define CLI_INT(NAME, SHORT, META, LO, HI, TYPE, FIELD, HELP, FLAGS)                           \
    { .name = NAME, .short_name = SHORT, .kind = CLI_ARG_INT, .metavar = META, .help = HELP,  \
      .offset = offsetof(TYPE, FIELD), .flags = FLAGS, .ilo = LO, .ihi = HI }
#define CLI_REAL(NAME, SHORT, META, LO, HI, TYPE, FIELD, HELP, FLAGS)                          \
    { .name = NAME, .short_name = SHORT, .kind = CLI_ARG_REAL, .metavar = META, .help = HELP, \
      .offset = offsetof(TYPE, FIELD), .flags = FLAGS, .rlo = LO, .rhi = HI }
/* Numbers whose range the core validates after parsing (bl_evaluate_check_params ...):
 * any value that fits the field's int (or any double but NaN) is passed on, so
 * the core's message is the one the user sees. */
#define CLI_INT_CORE(NAME, SHORT, META, TYPE, FIELD, HELP, FLAGS)                              \
    CLI_INT(NAME, SHORT, META, INT_MIN, INT_MAX, TYPE, FIELD, HELP, (FLAGS) | CLI_CORE_RANGE)
#define CLI_REAL_CORE(NAME, SHORT, META, TYPE, FIELD, HELP, FLAGS)                             \
    CLI_REAL(NAME, SHORT, META, -HUGE_VAL, HUGE_VAL, TYPE, FIELD, HELP, (FLAGS) | CLI_CORE_RANGE)
#define CLI_ENUM(NAME, SHORT, WORDS, VALUES, TYPE, FIELD, HELP, FLAGS)                         \
    { .name = NAME, .short_name = SHORT, .kind = CLI_ARG_ENUM, .help = HELP,                  \
      .offset = offsetof(TYPE, FIELD), .flags = FLAGS, .words = WORDS, .values = VALUES }
#define CLI_LIST(NAME, SHORT, META, CAP, TYPE, FIELD, COUNT, HELP, FLAGS)                      \
    { .name = NAME, .short_name = SHORT, .kind = CLI_ARG_LIST, .metavar = META, .help = HELP, \
      .offset = offsetof(TYPE, FIELD), .count_offset = offsetof(TYPE, COUNT), .flags = FLAGS, \
      .ihi = CAP }
#define CLI_CALL(NAME, SHORT, META, FN, TYPE, FIELD, HELP, FLAGS)                              \
    { .name = NAME, .short_name = SHORT, .kind = CLI_ARG_CALL, .metavar = META, .help = HELP, \
      .offset = offsetof(TYPE, FIELD), .flags = FLAGS, .parse = FN }
#define CLI_END { .name = NULL }

enum {
    CLI_ARGS_STOP = 1u << 0, /* options end at the first positional argument (betlab run
                                FILE ARGS...: the script's own options are not ours) */
};

/* One command: its name, a one-line description, its positional
 * arguments (synopsis text such as "MODEL", and how many) and options. */
typedef struct cli_spec {
    const char *name;
    const char *summary;
    const char *args;        /* positional synopsis after the options; NULL = none */
    int min_args, max_args;  /* max_args < 0: any number */
    unsigned flags;          /* CLI_ARGS_* */
    const cli_opt *opts;     /* ends with CLI_END */
} cli_spec;

#define CLI_MAX_OPTS 64

/* What the parser leaves besides the options struct. */
typedef struct cli_args {
    int argc;                            /* positional arguments, in order */
    char **argv;                         /* (permuted to the front of the argv given) */
    unsigned char seen[CLI_MAX_OPTS];    /* how often each option (by table index) was given */
    const cli_spec *spec;
} cli_args;

enum { CLI_PARSE_OK = 0, CLI_PARSE_HELP = -1 };

/* Parse argv[1..argc-1] (argv[0] is the command name) into opts.
 * Returns CLI_PARSE_OK; CLI_PARSE_HELP after printing --help on stdout; or
 * BL_EXIT_USAGE after printing the error and usage on stderr. */
int cli_parse(const cli_spec *spec, int argc, char **argv, void *opts, cli_args *out);
/* The same with explicit streams (tests). */
int cli_parse_to(const cli_spec *spec, int argc, char **argv, void *opts, cli_args *out,
                 FILE *out_stream, FILE *err_stream);
/* Exit status for a non-zero cli_parse result. */
static inline int cli_parse_exit(int rc)
{
    return rc == CLI_PARSE_HELP ? BL_EXIT_OK : rc;
}
/* How often the option with this long name was given (0 = not at all). */
int cli_given(const cli_args *a, const char *name);

/* "betlab: CMD: message" then the generated usage; returns BL_EXIT_USAGE. */
int cli_spec_error(const cli_spec *spec, FILE *f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The usage line ("usage: betlab CMD [--json] MODEL"), wrapped at 79 columns. */
void cli_print_usage(const cli_spec *spec, FILE *f, const char *prefix);
/* The whole --help text: description, usage, one line per option. */
void cli_print_help(const cli_spec *spec, FILE *f);
/* The man page SYNOPSIS block for the command (roff, ends with ".br"). */
void cli_print_synopsis_roff(const cli_spec *spec, FILE *f);

/* Edit distance (Levenshtein with adjacent transpositions costing 1). */
int cli_edit_distance(const char *a, const char *b);
/* The candidate nearest to word, or NULL when none is close enough to be a
 * plausible typo (distance at most 1 + strlen(word)/4, or a unique prefix). */
const char *cli_suggest(const char *word, const char *const *cands, size_t n);

#endif
