/* l_data.c - bl.data: datasets as userdata (betlab.dataset).
 * Views (subset/select) share storage; the C reference count keeps the
 * parent's storage alive, so a view outlives its parent object. */
#include <stdlib.h>
#include <string.h>

#include "cli/env.h"
#include "lua/lbl.h"

lbl_dataset *lbl_push_dataset(lua_State *L, bl_dataset *ds)
{
    lbl_dataset *u = lbl_newudata(L, sizeof *u, 0, LBL_K_DATASET);
    u->ds = ds;
    /* Lua sees only the small userdata: tell the collector about the C
     * memory behind it, so that garbage is collected at the pace of what
     * it really holds */
    size_t bytes = bl_dataset_count(ds) * bl_dataset_features(ds) *
                   bl_dtype_size(bl_dataset_dtype(ds));
    if (bytes >= 1024)
        lua_gc(L, LUA_GCSTEP, (int)(bytes / 1024 > 1 << 20 ? 1 << 20 : bytes / 1024));
    return u;
}

bl_dataset *lbl_check_dataset(lua_State *L, int idx)
{
    lbl_dataset *u = lbl_checkudata(L, idx, LBL_K_DATASET);
    if (!u->ds)
        luaL_argerror(L, idx, "dataset is closed");
    return u->ds;
}

static int ds_gc(lua_State *L)
{
    lbl_dataset *u = lbl_gcudata(L, 1, LBL_K_DATASET);
    if (u) {
        bl_dataset_free(u->ds);
        u->ds = NULL;
    }
    return 0;
}

static int ds_close(lua_State *L)
{
    lbl_dataset *u = lbl_closeudata(L, 1, LBL_K_DATASET);
    bl_dataset_free(u->ds);
    u->ds = NULL;
    return 0;
}

static int ds_tostring(lua_State *L)
{
    lbl_dataset *u = lbl_checkudata(L, 1, LBL_K_DATASET);
    if (!u->ds) {
        lua_pushliteral(L, "dataset (closed)");
        return 1;
    }
    uint32_t h, w, c;
    bl_dataset_shape(u->ds, &h, &w, &c);
    lua_pushfstring(L, "dataset %s: %d samples of %dx%dx%d %s%s", bl_dataset_name(u->ds),
                    (int)bl_dataset_count(u->ds), (int)h, (int)w, (int)c,
                    bl_dtype_name(bl_dataset_dtype(u->ds)),
                    bl_dataset_has_labels(u->ds) ? ", labelled" : ", no labels");
    return 1;
}

static int ds_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)bl_dataset_count(lbl_check_dataset(L, 1)));
    return 1;
}

static int ds_shape(lua_State *L)
{
    uint32_t h, w, c;
    bl_dataset_shape(lbl_check_dataset(L, 1), &h, &w, &c);
    lua_pushinteger(L, h);
    lua_pushinteger(L, w);
    lua_pushinteger(L, c);
    return 3;
}

static int ds_name(lua_State *L)
{
    lua_pushstring(L, bl_dataset_name(lbl_check_dataset(L, 1)));
    return 1;
}

static int ds_info(lua_State *L)
{
    bl_dataset *ds = lbl_check_dataset(L, 1);
    uint32_t h, w, c;
    bl_dataset_shape(ds, &h, &w, &c);
    double lo, hi;
    bl_dataset_value_range(ds, &lo, &hi);
    lua_createtable(L, 0, 8);
    lua_pushstring(L, bl_dataset_name(ds));
    lua_setfield(L, -2, "name");
    lua_pushinteger(L, (lua_Integer)bl_dataset_count(ds));
    lua_setfield(L, -2, "count");
    lua_createtable(L, 3, 0);
    lua_pushinteger(L, h);
    lua_rawseti(L, -2, 1);
    lua_pushinteger(L, w);
    lua_rawseti(L, -2, 2);
    lua_pushinteger(L, c);
    lua_rawseti(L, -2, 3);
    lua_setfield(L, -2, "shape");
    lua_pushstring(L, bl_dtype_name(bl_dataset_dtype(ds)));
    lua_setfield(L, -2, "dtype");
    lua_pushboolean(L, bl_dataset_has_labels(ds));
    lua_setfield(L, -2, "labelled");
    lua_pushinteger(L, bl_dataset_has_labels(ds) ? bl_dataset_nclasses(ds) : 0);
    lua_setfield(L, -2, "classes");
    lua_pushnumber(L, lo);
    lua_setfield(L, -2, "min");
    lua_pushnumber(L, hi);
    lua_setfield(L, -2, "max");
    return 1;
}

