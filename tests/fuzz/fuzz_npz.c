/* fuzz_npz.c - zip/npz container parser, member extraction (stored and
 * deflate, CRC) and the x/y -> dataset step. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    if (size)
        memcpy(buf, data, size);
    bl_npz *z;
    bl_error e;
    if (bl_npz_open_buffer(buf, size, "fuzz.npz", (size_t)64 << 20, &z, &e) != 0)
        return 0;
    bl_array arr[2];
    int got[2] = {0, 0};
    for (size_t i = 0; i < bl_npz_count(z); i++) {
        bl_array a;
        if (bl_npz_get(z, bl_npz_name(z, i), &a, &e) != 0)
            continue;
        if (i < 2) {
            arr[i] = a;
            got[i] = 1;
        } else {
            bl_array_free(&a);
        }
    }
    if (got[0]) {
        bl_dataset *d;
        if (bl_dataset_from_arrays("fuzz", "x", &arr[0], "y", got[1] ? &arr[1] : NULL, &d,
                                   &e) == 0) {
            for (size_t i = 0; i < bl_dataset_count(d) && i < 16; i++)
                (void)bl_dataset_label(d, i);
            bl_dataset_free(d);
        }
        got[1] = 0;
    }
    if (got[1])
        bl_array_free(&arr[1]);
    bl_npz_close(z);
    return 0;
}
