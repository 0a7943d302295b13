/* l_model.c - bl.model: BNN models as userdata (betlab.model), m:eval. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/text.h"
#include "bnn/model_names.h"
#include "cli/env.h"
#include "bnn/engine.h"
#include "fault/fault.h"
#include "lua/lbl.h"
#include "study/evaluate.h"
#include "study/stats.h"

lbl_model *lbl_push_model(lua_State *L, bl_model *m)
{
    lbl_model *u = lbl_newudata(L, sizeof *u, 0, LBL_K_MODEL);
    u->m = m;
    u->path = NULL;
    if (m) {   /* the collector's pace: see lbl_push_dataset */
        size_t kb = (size_t)(bl_model_stored_bits(m) / 8 / 1024);
        if (kb)
            lua_gc(L, LUA_GCSTEP, (int)(kb > 1 << 20 ? 1 << 20 : kb));
    }
    return u;
}

bl_model *lbl_check_model(lua_State *L, int idx)
{
    lbl_model *u = lbl_checkudata(L, idx, LBL_K_MODEL);
    if (!u->m)
        luaL_argerror(L, idx, "model is closed");
    return u->m;
}

static void model_release(lbl_model *u)
{
    bl_model_free(u->m);
    u->m = NULL;
    free(u->path);
    u->path = NULL;
}

static int m_gc(lua_State *L)
{
    lbl_model *u = lbl_gcudata(L, 1, LBL_K_MODEL);
    if (u)
        model_release(u);
    return 0;
}

static int m_close(lua_State *L)
{
    model_release(lbl_closeudata(L, 1, LBL_K_MODEL));
    return 0;
}

static void arch_string(const bl_model *m, char *buf, size_t n)
{
    size_t w = 0;
    w += (size_t)snprintf(buf + w, n - w, "%ux%ux%u", m->input.h, m->input.w, m->input.c);
    for (uint32_t i = 0; i < m->nlayers && w < n; i++) {
        const bl_layer *l = &m->layers[i];
        if (l->kind == BL_LAYER_DENSE)
            w += (size_t)snprintf(buf + w, n - w, "-%u", l->rows);
        else if (l->kind == BL_LAYER_CONV3)
            w += (size_t)snprintf(buf + w, n - w, "-c%u", l->rows);
        else if (l->kind == BL_LAYER_MAXPOOL2)
            w += (size_t)snprintf(buf + w, n - w, "-p");
    }
}

static int m_tostring(lua_State *L)
{
    lbl_model *u = lbl_checkudata(L, 1, LBL_K_MODEL);
    if (!u->m) {
        lua_pushliteral(L, "model (closed)");
        return 1;
    }
    char arch[256];
    arch_string(u->m, arch, sizeof arch);
    const char *name = bl_model_meta_get(u->m, "name");
    char buf[512], shown[200];
    /* a display string: the name comes from the file, control bytes shown
     * escaped (base/text.h) */
    bl_text_terminal_buf(name ? name : (u->path ? u->path : "unnamed"), shown, sizeof shown);
    snprintf(buf, sizeof buf, "model %s (%s, %u classes, %.3g Mbit, crc %08x)", shown, arch,
             u->m->nclasses,
             (double)bl_model_stored_bits(u->m) / 1e6, bl_model_checksum(u->m));
    lua_pushstring(L, buf);
    return 1;
}

/* bl.model.load(arg): a .bnn file, a shipped model name (with or without
 * .bnn) or random:SPEC[@SEED], resolved by the core (bnn/model_names.h) with
 * the same rules as the command line's --model. */
static int l_load(lua_State *L)
{
    const char *arg = luaL_checkstring(L, 1);
    bl_model *m = NULL;
    bl_error err = { 0 };
    char path[PATH_MAX + 300];
    if (bl_model_resolve(arg, cli_settings(), &m, path, sizeof path, &err))
        return lbl_fail(L, "bl.model.load", &err);
    lbl_model *u = lbl_push_model(L, m);
    u->path = path[0] ? strdup(path) : NULL;
    lbl_rec_note(L, "bl.model.load", 0, 1, 1, lua_gettop(L));
    return 1;
}

