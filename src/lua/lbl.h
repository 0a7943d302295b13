/* lbl.h - shared pieces of the betlab Lua bindings (internal to src/lua).
 *
 * Objects are full userdata with one metatable each (names below); every
 * metatable has __index (a method table, also exposed as bl._methods.KIND
 * so that lua/betlab/prelude.lua can add Lua-written methods), __gc,
 * __close and __tostring.  A closed object raises an error when used. */
#ifndef BL_LUA_LBL_H
#define BL_LUA_LBL_H

#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>

#include "base/error.h"
#include "bnn/model.h"
#include "data/dataset.h"

#define LBL_DATASET "betlab.dataset"
#define LBL_MODEL "betlab.model"
#define LBL_FAULT "betlab.fault"
#define LBL_SWEEP "betlab.sweep"
#define LBL_HIST "betlab.histogram"
#define LBL_CTX "betlab.ctx"
#define LBL_JOB "betlab.job"
#define LBL_CLPOINTS "betlab.cluster.points"

/* Every object's userdata starts with an lbl_obj header.  Its kind is
 * checked together with the metatable (lbl_checkudata), so that a script
 * that swaps metatables (debug.setmetatable(ds, getmetatable(m))) gets an
 * argument error instead of a dataset read as a model.  busy counts the
 * running calls that use the object (lbl_hold): close refuses while it is
 * non-zero, so a Lua callback cannot free what the C code works on. */
typedef enum lbl_kind {
    LBL_K_NONE = 0,
    LBL_K_DATASET,
    LBL_K_MODEL,
    LBL_K_FAULT,
    LBL_K_SWEEP,
    LBL_K_HIST,
    LBL_K_JOB,
    LBL_K_CLPOINTS,
    LBL_K_COUNT
} lbl_kind;

typedef struct lbl_obj {
    uint32_t magic;   /* LBL_MAGIC                                       */
    uint32_t kind;    /* lbl_kind                                        */
    uint32_t size;    /* the userdata's size (checked against its length) */
    uint32_t busy;    /* running calls holding it                        */
} lbl_obj;

typedef struct bl_exec bl_exec;
typedef struct bl_fault_registry bl_fault_registry;
typedef struct lbl_recorder lbl_recorder;

/* Per-state context (a userdata in the registry under LBL_CTX). */
typedef struct lbl_ctx {
    int threads;                 /* bl.threads(): 0 = one per CPU          */
    bl_fault_registry *faults;   /* created on first use                   */
    lbl_recorder *rec;           /* NULL when not recording                */
    bl_exec *exec;               /* NULL when loaded outside an executor   */
    unsigned long serial[8];     /* recorder variable counters per kind    */
} lbl_ctx;

typedef struct lbl_dataset { lbl_obj h; bl_dataset *ds; } lbl_dataset;
typedef struct lbl_model { lbl_obj h; bl_model *m; char *path; } lbl_model;

lbl_ctx *lbl_getctx(lua_State *L);
int lbl_interrupted(void);
/* Raise the bl_error as a Lua error ("fn: message"); never returns. */
int lbl_fail(lua_State *L, const char *fn, const bl_error *err);

/* Typed userdata.  lbl_newudata: a zeroed userdata of size bytes (an
 * lbl_obj first) with its header filled and the kind's metatable set.
 * lbl_checkudata: the object at idx of that kind, else an argument error
 * "KIND expected, got OTHER" (the kind the header says, not the
 * metatable).  lbl_testudata: the same or NULL.  lbl_kindof: the kind of
 * any betlab object at idx (LBL_K_NONE for anything else). */
void *lbl_newudata(lua_State *L, size_t size, int nuv, lbl_kind kind);
void *lbl_checkudata(lua_State *L, int idx, lbl_kind kind);
void *lbl_testudata(lua_State *L, int idx, lbl_kind kind);
lbl_kind lbl_kindof(lua_State *L, int idx);
const char *lbl_kind_name(lbl_kind kind);   /* "betlab.model" */
/* For close methods (close, __close): the object, or an error when it is
 * in use by a running call.  For __gc: the object, or NULL when it is not a
 * betlab object, is still in use (then it stays allocated: a leak, never a
 * use after free) or is of another kind (a swapped metatable: then it is
 * finalized by its own kind's __gc here).  The caller frees what the
 * object holds and clears it (closing twice is harmless). */
