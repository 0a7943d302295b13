/* opts.c - the one option parser, help and usage generator over the
 * declarative tables of opts.h.  Self-contained (no other cli/ file), so
 * the unit test links it alone. */
#include "cli/opts.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define WIDTH 79

/* --- edit distance and suggestions ------------------------------------------------ */

int cli_edit_distance(const char *a, const char *b)
{
    enum { MAXLEN = 127 };
    size_t n = strlen(a), m = strlen(b);
    if (n > MAXLEN || m > MAXLEN)
        return (int)(n > m ? n : m);
    /* three rows: two back for transpositions (optimal string alignment) */
    int r0[MAXLEN + 1], r1[MAXLEN + 1], r2[MAXLEN + 1];
    int *pp = r0, *p = r1, *c = r2;
    for (size_t j = 0; j <= m; j++)
        p[j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        c[0] = (int)i;
        for (size_t j = 1; j <= m; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = p[j] + 1;
            if (c[j - 1] + 1 < v)
                v = c[j - 1] + 1;
            if (p[j - 1] + cost < v)
                v = p[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                pp[j - 2] + 1 < v)
                v = pp[j - 2] + 1;
            c[j] = v;
        }
        int *t = pp;
        pp = p;
        p = c;
        c = t;
    }
    return p[m];
}

const char *cli_suggest(const char *word, const char *const *cands, size_t n)
{
    size_t len = strlen(word);
    if (!len)
        return NULL;
    const char *best = NULL, *prefix = NULL;
    int bestd = (int)(1 + len / 4) + 1, nprefix = 0;
    for (size_t i = 0; i < n; i++) {
        if (!cands[i])
            continue;
        int d = cli_edit_distance(word, cands[i]);
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
        if (len >= 2 && strncmp(cands[i], word, len) == 0) {
            prefix = cands[i];
            nprefix++;
        }
    }
    if (best)
        return best;
    return nprefix == 1 ? prefix : NULL;
}

/* --- text of options -------------------------------------------------------------- */

static size_t nopts(const cli_spec *s)
{
    size_t n = 0;
    while (s->opts && s->opts[n].name)
        n++;
    return n;
}

static int takes_value(const cli_opt *o)
{
    return o->kind != CLI_ARG_NONE;
}

/* The metavar; enums without one show their words, "exact|ste". */
static const char *metavar(const cli_opt *o, char *buf, size_t n)
{
    if (o->metavar || o->kind != CLI_ARG_ENUM)
        return o->metavar ? o->metavar : "VALUE";
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; o->words && o->words[i] && k + 1 < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%s", i ? "|" : "", o->words[i]);
    return buf;
}

static int shown_required(const cli_opt *o)
{
    return (o->flags & (CLI_REQUIRED | CLI_SHOW_REQUIRED)) != 0;
}

/* The usage token of one option: "--model MODEL", "[--json]", "[--plugin FILE.so ...]". */
static void usage_token(const cli_opt *o, char *buf, size_t n)
{
    char mv[256];
    const char *req = shown_required(o) ? "" : "[";
    const char *end = shown_required(o) ? "" : "]";
    if (!takes_value(o))
        snprintf(buf, n, "%s--%s%s", req, o->name, end);
    else
        snprintf(buf, n, "%s--%s %s%s%s", req, o->name, metavar(o, mv, sizeof mv),
                 o->kind == CLI_ARG_LIST ? " ..." : "", end);
}

void cli_print_usage(const cli_spec *s, FILE *f, const char *prefix)
{
    char head[128], tok[512];
    int col = snprintf(head, sizeof head, "%sbetlab %s", prefix ? prefix : "", s->name);
    int indent = col + 1;
    if (indent > 40)
        indent = 8;
    fputs(head, f);
    size_t n = nopts(s);
    for (size_t i = 0; i <= n; i++) {
        if (i < n) {
            if (s->opts[i].flags & CLI_HIDDEN)
                continue;
            usage_token(&s->opts[i], tok, sizeof tok);
        } else if (s->args) {
            snprintf(tok, sizeof tok, "%s", s->args);
        } else {
            break;
        }
        int len = (int)strlen(tok);
        if (col + 1 + len > WIDTH && col > indent) {
            fprintf(f, "\n%*s", indent - 1, "");
            col = indent - 1;
        }
        fprintf(f, " %s", tok);
        col += 1 + len;
    }
    fputc('\n', f);
}

