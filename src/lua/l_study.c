/* l_study.c - bl.sweep (BER campaigns), m:margins (histograms),
 * m:flip_probability, m:importance: study/evaluate.h and study/metrics.h. */
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/json_out.h"
#include "bnn/engine.h"
#include "fault/fault.h"
#include "lua/lbl.h"
#include "study/evaluate.h"
#include "study/metrics_report.h"

/* ---- sweep results ---- */

typedef struct lbl_sweep {
    lbl_obj h;
    bl_evaluate_result *r;
} lbl_sweep;

static bl_evaluate_result *check_sweep(lua_State *L, int idx)
{
    lbl_sweep *u = lbl_checkudata(L, idx, LBL_K_SWEEP);
    if (!u->r)
        luaL_argerror(L, idx, "sweep result is closed");
    return u->r;
}

static int sw_gc(lua_State *L)
{
    lbl_sweep *u = lbl_gcudata(L, 1, LBL_K_SWEEP);
    if (u) {
        bl_evaluate_result_free(u->r);
        u->r = NULL;
    }
    return 0;
}

static int sw_close(lua_State *L)
{
    lbl_sweep *u = lbl_closeudata(L, 1, LBL_K_SWEEP);
    bl_evaluate_result_free(u->r);
    u->r = NULL;
    return 0;
}

static int sw_tostring(lua_State *L)
{
    lbl_sweep *u = lbl_checkudata(L, 1, LBL_K_SWEEP);
    if (!u->r) {
        lua_pushliteral(L, "sweep (closed)");
        return 1;
    }
    char buf[512];
    snprintf(buf, sizeof buf, "sweep %s: %zu BERs, %zu images, seed %llu, clean accuracy %.4f",
             u->r->fault ? u->r->fault : "?", u->r->nrows, u->r->images,
             (unsigned long long)u->r->seed, u->r->clean_accuracy);
    lua_pushstring(L, buf);
    return 1;
}

void lbl_push_row(lua_State *L, const bl_evaluate_row *row)
{
    lua_createtable(L, 0, 12);
    if (!isnan(row->ber)) {
        lua_pushnumber(L, row->ber);
        lua_setfield(L, -2, "ber");
    }
    lua_pushnumber(L, row->accuracy);
    lua_setfield(L, -2, "accuracy");
    lua_pushnumber(L, row->ci_low);
    lua_setfield(L, -2, "ci_low");
    lua_pushnumber(L, row->ci_high);
    lua_setfield(L, -2, "ci_high");
    lua_pushstring(L, bl_ci_method_name(row->ci_method));
    lua_setfield(L, -2, "ci_method");
    lua_pushinteger(L, row->reps);
    lua_setfield(L, -2, "reps");
    lua_pushinteger(L, (lua_Integer)row->changed_bits);
    lua_setfield(L, -2, "changed_bits");
    lua_createtable(L, row->reps, 0);
    for (int k = 0; k < row->reps; k++) {
        lua_pushnumber(L, row->acc[k]);
        lua_rawseti(L, -2, k + 1);
    }
    lua_setfield(L, -2, "accuracies");
}

