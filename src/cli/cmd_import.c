/* cmd_import.c - `betlab import --npz FILE --arch SPEC --out MODEL`: build a
 * .bnn from float weights and BN parameters saved with numpy.savez. */
#include <stdio.h>
#include <string.h>

#include "bnn/engine.h"
#include "bnn/import_npz.h"
#include "bnn/model.h"
#include "cli/cli.h"
#include "data/dataset.h"
#include "study/evaluate.h"

#define IMPORT_MAX_RULES 64

typedef struct import_opts {
    const char *npz, *arch, *out, *name, *check;
    char *map[IMPORT_MAX_RULES], *ignore[IMPORT_MAX_RULES];
    int nmap, nignore, names;
} import_opts;

static const char *const names_words[] = { "betlab", "torch", "larq", NULL };
static const int names_values[] = { 0, 1, 2 };

static const cli_opt import_optv[] = {
    CLI_STR("npz", 'i', "FILE", import_opts, npz,
            "float weights and batch-norm parameters saved with numpy.savez", CLI_REQUIRED),
    CLI_STR("arch", 'a', "SPEC", import_opts, arch,
            "the architecture, one line (see ARCHITECTURES in betlab(1))", CLI_REQUIRED),
    CLI_STR("out", 'o', "MODEL", import_opts, out, "the .bnn file to write (atomically)",
            CLI_REQUIRED),
    CLI_STR("name", 'n', "NAME", import_opts, name, "the model name stored in its metadata", 0),
    CLI_LIST("map", 'M', "OLD=NEW", IMPORT_MAX_RULES, import_opts, map, nmap,
             "rename array OLD (and OLD.*) to NEW, e.g. features.0=conv1 (repeatable)", 0),
    CLI_ENUM("names", 'N', names_words, names_values, import_opts, names,
             "naming scheme of the arrays: betlab (default), torch (a state_dict as saved: "
             "modules in order) or larq (Keras weight names)", 0),
    CLI_LIST("ignore", 'I', "NAME", IMPORT_MAX_RULES, import_opts, ignore, nignore,
             "skip array NAME (or module NAME.*) that the architecture does not use "
             "(repeatable)", 0),
    CLI_STR("check", 'c', "DATA", import_opts, check,
            "evaluate the written model on DATA; compare with reference.pred image by image "
            "and count the inputs an inexact normalisation fold changes", 0),
    CLI_END,
};

const cli_spec cli_spec_import = {
    "import", "convert float weights and BN parameters (numpy .npz) into a .bnn model", NULL, 0,
    0, 0, import_optv,
};

/* What the import did beyond the plain conversion. */
static void report_import(const bl_import_info *info)
{
    if (info->nrenamed)
        printf("renamed   %zu array%s\n", info->nrenamed, info->nrenamed == 1 ? "" : "s");
    if (info->nignored)
        printf("ignored   %zu array%s\n", info->nignored, info->nignored == 1 ? "" : "s");
    if (info->norm_real)
        printf("input     zero %.6g (scale %.6g) is no integer code: folded into the first "
               "layer, %s\n",
               info->input_zero, info->input_scale,
               info->norm_exact ? "exact"
                                : "exact away from the image border only (conv padding); "
                                  "--check DATA counts the inputs that change");
}

/* --check DATA: the written model's predictions on DATA, compared with
 * reference.pred image by image; for an inexact normalisation fold, the
 * inputs whose first-layer output changes. */
