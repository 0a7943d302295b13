/* l_fault.c - bl.fault: the fault registry (built-in kinds and plugins)
 * and parsed fault specs as userdata (betlab.fault). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/env.h"
#include "fault/fault.h"
#include "lua/lbl.h"

typedef struct lbl_fault {
    lbl_obj h;
    bl_fault_spec *spec;
} lbl_fault;

static bl_fault_spec *check_spec(lua_State *L, int idx)
{
    lbl_fault *u = lbl_checkudata(L, idx, LBL_K_FAULT);
    if (!u->spec)
        luaL_argerror(L, idx, "fault is closed");
    return u->spec;
}

static int f_gc(lua_State *L)
{
    lbl_fault *u = lbl_gcudata(L, 1, LBL_K_FAULT);
    if (u) {
        bl_fault_spec_free(u->spec);
        u->spec = NULL;
    }
    return 0;
}

static int f_close(lua_State *L)
{
    lbl_fault *u = lbl_closeudata(L, 1, LBL_K_FAULT);
    bl_fault_spec_free(u->spec);
    u->spec = NULL;
    return 0;
}

static void push_fault(lua_State *L, bl_fault_spec *s)
{
    lbl_fault *u = lbl_newudata(L, sizeof *u, 0, LBL_K_FAULT);
    u->spec = s;
}

static int f_text(lua_State *L)
{
    lbl_fault *u = lbl_checkudata(L, 1, LBL_K_FAULT);
    if (!u->spec) {
        lua_pushliteral(L, "fault (closed)");
        return 1;
    }
    char *t = bl_fault_spec_format(u->spec);
    if (!t)
        return luaL_error(L, "fault: out of memory");
    lua_pushstring(L, t);
    free(t);
    return 1;
}

static int f_tostring(lua_State *L)
{
    lbl_fault *u = lbl_checkudata(L, 1, LBL_K_FAULT);
    if (!u->spec) {
        lua_pushliteral(L, "fault (closed)");
        return 1;
    }
    f_text(L);
    lua_pushfstring(L, "fault %s", lua_tostring(L, -1));
    return 1;
}

struct bl_fault_spec *lbl_check_fault(lua_State *L, int idx, const bl_model *m, const char *fn,
                                      int *owned)
{
    *owned = 0;
    if (lua_type(L, idx) == LUA_TSTRING) {
        bl_fault_spec *s;
        bl_error err = { 0 };
        if (bl_fault_spec_parse(lbl_faults(L), lua_tostring(L, idx), m, &s, &err))
            lbl_fail(L, fn, &err);
        *owned = 1;
        return s;
    }
    return check_spec(L, idx);
}

static int is_ident(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!(*s == '_' || *s == '*' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9')))
            return 0;
    return 1;
}

/* One rule table {kind=, layer=, target=, PARAM=number...} -> pushes its
 * spec text. */
static void push_rule_text(lua_State *L, int t, int index)
{
    const char *fn = "bl.fault.new";
    if (!lua_istable(L, t))
        luaL_error(L, "%s: rule %d must be a table, got %s", fn, index, luaL_typename(L, t));
    const char *kind = lbl_opt_string(L, t, fn, "kind", NULL);
    if (!kind)
        luaL_error(L, "%s: field 'kind' is required (e.g. kind=\"bitflip\")", fn);
    const char *layer = lbl_opt_string(L, t, fn, "layer", NULL);
    const char *target = lbl_opt_string(L, t, fn, "target", NULL);
    if ((layer && !is_ident(layer)) || !is_ident(kind) || (target && !is_ident(target)))
        luaL_error(L, "%s: fields 'kind', 'layer' and 'target' must be plain names", fn);
    char buf[1024];
    size_t w = 0;
    if (layer || target)
        w += (size_t)snprintf(buf + w, sizeof buf - w, "%s%s%s=", layer ? layer : "*",
                              target ? "." : "", target ? target : "");
    w += (size_t)snprintf(buf + w, sizeof buf - w, "%s", kind);
    /* parameters in sorted order, so the text does not depend on hashing */
    lua_newtable(L);
    int keys = lua_gettop(L);
    int n = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "%s: rule keys must be names", fn);
        const char *k = lua_tostring(L, -1);
        if (strcmp(k, "kind") && strcmp(k, "layer") && strcmp(k, "target")) {
            lua_pushvalue(L, -1);
            lua_rawseti(L, keys, ++n);
        }
    }
    lua_getglobal(L, "table");
    lua_getfield(L, -1, "sort");
    lua_pushvalue(L, keys);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, keys, i);
        const char *k = lua_tostring(L, -1);
        if (!is_ident(k))
            luaL_error(L, "%s: bad parameter name '%s'", fn, k);
        double v = lbl_opt_number(L, t, fn, k, 0);
        if (w < sizeof buf)
            w += (size_t)snprintf(buf + w, sizeof buf - w, "%c%s=%.17g", i == 1 ? ':' : ',', k, v);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (w >= sizeof buf)
        luaL_error(L, "%s: rule %d is too long", fn, index);
    lua_pushstring(L, buf);
}

