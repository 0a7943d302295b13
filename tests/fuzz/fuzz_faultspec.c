/* fuzz_faultspec.c - the fault spec parser under arbitrary text.  A spec
 * that parses must format to text that parses again to the same canonical
 * text, survive set_rate / set_layer_rate, and apply to a small model
 * (layer names checked there) without breaking its padding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fault/fault.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    bl_error err;
    bl_fault_registry *reg = NULL;
    bl_model *m = NULL, *f = NULL;
    if (bl_fault_registry_new(&reg, &err) || bl_model_from_spec("6x6x1-c65-p-70-10", NULL, &m, &err) ||
        bl_model_clone(m, &f, &err))
        abort();
    bl_model_randomize(m, 2);
    for (int with_model = 0; with_model < 2; with_model++) {
        bl_fault_spec *s = NULL;
        if (bl_fault_spec_parse(reg, text, with_model ? m : NULL, &s, &err) != 0) {
            if (s || err.msg[0] == 0)
                abort();
            continue;
        }
        char *t1 = bl_fault_spec_format(s);
        bl_fault_spec *s2 = NULL;
        if (!t1 || bl_fault_spec_parse(reg, t1, NULL, &s2, &err) != 0)
            abort();
        char *t2 = bl_fault_spec_format(s2);
        if (!t2 || strcmp(t1, t2) != 0)
            abort();
        if (bl_fault_apply(s, m, f, 3, NULL, &err) == 0 && bl_model_validate(f, &err) != 0)
            abort();
        double rates[16];
        (void)bl_fault_activation_rates(s, m, rates, &err);
        (void)bl_fault_spec_set_rate(s2, 0.25, &err);
        (void)bl_fault_spec_set_layer_rate(s2, "fc1", BL_FT_THRESHOLDS, 0.5, &err);
        if (bl_fault_apply(s2, m, f, 4, NULL, &err) == 0 && bl_model_validate(f, &err) != 0)
            abort();
        free(t1);
        free(t2);
        bl_fault_spec_free(s);
        bl_fault_spec_free(s2);
    }
    bl_model_free(f);
    bl_model_free(m);
    bl_fault_registry_free(reg);
    free(text);
    return 0;
}