static size_t check_index(lua_State *L, int arg, size_t n)
{
    lua_Integer i = luaL_checkinteger(L, arg);
    if (i < 1 || (size_t)i > n)
        luaL_argerror(L, arg, lua_pushfstring(L, "index %I out of range 1..%I", i, (lua_Integer)n));
    return (size_t)i - 1;
}

static int ds_label(lua_State *L)
{
    bl_dataset *ds = lbl_check_dataset(L, 1);
    size_t i = check_index(L, 2, bl_dataset_count(ds));
    lua_pushinteger(L, bl_dataset_label(ds, i));
    return 1;
}

static int ds_row(lua_State *L)
{
    bl_dataset *ds = lbl_check_dataset(L, 1);
    size_t i = check_index(L, 2, bl_dataset_count(ds));
    size_t nf = bl_dataset_features(ds);
    float *v = lua_newuserdatauv(L, nf * sizeof *v, 0);   /* GC'ed scratch */
    bl_dataset_row_f32(ds, i, v);
    lua_createtable(L, (int)nf, 0);
    for (size_t k = 0; k < nf; k++) {
        lua_pushnumber(L, v[k]);
        lua_rawseti(L, -2, (lua_Integer)k + 1);
    }
    return 1;
}

/* ds:subset(i [, j]): samples i..j (1-based, inclusive; j defaults to #ds),
 * as string.sub counts. */
static int ds_subset(lua_State *L)
{
    bl_dataset *ds = lbl_check_dataset(L, 1);
    lua_Integer n = (lua_Integer)bl_dataset_count(ds);
    lua_Integer i = luaL_checkinteger(L, 2);
    lua_Integer j = luaL_optinteger(L, 3, n);
    luaL_argcheck(L, i >= 1 && i <= n + 1, 2, lua_pushfstring(L, "start %I out of range 1..%I", i, n));
    luaL_argcheck(L, j >= i - 1 && j <= n, 3,
                  lua_pushfstring(L, "end %I out of range %I..%I", j, i - 1, n));
    bl_dataset *out;
    bl_error err = { 0 };
    if (bl_dataset_subset(ds, (size_t)(i - 1), (size_t)(j - i + 1), &out, &err))
        return lbl_fail(L, "subset", &err);
    lbl_push_dataset(L, out);
    lbl_rec_note(L, "subset", 1, 1, lua_gettop(L) - 1, lua_gettop(L));
    return 1;
}

