/* l_job.c - bl.job: the core's jobs (src/jobs) from Lua.  A script starts
 * an evaluation, a sweep or a metrics run in the background and keeps
 * going; the handle reports progress, can be cancelled, and gives the same
 * result the blocking call (m:eval, bl.sweep, m:metrics) would have given.
 *
 *   local j = bl.job.sweep{model = m, data = d, ber = "1e-4:0.1:7", reps = 10}
 *   while j:state() == "running" do print(j:progress()) ; ... end
 *   local sw = j:wait()          -- or j:result() (nil while running)
 *
 * The job gets its own copy of the model and its own prepared inputs, so
 * closing or changing the Lua objects while it runs is harmless. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "bnn/train.h"
#include "cli/env.h"
#include "jobs/cluster_job.h"
#include "jobs/eval_job.h"
#include "jobs/metrics_job.h"
#include "jobs/train_job.h"
#include "lua/lbl.h"
#include "study/evaluate.h"
#include "study/metrics_report.h"

typedef enum { JK_EVAL, JK_SWEEP, JK_METRICS, JK_TRAIN, JK_CLUSTER } job_kind;

typedef struct lbl_job {
    lbl_obj h;
    bl_job *job;
    job_kind kind;
    int taken;          /* the result was handed to Lua (cached in uservalue 1) */
} lbl_job;

/* A JSON value as a Lua value (objects -> tables with string keys, arrays
 * -> sequences, null -> nil). */
static void lbl_push_json(lua_State *L, const json_t *j)
{
    luaL_checkstack(L, 4, "json");
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *v;
        lua_createtable(L, 0, (int)json_object_size(j));
        json_object_foreach((json_t *)j, k, v) {
            lbl_push_json(L, v);
            lua_setfield(L, -2, k);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *v;
        lua_createtable(L, (int)json_array_size(j), 0);
        json_array_foreach(j, i, v) {
            lbl_push_json(L, v);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
    case JSON_STRING: lua_pushstring(L, json_string_value(j)); break;
    case JSON_INTEGER: lua_pushinteger(L, (lua_Integer)json_integer_value(j)); break;
    case JSON_REAL: lua_pushnumber(L, json_real_value(j)); break;
    case JSON_TRUE: lua_pushboolean(L, 1); break;
    case JSON_FALSE: lua_pushboolean(L, 0); break;
    default: lua_pushnil(L); break;
    }
}

static lbl_job *check_job(lua_State *L, int idx)
{
    lbl_job *u = lbl_checkudata(L, idx, LBL_K_JOB);
    if (!u->job)
        luaL_argerror(L, idx, "job is closed");
    return u;
}

static int j_gc(lua_State *L)
{
    lbl_job *u = lbl_gcudata(L, 1, LBL_K_JOB);
    if (u) {
        bl_job_free(u->job); /* cancels and joins a running job */
        u->job = NULL;
    }
    return 0;
}

static int j_close(lua_State *L)
{
    lbl_job *u = lbl_closeudata(L, 1, LBL_K_JOB);
    bl_job_free(u->job);
    u->job = NULL;
    return 0;
}

static const char *state_name(bl_job_state s)
{
    switch (s) {
    case BL_JOB_RUNNING: return "running";
    case BL_JOB_DONE: return "done";
    case BL_JOB_FAILED: return "failed";
    default: return "cancelled";
    }
}

static int j_tostring(lua_State *L)
{
    lbl_job *u = lbl_checkudata(L, 1, LBL_K_JOB);
    if (!u->job) {
        lua_pushliteral(L, "job (closed)");
        return 1;
    }
    char msg[160];
    double f = bl_job_progress(u->job, msg, sizeof msg);
    lua_pushfstring(L, "job %s: %s, %d%% (%s)", bl_job_kind(u->job),
                    state_name(bl_job_state_now(u->job)), (int)(f * 100 + 0.5), msg);
    return 1;
}

/* j:state() -> "running" | "done" | "failed" | "cancelled" */
static int j_state(lua_State *L)
{
    lua_pushstring(L, state_name(bl_job_state_now(check_job(L, 1)->job)));
    return 1;
}

/* j:progress() -> fraction (0..1), message */
static int j_progress(lua_State *L)
{
    char msg[160];
    double f = bl_job_progress(check_job(L, 1)->job, msg, sizeof msg);
    lua_pushnumber(L, f);
    lua_pushstring(L, msg);
    return 2;
}

static int j_cancel(lua_State *L)
{
    bl_job_cancel(check_job(L, 1)->job);
    return 0;
}

/* A cluster job's result as bl.cluster.exemplar's table: the run on the
 * requested device (the CPU run for "cpu"); frees r. */
static void push_cluster(lua_State *L, bl_cluster_job_result *r)
{
    const bl_cluster_job_run *run = r->dev.state == BL_CLUSTER_RUN_DONE ? &r->dev : &r->cpu;
    lbl_push_cluster(L, &run->r, r->n, r->d, run->device, (int)r->precision, (int)r->optimizer);
    bl_cluster_job_result_free(r);
}

/* The finished job's result as a Lua value, made once and cached in the
 * handle's user value (so j:result() twice gives the same object). */
static int push_result(lua_State *L, lbl_job *u)
{
    if (u->taken) {
        lua_getiuservalue(L, 1, 1);
        return 1;
    }
    bl_error err = { 0 };
    int rc = bl_job_wait(u->job, &err);
    if (rc == BL_ECANCELED)
        return luaL_error(L, "job %s: cancelled", bl_job_kind(u->job));
    if (rc) { /* "KIND: message", once (core messages may name the kind already) */
        const char *k = bl_job_kind(u->job);
        size_t kl = strlen(k);
        if (strncmp(err.msg, k, kl) == 0 && err.msg[kl] == ':')
            return luaL_error(L, "%s", err.msg);
        return lbl_fail(L, k, &err);
    }
    void *r = bl_job_take_result(u->job);
    switch (u->kind) {
    case JK_SWEEP:
        lbl_push_sweep(L, r);  /* owns r now (even if it raises: __gc) */
        break;
    case JK_EVAL:
        lbl_push_eval(L, r);
        bl_evaluate_result_free(r);
        break;
    case JK_METRICS: {
        json_t *j = bl_metrics_to_json(r);
        bl_metrics_result_free(r);
        lbl_push_json(L, j);
        json_decref(j);
        break;
    }
    case JK_TRAIN:
        lbl_push_model(L, r); /* owns r now */
        break;
    case JK_CLUSTER:
        push_cluster(L, r);
        break;
    }
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, 1);
    u->taken = 1;
    return 1;
}