/* Print text from column `col`, wrapping at WIDTH with a hanging indent. */
static void wrap(FILE *f, int col, int indent, const char *text)
{
    const char *p = text;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t w = strcspn(p, " ");
        if (!w)
            break;
        if (col > indent && col + 1 + (int)w > WIDTH) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', f);
            col++;
        }
        fwrite(p, 1, w, f);
        col += (int)w;
        p += w;
    }
    fputc('\n', f);
}

static int big(long v)
{
    return v >= (1L << 31) || v <= -(1L << 31);
}

/* The range part of a help line or error: "1..1024", "(0, 10]". */
static void range_text(const cli_opt *o, char *buf, size_t n)
{
    buf[0] = 0;
    if (o->kind == CLI_ARG_INT) {
        if (big(o->ihi))
            snprintf(buf, n, ">= %ld", o->ilo);
        else
            snprintf(buf, n, "%ld..%ld", o->ilo, o->ihi);
    } else if (o->kind == CLI_ARG_REAL) {
        snprintf(buf, n, "%c%g, %g%c", o->flags & CLI_LO_OPEN ? '(' : '[', o->rlo, o->rhi,
                 o->flags & CLI_HI_OPEN ? ')' : ']');
    }
}

static void help_line(const cli_opt *o, FILE *f)
{
    char left[320], mv[256], text[1024], r[96];
    int k = snprintf(left, sizeof left, "  %c%c%s--%s", o->short_name ? '-' : ' ',
                     o->short_name ? o->short_name : ' ', o->short_name ? ", " : "  ", o->name);
    if (takes_value(o))
        snprintf(left + k, sizeof left - (size_t)k, " %s", metavar(o, mv, sizeof mv));
    range_text(o, r, sizeof r);
    /* ranges and flags come from the declaration, so help cannot drift from parsing */
    char extra[160] = "";
    size_t e = 0;
    if (o->flags & CLI_CORE_RANGE) {
        /* the help sentence states the core's range */
    } else if (o->kind == CLI_ARG_INT && big(o->ihi))
        e += (size_t)snprintf(extra + e, sizeof extra - e, "; at least %ld", o->ilo);
    else if (o->kind == CLI_ARG_INT)
        e += (size_t)snprintf(extra + e, sizeof extra - e, "; %s", r);
    else if (o->kind == CLI_ARG_REAL)
        e += (size_t)snprintf(extra + e, sizeof extra - e, "; in %s", r);
    if (o->kind == CLI_ARG_LIST && e < sizeof extra)
        e += (size_t)snprintf(extra + e, sizeof extra - e, "; repeatable");
    if ((o->flags & CLI_REQUIRED) && e < sizeof extra)
        e += (size_t)snprintf(extra + e, sizeof extra - e, "; required");
    snprintf(text, sizeof text, "%s%s", o->help ? o->help : "", extra);
    enum { COL = 28 };
    fputs(left, f);
    int col = (int)strlen(left);
    if (col + 2 > COL) {
        fprintf(f, "\n%*s", COL, "");
    } else {
        fprintf(f, "%*s", COL - col, "");
    }
    wrap(f, COL, COL, text);
}

void cli_print_help(const cli_spec *s, FILE *f)
{
    fprintf(f, "betlab %s - %s\n\n", s->name, s->summary ? s->summary : "");
    cli_print_usage(s, f, "usage: ");
    fputs("\noptions:\n", f);
    size_t n = nopts(s);
    for (size_t i = 0; i < n; i++)
        if (!(s->opts[i].flags & CLI_HIDDEN))
            help_line(&s->opts[i], f);
    static const cli_opt help = { .name = "help", .short_name = 'h', .kind = CLI_ARG_NONE,
                                  .help = "print this help and exit" };
    help_line(&help, f);
}

/* roff: '-' must be "\-" to stay a minus sign (and be searchable). */
static void roff_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '-' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
}

