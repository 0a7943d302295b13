/* fuzz_bfm.c - the fault-map loader (bl_fault_map_parse) under arbitrary
 * bytes.  Each input is parsed as given and with its size field and CRC
 * fixed up, so the fuzzer reaches the structural checks behind them.  A
 * map that parses must serialise to the same entries (and then to the
 * same bytes again) and apply to a small
 * model either cleanly or with an error (never a crash). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/mem.h"
#include "fault/fault.h"

static bl_model *small_model(void)
{
    bl_model *m = NULL;
    bl_error err;
    if (bl_model_from_spec("6x6x1-c65-p-70-10", NULL, &m, &err))
        abort();
    bl_model_randomize(m, 1);
    return m;
}

static void check(const uint8_t *data, size_t size)
{
    bl_fault_map *map = NULL;
    bl_error err;
    if (bl_fault_map_parse(data, size, "fuzz.bfm", &map, &err) != 0) {
        if (map || strncmp(err.msg, "fuzz.bfm: offset ", 17) != 0)
            abort();
        return;
    }
    uint8_t *b;
    size_t n;
    /* same size and entries; the minor version is rewritten as ours */
    if (bl_fault_map_serialize(map, &b, &n, &err) != 0 || n != size ||
        memcmp(b + 12, data + 12, n - 16) != 0)
        abort();
    bl_fault_map *again = NULL;
    uint8_t *b2;
    size_t n2;
    if (bl_fault_map_parse(b, n, "again", &again, &err) != 0 ||
        bl_fault_map_serialize(again, &b2, &n2, &err) != 0 || n2 != n || memcmp(b, b2, n) != 0)
        abort();
    free(b);
    free(b2);
    bl_fault_map_free(again);
    bl_model *m = small_model(), *f = NULL;
    if (bl_model_clone(m, &f, &err))
        abort();
    if (bl_fault_map_apply(map, m, f, &err) == 0 && bl_model_validate(f, &err) != 0)
        abort(); /* an accepted map never sets padding */
    bl_model_free(f);
    bl_model_free(m);
    bl_fault_map_free(map);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = calloc(1, size ? size : 1);
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    check(copy, size);
    if (size >= 28) {
        bl_wr64(copy + 16, size);
        bl_wr32(copy + size - 4, (uint32_t)crc32(crc32(0L, Z_NULL, 0), copy, (uInt)(size - 4)));
        check(copy, size);
    }
    free(copy);
    return 0;
}
