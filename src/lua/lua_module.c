/* lua_module.c - luaopen_betlab: the module table, the per-state context,
 * and the helpers every binding shares (objects, option tables, progress
 * callbacks, errors). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/version.h"
#include "base/pool.h"
#include "fault/fault.h"
#include "base/rng.h"
#include "base/file.h"
#include "lua/lbl.h"

/* ---- context ---- */

static int ctx_gc(lua_State *L)
{
    lbl_ctx *c = lua_touserdata(L, 1);
    if (c->rec) {
        lbl_rec_free(c->rec);
        c->rec = NULL;
    }
    /* fault specs reference the registry's kinds: every spec object was
     * created after this context and is finalized before it */
    if (c->faults) {
        bl_fault_registry_free(c->faults);
        c->faults = NULL;
    }
    return 0;
}

lbl_ctx *lbl_getctx(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, LBL_CTX) == LUA_TUSERDATA) {
        lbl_ctx *c = lua_touserdata(L, -1);
        lua_pop(L, 1);
        return c;
    }
    lua_pop(L, 1);
    lbl_ctx *c = lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, ctx_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, LBL_CTX);
    return c;
}

bl_fault_registry *lbl_faults(lua_State *L)
{
    lbl_ctx *c = lbl_getctx(L);
    if (!c->faults) {
        bl_error err = { 0 };
        if (bl_fault_registry_new(&c->faults, &err))
            lbl_fail(L, "betlab.fault", &err);
    }
    return c->faults;
}

int lbl_fail(lua_State *L, const char *fn, const bl_error *err)
{
    const char *m = err && err->msg[0] ? err->msg : bl_strerror(err ? err->code : BL_EINVAL);
    return luaL_error(L, "%s: %s", fn, m);
}

/* ---- typed userdata ---- */

#define LBL_MAGIC 0x6f6c4242u   /* "BBlo" */

static const char *const kind_names[LBL_K_COUNT] = {
    [LBL_K_NONE] = "no betlab object", [LBL_K_DATASET] = LBL_DATASET,
    [LBL_K_MODEL] = LBL_MODEL,          [LBL_K_FAULT] = LBL_FAULT,
    [LBL_K_SWEEP] = LBL_SWEEP,          [LBL_K_HIST] = LBL_HIST,
    [LBL_K_JOB] = LBL_JOB,              [LBL_K_CLPOINTS] = LBL_CLPOINTS,
};

const char *lbl_kind_name(lbl_kind kind)
{
    return (unsigned)kind < LBL_K_COUNT ? kind_names[kind] : kind_names[0];
}

void *lbl_newudata(lua_State *L, size_t size, int nuv, lbl_kind kind)
{
    lbl_obj *o = lua_newuserdatauv(L, size, nuv);
    memset(o, 0, size);
    o->magic = LBL_MAGIC;
    o->kind = (uint32_t)kind;
    o->size = (uint32_t)size;
    luaL_setmetatable(L, lbl_kind_name(kind));
    return o;
}

/* The header of a full userdata made by lbl_newudata, whatever its
 * metatable says (NULL for anything else: the length is checked before the
 * header is read, and the header's size against the length). */
static lbl_obj *header(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TUSERDATA || lua_rawlen(L, idx) < sizeof(lbl_obj))
        return NULL;
    lbl_obj *o = lua_touserdata(L, idx);
    if (o->magic != LBL_MAGIC || o->kind == LBL_K_NONE || o->kind >= LBL_K_COUNT ||
        o->size != lua_rawlen(L, idx))
        return NULL;
    return o;
}

lbl_kind lbl_kindof(lua_State *L, int idx)
{
    lbl_obj *o = header(L, idx);
    return o ? (lbl_kind)o->kind : LBL_K_NONE;
}

void *lbl_testudata(lua_State *L, int idx, lbl_kind kind)
{
    lbl_obj *o = header(L, idx);
    if (!o || o->kind != (uint32_t)kind)
        return NULL;
    /* and the metatable must be the kind's own (not one a script made) */
    if (!luaL_testudata(L, idx, lbl_kind_name(kind)))
        return NULL;
    return o;
}