static void roff_line(FILE *f, const char *macro, const char *a, const char *b)
{
    fprintf(f, ".%s ", macro);
    roff_text(f, a);
    if (b) {
        fputc(' ', f);
        fputs(b, f);
    }
    fputc('\n', f);
}

void cli_print_synopsis_roff(const cli_spec *s, FILE *f)
{
    char mv[256], flag[256];
    fputs(".B betlab\n", f);
    roff_line(f, "B", s->name, NULL);
    size_t n = nopts(s);
    for (size_t i = 0; i < n; i++) {
        const cli_opt *o = &s->opts[i];
        if (o->flags & CLI_HIDDEN)
            continue;
        snprintf(flag, sizeof flag, "--%s", o->name);
        int req = shown_required(o);
        if (!takes_value(o)) {
            if (req)
                roff_line(f, "B", flag, NULL);
            else {
                fputs(".RB [ ", f);
                roff_text(f, flag);
                fputs(" ]\n", f);
            }
            continue;
        }
        const char *m = metavar(o, mv, sizeof mv);
        if (req) {
            roff_line(f, "B", flag, NULL);
            roff_line(f, "I", m, NULL);
        } else {
            fputs(".RB [ ", f);
            roff_text(f, flag);
            fputs("\n.IR ", f);
            roff_text(f, m);
            fputs(o->kind == CLI_ARG_LIST ? " \" ...]\"\n" : " ]\n", f);
        }
    }
    if (s->args) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", s->args);
        for (char *t = strtok(buf, " "); t; t = strtok(NULL, " ")) {
            size_t l = strlen(t);
            if (t[0] == '[' && l > 2 && t[l - 1] == ']') {
                t[l - 1] = 0;
                fputs(".RI [ ", f);
                roff_text(f, t + 1);
                fputs(" ]\n", f);
            } else {
                roff_line(f, "I", t, NULL);
            }
        }
    }
    fputs(".br\n", f);
}

/* --- errors ----------------------------------------------------------------------- */

static int verror(const cli_spec *s, FILE *f, const char *fmt, va_list ap)
{
    fprintf(f, "betlab: %s: ", s->name);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    cli_print_usage(s, f, "usage: ");
    return BL_EXIT_USAGE;
}

int cli_spec_error(const cli_spec *s, FILE *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = verror(s, f, fmt, ap);
    va_end(ap);
    return rc;
}

/* --- parsing ---------------------------------------------------------------------- */

typedef struct parse_ctx {
    const cli_spec *s;
    void *opts;
    cli_args *out;
    FILE *err;
} parse_ctx;

static void *field(parse_ctx *c, const cli_opt *o)
{
    return (char *)c->opts + o->offset;
}

static int bad(parse_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(parse_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = verror(c->s, c->err, fmt, ap);
    va_end(ap);
    return rc;
}

static int parse_int(parse_ctx *c, const cli_opt *o, const char *v)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < o->ilo || x > o->ihi) {
        if ((o->flags & CLI_CORE_RANGE) && (!*v || *end))
            return bad(c, "--%s wants an integer, not '%s'", o->name, v);
        if (o->flags & CLI_CORE_RANGE) /* beyond the field: the core never sees it */
            return bad(c, "--%s %s is out of range (see betlab %s --help)", o->name, v,
                       c->s->name);
        if (*v && !*end && (errno == ERANGE || x > o->ihi)) /* never clamped: 2^70 is an error */
            return bad(c, "--%s %s is too large: it wants an integer in %ld..%ld", o->name, v,
                       o->ilo, o->ihi);
        if (big(o->ihi))
            return bad(c, "--%s wants an integer >= %ld, not '%s'", o->name, o->ilo, v);
        return bad(c, "--%s wants an integer in %ld..%ld, not '%s'", o->name, o->ilo, o->ihi, v);
    }
    *(long *)field(c, o) = x;
    return 0;
}

