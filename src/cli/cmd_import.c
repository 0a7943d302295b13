/* cmd_import.c - `betlab import --npz FILE --arch SPEC --out MODEL`: build a
 * .bnn from float weights and BN parameters saved with numpy.savez. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bnn/model.h"
#include "cli/cli.h"

int cmd_import(int argc, char **argv)
{
    const char *npz = NULL, *arch = NULL, *out = NULL, *name = NULL;
    static const struct option longopts[] = {
        { "npz", required_argument, NULL, 'i' },
        { "arch", required_argument, NULL, 'a' },
        { "out", required_argument, NULL, 'o' },
        { "name", required_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "i:a:o:n:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'i': npz = optarg; break;
        case 'a': arch = optarg; break;
        case 'o': out = optarg; break;
        case 'n': name = optarg; break;
        case 'h':
            printf("usage: betlab import --npz FILE --arch SPEC --out MODEL [--name NAME]\n");
            return 0;
        default: return cli_usage_error("import", "bad option");
        }
    }
    if (optind != argc)
        return cli_usage_error("import", "unexpected argument '%s'", argv[optind]);
    if (!npz || !arch || !out)
        return cli_usage_error("import", "--npz, --arch and --out are required");
    bl_error err = { 0 };
    bl_model *m;
    if (bl_model_import_npz(npz, arch, &m, &err)) {
        cli_error("%s", err.msg);
        return BL_EXIT_RUNTIME;
    }
    if (name)
        bl_model_meta_set(m, "name", name);
    if (!bl_model_meta_get(m, "source"))
        bl_model_meta_set(m, "source", npz);
    int rc = bl_model_save(m, out, &err);
    if (rc)
        cli_error("%s", err.msg);
    else
        printf("wrote %s (%s, %llu stored bits)\n", out, arch,
               (unsigned long long)bl_model_stored_bits(m));
    bl_model_free(m);
    return rc ? BL_EXIT_RUNTIME : 0;
}