void *lbl_checkudata(lua_State *L, int idx, lbl_kind kind)
{
    void *o = lbl_testudata(L, idx, kind);
    if (o)
        return o;
    lbl_kind got = lbl_kindof(L, idx);
    const char *gn;
    if (got != LBL_K_NONE)
        gn = lbl_kind_name(got);
    else if (lua_type(L, idx) == LUA_TUSERDATA &&
             luaL_getmetafield(L, idx, "__name") == LUA_TSTRING)
        gn = lua_tostring(L, -1);
    else
        gn = luaL_typename(L, idx);
    luaL_argerror(L, idx, lua_pushfstring(L, "%s expected, got %s%s", lbl_kind_name(kind), gn,
                                          got == kind ? " with a replaced metatable" : ""));
    return NULL;
}

void *lbl_closeudata(lua_State *L, int idx, lbl_kind kind)
{
    lbl_obj *o = lbl_checkudata(L, idx, kind);
    if (o->busy)
        luaL_error(L, "%s is in use by a running call (close it after the call returns)",
                   lbl_kind_name(kind) + 7);   /* without "betlab." */
    return o;
}

void *lbl_gcudata(lua_State *L, int idx, lbl_kind kind)
{
    lbl_obj *o = header(L, idx);
    if (!o || o->busy)
        return NULL;
    if (o->kind != (uint32_t)kind) {
        /* a swapped metatable: finalize it as what it really is (its own
         * kind's __gc, which finds the kinds equal) */
        idx = lua_absindex(L, idx);
        luaL_getmetatable(L, lbl_kind_name((lbl_kind)o->kind));
        if (lua_getfield(L, -1, "__gc") == LUA_TFUNCTION) {
            lua_pushvalue(L, idx);
            lua_call(L, 1, 0);
            lua_pop(L, 1);
        } else
            lua_pop(L, 2);
        return NULL;
    }
    return o;
}

void lbl_hold_init(lbl_hold *h, lua_State *L)
{
    h->L = L;
    h->n = 0;
}

void lbl_hold_add(lbl_hold *h, int idx)
{
    lbl_obj *o = header(h->L, idx);
    if (!o || h->n >= LBL_HOLD_MAX)
        return;
    lua_pushvalue(h->L, idx);
    h->ref[h->n] = luaL_ref(h->L, LUA_REGISTRYINDEX);
    h->o[h->n++] = o;
    o->busy++;
}

void lbl_hold_release(lbl_hold *h)
{
    /* the pins go last: until then the objects cannot be collected */
    for (int i = 0; i < h->n; i++)
        h->o[i]->busy--;
    for (int i = 0; i < h->n; i++)
        luaL_unref(h->L, LUA_REGISTRYINDEX, h->ref[i]);
    h->n = 0;
}

/* ---- classes ---- */

void lbl_newclass(lua_State *L, const char *tname, const luaL_Reg *methods, const luaL_Reg *meta,
                  const char *kind)
{
    luaL_newmetatable(L, tname);
    luaL_setfuncs(L, meta, 0);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "__index");
    /* module table is below the metatable: module._methods[kind] = methods */
    lua_getfield(L, -3, "_methods");
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, kind);
    lua_pop(L, 3);
}

/* ---- option tables ---- */

int lbl_opt_table(lua_State *L, int arg)
{
    if (lua_isnoneornil(L, arg))
        return 0;
    luaL_checktype(L, arg, LUA_TTABLE);
    return lua_absindex(L, arg);
}

void lbl_opt_keys(lua_State *L, int idx, const char *fn, const char *const *allowed)
{
    if (!idx)
        return;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "%s: option table keys must be field names, got a %s key", fn,
                       luaL_typename(L, -1));
        const char *k = lua_tostring(L, -1);
        int ok = 0;
        for (int i = 0; allowed[i]; i++)
            if (strcmp(k, allowed[i]) == 0)
                ok = 1;
        if (!ok) {
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (int i = 0; allowed[i]; i++) {
                if (i)
                    luaL_addstring(&b, ", ");
                luaL_addstring(&b, allowed[i]);
            }
            luaL_pushresult(&b);
            luaL_error(L, "%s: unknown field '%s' (fields: %s)", fn, k, lua_tostring(L, -1));
        }
    }
}

int lbl_opt_present(lua_State *L, int idx, const char *name)
{
    if (!idx)
        return 0;
    int t = lua_getfield(L, idx, name);
    lua_pop(L, 1);
    return t != LUA_TNIL;
}