static int parse_real(parse_ctx *c, const cli_opt *o, const char *v)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    int lo_ok = o->flags & CLI_LO_OPEN ? x > o->rlo : x >= o->rlo;
    int hi_ok = o->flags & CLI_HI_OPEN ? x < o->rhi : x <= o->rhi;
    if (!*v || *end || isnan(x) || !lo_ok || !hi_ok) {
        if (o->flags & CLI_CORE_RANGE)
            return bad(c, "--%s wants a number, not '%s'", o->name, v);
        char r[96];
        range_text(o, r, sizeof r);
        return bad(c, "--%s wants a number in %s, not '%s'", o->name, r, v);
    }
    *(double *)field(c, o) = x;
    return 0;
}

static int parse_enum(parse_ctx *c, const cli_opt *o, const char *v)
{
    int n = 0;
    for (; o->words && o->words[n]; n++)
        if (strcmp(o->words[n], v) == 0) {
            *(int *)field(c, o) = o->values ? o->values[n] : n;
            return 0;
        }
    char list[512];
    size_t k = 0;
    list[0] = 0;
    for (int i = 0; i < n && k < sizeof list; i++)
        k += (size_t)snprintf(list + k, sizeof list - k, "%s%s",
                              i == 0 ? "" : i == n - 1 ? " or " : ", ", o->words[i]);
    return bad(c, "--%s wants %s, not '%s'", o->name, list, v);
}

static int store(parse_ctx *c, const cli_opt *o, const char *v)
{
    switch (o->kind) {
    case CLI_ARG_NONE: *(int *)field(c, o) = 1; return 0;
    case CLI_ARG_STRING: *(const char **)field(c, o) = v; return 0;
    case CLI_ARG_INT: return parse_int(c, o, v);
    case CLI_ARG_REAL: return parse_real(c, o, v);
    case CLI_ARG_ENUM: return parse_enum(c, o, v);
    case CLI_ARG_LIST: {
        int *count = (int *)((char *)c->opts + o->count_offset);
        if (*count >= o->ihi)
            return bad(c, "at most %ld --%s options", o->ihi, o->name);
        ((char **)field(c, o))[(*count)++] = (char *)v;
        return 0;
    }
    case CLI_ARG_CALL: {
        char msg[512] = "";
        if (o->parse(field(c, o), v, msg, sizeof msg)) {
            if (msg[0])
                return bad(c, "%s", msg);
            return bad(c, "--%s: bad value '%s'", o->name, v);
        }
        return 0;
    }
    }
    return 0;
}

static void mark_seen(parse_ctx *c, const cli_opt *o)
{
    size_t i = (size_t)(o - c->s->opts);
    if (i < CLI_MAX_OPTS && c->out->seen[i] < 255)
        c->out->seen[i]++;
}

static int unknown_long(parse_ctx *c, const char *name, size_t len)
{
    const char *cands[CLI_MAX_OPTS + 1];
    size_t n = nopts(c->s), k = 0;
    for (size_t i = 0; i < n && k < CLI_MAX_OPTS; i++)
        if (!(c->s->opts[i].flags & CLI_HIDDEN))
            cands[k++] = c->s->opts[i].name;
    cands[k++] = "help";
    char word[128];
    snprintf(word, sizeof word, "%.*s", (int)(len < 127 ? len : 127), name);
    const char *near = cli_suggest(word, cands, k);
    if (near)
        return bad(c, "unknown option '--%s'; did you mean --%s?", word, near);
    return bad(c, "unknown option '--%s'", word);
}

/* "--name", "--name=value" or "--name value"; *i advances past a value. */
static int parse_long_opt(parse_ctx *c, int argc, char **argv, int *i)
{
    const char *arg = argv[*i] + 2;
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    if (len == 4 && strncmp(arg, "help", 4) == 0) {
        if (eq)
            return bad(c, "--help takes no value");
        return CLI_PARSE_HELP;
    }
    size_t n = nopts(c->s);
    for (size_t k = 0; k < n; k++) {
        const cli_opt *o = &c->s->opts[k];
        if (strlen(o->name) != len || strncmp(o->name, arg, len) != 0)
            continue;
        mark_seen(c, o);
        if (!takes_value(o)) {
            if (eq)
                return bad(c, "--%s takes no value", o->name);
            return store(c, o, NULL);
        }
        const char *v = eq ? eq + 1 : NULL;
        if (!v) {
            if (*i + 1 >= argc) {
                char mv[256];
                return bad(c, "--%s needs a value (%s)", o->name, metavar(o, mv, sizeof mv));
            }
            v = argv[++*i];
        }
        return store(c, o, v);
    }
    return unknown_long(c, arg, len);
}

