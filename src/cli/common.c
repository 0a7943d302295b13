#include "cli/cli.h"
#include "fault/fault.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/paths.h"

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("betlab: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("betlab: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    int n;
    const bl_command *cmds = cli_commands(&n);
    for (int i = 0; i < n; i++)
        if (cmd && strcmp(cmds[i].name, cmd) == 0)
            fprintf(stderr, "usage: betlab %s %s\n", cmds[i].name, cmds[i].usage);
    if (!cmd)
        fprintf(stderr, "usage: betlab COMMAND [OPTIONS]; see betlab --help\n");
    return BL_EXIT_USAGE;
}

int cli_load_inputs(const char *model_arg, const char *data_arg, size_t limit, int need_labels,
                    bl_model **m, bl_dataset **ds, bl_inputs **in, bl_error *err)
{
    if (cli_load_model(model_arg, m, err) || bl_dataset_load(data_arg, NULL, ds, err))
        return err->code;
    if (need_labels && !bl_dataset_has_labels(*ds))
        return bl_error_set(err, BL_EINVAL, "%s: dataset has no labels, cannot measure accuracy",
                            data_arg);
    return bl_inputs_prepare(*m, *ds, limit, in, err);
}

int cli_parse_long(const char *s, long min, long max, long *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int cli_load_model(const char *arg, bl_model **out, bl_error *err)
{
    *out = NULL;
    if (strncmp(arg, "random:", 7) == 0) {
        char spec[256];
        snprintf(spec, sizeof spec, "%s", arg + 7);
        uint64_t seed = 1;
        char *at = strchr(spec, '@');
        if (at) {
            *at = 0;
            char *end;
            errno = 0;
            seed = strtoull(at + 1, &end, 10);
            if (errno || *end || at[1] == 0)
                return bl_error_set(err, BL_EINVAL, "%s: bad seed after '@'", arg);
        }
        int rc = bl_model_from_spec(spec, NULL, out, err);
        if (rc)
            return rc;
        bl_model_randomize(*out, seed);
        bl_model_meta_set(*out, "name", arg);
        return 0;
    }
    if (file_exists(arg) || strchr(arg, '/'))
        return bl_model_load(arg, out, err);
    /* a bare name: look in the shipped models folder */
    char dir[PATH_MAX], path[PATH_MAX + 64];
    if (bl_resource_dir("models", dir, sizeof dir) == 0) {
        snprintf(path, sizeof path, "%s/%s.bnn", dir, arg);
        if (file_exists(path))
            return bl_model_load(path, out, err);
    }
    return bl_error_set(err, BL_ENOTFOUND,
                        "%s: no such model file (and no %s.bnn among the shipped models)", arg,
                        arg);
}

void cli_print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    json_decref(v);
}

int cli_fault_registry(char **plugins, int nplugins, bl_fault_registry **out, bl_error *err)
{
    *out = NULL;
    bl_fault_registry *reg = NULL;
    int rc = bl_fault_registry_new(&reg, err);
    for (int i = 0; i < nplugins && !rc; i++)
        rc = bl_fault_registry_load_plugin(reg, plugins[i], err);
    if (rc) {
        bl_fault_registry_free(reg);
        return rc;
    }
    *out = reg;
    return 0;
}

int cli_add_plugin(const char *cmd, char **plugins, int *np, char *path)
{
    if (*np == CLI_MAX_PLUGINS)
        return cli_usage_error(cmd, "at most %d --plugin options", CLI_MAX_PLUGINS);
    plugins[(*np)++] = path;
    return 0;
}
