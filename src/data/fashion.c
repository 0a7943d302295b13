/* fashion.c - named IDX datasets: fashion-mnist:train|test, mnist:train|test.
 *
 * Searched, in order, in DATA/<set>/, DATA/ (DATA: the data_dir the front end
 * passes in bl_load_opts, from $BETLAB_DATA) and
 * /usr/share/datasets/<set>/ (Debian's dataset-fashion-mnist installs the
 * FashionMNIST files there).  File names tried: <split>-images-idx3-ubyte.gz,
 * <split>-images-idx3-ubyte and <split>-images.idx3-ubyte, where split is
 * "train" or "t10k". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/data_internal.h"

int bl_named_idx_load(const char *name, const char *data_dir, size_t max_bytes, bl_dataset **out,
                      bl_error *err)
{
    *out = NULL;
    const char *set, *colon = strchr(name, ':');
    if (strncmp(name, "fashion-mnist:", 14) == 0)
        set = "fashion-mnist";
    else if (strncmp(name, "mnist:", 6) == 0)
        set = "mnist";
    else
        return bl_error_set(err, BL_ENOTFOUND, "%s: unknown dataset name", name);
    const char *split_arg = colon + 1, *split;
    if (strcmp(split_arg, "train") == 0)
        split = "train";
    else if (strcmp(split_arg, "test") == 0)
        split = "t10k";
    else
        return bl_error_set(err, BL_ENOTFOUND, "%s: unknown split \"%s\" (use %s:train or %s:test)",
                            name, split_arg, set, set);

    char dirs[3][2048];
    int nd = 0;
    const char *dd = data_dir;
    if (dd && *dd) {
        snprintf(dirs[nd++], sizeof dirs[0], "%s/%s", dd, set);
        snprintf(dirs[nd++], sizeof dirs[0], "%s", dd);
    }
    snprintf(dirs[nd++], sizeof dirs[0], "/usr/share/datasets/%s", set);

    static const char *const img_fmt[] = {"%s/%s-images-idx3-ubyte.gz", "%s/%s-images-idx3-ubyte",
                                          "%s/%s-images.idx3-ubyte"};
    static const char *const lab_fmt[] = {"%s/%s-labels-idx1-ubyte.gz", "%s/%s-labels-idx1-ubyte",
                                          "%s/%s-labels.idx1-ubyte"};
    char img[4200], lab[4200];
    for (int d = 0; d < nd; d++) {
        for (int f = 0; f < 3; f++) {
            snprintf(img, sizeof img, img_fmt[f], dirs[d], split);
            if (access(img, R_OK) != 0)
                continue;
            /* labels: same naming variant first, then the others */
            int found = 0;
            for (int g = 0; g < 3 && !found; g++) {
                snprintf(lab, sizeof lab, lab_fmt[(f + g) % 3], dirs[d], split);
                found = access(lab, R_OK) == 0;
            }
            if (!found)
                return bl_error_set(err, BL_ENOTFOUND,
                                    "%s: found %s but no labels file %s-labels-idx1-ubyte[.gz] "
                                    "next to it",
                                    name, img, split);
            char canon[64];
            snprintf(canon, sizeof canon, "%s:%s", set, split_arg);
            return bl_idx_load(img, lab, 1, canon, max_bytes, out, err);
        }
    }
    char looked[3 * 2100];
    size_t k = 0;
    looked[0] = 0;
    for (int d = 0; d < nd; d++)
        k += (size_t)snprintf(looked + k, sizeof looked - k, "%s%s", d ? ", " : "", dirs[d]);
    if (strcmp(set, "fashion-mnist") == 0)
        return bl_error_set(err, BL_ENOTFOUND,
                            "%s: %s-images-idx3-ubyte[.gz] not found; looked in %s. The Debian "
                            "package dataset-fashion-mnist provides it (apt-get install "
                            "dataset-fashion-mnist), or put the files in $BETLAB_DATA/%s",
                            name, split, looked, set);
    return bl_error_set(err, BL_ENOTFOUND,
                        "%s: %s-images-idx3-ubyte[.gz] not found; looked in %s. Put the MNIST "
                        "IDX files in $BETLAB_DATA/%s",
                        name, split, looked, set);
}
