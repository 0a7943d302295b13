/* evaluate.h - THE faulty evaluator: every accuracy betlab shows (CLI eval
 * and sweep, Lua m:eval / bl.sweep / bl.job, the workbench) comes from
 * bl_evaluate, so the same settings give bit-identical numbers everywhere.
 *
 * Input: a model, prepared inputs (a dataset view), and one of
 *   - no fault: the clean model (one row, one "map");
 *   - a fault spec (text, e.g. "bitflip:p=0.01", "fc2=asym:p01=0.01,p10=0.02",
 *     "activations=bitflip:p=0.001"): weight, threshold and activation
 *     faults at the spec's own rates (nbers = 0) or at each BER of a list;
 *   - a saved fault map (.bfm, bl_fault_map): exactly those flipped bits.
 * Repetition r of a spec applies the coupled fault map of seed + r (DESIGN.md
 * "Fault models"), so a bit faulty at one BER is faulty at every larger BER
 * of the same repetition; activation faults use the same seed + r rule
 * inside the engine.  Each map is evaluated with bl_engine_predict_cached
 * against a cache of the clean model (callers may pass theirs).
 *
 * Interval (95%), stated by bl_evaluate_row.ci_method:
 *   BL_CI_WILSON_IMAGES  one map (or the clean model): the Wilson score
 *                        interval of k correct of n images;
 *   BL_CI_STUDENT_MAPS   R >= 2 maps: Student-t on the per-map accuracies
 *                        (mean +- t(0.975; R-1) s / sqrt(R)), the spread over
 *                        fault maps on this input set.
 * Bounds are clamped to [0, 1].
 *
 * Stopping rule (ci_width > 0): for each BER add repetitions until the
 * half-width is <= ci_width (after at least min_reps, default 3: two equal
 * accuracies would otherwise stop at once) or max_reps is reached.
 *
 * Every parameter range is checked here, once (bl_evaluate_check); front
 * ends pass values through and print the message.
 *
 * Determinism: results depend only on (model, inputs, fault, BERs, seed,
 * repetition settings), never on the thread count, SIMD level or caller. */
#ifndef BL_STUDY_EVALUATE_H
#define BL_STUDY_EVALUATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "base/error.h"
#include "bnn/engine.h"
#include "bnn/model.h"
#include "fault/fault.h"

/* Limits shared by every front end (validated in bl_evaluate_check). */
#define BL_REPS_MAX 100000
#define BL_THREADS_MAX 1024
#define BL_TIMING_REPEATS_MAX 1000

typedef enum bl_ci_method {
    BL_CI_WILSON_IMAGES = 0,  /* one map: Wilson over the images           */
    BL_CI_STUDENT_MAPS = 1,   /* several maps: Student-t over the maps     */
} bl_ci_method;
/* "Wilson over images" / "Student-t over maps" */
const char *bl_ci_method_name(bl_ci_method m);

typedef struct bl_evaluate_cfg {
    const bl_model *model;          /* clean model                          */
    const bl_inputs *inputs;        /* labelled inputs                      */
    const bl_fault_registry *reg;   /* kinds for the spec (needed with fault) */
    const char *fault;              /* spec text, or NULL: no spec          */
    const bl_fault_map *map;        /* a saved map instead of a spec (one row,
                                       one map; excludes fault and bers)   */
    const char *map_name;           /* its file, to name in errors (optional) */
    const double *bers;
    size_t nbers;                   /* 0: one row at the spec's own rates
                                       (ber NAN; `betlab eval --fault`)    */
    uint64_t seed;
    int reps;                       /* fixed repetitions (0: 1); excludes
                                       ci_width                            */
    double ci_width;                /* > 0: stopping rule, target half-width
                                       in (0, 1]                           */
    int min_reps, max_reps;         /* stopping rule bounds (0: 3 and 100)  */
    int threads;                    /* engine threads (0: all CPUs)         */
    int timing_repeats;             /* > 0: also time that many full clean
                                       evaluations (best kept, the
                                       throughput line of `betlab eval`)   */
    bl_engine *engine;              /* optional: use this engine (the model's
                                       architecture); else one is made      */
    bl_cache *cache;                /* optional: clean cache made with that
                                       engine for model + inputs            */
    /* optional: every evaluated map's class per image (n = images), in
     * order of rows and repetitions (the clean model and a saved map are
     * row 0, rep 0), from the same predictions that the accuracy counts:
     * `betlab eval --predictions`, Lua m:predict */
    void (*predictions)(void *ctx, size_t row, int rep, const int32_t *pred, size_t n);
    void *predictions_ctx;
} bl_evaluate_cfg;