/* j:result() -> the result, nil while running; raises if it failed */
static int j_result(lua_State *L)
{
    lbl_job *u = check_job(L, 1);
    if (!u->taken && bl_job_state_now(u->job) == BL_JOB_RUNNING) {
        lua_pushnil(L);
        return 1;
    }
    return push_result(L, u);
}

/* j:wait() -> the result; Ctrl-C (or a stop request) cancels the job */
static int j_wait(lua_State *L)
{
    lbl_job *u = check_job(L, 1);
    while (!u->taken && bl_job_state_now(u->job) == BL_JOB_RUNNING) {
        if (lbl_interrupted()) {
            bl_job_cancel(u->job);
            bl_job_wait(u->job, NULL);
            return luaL_error(L, "job %s: interrupted", bl_job_kind(u->job));
        }
        struct timespec ts = { 0, 5000000 };
        nanosleep(&ts, NULL);
    }
    return push_result(L, u);
}

static lbl_job *push_job(lua_State *L, job_kind kind)
{
    lbl_job *u = lbl_newudata(L, sizeof *u, 1, LBL_K_JOB);
    u->kind = kind;
    return u;
}

static void free_model(void *p) { bl_model_free(p); }
static void free_inputs(void *p) { bl_inputs_free(p); }

/* The job's own model copy and inputs, handed to the job in o->own (freed
 * with it); on failure nothing is left allocated. */
static int own_copies(const bl_model *m, const bl_dataset *ds, size_t limit, bl_model **mc,
                      bl_inputs **in, bl_job_opts *o, bl_error *err)
{
    *mc = NULL;
    *in = NULL;
    int rc = bl_model_clone(m, mc, err);
    if (!rc)
        rc = bl_inputs_prepare(*mc, ds, limit, in, err);
    if (rc) {
        bl_model_free(*mc);
        return rc;
    }
    o->own.p[0] = *in;
    o->own.free[0] = free_inputs;
    o->own.p[1] = *mc;
    o->own.free[1] = free_model;
    return 0;
}

static void start_failed(lua_State *L, const char *fn, bl_job_opts *o, bl_error *err)
{
    bl_job_own_free(&o->own);
    lbl_fail(L, fn, err);
}

