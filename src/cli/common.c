#include "cli/cli.h"
#include "fault/fault.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/json_out.h"
#include "bnn/model_names.h"
#include "cli/env.h"

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("betlab: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli_cmd_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "betlab: %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (cmd)
        fprintf(stderr, "betlab: %s: ", cmd);
    else
        fputs("betlab: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    int n;
    const bl_command *cmds = cli_commands(&n);
    for (int i = 0; i < n; i++) {
        if (!cmd || strcmp(cmds[i].name, cmd) != 0)
            continue;
        cli_print_usage(cmds[i].spec, stderr, "usage: ");
    }
    if (!cmd)
        fprintf(stderr, "usage: betlab COMMAND [OPTIONS]; see betlab --help\n");
    return BL_EXIT_USAGE;
}

int cli_load_inputs(const char *model_arg, const char *data_arg, size_t limit, int need_labels,
                    bl_model **m, bl_dataset **ds, bl_inputs **in, bl_error *err)
{
    bl_load_opts lo = { .data_dir = cli_settings()->data_dir };
    if (cli_load_model(model_arg, m, err) || bl_dataset_load(data_arg, &lo, ds, err))
        return err->code;
    if (need_labels && !bl_dataset_has_labels(*ds))
        return bl_error_set(err, BL_EINVAL, "%s: dataset has no labels, cannot measure accuracy",
                            data_arg);
    return bl_inputs_prepare(*m, *ds, limit, in, err);
}

int cli_load_model(const char *arg, bl_model **out, bl_error *err)
{
    return bl_model_resolve(arg, cli_settings(), out, NULL, 0, err);
}

void cli_print_json(json_t *v)
{
    char *s = bl_json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
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
        rc = bl_fault_registry_load_named(reg, plugins[i], cli_settings(), err);
    if (rc) {
        bl_fault_registry_free(reg);
        return rc;
    }
    *out = reg;
    return 0;
}

void cli_progress_bar(void *ctx, double fraction, const char *msg)
{
    (void)ctx;
    if (fraction < 0)
        fraction = 0;
    if (fraction > 1)
        fraction = 1;
    int w = 30, k = (int)(fraction * w + 0.5);
    char b[64];
    for (int i = 0; i < w; i++)
        b[i] = i < k ? '#' : '.';
    b[w] = 0;
    fprintf(stderr, "\r[%s] %3d%% %-40.40s", b, (int)(fraction * 100 + 0.5), msg ? msg : "");
    fflush(stderr);
}

void cli_progress_clear(void)
{
    fprintf(stderr, "\r%-80s\r", "");
    fflush(stderr);
}