void *lbl_closeudata(lua_State *L, int idx, lbl_kind kind);
void *lbl_gcudata(lua_State *L, int idx, lbl_kind kind);

/* Holding objects across a long call with Lua callbacks: lbl_hold_add
 * marks the betlab object at idx busy (close refuses) and pins it in the
 * registry (a callback that drops the last reference cannot get it
 * collected); lbl_hold_release undoes all that.  Call release on every path
 * before a Lua error is raised (no Lua error may happen in between except
 * inside callbacks run under pcall). */
#define LBL_HOLD_MAX 8
typedef struct lbl_hold {
    lua_State *L;
    int n;
    lbl_obj *o[LBL_HOLD_MAX];
    int ref[LBL_HOLD_MAX];
} lbl_hold;
void lbl_hold_init(lbl_hold *h, lua_State *L);
void lbl_hold_add(lbl_hold *h, int idx);
void lbl_hold_release(lbl_hold *h);

/* Objects: push new ones (taking ownership), check arguments. */
lbl_dataset *lbl_push_dataset(lua_State *L, bl_dataset *ds);
bl_dataset *lbl_check_dataset(lua_State *L, int idx);
lbl_model *lbl_push_model(lua_State *L, bl_model *m);
bl_model *lbl_check_model(lua_State *L, int idx);
void lbl_newclass(lua_State *L, const char *tname, const luaL_Reg *methods,
                  const luaL_Reg *meta, const char *kind);

/* Option tables.  idx is the table (absolute), fn the function's name in
 * errors ("bl.sweep", "m:eval").  Wrong types raise
 * "FN: field 'NAME' must be WHAT". */
void lbl_opt_keys(lua_State *L, int idx, const char *fn, const char *const *allowed);
int lbl_opt_present(lua_State *L, int idx, const char *name);
double lbl_opt_number(lua_State *L, int idx, const char *fn, const char *name, double def);
lua_Integer lbl_opt_int(lua_State *L, int idx, const char *fn, const char *name,
                        lua_Integer def, lua_Integer min, lua_Integer max);
const char *lbl_opt_string(lua_State *L, int idx, const char *fn, const char *name,
                           const char *def);
/* A list of numbers: returns a malloc'ed array (count in *n) or NULL when
 * the field is absent. */
double *lbl_opt_numbers(lua_State *L, int idx, const char *fn, const char *name, size_t *n);
/* Option-table argument at position arg: nil/none -> 0 (absent), table ->
 * its absolute index, else an argument error. */
int lbl_opt_table(lua_State *L, int arg);
uint64_t lbl_opt_seed(lua_State *L, int idx, const char *fn, const char *name, uint64_t def);
int lbl_threads(lua_State *L, int opts, const char *fn);

/* Progress callback (a Lua function at stack index fidx, or 0): called
 * under lua_pcall; an error in it stops the long call and is re-raised by
 * lbl_progress_finish. */
typedef struct lbl_progress {
    lua_State *L;
    int fidx;
    int failed;      /* callback raised an error (message at errref)       */
    int errref;
} lbl_progress;
void lbl_progress_init(lbl_progress *p, lua_State *L, int fidx);
/* Push args first (nargs), then call: pops them. */
void lbl_progress_call(lbl_progress *p, int nargs);
int lbl_progress_stop(const lbl_progress *p); /* failed or interrupted */
/* The two as core hooks (ctx: the lbl_progress): on_progress(fraction, msg)
 * and the cancellation poll of the evaluator and other long calls. */
void lbl_progress_hook(void *ctx, double fraction, const char *msg);
int lbl_progress_stop_hook(void *ctx);
/* Cleanup done by caller first; this raises a pending callback error, or
 * "interrupted" when rc is BL_ECANCELED, or the bl_error when rc < 0. */
void lbl_progress_finish(lbl_progress *p, int rc, const char *fn, const bl_error *err);

/* Recorder (record.c). */
/* After a successful call: fn is "bl.data.load" (function) or "subset"
 * (method, self at first); arguments at [first, first + nargs); result at
 * index res (0: none).  Object results remember their origin (so they can
 * be recreated in a record started later); when recording, a statement is
 * appended. */
