/* fuzz_archspec.c - the one-line architecture specs (bl_model_from_spec)
 * and BER lists (bl_parse_ber_list): any text gives a model or a clean
 * error, never a crash; an accepted spec validates.  Allocations are
 * capped: specs whose model would exceed 64 MiB are sized, not built. */
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
    /* The size check is the parser's own (bl_model_spec_bytes, the same
     * shapes bl_model_from_spec bounds at 4 GiB before allocating); specs
     * above a small total are only sized, so that the fuzzer stays under
     * its memory limit and runs to its time limit. */
    uint64_t bytes = 0;
    int sized = bl_model_spec_bytes(text, NULL, &bytes, &err) == 0;
    if (sized && bytes <= ((uint64_t)64 << 20) && bl_model_from_spec(text, NULL, &m, &err) == 0) {
        if (bl_model_validate(m, &err) != 0)
            abort();
        bl_model_free(m);
    } else if (!sized && bl_model_from_spec(text, NULL, &m, &err) == 0) {
        abort();   /* the sizer and the builder disagree on what parses */
    }
    double *bers = NULL;
    size_t n = 0;
    if (bl_parse_ber_list(text, &bers, &n, &err) == 0)
        free(bers);
    return 0;
}