/* bl.model.random(spec [, seed]): architecture spec with seeded random
 * weights (what `random:SPEC@SEED` means on the command line). */
static int l_random(lua_State *L)
{
    const char *spec = luaL_checkstring(L, 1);
    lua_Integer seed = luaL_optinteger(L, 2, 1);
    luaL_argcheck(L, seed >= 0, 2, "seed must be >= 0");
    bl_model *m;
    bl_error err = { 0 };
    if (bl_model_from_spec(spec, NULL, &m, &err))
        return lbl_fail(L, "bl.model.random", &err);
    bl_model_randomize(m, (uint64_t)seed);
    char name[300];
    snprintf(name, sizeof name, "random:%s@%lld", spec, (long long)seed);
    bl_model_meta_set(m, "name", name);
    lbl_push_model(L, m);
    lbl_rec_note(L, "bl.model.random", 0, 1, lua_isnoneornil(L, 2) ? 1 : 2, lua_gettop(L));
    return 1;
}

/* bl.model.import_npz(path, spec) */
static int l_import(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    const char *spec = luaL_checkstring(L, 2);
    bl_model *m;
    bl_error err = { 0 };
    if (bl_model_import_npz(path, spec, &m, &err))
        return lbl_fail(L, "bl.model.import_npz", &err);
    lbl_push_model(L, m);
    lbl_rec_note(L, "bl.model.import_npz", 0, 1, 2, lua_gettop(L));
    return 1;
}

static int m_save(lua_State *L)
{
    bl_model *m = lbl_check_model(L, 1);
    const char *path = luaL_checkstring(L, 2);
    bl_error err = { 0 };
    if (bl_model_save(m, path, &err))
        return lbl_fail(L, "save", &err);
    lbl_rec_note(L, "save", 1, 1, 2, 0);
    lua_settop(L, 1);
    return 1;
}

static void push_shape(lua_State *L, bl_shape s)
{
    lua_createtable(L, 3, 0);
    lua_pushinteger(L, s.h);
    lua_rawseti(L, -2, 1);
    lua_pushinteger(L, s.w);
    lua_rawseti(L, -2, 2);
    lua_pushinteger(L, s.c);
    lua_rawseti(L, -2, 3);
}

static int m_info(lua_State *L)
{
    lbl_model *u = lbl_checkudata(L, 1, LBL_K_MODEL);
    bl_model *m = lbl_check_model(L, 1);
    char arch[256];
    arch_string(m, arch, sizeof arch);
    lua_createtable(L, 0, 12);
    const char *name = bl_model_meta_get(m, "name");
    lua_pushstring(L, name ? name : "");
    lua_setfield(L, -2, "name");
    if (u->path) {
        lua_pushstring(L, u->path);
        lua_setfield(L, -2, "path");
    }
    lua_pushstring(L, arch);
    lua_setfield(L, -2, "arch");
    push_shape(L, m->input);
    lua_setfield(L, -2, "input");
    lua_pushinteger(L, m->nclasses);
    lua_setfield(L, -2, "classes");
    lua_pushinteger(L, m->nlayers);
    lua_setfield(L, -2, "layers");
    lua_pushinteger(L, (lua_Integer)bl_model_stored_bits(m));
    lua_setfield(L, -2, "stored_bits");
    lua_pushinteger(L, (lua_Integer)bl_model_macs(m));
    lua_setfield(L, -2, "macs");
    lua_pushinteger(L, bl_model_checksum(m));
    lua_setfield(L, -2, "checksum");
    lua_pushnumber(L, m->input_scale);
    lua_setfield(L, -2, "input_scale");
    lua_pushinteger(L, m->input_zero);
    lua_setfield(L, -2, "input_zero");
    lua_createtable(L, 0, (int)m->nmeta);
    for (uint32_t i = 0; i < m->nmeta; i++) {
        lua_pushstring(L, m->meta[i].value);
        lua_setfield(L, -2, m->meta[i].key);
    }
    lua_setfield(L, -2, "meta");
    return 1;
}

