/* cmd_import.c - `betlab import --npz FILE --arch SPEC --out MODEL`: build a
 * .bnn from float weights and BN parameters saved with numpy.savez. */
#include <stdio.h>
#include <string.h>

#include "bnn/model.h"
#include "cli/cli.h"

typedef struct import_opts {
    const char *npz, *arch, *out, *name;
} import_opts;

static const cli_opt import_optv[] = {
    CLI_STR("npz", 'i', "FILE", import_opts, npz,
            "float weights and batch-norm parameters saved with numpy.savez", CLI_REQUIRED),
    CLI_STR("arch", 'a', "SPEC", import_opts, arch,
            "the architecture, one line (see ARCHITECTURES in betlab(1))", CLI_REQUIRED),
    CLI_STR("out", 'o', "MODEL", import_opts, out, "the .bnn file to write (atomically)",
            CLI_REQUIRED),
    CLI_STR("name", 'n', "NAME", import_opts, name, "the model name stored in its metadata", 0),
    CLI_END,
};

const cli_spec cli_spec_import = {
    "import", "convert float weights and BN parameters (numpy .npz) into a .bnn model", NULL, 0,
    0, 0, import_optv,
};

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
    if (bl_model_import_npz(npz, arch, &m, &err)) {
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
    else
        printf("wrote %s (%s, %llu stored bits)\n", out, arch,
               (unsigned long long)bl_model_stored_bits(m));
    bl_model_free(m);
    return rc ? BL_EXIT_RUNTIME : 0;
}
