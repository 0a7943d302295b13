/* campaign.h - campaigns: a study of models x fault specs x BERs x
 * repetitions expanded into independent work units, run with one
 * append-only checksummed record per unit, resumable, shardable, merged.
 *
 * A front end reads the campaign file (a Lua table, src/cli/cmd_campaign.c)
 * and loads the models and inputs; it passes a plain description down.
 *
 * Units.  Every unit is exact and independent: an accuracy unit is
 * (model, fault, BER, repetitions [r0, r0 + n)) evaluated by bl_evaluate
 * with seed + r0 and n repetitions, and repetition r uses the coupled map
 * of seed + r whatever unit it falls in (DESIGN.md "Fault models").  So any
 * partition of the units (shards, resumed runs) merges into the same rows,
 * bit for bit.  With a stopping rule (ci_width) a unit holds all the
 * repetitions of one BER.  A margins unit (record "margins") is one per
 * model: the clean margin summary of each hidden layer.
 *
 * Records (betlab-format(5) "Campaign records"): one text line per unit,
 *   R <campaign hash> <version> <unit> <payload> *<crc32>
 * appended to DIR/shard-I-of-N.rec and fsynced; a header line H ... starts
 * each file.  A line whose CRC32 does not match (a torn write after a
 * SIGKILL) ends the valid part: the runner truncates there and redoes it.
 * DIR/campaign.json describes the expanded campaign for merge and status.
 *
 * Shards.  bl_campaign_plan assigns units to N shards greedily by cost
 * (images x repetitions x model MACs), largest first, ties by unit index,
 * each to the least loaded shard (lowest index on ties): deterministic. */
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
#include "study/evaluate.h"
#include "study/metrics.h"

enum {
    BL_CAMPAIGN_ACCURACY = 1u << 0, /* per-repetition correct counts (always) */
    BL_CAMPAIGN_FLIPS = 1u << 1,    /* per-layer flip fractions per unit     */
    BL_CAMPAIGN_MARGINS = 1u << 2,  /* per-layer clean margins per model     */
};
#define BL_CAMPAIGN_MAX_SHARDS 100000
#define BL_CAMPAIGN_MAX_UNITS 10000000

typedef struct bl_campaign_model {
    const char *name;       /* as written: file, shipped name, random:SPEC@S */
    uint64_t train_seed;    /* recorded with the rows (0: not given)         */
    const bl_model *model;  /* loaded by the front end                      */
    const bl_inputs *inputs;/* the data in this model's input encoding      */
} bl_campaign_model;

typedef struct bl_campaign_fault {
    const char *spec;       /* a spec whose rate is set to each BER         */
    const double *bers;
    size_t nbers;
} bl_campaign_fault;

typedef struct bl_campaign_desc {
    const bl_campaign_model *models;
    size_t nmodels;
    const char *data;       /* the dataset as written (identity only)       */
    size_t limit;           /* first N inputs (0: all)                      */
    const bl_campaign_fault *faults;
    size_t nfaults;
    int reps;               /* fixed repetitions per BER (excl. ci_width)   */
    int reps_per_unit;      /* repetitions per unit (0: all of a BER)       */
    double ci_width;        /* > 0: stopping rule per BER                   */
    int min_reps, max_reps;
    uint64_t seed;
    unsigned record;        /* BL_CAMPAIGN_* (ACCURACY is implied)          */
    const bl_fault_registry *reg;
} bl_campaign_desc;

typedef enum bl_campaign_unit_kind { BL_UNIT_EVAL = 0, BL_UNIT_MARGINS = 1 } bl_campaign_unit_kind;

typedef struct bl_campaign_unit {
    uint32_t id;
    bl_campaign_unit_kind kind;
    uint32_t model, fault, ber;
    int rep0, nrep;         /* repetitions [rep0, rep0 + nrep); stopping rule: nrep = 0 */
    double cost;
} bl_campaign_unit;

typedef struct bl_campaign_plan bl_campaign_plan;

/* Check the description (every evaluator parameter through
 * bl_evaluate_check_params, every spec against the registry and models),
 * expand it into units and compute the campaign hash.  desc and what it
 * points to must outlive the plan. */
int bl_campaign_plan_new(const bl_campaign_desc *desc, bl_campaign_plan **out, bl_error *err);
void bl_campaign_plan_free(bl_campaign_plan *p);
size_t bl_campaign_units(const bl_campaign_plan *p, const bl_campaign_unit **units);
/* 16 hex digits identifying the expanded campaign (models' checksums,
 * data, specs, BERs, repetitions, seed, record) */