static int m_layers(lua_State *L)
{
    bl_model *m = lbl_check_model(L, 1);
    lua_createtable(L, (int)m->nlayers, 0);
    for (uint32_t i = 0; i < m->nlayers; i++) {
        const bl_layer *l = &m->layers[i];
        lua_createtable(L, 0, 8);
        lua_pushstring(L, l->name);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, bl_layer_kind_name(l->kind));
        lua_setfield(L, -2, "kind");
        push_shape(L, l->in);
        lua_setfield(L, -2, "input");
        push_shape(L, l->out);
        lua_setfield(L, -2, "output");
        if (l->kind == BL_LAYER_DENSE || l->kind == BL_LAYER_CONV3) {
            lua_pushinteger(L, l->rows);
            lua_setfield(L, -2, "rows");
            lua_pushinteger(L, l->cols);
            lua_setfield(L, -2, "cols");
            lua_pushboolean(L, l->real_input);
            lua_setfield(L, -2, "real_input");
        }
        lua_pushinteger(L, (lua_Integer)bl_layer_stored_bits(l));
        lua_setfield(L, -2, "stored_bits");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int m_checksum(lua_State *L)
{
    lua_pushinteger(L, bl_model_checksum(lbl_check_model(L, 1)));
    return 1;
}

/* m:meta([key]): the metadata table, or one value (nil when absent). */
static int m_meta(lua_State *L)
{
    bl_model *m = lbl_check_model(L, 1);
    if (lua_isnoneornil(L, 2)) {
        lua_createtable(L, 0, (int)m->nmeta);
        for (uint32_t i = 0; i < m->nmeta; i++) {
            lua_pushstring(L, m->meta[i].value);
            lua_setfield(L, -2, m->meta[i].key);
        }
        return 1;
    }
    const char *v = bl_model_meta_get(m, luaL_checkstring(L, 2));
    if (v)
        lua_pushstring(L, v);
    else
        lua_pushnil(L);
    return 1;
}

static int m_set_meta(lua_State *L)
{
    bl_model *m = lbl_check_model(L, 1);
    const char *k = luaL_checkstring(L, 2);
    const char *v = luaL_checkstring(L, 3);
    luaL_argcheck(L, *k, 2, "key must not be empty");
    if (bl_model_meta_set(m, k, v))
        return luaL_error(L, "set_meta: out of memory");
    lbl_rec_note(L, "set_meta", 1, 1, 3, 0);
    lua_settop(L, 1);
    return 1;
}

static int m_clone(lua_State *L)
{
    bl_model *m = lbl_check_model(L, 1);
    bl_model *c;
    bl_error err = { 0 };
    if (bl_model_clone(m, &c, &err))
        return lbl_fail(L, "clone", &err);
    lbl_push_model(L, c);
    lbl_rec_note(L, "clone", 1, 1, 1, lua_gettop(L));
    return 1;
}



/* The evaluator's result as a Lua table: the first row's accuracy,
 * interval (and its method), repetitions, throughput. */
void lbl_push_eval(lua_State *L, const bl_evaluate_result *r)
{
    const bl_evaluate_row *row = &r->rows[0];
    lbl_push_row(L, row);
    if (row->reps == 1) {
        lua_pushinteger(L, (lua_Integer)row->correct[0]);
        lua_setfield(L, -2, "correct");
    }
    lua_pushnumber(L, r->maps ? r->images_per_s : r->timing.images_per_s);
    lua_setfield(L, -2, "images_per_s");
    lua_pushnumber(L, r->seconds);
    lua_setfield(L, -2, "seconds");
    lua_pushnumber(L, r->clean_accuracy);
    lua_setfield(L, -2, "clean_accuracy");
    if (r->fault) {
        lua_pushinteger(L, (lua_Integer)r->seed);
        lua_setfield(L, -2, "seed");
        lua_pushstring(L, r->fault);
        lua_setfield(L, -2, "fault");
    }
    lua_pushinteger(L, (lua_Integer)r->images);
    lua_setfield(L, -2, "images");
}

/* The fault option of m:eval and bl.job.eval: a spec string or a fault
 * object, pushed as canonical spec text (NULL when absent). */
const char *lbl_fault_text(lua_State *L, int o, const bl_model *m, const char *fn)
{
    if (!o || lua_getfield(L, o, "fault") == LUA_TNIL) {
        if (o)
            lua_pop(L, 1);
        return NULL;
    }
    if (lua_type(L, -1) != LUA_TSTRING && !lbl_testudata(L, -1, LBL_K_FAULT))
        luaL_error(L, "%s: field 'fault' must be a fault spec string or a fault object, got %s",
                   fn, luaL_typename(L, -1));
    int owned;
    char what[64];
    snprintf(what, sizeof what, "%s: field 'fault'", fn);
    struct bl_fault_spec *spec = lbl_check_fault(L, lua_gettop(L), m, what, &owned);
    char *t = bl_fault_spec_format(spec);
    if (owned)
        bl_fault_spec_free(spec);
    if (!t)
        luaL_error(L, "%s: out of memory", fn);
    lua_pushstring(L, t);
    free(t);
    return lua_tostring(L, -1);
}

/* Options of m:eval and bl.job.eval, into an evaluator configuration
 * (ranges are the evaluator's to check). */
void lbl_eval_opts(lua_State *L, int o, const bl_model *m, const char *fn, bl_evaluate_cfg *cfg,
                   size_t *limit)
{
    cfg->seed = lbl_opt_seed(L, o, fn, "seed", 1);
    cfg->reps = (int)lbl_opt_int(L, o, fn, "reps", 0, INT_MIN, INT_MAX);
    cfg->max_reps = (int)lbl_opt_int(L, o, fn, "max_reps", 0, INT_MIN, INT_MAX);
    cfg->min_reps = (int)lbl_opt_int(L, o, fn, "min_reps", 0, INT_MIN, INT_MAX);
    cfg->ci_width = lbl_opt_number(L, o, fn, "ci_width", 0);
    cfg->threads = lbl_threads(L, o, fn);
    *limit = (size_t)lbl_opt_int(L, o, fn, "limit", 0, 0, LUA_MAXINTEGER);
    cfg->fault = lbl_fault_text(L, o, m, fn);
    cfg->reg = cfg->fault ? lbl_faults(L) : NULL;
    cfg->timing_repeats = cfg->fault ? 0 : 1; /* the clean model's throughput */
}

/* m:eval(ds [, {fault=, seed=, reps=, ci_width=, min_reps=, max_reps=,
 * threads=, limit=, on_progress=}]): the one evaluator (study/evaluate.h),
 * so the numbers are those of `betlab eval` with the same settings. */
/* Rows of classes as Lua sequences: one sequence, or one per map. */
static void push_predictions(lua_State *L, const bl_pred_rows *p, int per_map)
{
    if (per_map)
        lua_createtable(L, (int)p->rows, 0);
    for (size_t r = 0; r < p->rows; r++) {
        lua_createtable(L, (int)p->n, 0);
        for (size_t i = 0; i < p->n; i++) {
            lua_pushinteger(L, (lua_Integer)p->v[r * p->n + i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        if (!per_map)
            return;
        lua_rawseti(L, -2, (lua_Integer)r + 1);
    }
}

static int eval_run(lua_State *L, const char *fn, bl_pred_rows *preds)
{
    bl_model *m = lbl_check_model(L, 1);
    bl_dataset *ds = lbl_check_dataset(L, 2);
    int o = lbl_opt_table(L, 3);
    static const char *const keys[] = { "fault", "seed", "reps", "ci_width", "min_reps",
                                        "max_reps", "threads", "limit", "on_progress", NULL };
    lbl_opt_keys(L, o, fn, keys);
    if (!bl_dataset_has_labels(ds))
        luaL_argerror(L, 2, "dataset has no labels");
    int fidx = 0;
    if (o && lua_getfield(L, o, "on_progress") != LUA_TNIL) {
        if (!lua_isfunction(L, -1))
            luaL_error(L, "%s: field 'on_progress' must be a function, got %s", fn,
                       luaL_typename(L, -1));
        fidx = lua_gettop(L);
    } else if (o)
        lua_pop(L, 1);
    bl_evaluate_cfg cfg = { .model = m };
    size_t limit;
    lbl_eval_opts(L, o, m, fn, &cfg, &limit);
    if (preds) { /* the evaluator's own predictions, no timing runs */
        cfg.predictions = bl_pred_rows_keep;
        cfg.predictions_ctx = preds;
        cfg.timing_repeats = 0;
    }
    lbl_progress prog;
    lbl_progress_init(&prog, L, fidx);
    lbl_hold hold;   /* the callback may try to close m or ds */
    lbl_hold_init(&hold, L);
    lbl_hold_add(&hold, 1);
    lbl_hold_add(&hold, 2);

    /* nothing below raises a Lua error until the cleanup */
    bl_error err = { 0 };
    bl_inputs *in = NULL;
    bl_evaluate_result *r = NULL;
    int rc = bl_inputs_prepare(m, ds, limit, &in, &err);
    if (!rc) {
        cfg.inputs = in;
        bl_evaluate_hooks hooks = { lbl_progress_hook, lbl_progress_stop_hook, NULL, &prog };
        rc = bl_evaluate(&cfg, &hooks, &r, &err);
        if (!rc && lbl_interrupted())
            rc = BL_ECANCELED;
    }
    bl_inputs_free(in);
    lbl_hold_release(&hold);
    if (!rc && preds && preds->oom)
        rc = bl_error_set(&err, BL_ENOMEM, "%s: out of memory keeping the predictions", fn);
    if (rc) {
        bl_evaluate_result_free(r);
        if (preds)
            bl_pred_rows_free(preds);
        lbl_progress_finish(&prog, rc, fn, &err);
    }
    if (preds)
        push_predictions(L, preds, cfg.fault != NULL);
    else
        lbl_push_eval(L, r);
    bl_evaluate_result_free(r);
    lbl_rec_note(L, fn, 1, 1, o ? 3 : 2, lua_gettop(L));
    return 1;
}

static int m_eval(lua_State *L) { return eval_run(L, "eval", NULL); }

/* m:predict(ds [, opts as m:eval]): each image's class from the one
 * evaluator: a sequence of n classes, or under a fault one such sequence
 * per fault map (like `betlab eval --predictions`). */
static int m_predict(lua_State *L)
{
    bl_pred_rows p = { 0 };
    int n = eval_run(L, "predict", &p);
    bl_pred_rows_free(&p);
    return n;
}

void lbl_open_model(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "save", m_save },         { "info", m_info },   { "layers", m_layers },
        { "checksum", m_checksum }, { "meta", m_meta },   { "set_meta", m_set_meta },
        { "clone", m_clone },       { "eval", m_eval },   { "close", m_close },
        { "predict", m_predict },
        { NULL, NULL },
    };
    static const luaL_Reg meta[] = {
        { "__gc", m_gc }, { "__close", m_close }, { "__tostring", m_tostring }, { NULL, NULL },
    };
    lbl_newclass(L, LBL_MODEL, methods, meta, "model");
    static const luaL_Reg fns[] = {
        { "load", l_load }, { "random", l_random }, { "import_npz", l_import }, { NULL, NULL },
    };
    luaL_newlib(L, fns);
    lua_setfield(L, -2, "model");
}
