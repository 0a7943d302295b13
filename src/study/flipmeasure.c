/* flipmeasure.c - Monte-Carlo flip fraction of one hidden layer under
 * symmetric weight faults on that layer only (metrics.h). */
#include "study/metrics.h"

#include <stdio.h>
#include <stdlib.h>

int bl_flip_fraction_measured(bl_engine *e, const bl_model *m, const bl_inputs *in,
                              const bl_hidden *h, const bl_fault_registry *reg, double p,
                              uint64_t seed, int reps, const int32_t *clean_pre, bl_ci *ci,
                              bl_error *err)
{
    if (!(p >= 0.0 && p <= 1.0))
        return bl_error_set(err, BL_EINVAL, "flip fraction: BER %g outside [0, 1]", p);
    if (reps < 1)
        reps = 1;
    const bl_layer *th = &m->layers[h->thresh];
    size_t per = bl_shape_size(m->layers[h->src].out), C = th->out.c;
    size_t N = bl_inputs_count(in) * per;
    char text[BL_NAME_MAX + 64];
    snprintf(text, sizeof text, "%s=bitflip:p=%.17g", h->name, p);
    bl_fault_spec *spec = NULL;
    bl_model *faulty = NULL;
    int32_t *own = NULL, *fpre = NULL;
    double *frac = calloc((size_t)reps, sizeof *frac);
    uint64_t last_changed = 0;
    int rc = frac ? 0 : bl_error_set(err, BL_ENOMEM, "out of memory");
    if (!rc)
        rc = bl_fault_spec_parse(reg, text, m, &spec, err);
    if (!rc)
        rc = bl_model_clone(m, &faulty, err);
    if (!rc && !clean_pre) {
        rc = bl_hidden_preacts(e, m, in, h, &own, err);
        clean_pre = own;
    }
    for (int r = 0; r < reps && !rc; r++) {
        rc = bl_fault_apply(spec, m, faulty, seed + (uint64_t)r, NULL, err);
        free(fpre);
        fpre = NULL;
        if (!rc)
            rc = bl_hidden_preacts(e, faulty, in, h, &fpre, err);
        if (rc)
            break;
        uint64_t changed = 0;
        for (size_t i = 0; i < N; i++) {
            size_t c = i % C;
            changed += bl_thresh_out(clean_pre[i], th->tau[c], th->dir[c]) !=
                       bl_thresh_out(fpre[i], th->tau[c], th->dir[c]);
        }
        frac[r] = N ? (double)changed / (double)N : 0.0;
        last_changed = changed;
    }
    if (!rc) {
        if (reps == 1)
            bl_ci_wilson(last_changed, N, 0.95, ci);
        else
            bl_ci_student(frac, (size_t)reps, 0.95, 0.0, 1.0, ci);
    }
    free(frac);
    free(fpre);
    free(own);
    bl_model_free(faulty);
    bl_fault_spec_free(spec);
    return rc;
}
