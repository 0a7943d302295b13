/* l_ui.c - betlab.ui: the workbench's actions as Lua functions.
 *
 * Every key that changes the study calls one of these through the
 * executor (keys.c), and scripts or recorded sessions call the same
 * functions, so `betlab tui --session F` replays a demo exactly.  Each
 * state-changing call is noted in an active session record
 * (bl.record.start) as the Lua statement that made it.  Outside the TUI
 * (no workbench attached) the functions raise an error.
 *
 *   betlab.ui.set_ber(layer|"*", ber)   per-layer (or all layers) BER, 0..0.5
 *   betlab.ui.select(layer|"*")         layer shown in margins/importance
 *   betlab.ui.set_fault(kind)           fault model without rates ("bitflip",
 *                                       "asym:ratio=10", "stuck", plugins)
 *   betlab.ui.set_seed(n)               fault-map seed (maps seed .. seed+4)
 *   betlab.ui.pin(model|nil)            second model on the same faults
 *   betlab.ui.sweep()                   restart the accuracy-over-BER sweep
 *   betlab.ui.save(prefix)              PREFIX.csv (curve), PREFIX.txt (screen)
 *   betlab.ui.state()                   table: model, fault, spec, seed, ber{},
 *                                       accuracy, ci_low, ci_high, reps
 *   betlab.ui.plot(xs, ys [, {width=, height=, mode="braille"|"block"|"ascii",
 *                  lo=, hi=, logx=}]) -> string   (plot.c, pure; works anywhere)
 *   betlab.ui.cluster{k=10, optimizer="lazy-greedy", device="auto",
 *                     precision="fp32", n=2000, seed=1}
 *                                       cluster view: exemplars of the first n
 *                                       images on the CPU and (auto: the first
 *                                       OpenCL device, if any) a device
 *   betlab.ui.cluster(false)            leave the cluster view
 *   betlab.ui.quit()                    leave the workbench */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "bnn/model_names.h"
#include "cluster/cluster.h"
#include "lua/executor.h"
#include "lua/lbl.h"
#include "tui/plot.h"
#include "study/evaluate.h"
#include "tui/tui.h"

#define TUI_KEY "betlab.tui"

static bl_tui *get(lua_State *L, const char *fn)
{
    lua_getfield(L, LUA_REGISTRYINDEX, TUI_KEY);
    bl_tui *t = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!t)
        luaL_error(L, "betlab.ui.%s: no workbench (run inside `betlab tui`)", fn);
    return t;
}

static void note(lua_State *L, const char *fn, int nargs)
{
    lbl_rec_note(L, fn, 0, 1, nargs, 0);
}

static int l_set_ber(lua_State *L)
{
    bl_tui *t = get(L, "set_ber");
    const char *layer = luaL_checkstring(L, 1);
    double ber = luaL_checknumber(L, 2);
    if (!(ber >= 0 && ber <= TUI_BER_MAX))
        return luaL_error(L, "betlab.ui.set_ber: BER %g outside [0, %g]", ber, TUI_BER_MAX);
    int li = -1;
    if (strcmp(layer, "*") != 0 && (li = tui_state_find_layer(&t->s, layer)) < 0)
        return luaL_error(L, "betlab.ui.set_ber: no weight layer '%s'", layer);
    tui_state_set_ber(&t->s, li, ber);
    tui_jobs_settings_changed(t);
    lua_settop(L, 2);
    note(L, "bl.ui.set_ber", 2);
    return 0;
}

static int l_select(lua_State *L)
{
    bl_tui *t = get(L, "select");
    const char *layer = luaL_checkstring(L, 1);
    int li = t->s.nlayers;
    if (strcmp(layer, "*") != 0 && (li = tui_state_find_layer(&t->s, layer)) < 0)
        return luaL_error(L, "betlab.ui.select: no weight layer '%s'", layer);
    t->s.sel = li;
    tui_jobs_layer_changed(t);
    lua_settop(L, 1);
    note(L, "bl.ui.select", 1);
    return 0;
}

