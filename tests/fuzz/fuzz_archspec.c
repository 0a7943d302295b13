/* fuzz_archspec.c - the one-line architecture specs (bl_model_from_spec)
 * and BER lists (bl_parse_ber_list): any text gives a model or a clean
 * error, never a crash; an accepted spec validates. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bnn/model.h"
#include "study/evaluate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256)
        return 0;
    char text[257];
    memcpy(text, data, size);
    text[size] = 0;
    bl_error err;
    bl_model *m = NULL;
    if (bl_model_from_spec(text, NULL, &m, &err) == 0) {
        /* keep the fuzzer from allocating huge layers: specs are validated
         * before allocation, so only check what was built */
        if (bl_model_validate(m, &err) != 0)
            abort();
        bl_model_free(m);
    }
    double *bers = NULL;
    size_t n = 0;
    if (bl_parse_ber_list(text, &bers, &n, &err) == 0)
        free(bers);
    return 0;
}
