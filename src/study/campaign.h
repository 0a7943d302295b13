/* campaign.h - BER campaigns: accuracy over a list of bit error rates x
 * repetitions, with 95% confidence intervals and a stopping rule.
 *
 * For each BER the fault spec's rate is set (bl_fault_spec_set_rate) and
 * repetition r applies the coupled fault map of seed + r (DESIGN.md "Fault
 * models"), so a bit faulty at one BER is faulty at every larger BER of the
 * same repetition, and curves are monotone per seed in the faults applied.
 * Each map is evaluated with bl_engine_predict_cached against a cache of the
 * clean model (only the changed first-layer bits are recomputed).
 *
 * Interval (95%): over R >= 2 repetitions, Student-t on the per-map
 * accuracies (mean +- t(0.975; R-1) s / sqrt(R)): the spread over fault maps
 * on this input set.  With R = 1, the Wilson score interval of k correct of
 * n images.  Bounds are clamped to [0, 1].
 *
 * Stopping rule (ci_width > 0): for each BER add repetitions until the
 * half-width is <= ci_width (after at least min_reps, default 3: two equal
 * accuracies would otherwise stop at once) or max_reps is reached.
 *
 * Determinism: results depend only on (model, inputs, spec, BERs, seed,
 * repetition settings), never on the thread count. */
#ifndef BL_STUDY_CAMPAIGN_H
#define BL_STUDY_CAMPAIGN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "base/error.h"
#include "bnn/engine.h"
#include "bnn/model.h"
#include "fault/fault.h"

typedef struct bl_campaign_cfg {
    const bl_model *model;          /* clean model                          */
    const bl_inputs *inputs;        /* labelled inputs                      */
    const bl_fault_registry *reg;   /* kinds for the spec                   */
    const char *fault;              /* spec text, e.g. "bitflip", "asym:ratio=10",
                                       "fc2=bitflip" (rates set per BER)   */
    const double *bers;
    size_t nbers;                   /* 0: one row at the spec's own rates
                                       (ber NAN; `betlab eval --fault`)    */
    uint64_t seed;
    int reps;                       /* fixed repetitions when ci_width <= 0 */
    double ci_width;                /* > 0: target half-width               */
    int min_reps, max_reps;         /* stopping rule bounds (0: 3 and 100)  */
    int threads;                    /* engine threads (<= 0: all CPUs)      */
    bl_engine *engine;              /* optional: use this engine (the model's
                                       architecture); else one is made      */
} bl_campaign_cfg;

typedef struct bl_campaign_row {
    double ber;
    double accuracy;                /* mean over repetitions               */
    double ci_low, ci_high;
    double half;                    /* half-width before clamping          */
    int reps;
    double *acc;                    /* per-repetition accuracies (reps)    */
    uint64_t *correct;              /* per-repetition correct counts       */
    uint64_t changed_bits;          /* stored bits changed, summed over reps */
} bl_campaign_row;

typedef struct bl_campaign_result {
    size_t nrows;
    bl_campaign_row *rows;
    size_t images;
    uint64_t seed;
    char *fault;                    /* the fault spec text as given         */
    double clean_accuracy;
    double seconds;                 /* total wall time                     */
    double fault_seconds;           /* fault-map generation                */
    double eval_seconds;            /* evaluation                          */
    int threads;
} bl_campaign_result;

typedef struct bl_campaign_hooks {
    void (*progress)(void *ctx, double fraction, const char *msg);
    int (*cancelled)(void *ctx);    /* checked between fault maps          */
    void *ctx;
} bl_campaign_hooks;

/* Check the configuration (ranges, labels) without running. */
int bl_campaign_check(const bl_campaign_cfg *cfg, bl_error *err);
/* Run synchronously; hooks may be NULL.  BL_ECANCELED when cancelled. */
int bl_campaign_run(const bl_campaign_cfg *cfg, const bl_campaign_hooks *hooks,
                    bl_campaign_result **out, bl_error *err);
void bl_campaign_result_free(bl_campaign_result *r);

/* Outputs.  JSON: {"fault", "seed", "images", "clean_accuracy", "rows":
 * [{"ber", "accuracy", "ci_low", "ci_high", "reps", "accuracies"}...],
 * "seconds", "fault_seconds", "eval_seconds"} (new reference).
 * CSV (RFC 4180, CRLF, header row): ber,accuracy,ci_low,ci_high,reps,
 * accuracies (the per-repetition values joined by ';', quoted).
 * Table: aligned columns for a terminal, with the time split. */
json_t *bl_campaign_to_json(const bl_campaign_result *r, int per_rep);
char *bl_campaign_to_csv(const bl_campaign_result *r);
int bl_campaign_save_csv(const bl_campaign_result *r, const char *path, bl_error *err);
void bl_campaign_print_table(const bl_campaign_result *r, FILE *f);

/* Parse a BER list: "0,1e-3,0.01" or "START:STOP:N" (N values spaced
 * logarithmically, START > 0) or "lin:START:STOP:N".  *out malloc'ed. */
int bl_parse_ber_list(const char *text, double **out, size_t *n, bl_error *err);

#endif