static int l_set_fault(lua_State *L)
{
    bl_tui *t = get(L, "set_fault");
    const char *kind = luaL_checkstring(L, 1);
    bl_fault_spec *spec = NULL;
    bl_error err = { 0 };
    if (bl_fault_spec_parse(t->reg, kind, t->model, &spec, &err) ||
        bl_fault_spec_set_rate(spec, 0.01, &err)) {
        bl_fault_spec_free(spec);
        return luaL_error(L, "betlab.ui.set_fault: %s", err.msg);
    }
    bl_fault_spec_free(spec);
    char old[sizeof t->s.fault_kind];
    snprintf(old, sizeof old, "%s", t->s.fault_kind);
    snprintf(t->s.fault_kind, sizeof t->s.fault_kind, "%s", kind);
    char txt[1024];
    if (tui_state_spec(&t->s, t->reg, txt, sizeof txt, &err)) {
        snprintf(t->s.fault_kind, sizeof t->s.fault_kind, "%s", old);
        return luaL_error(L, "betlab.ui.set_fault: %s", err.msg);
    }
    tui_jobs_settings_changed(t);
    tui_jobs_sweep(t);
    lua_settop(L, 1);
    note(L, "bl.ui.set_fault", 1);
    return 0;
}

static int l_set_seed(lua_State *L)
{
    bl_tui *t = get(L, "set_seed");
    lua_Integer s = luaL_checkinteger(L, 1);
    if (s < 0)
        return luaL_error(L, "betlab.ui.set_seed: seed must be >= 0");
    t->s.seed = (uint64_t)s;
    tui_jobs_settings_changed(t);
    tui_jobs_sweep(t);
    lua_settop(L, 1);
    note(L, "bl.ui.set_seed", 1);
    return 0;
}

static int l_pin(lua_State *L)
{
    bl_tui *t = get(L, "pin");
    const char *name = luaL_optstring(L, 1, NULL);
    bl_model *m = NULL;
    bl_inputs *in = NULL;
    bl_error err = { 0 };
    if (name) {
        if (bl_model_resolve(name, t->settings, &m, NULL, 0, &err) ||
            bl_inputs_prepare(m, t->data, t->limit, &in, &err)) {
            bl_model_free(m);
            return luaL_error(L, "betlab.ui.pin: %s", err.msg);
        }
    }
    bl_model *old = t->pin;
    bl_inputs *old_in = t->pin_inputs;
    t->pin = m;
    t->pin_inputs = in;
    snprintf(t->s.pin_name, sizeof t->s.pin_name, "%s", name ? name : "");
    t->s.acc.pin_valid = 0;
    tui_jobs_pin_changed(t, old, old_in);
    bl_inputs_free(old_in);
    bl_model_free(old);
    tui_jobs_settings_changed(t);
    lua_settop(L, 1);
    note(L, "bl.ui.pin", name ? 1 : 0);
    return 0;
}

static int l_sweep(lua_State *L)
{
    bl_tui *t = get(L, "sweep");
    tui_jobs_sweep(t);
    return 0;
}

static int l_save(lua_State *L)
{
    bl_tui *t = get(L, "save");
    const char *prefix = luaL_checkstring(L, 1);
    char csv[1024], txt[1024];
    snprintf(csv, sizeof csv, "%s.csv", prefix);
    snprintf(txt, sizeof txt, "%s.txt", prefix);
    FILE *f = fopen(csv, "w");
    if (!f)
        return luaL_error(L, "betlab.ui.save: cannot write %s", csv);
    fprintf(f, "model,fault,seed,ber,accuracy,ci_low,ci_high,reps\r\n");
    const tui_curve *cs[2] = { &t->s.curve, &t->s.pin_curve };
    const char *names[2] = { t->s.model_name, t->s.pin_name };
    for (int k = 0; k < 2; k++) {
        /* names and fault specs are data: RFC 4180 quoting */
        char *nm = bl_text_csv_field(names[k], strlen(names[k]));
        char *fa = bl_text_csv_field(cs[k]->fault, strlen(cs[k]->fault));
        for (int i = 0; nm && fa && i < cs[k]->n; i++)
            fprintf(f, "%s,%s,%llu,%.17g,%.17g,%.17g,%.17g,%d\r\n", nm, fa,
                    (unsigned long long)t->s.seed, cs[k]->ber[i], cs[k]->acc[i], cs[k]->lo[i],
                    cs[k]->hi[i], cs[k]->reps);
        free(nm);
        free(fa);
    }
    if (fclose(f))
        return luaL_error(L, "betlab.ui.save: cannot write %s", csv);
    if (tui_save_screen(t, txt))
        return luaL_error(L, "betlab.ui.save: cannot write %s", txt);
    lua_pushstring(L, csv);
    lua_pushstring(L, txt);
    tui_status(t, 0, "saved %s and %s", csv, txt);
    return 2;
}