static int check_import(const bl_model *m, const bl_import_info *info, const char *path,
                        const char *data)
{
    bl_error err = { 0 };
    bl_model *mm = NULL;
    bl_dataset *ds = NULL;
    bl_inputs *in = NULL;
    bl_evaluate_result *r = NULL;
    bl_pred_rows preds = { 0 };
    int rc = cli_load_inputs(path, data, info->nreference, 1, &mm, &ds, &in, &err);
    if (!rc && info->nreference > bl_inputs_count(in))
        rc = bl_error_set(&err, BL_EINVAL, "%s has %zu inputs, reference.pred %zu", data,
                          bl_inputs_count(in), info->nreference);
    bl_evaluate_cfg cfg = { .model = mm, .inputs = in, .predictions = bl_pred_rows_keep,
                            .predictions_ctx = &preds };
    if (!rc)
        rc = bl_evaluate(&cfg, NULL, &r, &err);
    if (!rc && preds.oom)
        rc = bl_error_set(&err, BL_ENOMEM, "out of memory keeping the predictions");
    size_t bad = 0;
    if (!rc) {
        printf("check     %s: accuracy %.4f (%llu/%zu)\n", data, r->clean_accuracy,
               (unsigned long long)r->clean_correct, r->images);
        for (size_t i = 0; i < info->nreference; i++) {
            if (preds.v[i] == info->reference_pred[i])
                continue;
            if (bad++ < 20)
                printf("mismatch  image %zu: betlab %lld, reference %lld\n", i,
                       (long long)preds.v[i], (long long)info->reference_pred[i]);
        }
        if (info->nreference)
            printf("reference %zu of %zu predictions differ from reference.pred\n", bad,
                   info->nreference);
    }
    if (!rc && !info->norm_exact) {
        size_t changed;
        uint64_t outs;
        rc = bl_import_norm_check(m, info, ds, info->nreference, &changed, &outs, &err);
        if (!rc)
            printf("normalise %zu of %zu inputs change a first-layer output (%llu outputs in "
                   "all) with the normalisation folded\n",
                   changed, info->nreference ? info->nreference : bl_dataset_count(ds),
                   (unsigned long long)outs);
    }
    if (rc)
        cli_cmd_error("import", "--check %s: %s", data, err.msg);
    else if (bad)
        cli_cmd_error("import", "%zu of %zu predictions differ from the float model's "
                      "(reference.pred)", bad, info->nreference);
    bl_pred_rows_free(&preds);
    bl_evaluate_result_free(r);
    bl_inputs_free(in);
    bl_dataset_free(ds);
    bl_model_free(mm);
    return rc || bad;
}

int cmd_import(int argc, char **argv)
{
    import_opts o = { 0 };
    cli_args a;
    int prc = cli_parse(&cli_spec_import, argc, argv, &o, &a);
    if (prc)
        return cli_parse_exit(prc);
    const char *npz = o.npz, *arch = o.arch, *out = o.out, *name = o.name;
    bl_error err = { 0 };
    bl_model *m;
    bl_import_opts io = { (const char *const *)o.map, (size_t)o.nmap,
                          names_words[o.names], (const char *const *)o.ignore,
                          (size_t)o.nignore };
    if (bl_import_check_opts(&io, &err))
        return cli_usage_error("import", "%s", err.msg);
    bl_import_info info;
    if (bl_import_npz(npz, arch, &io, &m, &info, &err)) {
        cli_cmd_error("import", "%s", err.msg);
        return BL_EXIT_RUNTIME;
    }
    if (name)
        bl_model_meta_set(m, "name", name);
    if (!bl_model_meta_get(m, "source"))
        bl_model_meta_set(m, "source", npz);
    int rc = bl_model_save(m, out, &err);
    if (rc)
        cli_cmd_error("import", "%s", err.msg);
    else   /* --out -: the model is stdout, the note goes to stderr */
        fprintf(strcmp(out, "-") == 0 ? stderr : stdout, "wrote %s (%s, %llu stored bits)\n",
                out, arch, (unsigned long long)bl_model_stored_bits(m));
    if (!rc)
        report_import(&info);
    if (!rc && o.check)
        rc = check_import(m, &info, out, o.check);
    bl_import_info_free(&info);
    bl_model_free(m);
    return rc ? BL_EXIT_RUNTIME : 0;
}