double lbl_opt_number(lua_State *L, int idx, const char *fn, const char *name, double def)
{
    if (!idx)
        return def;
    int t = lua_getfield(L, idx, name);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return def;
    }
    if (t != LUA_TNUMBER)
        luaL_error(L, "%s: field '%s' must be a number, got %s", fn, name, luaL_typename(L, -1));
    double v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (isnan(v))
        luaL_error(L, "%s: field '%s' must be a number, got NaN", fn, name);
    return v;
}

lua_Integer lbl_opt_int(lua_State *L, int idx, const char *fn, const char *name, lua_Integer def,
                        lua_Integer min, lua_Integer max)
{
    if (!idx)
        return def;
    int t = lua_getfield(L, idx, name);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return def;
    }
    int isint = 0;
    lua_Integer v = lua_tointegerx(L, -1, &isint);
    if (t != LUA_TNUMBER || !isint)
        luaL_error(L, "%s: field '%s' must be an integer, got %s", fn, name,
                   t == LUA_TNUMBER ? "a non-integral number" : luaL_typename(L, -1));
    lua_pop(L, 1);
    if (v < min || v > max)
        luaL_error(L, "%s: field '%s' must be in %I..%I, got %I", fn, name, min, max, v);
    return v;
}

const char *lbl_opt_string(lua_State *L, int idx, const char *fn, const char *name,
                           const char *def)
{
    if (!idx)
        return def;
    int t = lua_getfield(L, idx, name);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return def;
    }
    if (t != LUA_TSTRING)
        luaL_error(L, "%s: field '%s' must be a string, got %s", fn, name, luaL_typename(L, -1));
    const char *s = lua_tostring(L, -1);
    lua_pop(L, 1);   /* still referenced by the option table */
    return s;
}

uint64_t lbl_opt_seed(lua_State *L, int idx, const char *fn, const char *name, uint64_t def)
{
    lua_Integer v = lbl_opt_int(L, idx, fn, name, (lua_Integer)def, 0, BL_SEED_MAX);
    return (uint64_t)v;
}

static void free_ptr_gc(void *p) { free(p); }

double *lbl_opt_numbers(lua_State *L, int idx, const char *fn, const char *name, size_t *n)
{
    *n = 0;
    if (!idx)
        return NULL;
    int t = lua_getfield(L, idx, name);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return NULL;
    }
    if (t == LUA_TNUMBER) {   /* a single number is a list of one */
        double *v = malloc(sizeof *v);
        if (!v)
            luaL_error(L, "%s: out of memory", fn);
        v[0] = lua_tonumber(L, -1);
        lua_pop(L, 1);
        *n = 1;
        return v;
    }
    if (t != LUA_TTABLE)
        luaL_error(L, "%s: field '%s' must be a list of numbers, got %s", fn, name,
                   luaL_typename(L, -1));
    size_t len = (size_t)luaL_len(L, -1);
    if (len == 0)
        luaL_error(L, "%s: field '%s' must be a non-empty list of numbers", fn, name);
    for (size_t i = 1; i <= len; i++) {
        if (lua_geti(L, -1, (lua_Integer)i) != LUA_TNUMBER)
            luaL_error(L, "%s: field '%s' must be a list of numbers (item %d is %s)", fn, name,
                       (int)i, luaL_typename(L, -1));
        lua_pop(L, 1);
    }
    double *v = malloc(len * sizeof *v);
    if (!v)
        luaL_error(L, "%s: out of memory", fn);
    for (size_t i = 1; i <= len; i++) {
        lua_geti(L, -1, (lua_Integer)i);
        v[i - 1] = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    *n = len;
    (void)free_ptr_gc;
    return v;
}

int lbl_threads(lua_State *L, int opts, const char *fn)
{
    lua_Integer t = lbl_opt_int(L, opts, fn, "threads", 0, 0, 1024);
    return t > 0 ? (int)t : lbl_getctx(L)->threads;
}

/* ---- progress ---- */

void lbl_progress_init(lbl_progress *p, lua_State *L, int fidx)
{
    p->L = L;
    p->fidx = fidx;
    p->failed = 0;
    p->errref = LUA_NOREF;
}

static int tb_handler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
    return 1;
}

void lbl_progress_call(lbl_progress *p, int nargs)
{
    lua_State *L = p->L;
    if (!p->fidx || p->failed) {
        lua_pop(L, nargs);
        return;
    }
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, tb_handler);
    lua_pushvalue(L, p->fidx);
    lua_rotate(L, base + 1, 2);
    if (lua_pcall(L, nargs, 0, base + 1) != LUA_OK) {
        p->failed = 1;
        /* keep the callback's own message; the traceback stays with it */
        p->errref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_settop(L, base);
}