static int sw_rows(lua_State *L)
{
    bl_evaluate_result *r = check_sweep(L, 1);
    lua_createtable(L, (int)r->nrows, 0);
    for (size_t i = 0; i < r->nrows; i++) {
        lbl_push_row(L, &r->rows[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int sw_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)check_sweep(L, 1)->nrows);
    return 1;
}

static int sw_info(lua_State *L)
{
    bl_evaluate_result *r = check_sweep(L, 1);
    lua_createtable(L, 0, 9);
    lua_pushstring(L, r->fault ? r->fault : "");
    lua_setfield(L, -2, "fault");
    lua_pushinteger(L, (lua_Integer)r->seed);
    lua_setfield(L, -2, "seed");
    lua_pushinteger(L, (lua_Integer)r->images);
    lua_setfield(L, -2, "images");
    lua_pushnumber(L, r->clean_accuracy);
    lua_setfield(L, -2, "clean_accuracy");
    lua_pushnumber(L, r->seconds);
    lua_setfield(L, -2, "seconds");
    lua_pushnumber(L, r->fault_seconds);
    lua_setfield(L, -2, "fault_seconds");
    lua_pushnumber(L, r->eval_seconds);
    lua_setfield(L, -2, "eval_seconds");
    lua_pushinteger(L, r->threads);
    lua_setfield(L, -2, "threads");
    lua_pushinteger(L, (lua_Integer)r->nrows);
    lua_setfield(L, -2, "rows");
    return 1;
}

static int sw_save_csv(lua_State *L)
{
    bl_evaluate_result *r = check_sweep(L, 1);
    const char *path = luaL_checkstring(L, 2);
    bl_error err = { 0 };
    if (bl_evaluate_save_csv(r, path, &err))
        return lbl_fail(L, "save_csv", &err);
    lbl_rec_note(L, "save_csv", 1, 1, 2, 0);
    lua_settop(L, 1);
    return 1;
}

static int sw_csv(lua_State *L)
{
    char *t = bl_evaluate_to_csv(check_sweep(L, 1));
    if (!t)
        return luaL_error(L, "csv: out of memory");
    lua_pushstring(L, t);
    free(t);
    return 1;
}

static char *sweep_json(bl_evaluate_result *r)
{
    json_t *j = bl_evaluate_to_json(r, 1);
    if (!j)
        return NULL;
    char *s = bl_json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    return s;
}

static int sw_json(lua_State *L)
{
    char *s = sweep_json(check_sweep(L, 1));
    if (!s)
        return luaL_error(L, "json: out of memory");
    lua_pushstring(L, s);
    free(s);
    return 1;
}

static int sw_save_json(lua_State *L)
{
    bl_evaluate_result *r = check_sweep(L, 1);
    const char *path = luaL_checkstring(L, 2);
    char *s = sweep_json(r);
    if (!s)
        return luaL_error(L, "save_json: out of memory");
    size_t n = strlen(s);
    s[n] = 0;
    bl_error err = { 0 };
    int rc = bl_file_write_atomic(path, s, n, &err);
    if (!rc)
        rc = 0;
    free(s);
    if (rc)
        return lbl_fail(L, "save_json", &err);
    lbl_rec_note(L, "save_json", 1, 1, 2, 0);
    lua_settop(L, 1);
    return 1;
}

/* sw:table(): aligned text table (what `betlab sweep` prints). */
static int sw_table(lua_State *L)
{
    bl_evaluate_result *r = check_sweep(L, 1);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return luaL_error(L, "table: out of memory");
    bl_evaluate_print_table(r, f);
    fclose(f);
    lua_pushlstring(L, buf, len);
    free(buf);
    return 1;
}



static int get_fn(lua_State *L, int o, const char *fn, const char *name)
{
    if (o && lua_getfield(L, o, name) != LUA_TNIL) {
        if (!lua_isfunction(L, -1))
            luaL_error(L, "%s: field '%s' must be a function, got %s", fn, name,
                       luaL_typename(L, -1));
        return lua_gettop(L);
    }
    if (o)
        lua_pop(L, 1);
    return 0;
}

/* The options of bl.sweep and bl.job.sweep into an evaluator
 * configuration: fills cfg (fault text and the BER list stay on the Lua
 * stack / in *bers, malloc'ed, the caller frees it), *ds and *limit;
 * returns the progress function's index (0: none).  Raises on bad fields;
 * ranges are the evaluator's to check. */
int lbl_sweep_opts(lua_State *L, const char *fn, bl_evaluate_cfg *cfg, bl_dataset **ds,
                   size_t *limit, double **bers)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const keys[] = { "model", "data", "fault", "ber", "reps", "ci_width",
                                        "min_reps", "max_reps", "seed", "threads", "limit",
                                        "on_progress", NULL };
    lbl_opt_keys(L, 1, fn, keys);
    if (lua_getfield(L, 1, "model") == LUA_TNIL || !lbl_testudata(L, -1, LBL_K_MODEL))
        luaL_error(L, "%s: field 'model' must be a model, got %s", fn, luaL_typename(L, -1));
    bl_model *m = lbl_check_model(L, -1);
    if (lua_getfield(L, 1, "data") == LUA_TNIL || !lbl_testudata(L, -1, LBL_K_DATASET))
        luaL_error(L, "%s: field 'data' must be a dataset, got %s", fn, luaL_typename(L, -1));
    *ds = lbl_check_dataset(L, -1);
    if (!bl_dataset_has_labels(*ds))
        luaL_error(L, "%s: field 'data' must be a labelled dataset", fn);
    const char *fault = lbl_fault_text(L, 1, m, fn);
    if (lua_getfield(L, 1, "ber") == LUA_TSTRING) {
        /* "0,1e-3,0.01", "START:STOP:N" or "lin:START:STOP:N" */
        double *b;
        size_t nb;
        bl_error err = { 0 };
        if (bl_parse_ber_list(lua_tostring(L, -1), &b, &nb, &err))
            return luaL_error(L, "%s: field 'ber': %s", fn, err.msg);
        lua_createtable(L, (int)nb, 0);
        for (size_t i = 0; i < nb; i++) {
            lua_pushnumber(L, b[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        free(b);
        lua_setfield(L, 1, "ber");   /* keep the parsed list; the record shows numbers */
    }
    lua_pop(L, 1);
    *cfg = (bl_evaluate_cfg){ .model = m, .fault = fault ? fault : "bitflip" };
    cfg->reps = (int)lbl_opt_int(L, 1, fn, "reps", 0, INT_MIN, INT_MAX);
    cfg->ci_width = lbl_opt_number(L, 1, fn, "ci_width", 0);
    cfg->min_reps = (int)lbl_opt_int(L, 1, fn, "min_reps", 0, INT_MIN, INT_MAX);
    cfg->max_reps = (int)lbl_opt_int(L, 1, fn, "max_reps", 0, INT_MIN, INT_MAX);
    cfg->seed = lbl_opt_seed(L, 1, fn, "seed", 1);
    cfg->threads = lbl_threads(L, 1, fn);
    *limit = (size_t)lbl_opt_int(L, 1, fn, "limit", 0, 0, LUA_MAXINTEGER);
    int fidx = get_fn(L, 1, fn, "on_progress");
    cfg->reg = lbl_faults(L);
    /* BER list last: the only allocation; its values are checked by the
     * evaluator */
    *bers = lbl_opt_numbers(L, 1, fn, "ber", &cfg->nbers);
    if (!*bers)
        return luaL_error(L, "%s: field 'ber' must be a list of numbers, got nil", fn);
    cfg->bers = *bers;
    return fidx;
}

void lbl_push_sweep(lua_State *L, bl_evaluate_result *r)
{
    lbl_sweep *u = lbl_newudata(L, sizeof *u, 0, LBL_K_SWEEP);
    u->r = r;
}

/* bl.sweep{model=, data=, fault=, ber=, reps=, ci_width=, min_reps=,
 * max_reps=, seed=, threads=, limit=, on_progress=} */
static int l_sweep(lua_State *L)
{
    const char *fn = "bl.sweep";
    lbl_push_sweep(L, NULL);  /* before the BER list is allocated: may raise */
    int res = lua_gettop(L);
    lbl_sweep *u = lua_touserdata(L, res);
    bl_evaluate_cfg cfg;
    bl_dataset *ds;
    size_t limit;
    double *bers;
    int fidx = lbl_sweep_opts(L, fn, &cfg, &ds, &limit, &bers);
    lbl_progress prog;
    lbl_progress_init(&prog, L, fidx);
    lbl_hold hold;   /* the callback may try to close the model or the data */
    lbl_hold_init(&hold, L);
    lua_getfield(L, 1, "model");
    lbl_hold_add(&hold, -1);
    lua_getfield(L, 1, "data");
    lbl_hold_add(&hold, -1);
    lua_pop(L, 2);
    bl_error err = { 0 };
    bl_inputs *in = NULL;
    int rc = bl_inputs_prepare(cfg.model, ds, limit, &in, &err);
    if (!rc) {
        cfg.inputs = in;
        bl_evaluate_hooks hooks = { lbl_progress_hook, lbl_progress_stop_hook, NULL, &prog };
        rc = bl_evaluate(&cfg, &hooks, &u->r, &err);
        if (!rc && lbl_interrupted())
            rc = BL_ECANCELED;
    }
    bl_inputs_free(in);
    free(bers);
    lbl_hold_release(&hold);
    if (rc)
        lbl_progress_finish(&prog, rc, fn, &err);   /* u->r freed by __gc */
    lua_settop(L, res);
    lbl_rec_note(L, "bl.sweep", 0, 1, 1, res);
    return 1;
}

/* ---- margins ---- */

typedef struct lbl_hist {
    lbl_obj h;
    int valid;
    char layer[BL_NAME_MAX];
    bl_margin_summary s;
} lbl_hist;

static lbl_hist *check_hist(lua_State *L, int idx)
{
    lbl_hist *h = lbl_checkudata(L, idx, LBL_K_HIST);
    if (!h->valid)
        luaL_argerror(L, idx, "histogram is closed");
    return h;
}

static void hist_release(lbl_hist *h)
{
    if (h->valid)
        bl_margin_summary_free(&h->s);
    h->valid = 0;
}

static int h_gc(lua_State *L)
{
    lbl_hist *h = lbl_gcudata(L, 1, LBL_K_HIST);
    if (h)
        hist_release(h);
    return 0;
}

static int h_close(lua_State *L)
{
    hist_release(lbl_closeudata(L, 1, LBL_K_HIST));
    return 0;
}

static int h_tostring(lua_State *L)
{
    lbl_hist *h = lbl_checkudata(L, 1, LBL_K_HIST);
    if (!h->valid) {
        lua_pushliteral(L, "histogram (closed)");
        return 1;
    }
    char buf[256];
    snprintf(buf, sizeof buf, "margin histogram %s: %llu values, mean %.3f, median %lld, %u bins",
             h->layer, (unsigned long long)h->s.count, h->s.mean, (long long)h->s.q[3],
             h->s.nbins);
    lua_pushstring(L, buf);
    return 1;
}

static int h_layer(lua_State *L)
{
    lua_pushstring(L, check_hist(L, 1)->layer);
    return 1;
}

static int h_summary(lua_State *L)
{
    lbl_hist *h = check_hist(L, 1);
    const bl_margin_summary *s = &h->s;
    lua_createtable(L, 0, 10);
    lua_pushstring(L, h->layer);
    lua_setfield(L, -2, "layer");
    lua_pushinteger(L, (lua_Integer)s->count);
    lua_setfield(L, -2, "count");
    lua_pushnumber(L, s->mean);
    lua_setfield(L, -2, "mean");
    lua_pushinteger(L, s->min);
    lua_setfield(L, -2, "min");
    lua_pushinteger(L, s->max);
    lua_setfield(L, -2, "max");
    lua_createtable(L, 0, BL_MARGIN_NQ);
    for (int i = 0; i < BL_MARGIN_NQ; i++) {
        char k[16];
        snprintf(k, sizeof k, "q%02d", (int)(bl_margin_qlevels[i] * 100 + 0.5));
        lua_pushinteger(L, s->q[i]);
        lua_setfield(L, -2, k);
    }
    lua_setfield(L, -2, "quantiles");
    lua_createtable(L, 0, BL_MARGIN_NK);
    for (int i = 0; i < BL_MARGIN_NK; i++) {
        lua_pushnumber(L, s->below[i]);
        lua_rawseti(L, -2, bl_margin_ks[i]);
    }
    lua_setfield(L, -2, "below");   /* below[k] = fraction with m < 2k */
    lua_createtable(L, 0, BL_MARGIN_NK);
    for (int i = 0; i < BL_MARGIN_NK; i++) {
        lua_pushnumber(L, s->flips_le[i]);
        lua_rawseti(L, -2, bl_margin_ks[i]);
    }
    lua_setfield(L, -2, "flips_le"); /* flips_le[k] = fraction needing <= k flips */
    lua_pushinteger(L, s->bin_width);
    lua_setfield(L, -2, "bin_width");
    return 1;
}

/* h:bins() -> list of {lo=, hi=, count=} (hi exclusive) */
static int h_bins(lua_State *L)
{
    lbl_hist *h = check_hist(L, 1);
    lua_createtable(L, (int)h->s.nbins, 0);
    for (uint32_t i = 0; i < h->s.nbins; i++) {
        lua_createtable(L, 0, 3);
        lua_pushinteger(L, (lua_Integer)i * h->s.bin_width);
        lua_setfield(L, -2, "lo");
        lua_pushinteger(L, (lua_Integer)(i + 1) * h->s.bin_width);
        lua_setfield(L, -2, "hi");
        lua_pushinteger(L, (lua_Integer)h->s.hist[i]);
        lua_setfield(L, -2, "count");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* ---- the metric methods: thin wrappers over bl_metrics_run ---- */

static int metric_cancelled(void *ctx)
{
    (void)ctx;
    return lbl_interrupted();
}

/* Prepare the inputs and run the one metrics call; raises on failure (the
 * result is freed first).  The caller fills cfg (model, layer, what...). */
static bl_metrics_result *metric_run(lua_State *L, const bl_dataset *ds, size_t limit,
                                     bl_metrics_cfg *cfg, const char *fn)
{
    bl_error err = { 0 };
    bl_inputs *in = NULL;
    bl_metrics_result *r = NULL;
    lbl_hold hold;   /* the model (1) and the data (2) of every metric method */
    lbl_hold_init(&hold, L);
    lbl_hold_add(&hold, 1);
    lbl_hold_add(&hold, 2);
    int rc = bl_inputs_prepare(cfg->model, ds, limit, &in, &err);
    if (!rc) {
        cfg->inputs = in;
        bl_metrics_hooks h = { NULL, metric_cancelled, NULL };
        rc = bl_metrics_run(cfg, &h, &r, &err);
    }
    bl_inputs_free(in);
    lbl_hold_release(&hold);
    if (rc == BL_ECANCELED)
        luaL_error(L, "%s: interrupted", fn);
    if (rc)
        lbl_fail(L, fn, &err);
    return r;
}

/* Return the list, or its first entry when one layer was asked for. */
static int metric_return(lua_State *L, int list, const char *layer)
{
    if (layer)
        lua_rawgeti(L, list, 1);
    return 1;
}

/* m:margins(ds [, {layer=, limit=, threads=}]) -> histogram (with layer)
 * or list of histograms (one per hidden layer). */
static int m_margins(lua_State *L)
{
    const char *fn = "margins";
    bl_model *m = lbl_check_model(L, 1);
    bl_dataset *ds = lbl_check_dataset(L, 2);
    int o = lbl_opt_table(L, 3);
    static const char *const keys[] = { "layer", "limit", "threads", NULL };
    lbl_opt_keys(L, o, fn, keys);
    bl_metrics_cfg cfg = { .model = m, .what = BL_MET_MARGINS };
    cfg.layer = lbl_opt_string(L, o, fn, "layer", NULL);
    size_t limit = (size_t)lbl_opt_int(L, o, fn, "limit", 0, 0, LUA_MAXINTEGER);
    cfg.threads = lbl_threads(L, o, fn);
    int nh = cfg.layer ? 1 : bl_hidden_layers(m, NULL, 0);
    /* result objects first (allocation may raise), filled below */
    lua_createtable(L, nh, 0);
    int list = lua_gettop(L);
    for (int i = 0; i < nh && i < 64; i++) {
        lbl_newudata(L, sizeof(lbl_hist), 0, LBL_K_HIST);
        lua_rawseti(L, list, i + 1);
    }
    bl_metrics_result *r = metric_run(L, ds, limit, &cfg, fn);
    for (int i = 0; i < r->nlayers; i++) {
        lua_rawgeti(L, list, i + 1);
        lbl_hist *h = lua_touserdata(L, -1);
        lua_pop(L, 1);
        snprintf(h->layer, sizeof h->layer, "%s", r->layers[i].h.name);
        h->s = r->layers[i].margins; /* moved: the histogram owns it now */
        memset(&r->layers[i].margins, 0, sizeof r->layers[i].margins);
        h->valid = 1;
    }
    bl_metrics_result_free(r);
    return metric_return(L, list, cfg.layer);
}

/* m:flip_probability(ds, ber [, {layer=, limit=, measure=, seed=, reps=,
 * threads=}]) -> list of {layer=, analytic=, measured=, ci_low=, ci_high=,
 * reason=} (or one such table with layer). */
static int m_flip_probability(lua_State *L)
{
    const char *fn = "flip_probability";
    bl_model *m = lbl_check_model(L, 1);
    bl_dataset *ds = lbl_check_dataset(L, 2);
    bl_metrics_cfg cfg = { .model = m, .what = BL_MET_ANALYTIC };
    cfg.ber = luaL_checknumber(L, 3);
    int o = lbl_opt_table(L, 4);
    static const char *const keys[] = { "layer", "limit", "measure", "seed", "reps", "threads",
                                        NULL };
    lbl_opt_keys(L, o, fn, keys);
    cfg.layer = lbl_opt_string(L, o, fn, "layer", NULL);
    size_t limit = (size_t)lbl_opt_int(L, o, fn, "limit", 0, 0, LUA_MAXINTEGER);
    if (o && lua_getfield(L, o, "measure") != LUA_TNIL) {
        if (!lua_isboolean(L, -1))
            luaL_error(L, "%s: field 'measure' must be a boolean, got %s", fn,
                       luaL_typename(L, -1));
        if (lua_toboolean(L, -1))
            cfg.what |= BL_MET_MEASURED;
    }
    if (o)
        lua_pop(L, 1);
    cfg.seed = lbl_opt_seed(L, o, fn, "seed", 1);
    cfg.reps = (int)lbl_opt_int(L, o, fn, "reps", 1, INT_MIN, INT_MAX);
    cfg.threads = lbl_threads(L, o, fn);
    cfg.reg = (cfg.what & BL_MET_MEASURED) ? lbl_faults(L) : NULL;
    int nh = cfg.layer ? 1 : bl_hidden_layers(m, NULL, 0);
    lua_createtable(L, nh, 0);
    int list = lua_gettop(L);
    for (int i = 0; i < nh && i < 64; i++) {
        lua_createtable(L, 0, 6);
        lua_rawseti(L, list, i + 1);
    }
    luaL_checkstack(L, 8, fn);
    bl_metrics_result *r = metric_run(L, ds, limit, &cfg, fn);
    /* no allocation below can fail short of memory: fill the tables */
    for (int i = 0; i < r->nlayers; i++) {
        const bl_metrics_layer *ly = &r->layers[i];
        lua_rawgeti(L, list, i + 1);
        lua_pushstring(L, ly->h.name);
        lua_setfield(L, -2, "layer");
        lua_pushnumber(L, r->ber);
        lua_setfield(L, -2, "ber");
        if (isnan(ly->analytic)) {
            lua_pushstring(L, ly->analytic_note);
            lua_setfield(L, -2, "reason");
        } else {
            lua_pushnumber(L, ly->analytic);
            lua_setfield(L, -2, "analytic");
        }
        if (ly->have_measured) {
            lua_pushnumber(L, ly->measured.mean);
            lua_setfield(L, -2, "measured");
            lua_pushnumber(L, ly->measured.low);
            lua_setfield(L, -2, "ci_low");
            lua_pushnumber(L, ly->measured.high);
            lua_setfield(L, -2, "ci_high");
        }
        lua_pop(L, 1);
    }
    bl_metrics_result_free(r);
    return metric_return(L, list, cfg.layer);
}

/* m:importance(ds [, {layer=, limit=, method=, threads=}]) -> list of
 * {layer=, n=, mean=, max=, variance=, method=, values={...}} (or one). */
static int m_importance(lua_State *L)
{
    const char *fn = "importance";
    bl_model *m = lbl_check_model(L, 1);
    bl_dataset *ds = lbl_check_dataset(L, 2);
    int o = lbl_opt_table(L, 3);
    static const char *const keys[] = { "layer", "limit", "method", "threads", NULL };
    lbl_opt_keys(L, o, fn, keys);
    bl_metrics_cfg cfg = { .model = m, .what = BL_MET_IMPORTANCE };
    cfg.layer = lbl_opt_string(L, o, fn, "layer", NULL);
    size_t limit = (size_t)lbl_opt_int(L, o, fn, "limit", 0, 0, LUA_MAXINTEGER);
    const char *ms = lbl_opt_string(L, o, fn, "method", "auto");
    cfg.importance_method = strcmp(ms, "auto") == 0 ? BL_IMP_AUTO
                          : strcmp(ms, "fast") == 0 ? BL_IMP_FAST
                          : strcmp(ms, "brute") == 0 ? BL_IMP_BRUTE : -1;
    if (cfg.importance_method < 0)
        luaL_error(L, "%s: field 'method' must be \"auto\", \"fast\" or \"brute\"", fn);
    cfg.threads = lbl_threads(L, o, fn);
    lua_newtable(L);
    int list = lua_gettop(L);
    bl_metrics_result *r = metric_run(L, ds, limit, &cfg, fn);
    /* (a Lua memory error while copying would leak r: memory errors only) */
    for (int i = 0; i < r->nlayers; i++) {
        const bl_importance *imp = &r->layers[i].importance;
        lua_createtable(L, 0, 8);
        lua_pushstring(L, r->layers[i].h.name);
        lua_setfield(L, -2, "layer");
        lua_pushinteger(L, (lua_Integer)imp->n);
        lua_setfield(L, -2, "n");
        lua_pushnumber(L, imp->mean);
        lua_setfield(L, -2, "mean");
        lua_pushnumber(L, imp->max);
        lua_setfield(L, -2, "max");
        lua_pushnumber(L, imp->variance);
        lua_setfield(L, -2, "variance");
        lua_pushstring(L, imp->method == BL_IMP_BRUTE ? "brute" : "fast");
        lua_setfield(L, -2, "method");
        lua_pushnumber(L, imp->seconds);
        lua_setfield(L, -2, "seconds");
        lua_createtable(L, (int)imp->n, 0);
        for (size_t k = 0; k < imp->n; k++) {
            lua_pushnumber(L, imp->imp[k]);
            lua_rawseti(L, -2, (lua_Integer)k + 1);
        }
        lua_setfield(L, -2, "values");
        lua_rawseti(L, list, i + 1);
    }
    bl_metrics_result_free(r);
    return metric_return(L, list, cfg.layer);
}

void lbl_open_study(lua_State *L)
{
    static const luaL_Reg sw_methods[] = {
        { "rows", sw_rows },       { "info", sw_info },   { "save_csv", sw_save_csv },
        { "save_json", sw_save_json }, { "csv", sw_csv }, { "json", sw_json },
        { "table", sw_table },     { "close", sw_close },    { NULL, NULL },
    };
    static const luaL_Reg sw_meta[] = {
        { "__gc", sw_gc },   { "__close", sw_close }, { "__tostring", sw_tostring },
        { "__len", sw_len }, { NULL, NULL },
    };
    lbl_newclass(L, LBL_SWEEP, sw_methods, sw_meta, "sweep");
    static const luaL_Reg h_methods[] = {
        { "layer", h_layer }, { "summary", h_summary }, { "bins", h_bins }, { "close", h_close },
        { NULL, NULL },
    };
    static const luaL_Reg h_meta[] = {
        { "__gc", h_gc }, { "__close", h_close }, { "__tostring", h_tostring }, { NULL, NULL },
    };
    lbl_newclass(L, LBL_HIST, h_methods, h_meta, "histogram");
    lua_pushcfunction(L, l_sweep);
    lua_setfield(L, -2, "sweep");
    /* model methods */
    lua_getfield(L, -1, "_methods");
    lua_getfield(L, -1, "model");
    lua_pushcfunction(L, m_margins);
    lua_setfield(L, -2, "margins");
    lua_pushcfunction(L, m_flip_probability);
    lua_setfield(L, -2, "flip_probability");
    lua_pushcfunction(L, m_importance);
    lua_setfield(L, -2, "importance");
    lua_pop(L, 2);
}
