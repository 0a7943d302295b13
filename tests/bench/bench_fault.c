/* bench_fault.c - coupled fault maps and applying them (DESIGN.md
 * "Measuring"; issue target: a coupled map of all of fc's 5.8 M stored
 * weight bits in <= 10 ms).
 *
 * Prints, best of 7 runs each: map generation for every weight word of fc
 * at p = 0.001, 0.01, 0.1 on the portable path and the best SIMD path (ms,
 * stored bits/s, SIMD/portable ratio); bl_fault_apply of bitflip / asym /
 * stuck on fc (reset from the clean model included) and its ratio to
 * generation alone; applying a saved fault map; activation faults on 10,000
 * synthetic inputs (engine, 2 threads) vs a clean prediction.  Asserts
 * nothing about time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/coupled.h"
#include "base/cpu.h"
#include "base/mem.h"
#include "base/rng.h"
#include "bnn/engine.h"
#include "fault/fault.h"

#define REPS 7


static void die(const char *what, const bl_error *err)
{
    fprintf(stderr, "bench_fault: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

/* Coupled masks of every weight word of m at p, with one SIMD level. */
static double gen_ms(const bl_model *m, bl_simd simd, double p, uint64_t *buf)
{
    double best = 1e30;
    for (int r = 0; r < REPS; r++) {
        double t0 = bl_now();
        for (uint32_t li = 0; li < m->nlayers; li++) {
            const bl_layer *l = &m->layers[li];
            if (!l->weights)
                continue;
            bl_coupled_mask_simd(simd, 1234 + (uint64_t)r, bl_coupled_stream(li, 0), p, 0,
                                 (size_t)l->rows * l->words_per_row, buf);
        }
        double t = bl_now() - t0;
        best = t < best ? t : best;
    }
    return best * 1e3;
}

static double apply_ms(const bl_fault_spec *s, const bl_model *m, bl_model *f)
{
    double best = 1e30;
    bl_error err;
    for (int r = 0; r < REPS; r++) {
        double t0 = bl_now();
        if (bl_fault_apply(s, m, f, 99 + (uint64_t)r, NULL, &err))
            die("apply", &err);
        double t = bl_now() - t0;
        best = t < best ? t : best;
    }
    return best * 1e3;
}