typedef struct bl_evaluate_row {
    double ber;                     /* NAN: the spec's own rates / no spec  */
    double accuracy;                /* mean over repetitions               */
    double ci_low, ci_high;
    double half;                    /* half-width before clamping          */
    bl_ci_method ci_method;
    int reps;
    double *acc;                    /* per-repetition accuracies (reps)    */
    uint64_t *correct;              /* per-repetition correct counts       */
    uint64_t changed_bits;          /* stored bits changed, summed over reps */
} bl_evaluate_row;

typedef struct bl_evaluate_result {
    size_t nrows;
    bl_evaluate_row *rows;
    size_t images;
    uint64_t seed;
    char *fault;                    /* the fault spec text as given (NULL:
                                       clean or a map)                     */
    double clean_accuracy;
    uint64_t clean_correct;
    double seconds;                 /* total wall time                     */
    double fault_seconds;           /* fault-map generation                */
    double eval_seconds;            /* evaluation of the maps              */
    uint64_t maps;                  /* fault maps evaluated (all rows)     */
    double images_per_s;            /* images * maps / eval_seconds (0 when
                                       no map was evaluated)               */
    bl_eval_stats timing;           /* best of timing_repeats full clean
                                       evaluations (zero when not asked)   */
    int threads;
    bl_simd simd;
} bl_evaluate_result;

typedef struct bl_evaluate_hooks {
    void (*progress)(void *ctx, double fraction, const char *msg);
    int (*cancelled)(void *ctx);    /* checked between fault maps          */
    /* after every map: the row so far (its interval already updated) */
    void (*on_map)(void *ctx, size_t row_index, const bl_evaluate_row *row,
                   const bl_evaluate_result *sofar);
    void *ctx;
} bl_evaluate_hooks;

/* A ready-made predictions output: set cfg.predictions =
 * bl_pred_rows_keep and cfg.predictions_ctx to a zeroed bl_pred_rows; it
 * keeps one row of n classes per map (int64, the .npy type), in order.
 * oom is set (and rows stop growing) when memory runs out. */
typedef struct bl_pred_rows {
    int64_t *v;                     /* rows x n                            */
    size_t rows, n, cap;
    int oom;
} bl_pred_rows;
void bl_pred_rows_keep(void *ctx, size_t row, int rep, const int32_t *pred, size_t n);
void bl_pred_rows_free(bl_pred_rows *p);

/* Check the configuration (ranges, labels, combinations) without running. */
int bl_evaluate_check(const bl_evaluate_cfg *cfg, bl_error *err);
/* Only the parameters (ranges and combinations; model and inputs may still
 * be NULL): front ends call it before loading anything, so a bad value is
 * reported as a usage error at once.  bl_evaluate_check includes it. */
int bl_evaluate_check_params(const bl_evaluate_cfg *cfg, bl_error *err);
/* Run synchronously; hooks may be NULL.  BL_ECANCELED when cancelled. */
int bl_evaluate(const bl_evaluate_cfg *cfg, const bl_evaluate_hooks *hooks,
                bl_evaluate_result **out, bl_error *err);
void bl_evaluate_result_free(bl_evaluate_result *r);
/* A row's mean and 95% interval from its reps per-map values (the rule
 * above: Wilson over images for one map, Student-t over maps otherwise);
 * for code that assembles rows from stored maps (campaign merge). */
void bl_evaluate_row_finish(bl_evaluate_row *row, size_t images);

/* Outputs.  JSON: {"fault", "seed", "images", "clean_accuracy", "rows":
 * [{"ber", "accuracy", "ci_low", "ci_high", "reps", "accuracies"}...],
 * "seconds", "fault_seconds", "eval_seconds"} (new reference).
 * CSV (RFC 4180, CRLF, header row): ber,accuracy,ci_low,ci_high,reps,
 * accuracies (the per-repetition values joined by ';', quoted).
 * Table: aligned columns for a terminal, with the time split. */
json_t *bl_evaluate_to_json(const bl_evaluate_result *r, int per_rep);
char *bl_evaluate_to_csv(const bl_evaluate_result *r);
int bl_evaluate_save_csv(const bl_evaluate_result *r, const char *path, bl_error *err);
void bl_evaluate_print_table(const bl_evaluate_result *r, FILE *f);

/* Parse a BER list: "0,1e-3,0.01" or "START:STOP:N" (N values spaced
 * logarithmically, START > 0) or "lin:START:STOP:N".  *out malloc'ed. */
int bl_parse_ber_list(const char *text, double **out, size_t *n, bl_error *err);

#endif
