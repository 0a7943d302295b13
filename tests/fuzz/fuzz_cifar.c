/* fuzz_cifar.c - CIFAR-10 binary batch parser. */
#include <stdint.h>
#include <stdlib.h>

#include "data/data_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bl_dataset *d, *v;
    bl_error e;
    if (bl_cifar_from_memory(data, size, "fuzz.bin", &d, &e) == 0) {
        float buf[3072];
        size_t n = bl_dataset_count(d);
        if (bl_dataset_subset(d, n / 2, n - n / 2, &v, &e) == 0) {
            for (size_t i = 0; i < bl_dataset_count(v); i++) {
                bl_dataset_row_f32(v, i, buf);
                if (bl_dataset_label(v, i) > 9)
                    abort();
            }
            bl_dataset_free(v);
        }
        bl_dataset_free(d);
    }
    return 0;
}