void lbl_rec_note(lua_State *L, const char *fn, int method, int first, int nargs, int res);
/* Autosave the active record into dir (the state folder; NULL when it is
 * unusable), falling back to ./ then /tmp with a message on stderr. */
int lbl_rec_autosave(lua_State *L, const char *dir);
void lbl_rec_free(lbl_recorder *r);
int luaopen_betlab_record(lua_State *L);

/* Submodules: each adds its functions to the module table at -1. */
void lbl_open_data(lua_State *L);
void lbl_open_model(lua_State *L);
void lbl_open_fault(lua_State *L);
void lbl_open_study(lua_State *L);
void lbl_open_train(lua_State *L);
void lbl_open_record(lua_State *L);
void lbl_open_cluster(lua_State *L);

/* Fault registry of this state (created on first use). */
bl_fault_registry *lbl_faults(lua_State *L);
/* l_model.c: the fault option (spec string or fault object) as spec text
 * pushed on the stack, or NULL; the options of m:eval / bl.job.eval into an
 * evaluator configuration (ranges are checked by the evaluator). */
struct bl_evaluate_cfg;
const char *lbl_fault_text(lua_State *L, int o, const bl_model *m, const char *fn);
void lbl_eval_opts(lua_State *L, int o, const bl_model *m, const char *fn,
                   struct bl_evaluate_cfg *cfg, size_t *limit);
/* l_model.c: an evaluator result as m:eval's table; l_study.c: one row
 * {ber (when set), accuracy, ci_low, ci_high, ci_method, reps,
 * changed_bits, accuracies}. */
struct bl_evaluate_result;
struct bl_evaluate_row;
void lbl_push_row(lua_State *L, const struct bl_evaluate_row *row);
void lbl_push_eval(lua_State *L, const struct bl_evaluate_result *r);
/* l_study.c: bl.sweep's options (table at 1) and its result object (takes
 * r, may be NULL: filled later). */
int lbl_sweep_opts(lua_State *L, const char *fn, struct bl_evaluate_cfg *cfg, bl_dataset **ds,
                   size_t *limit, double **bers);
void lbl_push_sweep(lua_State *L, struct bl_evaluate_result *r);
/* l_job.c: bl.job */
void lbl_open_job(lua_State *L);
/* l_campaign.c: bl.campaign */
void lbl_open_campaign(lua_State *L);
/* l_train.c: bl.train's options (table at idx), shared with bl.job.train;
 * the datasets stay referenced by the table. */
struct bl_train_opts;
void lbl_train_opts(lua_State *L, int idx, const char *fn, struct bl_train_opts *o,
                    bl_dataset **train, bl_dataset **test, size_t *limit, const char **name);
/* A trainer on the first `limit` samples (0: all) of train and test;
 * *test_view (may be NULL) receives the limited test view the caller then
 * evaluates on and frees (NULL when no limit applies). */
struct bl_trainer;
int lbl_trainer_new(const struct bl_train_opts *o, const bl_dataset *train,
                    const bl_dataset *test, size_t limit, struct bl_trainer **t,
                    bl_dataset **test_view, bl_error *err);
/* l_cluster.c: bl.cluster.exemplar's result table, shared with bl.job.cluster. */
struct bl_cluster_result;
void lbl_push_cluster(lua_State *L, const struct bl_cluster_result *r, size_t n, size_t d,
                      const char *device, int precision, int optimizer);
/* l_cluster.c: the 'precision' field (default by device) and the
 * 'optimizer' field (default lazy-greedy) as bl_precision / bl_optimizer. */
int lbl_cluster_precision(lua_State *L, int o, const char *fn, const char *device);
int lbl_cluster_optimizer(lua_State *L, int o, const char *fn);
/* Fault argument: a betlab.fault object or a spec string (parsed against
 * model m, may be NULL).  Returns a spec that *owned says whether the
 * caller must free. */
struct bl_fault_spec *lbl_check_fault(lua_State *L, int idx, const bl_model *m, const char *fn,
                                      int *owned);

int luaopen_betlab(lua_State *L);

#endif