/* bl.job.eval(m, ds [, opts]) -> job; opts as m:eval (no on_progress) */
static int l_job_eval(lua_State *L)
{
    const char *fn = "bl.job.eval";
    bl_model *m = lbl_check_model(L, 1);
    bl_dataset *ds = lbl_check_dataset(L, 2);
    int o = lbl_opt_table(L, 3);
    static const char *const keys[] = { "fault", "seed", "reps", "ci_width", "min_reps",
                                        "max_reps", "threads", "limit", NULL };
    lbl_opt_keys(L, o, fn, keys);
    if (!bl_dataset_has_labels(ds))
        luaL_argerror(L, 2, "dataset has no labels");
    bl_evaluate_cfg cfg = { .model = m };
    size_t limit;
    lbl_eval_opts(L, o, m, fn, &cfg, &limit);
    lbl_job *u = push_job(L, JK_EVAL);
    bl_job_opts jo = { .kind = "eval" };
    bl_model *mc;
    bl_inputs *in;
    bl_error err = { 0 };
    if (own_copies(m, ds, limit, &mc, &in, &jo, &err))
        return lbl_fail(L, fn, &err);
    cfg.model = mc;
    cfg.inputs = in;
    if (bl_eval_job_start(&cfg, &jo, &u->job, &err))
        start_failed(L, fn, &jo, &err);
    return 1;
}

/* bl.job.sweep{...} -> job; fields as bl.sweep (no on_progress) */
static int l_job_sweep(lua_State *L)
{
    const char *fn = "bl.job.sweep";
    lbl_job *u = push_job(L, JK_SWEEP);
    int res = lua_gettop(L);
    bl_evaluate_cfg cfg;
    bl_dataset *ds;
    size_t limit;
    double *bers;
    if (lbl_sweep_opts(L, fn, &cfg, &ds, &limit, &bers)) {
        free(bers);
        return luaL_error(L, "%s: field 'on_progress' is not for jobs: use j:progress()", fn);
    }
    bl_job_opts jo = { .kind = "sweep" };
    bl_model *mc;
    bl_inputs *in;
    bl_error err = { 0 };
    if (own_copies(cfg.model, ds, limit, &mc, &in, &jo, &err)) {
        free(bers);
        return lbl_fail(L, fn, &err);
    }
    cfg.model = mc;
    cfg.inputs = in;
    int rc = bl_eval_job_start(&cfg, &jo, &u->job, &err); /* copies the BER list */
    free(bers);
    if (rc)
        start_failed(L, fn, &jo, &err);
    lua_settop(L, res);
    return 1;
}

/* bl.job.metrics(m, ds [, {layer=, ber=, reps=, seed=, importance=, limit=,
 * threads=}]) -> job whose result is the table of `betlab metrics --json`
 * (margins, analytic and measured flip fractions, importance per layer) */
static int l_job_metrics(lua_State *L)
{
    const char *fn = "bl.job.metrics";
    bl_model *m = lbl_check_model(L, 1);
    bl_dataset *ds = lbl_check_dataset(L, 2);
    int o = lbl_opt_table(L, 3);
    static const char *const keys[] = { "layer", "ber", "reps", "seed", "importance", "limit",
                                        "threads", NULL };
    lbl_opt_keys(L, o, fn, keys);
    bl_metrics_cfg cfg = { .model = m, .what = BL_MET_ALL };
    cfg.layer = lbl_opt_string(L, o, fn, "layer", NULL);
    cfg.ber = lbl_opt_number(L, o, fn, "ber", 0.01);
    cfg.reps = (int)lbl_opt_int(L, o, fn, "reps", 0, INT_MIN, INT_MAX);
    cfg.seed = lbl_opt_seed(L, o, fn, "seed", 1);
    const char *im = lbl_opt_string(L, o, fn, "importance", "auto");
    if (!strcmp(im, "none"))
        cfg.what &= ~(unsigned)BL_MET_IMPORTANCE;
    else if (!strcmp(im, "fast"))
        cfg.importance_method = BL_IMP_FAST;
    else if (!strcmp(im, "brute"))
        cfg.importance_method = BL_IMP_BRUTE;
    else if (strcmp(im, "auto"))
        luaL_error(L, "%s: field 'importance' must be \"auto\", \"fast\", \"brute\" or \"none\"",
                   fn);
    size_t limit = (size_t)lbl_opt_int(L, o, fn, "limit", 1000, 0, LUA_MAXINTEGER);
    cfg.threads = lbl_threads(L, o, fn);
    cfg.reg = lbl_faults(L);
    lbl_job *u = push_job(L, JK_METRICS);
    bl_job_opts jo = { .kind = "metrics" };
    bl_model *mc;
    bl_inputs *in;
    bl_error err = { 0 };
    if (own_copies(m, ds, limit, &mc, &in, &jo, &err))
        return lbl_fail(L, fn, &err);
    cfg.model = mc;
    cfg.inputs = in;
    if (bl_metrics_job_start(&cfg, &jo, &u->job, &err))
        start_failed(L, fn, &jo, &err);
    return 1;
}

/* bl.job.train{...} -> job whose result is the trained model; fields as
 * bl.train (no on_epoch / on_progress: use j:progress()).  The job owns the
 * trainer, which holds its own copy of the (limited) data. */
