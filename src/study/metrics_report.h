/* metrics_report.h - THE metrics call: one function assembles the whole
 * metrics result of a model on a dataset view (margin summaries and
 * histograms, analytic and measured flip fractions, importance), per hidden
 * layer, for every front end (betlab metrics, Lua m:margins /
 * m:flip_probability / m:importance / bl.job.metrics, the workbench's
 * margin and importance panels).  The per-metric definitions live in
 * metrics.h; this file only decides what to compute and validates the
 * parameters, once. */
#ifndef BL_STUDY_METRICS_REPORT_H
#define BL_STUDY_METRICS_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "study/metrics.h"

enum {
    BL_MET_MARGINS = 1 << 0,      /* clean margin summary + histogram        */
    BL_MET_ANALYTIC = 1 << 1,     /* analytic flip fraction at `ber`         */
    BL_MET_MEASURED = 1 << 2,     /* Monte-Carlo flip fraction at `ber`      */
    BL_MET_IMPORTANCE = 1 << 3,   /* inter-neuron importance                 */
    BL_MET_FAULTY_MARGINS = 1 << 4, /* margins under `fault` (same bins)     */
    BL_MET_ALL = BL_MET_MARGINS | BL_MET_ANALYTIC | BL_MET_MEASURED | BL_MET_IMPORTANCE,
};

typedef struct bl_metrics_cfg {
    const bl_model *model;
    const bl_inputs *inputs;
    const bl_fault_registry *reg;  /* needed for MEASURED and FAULTY_MARGINS */
    const char *layer;             /* NULL: every hidden layer               */
    unsigned what;                 /* BL_MET_* bits                          */
    double ber;                    /* flip fractions: symmetric BER in [0, 1] */
    int reps;                      /* Monte-Carlo maps (0: 10)               */
    uint64_t seed;
    int importance_method;         /* BL_IMP_AUTO / FAST / BRUTE             */
    int threads;                   /* 0: all CPUs                            */
    uint32_t max_bins;             /* histogram bins (0: 256)                */
    const char *fault;             /* FAULTY_MARGINS: spec at its own rates,
                                      map `seed`                             */
    bl_engine *engine;             /* optional, for the model's architecture */
} bl_metrics_cfg;

typedef struct bl_metrics_layer {
    bl_hidden h;
    size_t neurons;                /* source outputs per input               */
    uint32_t fan_in;               /* inputs of one neuron                   */
    int real_input;                /* the layer reads real-valued inputs     */
    int have_margins, have_faulty, have_analytic, have_measured, have_importance;
    bl_margin_summary margins;
    bl_margin_summary faulty;      /* same bin width as margins             */
    double analytic;               /* NAN when n/a: analytic_note says why  */
    char analytic_note[160];
    double analytic_seconds;
    bl_ci measured;
    double measured_seconds;
    bl_importance importance;
} bl_metrics_layer;

typedef struct bl_metrics_result {
    size_t images;
    double ber;
    int reps;
    uint64_t seed;
    unsigned what;
    int nlayers;
    bl_metrics_layer *layers;
    double seconds;
} bl_metrics_result;

typedef struct bl_metrics_hooks {
    void (*progress)(void *ctx, double fraction, const char *msg);
    int (*cancelled)(void *ctx);   /* checked between metrics and layers     */
    void *ctx;
} bl_metrics_hooks;

int bl_metrics_check(const bl_metrics_cfg *cfg, bl_error *err);
/* Only the parameters (model and inputs may be NULL): for a front end to
 * report bad values before loading anything.  Included in the above. */
int bl_metrics_check_params(const bl_metrics_cfg *cfg, bl_error *err);
int bl_metrics_run(const bl_metrics_cfg *cfg, const bl_metrics_hooks *hooks,
                   bl_metrics_result **out, bl_error *err);
void bl_metrics_result_free(bl_metrics_result *r);

/* {"images", "ber", "reps", "seed", "layers": [{"name", "neurons", "margin":
 * {...}, "flip_fraction": {...}, "importance": {...} | null}]} */
json_t *bl_metrics_to_json(const bl_metrics_result *r);

#endif
