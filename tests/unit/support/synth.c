/* synth.c - see synth.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "base/rng.h"
#include "support/synth.h"

bl_dataset *synth(size_t n, uint32_t h, uint32_t w, int k, uint32_t key)
{
    size_t d = (size_t)h * w;
    uint8_t *x = malloc(n * d), *proto = malloc((size_t)k * d);
    int32_t *y = malloc(n * sizeof *y);
    bl_rng_stream s = bl_rng_stream_init(7, BL_RNG_TEST, 1000);
    for (size_t i = 0; i < (size_t)k * d; i++)
        proto[i] = (bl_rng_stream_u64(&s) & 1) ? 255 : 0;
    s = bl_rng_stream_init(7, BL_RNG_TEST, key);
    for (size_t i = 0; i < n; i++) {
        y[i] = (int32_t)bl_rng_stream_below(&s, (uint64_t)k);
        for (size_t j = 0; j < d; j++)
            x[i * d + j] = bl_rng_stream_uniform(&s) < 0.1 ? (uint8_t)bl_rng_stream_below(&s, 256)
                                                           : proto[(size_t)y[i] * d + j];
    }
    free(proto);
    bl_dataset *ds;
    bl_error err = { 0 };
    assert_int_equal(bl_dataset_from_memory("synth", BL_DT_U8, n, h, w, 1, x, y, &ds, &err), 0);
    return ds;
}
