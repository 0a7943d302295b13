/* l_campaign.c - bl.campaign.load(DIR | {DIR, ...}): the merged result of
 * campaign outputs (betlab campaign run/merge; study/campaign.h) as Lua
 * rows, one per model x fault x BER:
 *   { model, train_seed, fault, ber, accuracy, ci_low, ci_high, reps,
 *     ci_method, accuracies = {...}, clean_accuracy, images,
 *     flip_fraction = { layer = f }, flip_analytic = { layer = f } }
 * and a second table { campaign, version, margins = {{model, layer, mean,
 * below_2k = {...}}} }.  Merging errors (different campaigns or versions,
 * missing units) are raised with the core's message. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua/lbl.h"
#include "study/campaign.h"

static void set_num(lua_State *L, const char *k, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void push_layers(lua_State *L, const bl_campaign_group *g, size_t b, const double *v)
{
    lua_newtable(L);
    for (int l = 0; l < g->nlayers; l++) {
        double x = v[b * (size_t)g->nlayers + (size_t)l];
        if (!isnan(x)) {
            lua_pushnumber(L, x);
            lua_setfield(L, -2, g->layer_names[l]);
        }
    }
}

static void push_row(lua_State *L, const bl_campaign_group *g, size_t b)
{
    const bl_evaluate_row *w = &g->result->rows[b];
    lua_newtable(L);
    lua_pushstring(L, g->model);
    lua_setfield(L, -2, "model");
    lua_pushinteger(L, (lua_Integer)g->train_seed);
    lua_setfield(L, -2, "train_seed");
    lua_pushstring(L, g->fault);
    lua_setfield(L, -2, "fault");
    set_num(L, "ber", w->ber);
    set_num(L, "accuracy", w->accuracy);
    set_num(L, "ci_low", w->ci_low);
    set_num(L, "ci_high", w->ci_high);
    set_num(L, "clean_accuracy", g->result->clean_accuracy);
    lua_pushinteger(L, w->reps);
    lua_setfield(L, -2, "reps");
    lua_pushinteger(L, (lua_Integer)g->result->images);
    lua_setfield(L, -2, "images");
    lua_pushstring(L, bl_ci_method_name(w->ci_method));
    lua_setfield(L, -2, "ci_method");
    lua_createtable(L, w->reps, 0);
    for (int k = 0; k < w->reps; k++) {
        lua_pushnumber(L, w->acc[k]);
        lua_rawseti(L, -2, k + 1);
    }
    lua_setfield(L, -2, "accuracies");
    if (g->nlayers) {
        push_layers(L, g, b, g->flips);
        lua_setfield(L, -2, "flip_fraction");
        push_layers(L, g, b, g->analytic);
        lua_setfield(L, -2, "flip_analytic");
    }
}

static void push_info(lua_State *L, const bl_campaign_result *r)
{
    lua_newtable(L);
    lua_pushstring(L, r->hash);
    lua_setfield(L, -2, "campaign");
    lua_pushstring(L, r->version);
    lua_setfield(L, -2, "version");
    lua_createtable(L, (int)r->nmargins, 0);
    for (size_t i = 0; i < r->nmargins; i++) {
        const bl_campaign_margin *m = &r->margins[i];
        lua_newtable(L);
        lua_pushstring(L, m->model);
        lua_setfield(L, -2, "model");
        lua_pushstring(L, m->layer);
        lua_setfield(L, -2, "layer");
        set_num(L, "mean", m->mean);
        lua_createtable(L, BL_MARGIN_NK, 0);
        for (int k = 0; k < BL_MARGIN_NK; k++) {
            lua_pushnumber(L, m->below[k]);
            lua_rawseti(L, -2, k + 1);
        }
        lua_setfield(L, -2, "below_2k");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "margins");
}

static int l_load(lua_State *L)
{
    const char *one = NULL;
    size_t n = 1;
    if (lua_istable(L, 1))
        n = lua_rawlen(L, 1);
    else
        one = luaL_checkstring(L, 1);
    if (n == 0)
        return luaL_argerror(L, 1, "no campaign output folders");
    const char **dirs = lua_newuserdatauv(L, n * sizeof *dirs, 0); /* freed by the GC */
    for (size_t i = 0; i < n; i++) {
        if (!lua_istable(L, 1)) {
            dirs[i] = one;
            continue;
        }
        /* the table keeps its strings alive after the pop */
        if (lua_rawgeti(L, 1, (lua_Integer)i + 1) != LUA_TSTRING)
            return luaL_argerror(L, 1, "folders must be strings");
        dirs[i] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    bl_campaign_result *r = NULL;
    bl_error err = { 0 };
    if (bl_campaign_merge(dirs, n, &r, &err))
        return luaL_error(L, "%s", err.msg);
    size_t nrows = 0;
    for (size_t g = 0; g < r->ngroups; g++)
        nrows += r->groups[g].result->nrows;
    lua_createtable(L, (int)nrows, 0);
    lua_Integer k = 0;
    for (size_t g = 0; g < r->ngroups; g++)
        for (size_t b = 0; b < r->groups[g].result->nrows; b++) {
            push_row(L, &r->groups[g], b);
            lua_rawseti(L, -2, ++k);
        }
    push_info(L, r);
    bl_campaign_result_free(r);
    return 2;
}

void lbl_open_campaign(lua_State *L)
{
    static const luaL_Reg fns[] = { { "load", l_load }, { NULL, NULL } };
    luaL_newlib(L, fns);
    lua_setfield(L, -2, "campaign");
}
