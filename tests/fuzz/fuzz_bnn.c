/* fuzz_bnn.c - the .bnn parser (bl_model_parse) under arbitrary bytes.
 *
 * Every input is parsed twice: as given, and with its CRCs recomputed
 * (file header, every section header and payload the walk can reach), so
 * the fuzzer also explores the structural checks behind the checksums.
 * A model that parses must serialise, re-parse to the same checksum and
 * re-serialise to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/mem.h"
#include "bnn/model.h"

static uint32_t crc(const uint8_t *p, size_t n)
{
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
}

static void fix_crcs(uint8_t *p, size_t n)
{
    if (n < 24)
        return;
    bl_wr32(p + 20, crc(p, 20));
    size_t pos = 24;
    uint32_t ns = bl_rd32(p + 12);
    for (uint32_t i = 0; i < ns && i < 64 && n - pos >= 24; i++) {
        uint64_t len = bl_rd64(p + pos + 8);
        if (len <= n - pos - 24)
            bl_wr32(p + pos + 16, crc(p + pos + 24, (size_t)len));
        bl_wr32(p + pos + 20, crc(p + pos, 20));
        if (len > n - pos - 24)
            break;
        pos += 24 + (size_t)len + ((8 - (len & 7)) & 7);
        if (pos > n)
            break;
    }
}

static void check(const uint8_t *data, size_t size)
{
    bl_model *m = NULL;
    bl_error err;
    if (bl_model_parse(data, size, "fuzz.bnn", &m, &err) != 0) {
        if (m || err.msg[0] == '\0' || strncmp(err.msg, "fuzz.bnn: ", 10) != 0)
            abort();
        return;
    }
    uint8_t *b1, *b2;
    size_t n1, n2;
    if (bl_model_serialize(m, &b1, &n1, &err) != 0)
        abort();
    bl_model *m2 = NULL;
    if (bl_model_parse(b1, n1, "again", &m2, &err) != 0)
        abort();
    if (bl_model_checksum(m) != bl_model_checksum(m2) || m->nmeta != m2->nmeta)
        abort();
    if (bl_model_serialize(m2, &b2, &n2, &err) != 0 || n1 != n2 || memcmp(b1, b2, n1) != 0)
        abort();
    free(b1);
    free(b2);
    bl_model_free(m2);
    bl_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* exact-size copies so sanitizers see any over-read */
    uint8_t *copy = calloc(1, size ? size : 1);
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    check(copy, size);
    fix_crcs(copy, size);
    check(copy, size);
    free(copy);
    return 0;
}