/* ds:select{i1, i2, ...}: 1-based indices. */
static int ds_select(lua_State *L)
{
    bl_dataset *ds = lbl_check_dataset(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    size_t n = (size_t)luaL_len(L, 2), count = bl_dataset_count(ds);
    uint32_t *idx = lua_newuserdatauv(L, (n ? n : 1) * sizeof *idx, 0);
    for (size_t k = 0; k < n; k++) {
        lua_geti(L, 2, (lua_Integer)k + 1);
        int isint;
        lua_Integer v = lua_tointegerx(L, -1, &isint);
        if (!isint || v < 1 || (size_t)v > count)
            luaL_argerror(L, 2, lua_pushfstring(L, "item %d must be an index in 1..%d", (int)k + 1,
                                                (int)count));
        idx[k] = (uint32_t)(v - 1);
        lua_pop(L, 1);
    }
    bl_dataset *out;
    bl_error err = { 0 };
    if (bl_dataset_select(ds, idx, n, &out, &err))
        return lbl_fail(L, "select", &err);
    lua_pop(L, 1);
    lbl_push_dataset(L, out);
    lbl_rec_note(L, "select", 1, 1, 2, lua_gettop(L));
    return 1;
}

/* bl.data.load(name_or_path [, {labels=, csv_label=, x=, y=}]) */
static int l_load(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    int o = lbl_opt_table(L, 2);
    static const char *const keys[] = { "labels", "csv_label", "x", "y", NULL };
    lbl_opt_keys(L, o, "bl.data.load", keys);
    bl_load_opts opts = { .data_dir = cli_settings()->data_dir };
    opts.labels_path = lbl_opt_string(L, o, "bl.data.load", "labels", NULL);
    const char *cl = lbl_opt_string(L, o, "bl.data.load", "csv_label", "last");
    if (strcmp(cl, "last") == 0)
        opts.csv_label = BL_CSV_LABEL_LAST;
    else if (strcmp(cl, "first") == 0)
        opts.csv_label = BL_CSV_LABEL_FIRST;
    else if (strcmp(cl, "none") == 0)
        opts.csv_label = BL_CSV_LABEL_NONE;
    else
        luaL_error(L, "bl.data.load: field 'csv_label' must be \"last\", \"first\" or \"none\"");
    opts.npz_x = lbl_opt_string(L, o, "bl.data.load", "x", NULL);
    opts.npz_y = lbl_opt_string(L, o, "bl.data.load", "y", NULL);
    bl_dataset *ds;
    bl_error err = { 0 };
    if (bl_dataset_load(name, &opts, &ds, &err))
        return lbl_fail(L, "bl.data.load", &err);
    lbl_push_dataset(L, ds);
    lbl_rec_note(L, "bl.data.load", 0, 1, o ? 2 : 1, lua_gettop(L));
    return 1;
}

/* bl.data.random(n [, {shape={h,w,c}, classes=10, seed=1}]): n samples of
 * seeded uniform 8-bit values with seeded labels (tests, demos). */
static int l_random(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 1 && n <= 10000000, 1, "sample count must be in 1..10000000");
    int o = lbl_opt_table(L, 2);
    static const char *const keys[] = { "shape", "classes", "seed", NULL };
    lbl_opt_keys(L, o, "bl.data.random", keys);
    uint32_t sh[3] = { 28, 28, 1 };
    if (o && lua_getfield(L, o, "shape") != LUA_TNIL) {
        if (!lua_istable(L, -1) || luaL_len(L, -1) != 3)
            luaL_error(L, "bl.data.random: field 'shape' must be a list {h, w, c}");
        for (int k = 0; k < 3; k++) {
            lua_geti(L, -1, k + 1);
            int isint;
            lua_Integer v = lua_tointegerx(L, -1, &isint);
            if (!isint || v < 1 || v > 65536)
                luaL_error(L, "bl.data.random: field 'shape' must hold integers in 1..65536");
            sh[k] = (uint32_t)v;
            lua_pop(L, 1);
        }
    }
    if (o)
        lua_pop(L, 1);
    lua_Integer classes = lbl_opt_int(L, o, "bl.data.random", "classes", 10, 1, 65536);
    uint64_t seed = lbl_opt_seed(L, o, "bl.data.random", "seed", 1);
    size_t nf = (size_t)sh[0] * sh[1] * sh[2];
    if (nf > (size_t)1 << 24 || (size_t)n * nf > (size_t)1 << 32)
        luaL_error(L, "bl.data.random: %I samples of %d features is too large", n, (int)nf);
    uint8_t *x = malloc((size_t)n * nf);
    int32_t *y = malloc((size_t)n * sizeof *y);
    if (!x || !y) {
        free(x);
        free(y);
        return luaL_error(L, "bl.data.random: out of memory");
    }
    /* splitmix64: a pure function of (seed, index) */
    for (size_t i = 0; i < (size_t)n * nf; i += 8) {
        uint64_t z = seed * 0x9E3779B97F4A7C15ull + i + 1;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        for (size_t k = 0; k < 8 && i + k < (size_t)n * nf; k++)
            x[i + k] = (uint8_t)(z >> (8 * k));
    }
    for (size_t i = 0; i < (size_t)n; i++) {
        uint64_t z = (seed + 0x5bd1e995) * 0x9E3779B97F4A7C15ull + i;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z ^= z >> 31;
        y[i] = (int32_t)(z % (uint64_t)classes);
    }
    bl_dataset *ds;
    bl_error err = { 0 };
    if (bl_dataset_from_memory("random", BL_DT_U8, (size_t)n, sh[0], sh[1], sh[2], x, y, &ds, &err))
        return lbl_fail(L, "bl.data.random", &err);
    lbl_push_dataset(L, ds);
    lbl_rec_note(L, "bl.data.random", 0, 1, o ? 2 : 1, lua_gettop(L));
    return 1;
}

void lbl_open_data(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "shape", ds_shape }, { "count", ds_len }, { "name", ds_name }, { "info", ds_info },
        { "label", ds_label }, { "row", ds_row },   { "subset", ds_subset },
        { "select", ds_select }, { "close", ds_close }, { NULL, NULL },
    };
    static const luaL_Reg meta[] = {
        { "__gc", ds_gc }, { "__close", ds_close }, { "__tostring", ds_tostring },
        { "__len", ds_len }, { NULL, NULL },
    };
    lbl_newclass(L, LBL_DATASET, methods, meta, "dataset");
    static const luaL_Reg fns[] = { { "load", l_load }, { "random", l_random }, { NULL, NULL } };
    luaL_newlib(L, fns);
    lua_setfield(L, -2, "data");
}