/* "-j", "-jv" (bundled flags), "-t4" or "-t 4". */
static int parse_short_opts(parse_ctx *c, int argc, char **argv, int *i)
{
    const char *p = argv[*i] + 1;
    size_t n = nopts(c->s);
    for (; *p; p++) {
        if (*p == 'h')
            return CLI_PARSE_HELP;
        const cli_opt *o = NULL;
        for (size_t k = 0; k < n && !o; k++)
            if (c->s->opts[k].short_name == *p)
                o = &c->s->opts[k];
        if (!o)
            return bad(c, "unknown option '-%c'", *p);
        mark_seen(c, o);
        if (!takes_value(o)) {
            int rc = store(c, o, NULL);
            if (rc)
                return rc;
            continue;
        }
        const char *v = p[1] ? p + 1 : NULL;
        if (!v) {
            if (*i + 1 >= argc) {
                char mv[256];
                return bad(c, "-%c (--%s) needs a value (%s)", *p, o->name,
                           metavar(o, mv, sizeof mv));
            }
            v = argv[++*i];
        }
        return store(c, o, v);
    }
    return 0;
}

static int check_required(parse_ctx *c)
{
    size_t n = nopts(c->s);
    char list[512];
    size_t k = 0, missing = 0, last = 0;
    for (size_t i = 0; i < n; i++)
        if ((c->s->opts[i].flags & CLI_REQUIRED) && !c->out->seen[i])
            missing++, last = i;
    if (!missing)
        return 0;
    list[0] = 0;
    for (size_t i = 0, m = 0; i < n; i++) {
        if (!(c->s->opts[i].flags & CLI_REQUIRED) || c->out->seen[i])
            continue;
        k += (size_t)snprintf(list + k, sizeof list - k, "%s--%s",
                              m == 0 ? "" : i == last ? " and " : ", ", c->s->opts[i].name);
        m++;
        if (k >= sizeof list)
            break;
    }
    return bad(c, "%s %s required", list, missing == 1 ? "is" : "are");
}

int cli_parse_to(const cli_spec *s, int argc, char **argv, void *opts, cli_args *out,
                 FILE *out_stream, FILE *err_stream)
{
    memset(out, 0, sizeof *out);
    out->spec = s;
    parse_ctx c = { s, opts, out, err_stream };
    int npos = 0, rc = 0, only_pos = 0;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == 0) {
            argv[1 + npos++] = a;  /* 1 + npos <= i: never overwrites an unread slot */
            if (s->flags & CLI_ARGS_STOP)
                only_pos = 1;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        rc = a[1] == '-' ? parse_long_opt(&c, argc, argv, &i) : parse_short_opts(&c, argc, argv, &i);
        if (rc == CLI_PARSE_HELP) {
            cli_print_help(s, out_stream);
            return CLI_PARSE_HELP;
        }
        if (rc)
            return rc;
    }
    out->argc = npos;
    out->argv = argv + 1;
    if ((rc = check_required(&c)))
        return rc;
    if (npos < s->min_args)
        return bad(&c, "expected %s", s->args ? s->args : "more arguments");
    if (s->max_args >= 0 && npos > s->max_args)
        return bad(&c, "unexpected argument '%s'", argv[1 + s->max_args]);
    return CLI_PARSE_OK;
}

int cli_parse(const cli_spec *s, int argc, char **argv, void *opts, cli_args *out)
{
    return cli_parse_to(s, argc, argv, opts, out, stdout, stderr);
}

int cli_given(const cli_args *a, const char *name)
{
    for (size_t i = 0; a->spec && a->spec->opts && a->spec->opts[i].name && i < CLI_MAX_OPTS; i++)
        if (strcmp(a->spec->opts[i].name, name) == 0)
            return a->seen[i];
    return 0;
}