/* bl.fault.new(spec [, model]): spec is a string ("bitflip:p=0.01"), a
 * rule table {kind=, layer=, target=, PARAM=...} or a list of rule tables.
 * With a model, layer names are checked now. */
static int l_new(lua_State *L)
{
    luaL_argexpected(L, lua_type(L, 1) == LUA_TSTRING || lua_istable(L, 1), 1, "string or table");
    const bl_model *m = lua_isnoneornil(L, 2) ? NULL : lbl_check_model(L, 2);
    const char *text;
    if (lua_istable(L, 1)) {
        lua_newtable(L);
        int parts = lua_gettop(L);
        lua_Integer n = luaL_len(L, 1);
        if (n > 0) {
            for (lua_Integer i = 1; i <= n; i++) {
                lua_geti(L, 1, i);
                push_rule_text(L, lua_gettop(L), (int)i);
                lua_rawseti(L, parts, i);
                lua_pop(L, 1);
            }
        } else {
            push_rule_text(L, 1, 1);
            lua_rawseti(L, parts, 1);
        }
        lua_getglobal(L, "table");
        lua_getfield(L, -1, "concat");
        lua_pushvalue(L, parts);
        lua_pushliteral(L, ";");
        lua_call(L, 2, 1);
        text = lua_tostring(L, -1);
    } else
        text = lua_tostring(L, 1);
    bl_fault_spec *s;
    bl_error err = { 0 };
    if (bl_fault_spec_parse(lbl_faults(L), text, m, &s, &err))
        return lbl_fail(L, "bl.fault.new", &err);
    push_fault(L, s);
    lbl_rec_note(L, "bl.fault.new", 0, 1, m ? 2 : 1, lua_gettop(L));
    return 1;
}

static int f_count(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)bl_fault_spec_count(check_spec(L, 1)));
    return 1;
}

static bl_fault_spec *copy_spec(lua_State *L, bl_fault_spec *s, const char *fn)
{
    char *t = bl_fault_spec_format(s);
    if (!t)
        luaL_error(L, "%s: out of memory", fn);
    bl_fault_spec *c;
    bl_error err = { 0 };
    int rc = bl_fault_spec_parse(lbl_faults(L), t, NULL, &c, &err);
    free(t);
    if (rc)
        lbl_fail(L, fn, &err);
    return c;
}

static int check_rate(lua_State *L, int arg)
{
    double p = luaL_checknumber(L, arg);
    luaL_argcheck(L, p >= 0 && p <= 1, arg, "rate must be in [0, 1]");
    return 0;
}

/* f:with_rate(ber): a new fault with every rule's rate set to ber. */
static int f_with_rate(lua_State *L)
{
    bl_fault_spec *s = check_spec(L, 1);
    check_rate(L, 2);
    bl_fault_spec *c = copy_spec(L, s, "with_rate");
    bl_error err = { 0 };
    if (bl_fault_spec_set_rate(c, lua_tonumber(L, 2), &err)) {
        bl_fault_spec_free(c);
        return lbl_fail(L, "with_rate", &err);
    }
    push_fault(L, c);
    lbl_rec_note(L, "with_rate", 1, 1, 2, lua_gettop(L));
    return 1;
}

static bl_fault_target check_target(lua_State *L, int arg)
{
    static const char *const names[] = { "weights", "thresholds", "activations", NULL };
    return (bl_fault_target)luaL_checkoption(L, arg, "weights", names);
}

/* f:set_layer_rate(layer, ber [, target]): per-layer override (the TUI's
 * sliders); changes f in place and returns it. */
static int f_set_layer_rate(lua_State *L)
{
    bl_fault_spec *s = check_spec(L, 1);
    const char *layer = luaL_checkstring(L, 2);
    check_rate(L, 3);
    bl_fault_target t = check_target(L, 4);
    bl_error err = { 0 };
    if (bl_fault_spec_set_layer_rate(s, layer, t, lua_tonumber(L, 3), &err))
        return lbl_fail(L, "set_layer_rate", &err);
    lbl_rec_note(L, "set_layer_rate", 1, 1, lua_gettop(L), 0);
    lua_settop(L, 1);
    return 1;
}

