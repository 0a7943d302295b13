/* fuzz_idx.c - IDX parser.  Input: one length byte L, then L bytes of a
 * labels file (none when L = 0), then the images file. */
#include <stdint.h>
#include <stdlib.h>

#include "data/data_internal.h"

static void touch(const bl_dataset *d)
{
    size_t n = bl_dataset_count(d), f = bl_dataset_features(d);
    float *buf = malloc(f * sizeof *buf);
    if (!buf)
        return;
    for (size_t i = 0; i < n && i < 64; i++) {
        bl_dataset_row_f32(d, i, buf);
        (void)bl_dataset_label(d, i);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t l = data[0];
    if (l > size - 1)
        l = size - 1;
    bl_dataset *d;
    bl_error e;
    if (bl_idx_from_memory(data + 1 + l, size - 1 - l, "img", l ? data + 1 : NULL, l, "lab",
                           "fuzz", &d, &e) == 0) {
        touch(d);
        bl_dataset_free(d);
    }
    return 0;
}