static int l_job_train(lua_State *L)
{
    const char *fn = "bl.job.train";
    luaL_checktype(L, 1, LUA_TTABLE);
    bl_train_opts o;
    bl_dataset *train, *test;
    size_t limit;
    const char *name;
    lbl_train_opts(L, 1, fn, &o, &train, &test, &limit, &name);
    if (lbl_opt_present(L, 1, "on_epoch") || lbl_opt_present(L, 1, "on_progress"))
        return luaL_error(L, "%s: fields 'on_epoch' and 'on_progress' are not for jobs: use "
                             "j:progress()", fn);
    lbl_job *u = push_job(L, JK_TRAIN);
    bl_error err = { 0 };
    bl_trainer *t = NULL;
    int rc = lbl_trainer_new(&o, train, test, limit, &t, NULL, &err);
    bl_train_job_cfg cfg = { .trainer = t, .own_trainer = 1, .name = name };
    bl_job_opts jo = { .kind = "train" };
    if (!rc && (rc = bl_train_job_start(&cfg, &jo, &u->job, &err)))
        bl_trainer_free(t);
    if (rc)
        return lbl_fail(L, fn, &err);
    return 1;
}

static void free_dataset(void *p) { bl_dataset_free(p); }

/* bl.job.cluster{data=, k=, optimizer=, precision=, device=, seed=, limit=,
 * threads=} -> job whose result is bl.cluster.exemplar's table for the
 * dataset's first `limit` rows.  The job holds its own reference to the
 * dataset's storage. */
static int l_job_cluster(lua_State *L)
{
    const char *fn = "bl.job.cluster";
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const keys[] = { "data", "k", "optimizer", "precision", "device", "seed",
                                        "limit", "threads", NULL };
    lbl_opt_keys(L, 1, fn, keys);
    if (lua_getfield(L, 1, "data") == LUA_TNIL || !lbl_testudata(L, -1, LBL_K_DATASET))
        return luaL_error(L, "%s: field 'data' must be a dataset, got %s", fn,
                          luaL_typename(L, -1));
    bl_dataset *ds = lbl_check_dataset(L, -1);
    lua_pop(L, 1);
    if (!lbl_opt_present(L, 1, "k"))
        return luaL_error(L, "%s: field 'k' must be a positive integer, got nil", fn);
    bl_cluster_job_cfg cfg = { 0 };
    cfg.k = (size_t)lbl_opt_int(L, 1, fn, "k", 1, 1, (lua_Integer)1 << 32);
    cfg.optimizer = (bl_optimizer)lbl_cluster_optimizer(L, 1, fn);
    cfg.device = lbl_opt_string(L, 1, fn, "device", "cpu");
    cfg.precision = (bl_precision)lbl_cluster_precision(L, 1, fn, cfg.device);
    cfg.device_only = 1;   /* the requested device only, as bl.cluster.exemplar */
    cfg.seed = lbl_opt_seed(L, 1, fn, "seed", 1);
    cfg.threads = lbl_threads(L, 1, fn);
    cfg.n = (size_t)lbl_opt_int(L, 1, fn, "limit", 0, 1, LUA_MAXINTEGER);
    cfg.settings = cli_settings();
    size_t n = bl_dataset_count(ds);
    if (cfg.n && cfg.n < n)
        n = cfg.n;
    if (cfg.k > n)
        return luaL_error(L, "%s: field 'k' = %d exceeds the %d data points", fn, (int)cfg.k,
                          (int)n);
    lbl_job *u = push_job(L, JK_CLUSTER);
    bl_error err = { 0 };
    bl_dataset *view;
    if (bl_dataset_subset(ds, 0, bl_dataset_count(ds), &view, &err))
        return lbl_fail(L, fn, &err);
    bl_job_opts jo = { .kind = "cluster" };
    jo.own.p[0] = view;
    jo.own.free[0] = free_dataset;
    cfg.data = view;
    if (bl_cluster_job_start(&cfg, &jo, &u->job, &err))
        start_failed(L, fn, &jo, &err);
    return 1;
}

void lbl_open_job(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "state", j_state }, { "progress", j_progress }, { "cancel", j_cancel },
        { "wait", j_wait },   { "result", j_result },     { "close", j_close },
        { NULL, NULL },
    };
    static const luaL_Reg meta[] = {
        { "__gc", j_gc }, { "__close", j_close }, { "__tostring", j_tostring }, { NULL, NULL },
    };
    lbl_newclass(L, LBL_JOB, methods, meta, "job");
    static const luaL_Reg fns[] = {
        { "eval", l_job_eval },   { "sweep", l_job_sweep }, { "metrics", l_job_metrics },
        { "train", l_job_train }, { "cluster", l_job_cluster }, { NULL, NULL },
    };
    luaL_newlib(L, fns);
    lua_setfield(L, -2, "job");
}