static int l_state(lua_State *L)
{
    bl_tui *t = get(L, "state");
    bl_tui_state *s = &t->s;
    lua_newtable(L);
    lua_pushstring(L, s->model_name);
    lua_setfield(L, -2, "model");
    lua_pushstring(L, s->fault_kind);
    lua_setfield(L, -2, "fault");
    lua_pushstring(L, s->spec_text);
    lua_setfield(L, -2, "spec");
    lua_pushinteger(L, (lua_Integer)s->seed);
    lua_setfield(L, -2, "seed");
    lua_newtable(L);
    for (int i = 0; i < s->nlayers; i++) {
        lua_pushnumber(L, s->layers[i].ber);
        lua_setfield(L, -2, s->layers[i].name);
    }
    lua_setfield(L, -2, "ber");
    if (s->acc.valid) {
        lua_pushnumber(L, s->acc.acc);
        lua_setfield(L, -2, "accuracy");
        lua_pushnumber(L, s->acc.lo);
        lua_setfield(L, -2, "ci_low");
        lua_pushnumber(L, s->acc.hi);
        lua_setfield(L, -2, "ci_high");
        lua_pushinteger(L, s->acc.reps);
        lua_setfield(L, -2, "reps");
        lua_pushstring(L, bl_ci_method_name((bl_ci_method)s->acc.method));
        lua_setfield(L, -2, "ci_method");
        lua_pushboolean(L, s->acc.stale);
        lua_setfield(L, -2, "stale");
    }
    if (s->clean_valid) {
        lua_pushnumber(L, s->clean_acc);
        lua_setfield(L, -2, "clean_accuracy");
    }
    lua_pushinteger(L, s->curve.n);
    lua_setfield(L, -2, "curve_points");
    lua_pushboolean(L, s->margins.valid);
    lua_setfield(L, -2, "margins");
    /* true once every job is done for the current settings: a script (or
     * a test) polls this instead of guessing a delay */
    lua_pushboolean(L, tui_jobs_settled(t));
    lua_setfield(L, -2, "settled");
    return 1;
}

static double *numbers(lua_State *L, int idx, size_t *n, const char *what)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    *n = lua_rawlen(L, idx);
    double *v = lua_newuserdatauv(L, *n * sizeof(double) + 1, 0);
    for (size_t i = 0; i < *n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i + 1);
        if (!lua_isnumber(L, -1))
            luaL_error(L, "betlab.ui.plot: %s[%d] is not a number", what, (int)i + 1);
        v[i] = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    return v;
}

static int l_plot(lua_State *L)
{
    size_t nx, ny, nlo = 0, nhi = 0;
    double *x = numbers(L, 1, &nx, "xs");
    double *y = numbers(L, 2, &ny, "ys");
    if (nx != ny)
        return luaL_error(L, "betlab.ui.plot: %d xs but %d ys", (int)nx, (int)ny);
    int w = 60, h = 12, mode = BL_PLOT_BRAILLE, logx = 0;
    double *lo = NULL, *hi = NULL;
    if (lua_istable(L, 3)) {
        /* range-checked before narrowing: 2^32 + 60 must not pass as 60 */
        lua_getfield(L, 3, "width");
        lua_Integer wi = luaL_optinteger(L, -1, 60);
        lua_getfield(L, 3, "height");
        lua_Integer hi_ = luaL_optinteger(L, -1, 12);
        if (wi < 2 || hi_ < 1 || wi > 1000 || hi_ > 500)
            return luaL_error(L, "betlab.ui.plot: size %I x %I out of range (2..1000 x 1..500)",
                              wi, hi_);
        w = (int)wi;
        h = (int)hi_;
        lua_getfield(L, 3, "mode");
        const char *m = luaL_optstring(L, -1, "braille");
        mode = strcmp(m, "ascii") == 0 ? BL_PLOT_ASCII : strcmp(m, "block") == 0 ? BL_PLOT_BLOCK
                                                                                 : BL_PLOT_BRAILLE;
        lua_getfield(L, 3, "logx");
        logx = lua_toboolean(L, -1);
        lua_pop(L, 4);
        lua_getfield(L, 3, "lo");
        if (!lua_isnil(L, -1))
            lo = numbers(L, lua_absindex(L, -1), &nlo, "lo");
        lua_getfield(L, 3, "hi");
        if (!lua_isnil(L, -1))
            hi = numbers(L, lua_absindex(L, -1), &nhi, "hi");
        if ((lo && nlo != nx) || (hi && nhi != nx) || (!lo) != (!hi))
            return luaL_error(L, "betlab.ui.plot: lo and hi need one value per point");
    }
    if (w < 2 || h < 1 || w > 1000 || h > 500)
        return luaL_error(L, "betlab.ui.plot: size %dx%d out of range", w, h);
    bl_plot_opts o = { INFINITY, -INFINITY, INFINITY, -INFINITY, logx, mode, NAN, ST_MARKER };
    for (size_t i = 0; i < nx; i++) {
        if (!logx || x[i] > 0) {
            o.xmin = fmin(o.xmin, x[i]);
            o.xmax = fmax(o.xmax, x[i]);
        }
        o.ymin = fmin(o.ymin, lo ? lo[i] : y[i]);
        o.ymax = fmax(o.ymax, hi ? hi[i] : y[i]);
    }
    bl_grid g = { 0 };
    if (bl_grid_init(&g, w, h))
        return luaL_error(L, "betlab.ui.plot: out of memory");
    bl_plot_series s = { x, y, lo, hi, nx, ST_CURVE, ST_BAND };
    bl_rect r = { 0, 0, w, h };
    if (nx)
        bl_plot_lines(&g, r, &o, &s, 1);
    char *txt = bl_grid_to_text(&g);
    bl_grid_free(&g);
    if (!txt)
        return luaL_error(L, "betlab.ui.plot: out of memory");
    lua_pushstring(L, txt);
    free(txt);
    return 1;
}

