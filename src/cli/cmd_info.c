/* cmd_info.c - `betlab info MODEL [--json]`: layers, shapes, stored bits,
 * metadata.  Metadata is data from the file: the text output shows control
 * bytes as \x1b etc. (bl_text_terminal), JSON escapes them (jansson). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"

#include "bnn/model.h"
#include "base/json_out.h"
#include "cli/cli.h"

static void shape_str(bl_shape s, char *buf, size_t n)
{
    if (s.h == 1 && s.w == 1)
        snprintf(buf, n, "%u", s.c);
    else
        snprintf(buf, n, "%ux%ux%u", s.h, s.w, s.c);
}

static json_t *shape_json(bl_shape s)
{
    return json_pack("[iii]", (json_int_t)s.h, (json_int_t)s.w, (json_int_t)s.c);
}

typedef struct info_opts {
    int json;
} info_opts;

static const cli_opt info_optv[] = {
    CLI_FLAG("json", 'j', info_opts, json,
             "print one JSON object (input encoding, layers, stored bits, checksum, metadata)", 0),
    CLI_END,
};

const cli_spec cli_spec_info = {
    "info", "layers, shapes, stored bits per layer, metadata", "MODEL", 1, 1, 0, info_optv,
};

int cmd_info(int argc, char **argv)
{
    info_opts o = { 0 };
    cli_args a;
    int prc = cli_parse(&cli_spec_info, argc, argv, &o, &a);
    if (prc)
        return cli_parse_exit(prc);
    int json = o.json;
    const char *path = a.argv[0];
    bl_model *m;
    bl_error err = { 0 };
    if (cli_load_model(path, &m, &err)) {
        cli_cmd_error("info", "%s", err.msg);
        return BL_EXIT_RUNTIME;
    }
    uint64_t total = bl_model_stored_bits(m);
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "model", bl_json_text(path));
        json_object_set_new(o, "input", shape_json(m->input));
        json_object_set_new(o, "input_scale", json_real(m->input_scale));
        json_object_set_new(o, "input_zero", json_integer(m->input_zero));
        json_object_set_new(o, "classes", json_integer(m->nclasses));
        json_object_set_new(o, "stored_bits", json_integer((json_int_t)total));
        json_object_set_new(o, "macs_per_input", json_integer((json_int_t)bl_model_macs(m)));
        char crc[16];
        snprintf(crc, sizeof crc, "%08x", bl_model_checksum(m));
        json_object_set_new(o, "checksum", json_string(crc));
        json_t *layers = json_array();
        for (uint32_t i = 0; i < m->nlayers; i++) {
            const bl_layer *l = &m->layers[i];
            json_t *lj = json_object();
            json_object_set_new(lj, "name", json_string(l->name));
            json_object_set_new(lj, "kind", json_string(bl_layer_kind_name(l->kind)));
            json_object_set_new(lj, "in", shape_json(l->in));
            json_object_set_new(lj, "out", shape_json(l->out));
            if (l->weights) {
                json_object_set_new(lj, "stored_bits",
                                    json_integer((json_int_t)bl_layer_stored_bits(l)));
                json_object_set_new(lj, "real_input", json_boolean(l->real_input));
            }
            json_array_append_new(layers, lj);
        }
        json_object_set_new(o, "layers", layers);
        json_t *meta = json_object();
        for (uint32_t i = 0; i < m->nmeta; i++)
            json_object_set_new(meta, m->meta[i].key, bl_json_text(m->meta[i].value));
        json_object_set_new(o, "metadata", meta);
        cli_print_json(o);
    } else {
        char in[64];
        shape_str(m->input, in, sizeof in);
        char *shown = bl_text_terminal(path, strlen(path));
        printf("model      %s\n", shown ? shown : "?");
        free(shown);
        printf("input      %s, codes 0..255 = (q - %d) * %g\n", in, m->input_zero,
               (double)m->input_scale);
        printf("classes    %u\n", m->nclasses);
        printf("checksum   %08x\n\n", bl_model_checksum(m));
        printf("%-8s %-9s %-10s %-10s %12s %7s\n", "layer", "kind", "in", "out", "stored bits",
               "share");
        for (uint32_t i = 0; i < m->nlayers; i++) {
            const bl_layer *l = &m->layers[i];
            char a[64], b[64], bits[32] = "", share[16] = "";
            shape_str(l->in, a, sizeof a);
            shape_str(l->out, b, sizeof b);
            if (l->weights) {
                snprintf(bits, sizeof bits, "%llu", (unsigned long long)bl_layer_stored_bits(l));
                snprintf(share, sizeof share, "%.1f%%",
                         100.0 * (double)bl_layer_stored_bits(l) / (double)(total ? total : 1));
            }
            printf("%-8s %-9s %-10s %-10s %12s %7s%s\n", l->name, bl_layer_kind_name(l->kind),
                   a, b, bits, share, l->real_input ? "  (real-valued inputs)" : "");
        }
        printf("%-8s %-9s %-10s %-10s %12llu\n", "total", "", "", "", (unsigned long long)total);
        printf("\nbinary MACs per input: %llu\n", (unsigned long long)bl_model_macs(m));
        if (m->nmeta) {
            printf("\nmetadata\n");
            for (uint32_t i = 0; i < m->nmeta; i++) {
                char *k = bl_text_terminal(m->meta[i].key, strlen(m->meta[i].key));
                char *v = bl_text_terminal(m->meta[i].value, strlen(m->meta[i].value));
                printf("  %-14s %s\n", k ? k : "?", v ? v : "?");
                free(k);
                free(v);
            }
        }
    }
    bl_model_free(m);
    return 0;
}