/* f:apply(model [, seed]) -> faulty copy of model, stats table */
static int f_apply(lua_State *L)
{
    bl_fault_spec *s = check_spec(L, 1);
    bl_model *m = lbl_check_model(L, 2);
    lua_Integer seed = luaL_optinteger(L, 3, 1);
    luaL_argcheck(L, seed >= 0, 3, "seed must be >= 0");
    bl_model *c;
    bl_error err = { 0 };
    if (bl_model_clone(m, &c, &err))
        return lbl_fail(L, "apply", &err);
    bl_fault_stats st;
    if (bl_fault_apply(s, m, c, (uint64_t)seed, &st, &err)) {
        bl_model_free(c);
        return lbl_fail(L, "apply", &err);
    }
    lbl_push_model(L, c);
    lbl_rec_note(L, "apply", 1, 1, lua_isnoneornil(L, 3) ? 2 : 3, lua_gettop(L));
    lua_createtable(L, 0, BL_FT_COUNT);
    for (int t = 0; t < BL_FT_COUNT; t++) {
        lua_createtable(L, 0, 2);
        lua_pushinteger(L, (lua_Integer)st.bits[t]);
        lua_setfield(L, -2, "bits");
        lua_pushinteger(L, (lua_Integer)st.changed[t]);
        lua_setfield(L, -2, "changed");
        lua_setfield(L, -2, bl_fault_target_name((bl_fault_target)t));
    }
    return 2;
}

/* bl.fault.list(): every kind, built-in and from plugins. */
static int l_list(lua_State *L)
{
    bl_fault_registry *reg = lbl_faults(L);
    size_t n = bl_fault_registry_count(reg);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        const bl_fault_kind *k = bl_fault_registry_at(reg, i);
        lua_createtable(L, 0, 5);
        lua_pushstring(L, bl_fault_kind_name(k));
        lua_setfield(L, -2, "name");
        lua_pushstring(L, bl_fault_kind_help(k) ? bl_fault_kind_help(k) : "");
        lua_setfield(L, -2, "help");
        lua_pushstring(L, bl_fault_kind_source(k));
        lua_setfield(L, -2, "source");
        int rp = bl_fault_kind_rate_param(k);
        size_t np = bl_fault_kind_nparams(k);
        lua_createtable(L, (int)np, 0);
        for (size_t j = 0; j < np; j++) {
            const bl_fault_param *p = bl_fault_kind_param(k, j);
            lua_createtable(L, 0, 5);
            lua_pushstring(L, p->name);
            lua_setfield(L, -2, "name");
            lua_pushnumber(L, p->def);
            lua_setfield(L, -2, "default");
            lua_pushnumber(L, p->min);
            lua_setfield(L, -2, "min");
            lua_pushnumber(L, p->max);
            lua_setfield(L, -2, "max");
            lua_pushstring(L, p->help ? p->help : "");
            lua_setfield(L, -2, "help");
            lua_rawseti(L, -2, (lua_Integer)j + 1);
            if ((int)j == rp) {
                lua_pushstring(L, p->name);
                lua_setfield(L, -3, "rate_param");
            }
        }
        lua_setfield(L, -2, "params");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* bl.fault.load_plugin(name_or_path) -> list of the kind names it added;
 * a bare name is looked up along the plugin search path (fault.h). */
static int l_load_plugin(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    bl_fault_registry *reg = lbl_faults(L);
    size_t before = bl_fault_registry_count(reg);
    bl_error err = { 0 };
    if (bl_fault_registry_load_named(reg, path, cli_settings(), &err))
        return lbl_fail(L, "bl.fault.load_plugin", &err);
    size_t after = bl_fault_registry_count(reg);
    lua_createtable(L, (int)(after - before), 0);
    for (size_t i = before; i < after; i++) {
        lua_pushstring(L, bl_fault_kind_name(bl_fault_registry_at(reg, i)));
        lua_rawseti(L, -2, (lua_Integer)(i - before + 1));
    }
    lbl_rec_note(L, "bl.fault.load_plugin", 0, 1, 1, 0);
    return 1;
}

void lbl_open_fault(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "text", f_text },         { "count", f_count },
        { "with_rate", f_with_rate }, { "set_layer_rate", f_set_layer_rate },
        { "apply", f_apply },       { "close", f_close },
        { NULL, NULL },
    };
    static const luaL_Reg meta[] = {
        { "__gc", f_gc }, { "__close", f_close }, { "__tostring", f_tostring }, { NULL, NULL },
    };
    lbl_newclass(L, LBL_FAULT, methods, meta, "fault");
    static const luaL_Reg fns[] = {
        { "new", l_new }, { "list", l_list }, { "load_plugin", l_load_plugin }, { NULL, NULL },
    };
    luaL_newlib(L, fns);
    lua_setfield(L, -2, "fault");
}
