/* cmd_faults.c - `betlab faults`: the fault models betlab knows (built-in
 * and loaded plugins) with their parameters; and the registry helper the
 * other commands use for --plugin. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "fault/fault.h"

static void range_text(const bl_fault_param *p, char *buf, size_t n)
{
    snprintf(buf, n, "[%g, %g]", p->min, p->max);
}

typedef struct faults_opts {
    char *plugins[CLI_MAX_PLUGINS];
    int nplugins;
    int json;
} faults_opts;

static const cli_opt faults_optv[] = {
    CLI_LIST("plugin", 'p', "NAME|FILE.so", CLI_MAX_PLUGINS, faults_opts, plugins, nplugins,
             "also load the fault models of this plugin", 0),
    CLI_FLAG("json", 'j', faults_opts, json, "print one JSON object with the kinds", 0),
    CLI_END,
};

const cli_spec cli_spec_faults = {
    "faults", "list fault models (built-in and plugins) with their parameters", NULL, 0, 0, 0,
    faults_optv,
};

int cmd_faults(int argc, char **argv)
{
    faults_opts o = { .nplugins = 0 };
    cli_args a;
    int prc = cli_parse(&cli_spec_faults, argc, argv, &o, &a);
    if (prc)
        return cli_parse_exit(prc);
    char **plugins = o.plugins;
    int np = o.nplugins, json = o.json;
    bl_error err = { 0 };
    bl_fault_registry *reg;
    if (cli_fault_registry(plugins, np, &reg, &err)) {
        cli_cmd_error("faults", "%s", err.msg);
        return BL_EXIT_RUNTIME;
    }
    size_t n = bl_fault_registry_count(reg);
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            const bl_fault_kind *k = bl_fault_registry_at(reg, i);
            json_t *o = json_object(), *ps = json_array();
            json_object_set_new(o, "name", json_string(bl_fault_kind_name(k)));
            json_object_set_new(o, "source", json_string(bl_fault_kind_source(k)));
            json_object_set_new(o, "help", json_string(bl_fault_kind_help(k)));
            int rp = bl_fault_kind_rate_param(k);
            for (size_t j = 0; j < bl_fault_kind_nparams(k); j++) {
                const bl_fault_param *p = bl_fault_kind_param(k, j);
                json_t *q = json_object();
                json_object_set_new(q, "name", json_string(p->name));
                json_object_set_new(q, "default", json_real(p->def));
                json_object_set_new(q, "min", json_real(p->min));
                json_object_set_new(q, "max", json_real(p->max));
                json_object_set_new(q, "help", json_string(p->help ? p->help : ""));
                json_object_set_new(q, "rate", json_boolean((int)j == rp));
                json_array_append_new(ps, q);
            }
            json_object_set_new(o, "params", ps);
            json_array_append_new(arr, o);
        }
        json_t *top = json_object();
        json_object_set_new(top, "kinds", arr);
        cli_print_json(top);
    } else {
        for (size_t i = 0; i < n; i++) {
            const bl_fault_kind *k = bl_fault_registry_at(reg, i);
            printf("%s  (%s)\n    %s\n", bl_fault_kind_name(k), bl_fault_kind_source(k),
                   bl_fault_kind_help(k));
            int rp = bl_fault_kind_rate_param(k);
            for (size_t j = 0; j < bl_fault_kind_nparams(k); j++) {
                const bl_fault_param *p = bl_fault_kind_param(k, j);
                char r[64];
                range_text(p, r, sizeof r);
                printf("    %-10s default %-8g range %-16s %s%s\n", p->name, p->def, r,
                       p->help ? p->help : "", (int)j == rp ? " (set by --ber)" : "");
            }
        }
        printf("\nspec: [LAYER[.TARGET]=]KIND[:KEY=VALUE,...] {;RULE}  "
               "TARGET = weights|thresholds|activations\n");
    }
    bl_fault_registry_free(reg);
    return 0;
}
