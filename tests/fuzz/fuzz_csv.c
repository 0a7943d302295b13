/* fuzz_csv.c - CSV parser.  First byte chooses the label column mode. */
#include <stdint.h>
#include <stdlib.h>

#include "data/data_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bl_dataset *d;
    bl_error e;
    if (bl_csv_from_memory(data + 1, size - 1, "fuzz.csv", data[0] % 3, &d, &e) == 0) {
        size_t f = bl_dataset_features(d);
        float *buf = malloc(f * sizeof *buf);
        for (size_t i = 0; buf && i < bl_dataset_count(d); i++) {
            bl_dataset_row_f32(d, i, buf);
            if (bl_dataset_has_labels(d) && bl_dataset_label(d, i) < 0)
                abort();
        }
        free(buf);
        bl_dataset_free(d);
    }
    return 0;
}
