/* fuzz_npy.c - .npy header and data parser, and the array -> dataset step. */
#include <stdint.h>
#include <stdlib.h>

#include "data/data_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bl_array a;
    bl_error e;
    if (bl_npy_parse(data, size, "fuzz.npy", &a, &e) != 0)
        return 0;
    bl_dataset *d;
    if (bl_dataset_from_arrays("fuzz", "fuzz.npy", &a, NULL, NULL, &d, &e) == 0) {
        size_t f = bl_dataset_features(d);
        float *buf = malloc(f * sizeof *buf);
        for (size_t i = 0; buf && i < bl_dataset_count(d) && i < 64; i++)
            bl_dataset_row_f32(d, i, buf);
        free(buf);
        bl_dataset_free(d);
    }
    return 0;
}