const char *bl_campaign_hash(const bl_campaign_plan *p);
/* The deterministic cost-balanced partition: shard[u] for every unit
 * (shard has bl_campaign_units entries); nshards in 1..BL_CAMPAIGN_MAX_SHARDS. */
int bl_campaign_partition(const bl_campaign_plan *p, int nshards, int *shard, bl_error *err);

typedef struct bl_campaign_run_opts {
    const char *dir;        /* output folder (created)                      */
    int shard, nshards;     /* 0/1: everything                              */
    int threads;            /* engine threads (0: all CPUs)                 */
} bl_campaign_run_opts;

typedef struct bl_campaign_hooks {
    /* fraction of this shard's units, message "unit k/n: ..." */
    void (*progress)(void *ctx, double fraction, const char *msg);
    int (*cancelled)(void *ctx);   /* polled between units only: the unit
                                      in flight is finished and recorded */
    void *ctx;
} bl_campaign_hooks;

typedef struct bl_campaign_run_stats {
    size_t total;           /* units of this shard                          */
    size_t done_before;     /* found finished (resumed)                     */
    size_t done_now;        /* run and recorded now                         */
    int torn;               /* a torn record was found and dropped          */
    double seconds;         /* wall time of this call                       */
    double unit_seconds;    /* time inside the evaluations and metrics      */
} bl_campaign_run_stats;

/* Run the shard's units that have no valid record yet.  BL_ECANCELED when
 * the cancel hook stopped it between units (every finished unit is
 * recorded); stats filled in either case. */
int bl_campaign_run(const bl_campaign_plan *p, const bl_campaign_run_opts *o,
                    const bl_campaign_hooks *hooks, bl_campaign_run_stats *stats,
                    bl_error *err);

/* ---- merged results ---- */

typedef struct bl_campaign_layer_value {
    char name[32];
    double value;
} bl_campaign_layer_value;

typedef struct bl_campaign_group {  /* one model x fault: a sweep's result */
    char *model;
    uint64_t train_seed;
    char *fault;
    bl_evaluate_result *result;     /* rows per BER (timings zero)          */
    int nlayers;                    /* flip fractions per row (record flips) */
    double *flips;                  /* nrows x nlayers, measured (mean over reps) */
    double *analytic;               /* nrows x nlayers (NAN when n/a)       */
    char (*layer_names)[32];
} bl_campaign_group;

typedef struct bl_campaign_margin {  /* one model x hidden layer (record margins) */
    char *model;
    char layer[32];
    double mean;
    double below[BL_MARGIN_NK];       /* fraction with margin < 2k, k = 1, 2, 4, 8 */
} bl_campaign_margin;

typedef struct bl_campaign_result {
    char hash[17];
    char version[32];
    size_t ngroups;
    bl_campaign_group *groups;
    size_t nmargins;
    bl_campaign_margin *margins;
    double unit_seconds;            /* summed from the records (table only) */
} bl_campaign_result;

/* Merge the records found in dirs (any mix of shards, each unit once or
 * identical duplicates).  Refuses outputs of different campaigns or betlab
 * versions, and incomplete sets (naming the first missing unit). */
int bl_campaign_merge(const char *const *dirs, size_t ndirs, bl_campaign_result **out,
                      bl_error *err);
void bl_campaign_result_free(bl_campaign_result *r);
/* {"campaign", "version", "results": [{"model", "train_seed", "fault", and
 * bl_evaluate_to_json's fields without timings; rows gain "flip_fraction"
 * and "flip_analytic" objects when recorded}], "margins": [...]} */
json_t *bl_campaign_to_json(const bl_campaign_result *r);
/* sweep's CSV with model,train_seed,fault columns first */
char *bl_campaign_to_csv(const bl_campaign_result *r);
void bl_campaign_print_table(const bl_campaign_result *r, FILE *f);
/* Write JSON (or CSV when path ends in .csv) atomically. */
int bl_campaign_save(const bl_campaign_result *r, const char *path, bl_error *err);

/* ---- status ---- */
typedef struct bl_campaign_shard_status {
    int shard, nshards;
    size_t done, total;
    int torn;
    char file[256];
} bl_campaign_shard_status;
/* Done/total per shard file of dir (sorted by N then I); *n shards. */
int bl_campaign_status(const char *dir, bl_campaign_shard_status **out, size_t *n,
                       size_t *total_units, char hash[17], bl_error *err);

#endif