int main(void)
{
    bl_error err;
    bl_model *m = NULL, *f = NULL;
    if (bl_model_from_spec("fc", NULL, &m, &err) || bl_model_clone(m, &f, &err))
        die("model", &err);
    bl_model_randomize(m, 5);
    double bits = (double)bl_model_stored_bits(m);
    size_t maxw = 0;
    for (uint32_t li = 0; li < m->nlayers; li++)
        if (m->layers[li].weights && (size_t)m->layers[li].rows * m->layers[li].words_per_row > maxw)
            maxw = (size_t)m->layers[li].rows * m->layers[li].words_per_row;
    uint64_t *buf = bl_alloc(maxw * 8);
    bl_simd best = bl_simd_supported();
    printf("fc: %.0f stored weight bits; SIMD %s\n", bits, bl_simd_name(best));
    printf("coupled map generation (all weight words, one thread):\n");
    double gen01 = 0;
    const double ps[] = { 0.001, 0.01, 0.1 };
    for (int i = 0; i < 3; i++) {
        double tp = gen_ms(m, BL_SIMD_PORTABLE, ps[i], buf);
        double ts = gen_ms(m, best, ps[i], buf);
        if (i == 1)
            gen01 = ts;
        printf("  p=%-6g portable %7.2f ms (%6.0f Mbit/s)   %s %6.2f ms (%6.0f Mbit/s)   "
               "ratio %.2fx   target <= 10 ms: %s\n",
               ps[i], tp, bits / tp * 1e-3, bl_simd_name(best), ts, bits / ts * 1e-3, tp / ts,
               ts <= 10 ? "met" : "MISSED");
    }
    printf("bl_fault_apply on fc (reset from clean + faults):\n");
    const char *specs[] = { "bitflip:p=0.01", "bitflip:p=0.001", "asym:p01=0.01,p10=0.001",
                            "stuck:p0=0.005,p1=0.005", "bitflip:p=0.01;*.thresholds=bitflip:p=0.01" };
    bl_fault_registry *reg = NULL;
    if (bl_fault_registry_new(&reg, &err))
        die("registry", &err);
    for (int i = 0; i < 5; i++) {
        bl_fault_spec *s = NULL;
        if (bl_fault_spec_parse(reg, specs[i], m, &s, &err))
            die("spec", &err);
        double t = apply_ms(s, m, f);
        printf("  %-44s %6.2f ms", specs[i], t);
        if (i == 0)
            printf("   (%.2fx map generation)", t / gen01);
        printf("\n");
        bl_fault_spec_free(s);
    }
    /* fault-map file apply */
    bl_fault_spec *s = NULL;
    bl_fault_map *map = NULL;
    if (bl_fault_spec_parse(reg, "bitflip:p=0.01", m, &s, &err) ||
        bl_fault_apply(s, m, f, 1, NULL, &err) || bl_fault_map_diff(m, f, &map, &err))
        die("map", &err);
    double tb = 1e30, td = 1e30;
    for (int r = 0; r < REPS; r++) {
        double t0 = bl_now();
        bl_fault_map *mm = NULL;
        if (bl_fault_map_diff(m, f, &mm, &err))
            die("diff", &err);
        double t1 = bl_now();
        if (bl_fault_map_apply(map, m, f, &err))
            die("map apply", &err);
        double t2 = bl_now();
        bl_fault_map_free(mm);
        td = t1 - t0 < td ? t1 - t0 : td;
        tb = t2 - t1 < tb ? t2 - t1 : tb;
    }
    printf("fault map (%llu changed bits): diff %.2f ms, apply %.2f ms\n",
           (unsigned long long)bl_fault_map_bits(map), td * 1e3, tb * 1e3);
    bl_fault_map_free(map);
    /* activation faults in the engine */
    size_t n = 10000, F = bl_shape_size(m->input);
    uint8_t *codes = malloc(n * F);
    bl_rng_stream rs = bl_rng_stream_init(1, BL_RNG_TEST, 2);
    for (size_t i = 0; i < n * F; i++)
        codes[i] = (uint8_t)bl_rng_stream_u64(&rs);
    bl_inputs *in = NULL;
    bl_engine *e = NULL;
    bl_engine_opts o = { 2, -1, 0 };
    if (bl_inputs_from_codes(m, codes, NULL, n, &in, &err) || bl_engine_new(m, &o, &e, &err))
        die("engine", &err);
    int32_t *pred = malloc(n * 4);
    double rates[16] = { 0 };
    for (uint32_t li = 0; li < m->nlayers; li++)
        rates[li] = m->layers[li].kind == BL_LAYER_THRESH ? 0.01 : 0;
    double tc = 1e30, ta = 1e30;
    for (int r = 0; r < 3; r++) {
        bl_engine_set_activation_faults(e, NULL, 0, &err);
        double t0 = bl_now();
        bl_engine_predict(e, m, in, pred, &err);
        double t1 = bl_now();
        bl_engine_set_activation_faults(e, rates, 7, &err);
        bl_engine_predict(e, m, in, pred, &err);
        double t2 = bl_now();
        tc = t1 - t0 < tc ? t1 - t0 : tc;
        ta = t2 - t1 < ta ? t2 - t1 : ta;
    }
    printf("engine, 10000 inputs, 2 threads: clean %.1f ms, activation faults p=0.01 on every "
           "threshold layer %.1f ms (%.2fx)\n", tc * 1e3, ta * 1e3, ta / tc);
    free(pred);
    free(codes);
    bl_inputs_free(in);
    bl_engine_free(e);
    bl_fault_spec_free(s);
    bl_fault_registry_free(reg);
    bl_free(buf);
    bl_model_free(m);
    bl_model_free(f);
    return 0;
}