int lbl_progress_stop(const lbl_progress *p) { return p->failed || lbl_interrupted(); }

void lbl_progress_hook(void *ctx, double fraction, const char *msg)
{
    lbl_progress *p = ctx;
    lua_pushnumber(p->L, fraction);
    lua_pushstring(p->L, msg ? msg : "");
    lbl_progress_call(p, 2);
}

int lbl_progress_stop_hook(void *ctx) { return lbl_progress_stop(ctx); }

void lbl_progress_finish(lbl_progress *p, int rc, const char *fn, const bl_error *err)
{
    lua_State *L = p->L;
    if (p->failed) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, p->errref);
        luaL_unref(L, LUA_REGISTRYINDEX, p->errref);
        p->errref = LUA_NOREF;
        lua_error(L);
    }
    if (rc == BL_ECANCELED || (rc == 0 && lbl_interrupted() && 0))
        luaL_error(L, "%s: interrupted", fn);
    if (rc < 0)
        lbl_fail(L, fn, err);
}

/* ---- module functions ---- */

static int l_threads(lua_State *L)
{
    lbl_ctx *c = lbl_getctx(L);
    int prev = c->threads;
    if (!lua_isnoneornil(L, 1)) {
        lua_Integer n = luaL_checkinteger(L, 1);
        luaL_argcheck(L, n >= 0 && n <= 1024, 1, "thread count must be in 0..1024 (0 = all CPUs)");
        c->threads = (int)n;
        lbl_rec_note(L, "bl.threads", 0, 1, 1, 0);
    }
    lua_pushinteger(L, prev > 0 ? prev : bl_cpu_count());
    return 1;
}

static int l_cpus(lua_State *L)
{
    lua_pushinteger(L, bl_cpu_count());
    return 1;
}

static void load_prelude(lua_State *L)
{
    /* lua/betlab/prelude.lua adds Lua-written helpers; it receives the
     * module table.  Missing prelude: the C functions still work. */
    lua_getglobal(L, "require");
    lua_pushstring(L, "betlab.prelude");
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        if (m && strstr(m, "module 'betlab.prelude' not found"))
            lua_pop(L, 1);
        else
            lua_error(L);
        return;
    }
    if (lua_isfunction(L, -1)) {
        lua_pushvalue(L, -2);
        lua_call(L, 1, 0);
    } else
        lua_pop(L, 1);
}

/* bl._write_file(path, text): betlab's save rules for Lua-written files
 * (base/file.h: atomic for regular files, written through for devices and
 * symbolic links, "-" for stdout).  For the prelude's writers. */
static int l_write_file(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    size_t n;
    const char *text = luaL_checklstring(L, 2, &n);
    bl_error err = { 0 };
    if (bl_file_write_atomic(path, text, n, &err))
        return luaL_error(L, "%s", err.msg);
    return 0;
}

int luaopen_betlab(lua_State *L)
{
    lbl_getctx(L);
    lua_newtable(L);
    lua_pushliteral(L, BETLAB_VERSION);
    lua_setfield(L, -2, "version");
    lua_newtable(L);
    lua_setfield(L, -2, "_methods");
    lua_pushcfunction(L, l_threads);
    lua_setfield(L, -2, "threads");
    lua_pushcfunction(L, l_cpus);
    lua_setfield(L, -2, "cpus");
    lua_pushcfunction(L, l_write_file);
    lua_setfield(L, -2, "_write_file");
    lbl_open_data(L);
    lbl_open_model(L);
    lbl_open_fault(L);
    lbl_open_study(L);
    lbl_open_train(L);
    lbl_open_record(L);
    lbl_open_cluster(L);
    lbl_open_job(L);
    lbl_open_campaign(L);
    /* submodules in package.loaded, so that errors raised in functions
     * called through pcall name them ("betlab.data.load") */
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    static const char *const subs[] = { "data", "model", "fault", "record", NULL };
    for (int i = 0; subs[i]; i++) {
        char name[32];
        snprintf(name, sizeof name, "betlab.%s", subs[i]);
        lua_getfield(L, -2, subs[i]);
        lua_setfield(L, -2, name);
    }
    lua_pop(L, 1);
    load_prelude(L);
    return 1;
}