static int l_cluster(lua_State *L)
{
    const char *fn = "betlab.ui.cluster";
    bl_tui *t = get(L, "cluster");
    if (lua_isboolean(L, 1) && !lua_toboolean(L, 1)) {
        tui_cluster_close(t);
        note(L, fn, 1);
        return 0;
    }
    int o = lbl_opt_table(L, 1);
    static const char *const keys[] = { "k", "optimizer", "device", "precision", "n", "seed",
                                        NULL };
    lbl_opt_keys(L, o, fn, keys);
    tui_cluster_req r = { 0 };
    r.k = (int)lbl_opt_int(L, o, fn, "k", 10, 1, TUI_CL_K);
    r.n = (int)lbl_opt_int(L, o, fn, "n", 2000, 1, 1 << 24);
    const char *opt = lbl_opt_string(L, o, fn, "optimizer", "lazy-greedy");
    if (bl_optimizer_parse(opt) < 0)
        return luaL_error(L, "%s: field 'optimizer' must be one of greedy, lazy-greedy, "
                             "stochastic-greedy, sieve-streaming, sieve-streaming++, "
                             "three-sieves, salsa; got \"%s\"", fn, opt);
    const char *dev = lbl_opt_string(L, o, fn, "device", "auto");
    const char *prec = lbl_opt_string(L, o, fn, "precision", "fp32");
    if (bl_precision_parse(prec) < 0)
        return luaL_error(L, "%s: field 'precision' must be \"fp64\", \"fp32\" or \"fp16\"", fn);
    if (strlen(dev) >= sizeof r.device)
        return luaL_error(L, "%s: field 'device' is too long", fn);
    r.seed = lbl_opt_seed(L, o, fn, "seed", 1);
    snprintf(r.optimizer, sizeof r.optimizer, "%s", bl_optimizer_name(bl_optimizer_parse(opt)));
    snprintf(r.device, sizeof r.device, "%s", dev);
    snprintf(r.precision, sizeof r.precision, "%s", prec);
    tui_cluster_request(t, &r);
    note(L, fn, o ? 1 : 0);
    return 0;
}

static int l_quit(lua_State *L)
{
    bl_tui *t = get(L, "quit");
    t->quit = 1;
    return 0;
}

static const luaL_Reg ui_funcs[] = {
    { "set_ber", l_set_ber }, { "select", l_select }, { "set_fault", l_set_fault },
    { "set_seed", l_set_seed }, { "pin", l_pin }, { "sweep", l_sweep },
    { "save", l_save }, { "state", l_state }, { "plot", l_plot },
    { "cluster", l_cluster }, { "quit", l_quit }, { NULL, NULL },
};

void tui_lua_open(bl_tui *t)
{
    lua_State *L = bl_exec_lua(t->exec);
    lua_pushlightuserdata(L, t);
    lua_setfield(L, LUA_REGISTRYINDEX, TUI_KEY);
    lua_getglobal(L, "betlab");
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_getglobal(L, "bl");
    }
    if (lua_istable(L, -1)) {
        luaL_newlib(L, ui_funcs);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "ui");
        luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
        lua_pushvalue(L, -2);
        lua_setfield(L, -2, "betlab.ui");
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
}

void tui_lua_close(bl_tui *t)
{
    lua_State *L = bl_exec_lua(t->exec);
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, TUI_KEY);
}

int tui_lua_recording(bl_tui *t)
{
    return lbl_getctx(bl_exec_lua(t->exec))->rec != NULL;
}
