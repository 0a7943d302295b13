/* l_cluster.c - bl.cluster: exemplar clustering (src/cluster) from Lua.
 *
 *   bl.cluster.exemplar(data, {k=, optimizer=, device=, precision=, seed=,
 *                              epsilon=, T=, batch=, threads=, limit=,
 *                              on_progress=fn(fraction, f)}) -> result table
 *   bl.cluster.gains(data, {set=, candidates=, device=, precision=,
 *                           threads=, limit=}) -> {gain...}, f(set)
 *
 * data: a dataset (features as doubles, u8 as value/255, the first `limit`
 * rows), a list of rows (tables of numbers, all of one length) or a
 * "blobs:N,D,K[,SEED]" string.  Row indices are 1-based in Lua. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/env.h"
#include "cluster/cluster.h"
#include "cluster/optimizers.h"
#include "cluster/subsets.h"
#include "lua/lbl.h"

/* Owned copy of the points; a userdata with __gc so that a Lua error on
 * any path frees it. */
typedef struct cl_points {
    lbl_obj h;
    double *x;
    size_t n, d;
    bl_cluster_backend *b;
    bl_cluster_result r;
} cl_points;

static int pts_gc(lua_State *L)
{
    cl_points *p = lbl_gcudata(L, 1, LBL_K_CLPOINTS);
    if (!p)
        return 0;
    bl_cluster_result_free(&p->r);
    bl_cluster_backend_free(p->b);
    p->b = NULL;
    free(p->x);
    p->x = NULL;
    return 0;
}

static cl_points *push_points(lua_State *L)
{
    if (luaL_newmetatable(L, LBL_CLPOINTS)) {
        lua_pushcfunction(L, pts_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, pts_gc);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
    return lbl_newudata(L, sizeof(cl_points), 0, LBL_K_CLPOINTS);
}

/* The data argument (position 1) into p (pushed on the stack). */
static cl_points *check_points(lua_State *L, const char *fn, size_t limit)
{
    cl_points *p = push_points(L);
    bl_error err = { 0 };
    if (lbl_testudata(L, 1, LBL_K_DATASET)) {
        bl_dataset *ds = lbl_check_dataset(L, 1);
        if (bl_cluster_features(ds, limit, &p->x, &p->n, &p->d, &err))
            lbl_fail(L, fn, &err);
    } else if (lua_type(L, 1) == LUA_TSTRING) {
        size_t bn, bd, bk;
        uint64_t bs;
        const char *s = lua_tostring(L, 1);
        if (bl_cluster_blobs_parse(s, &bn, &bd, &bk, &bs))
            luaL_argerror(L, 1, lua_pushfstring(L, "data string must be \"blobs:N,D,K[,SEED]\", "
                                                   "got \"%s\"", s));
        if (limit && limit < bn)
            bn = limit;
        p->n = bn;
        p->d = bd;
        if (bl_cluster_blobs(bn, bd, bk, bs, &p->x, NULL, &err))
            lbl_fail(L, fn, &err);
    } else if (lua_type(L, 1) == LUA_TTABLE) {
        size_t n = (size_t)luaL_len(L, 1);
        if (limit && limit < n)
            n = limit;
        if (n == 0)
            luaL_argerror(L, 1, "data must hold at least one row");
        size_t d = 0;
        for (size_t i = 0; i < n; i++) {
            if (lua_geti(L, 1, (lua_Integer)i + 1) != LUA_TTABLE)
                luaL_argerror(L, 1, lua_pushfstring(L, "row %d must be a table of numbers, got %s",
                                                    (int)i + 1, luaL_typename(L, -1)));
            size_t len = (size_t)luaL_len(L, -1);
            if (i == 0) {
                d = len;
                if (d == 0)
                    luaL_argerror(L, 1, "row 1 is empty");
                if (n > ((size_t)1 << 34) / d)
                    luaL_argerror(L, 1, "data is too large");
                p->x = malloc(n * d * sizeof *p->x);
                if (!p->x)
                    luaL_error(L, "%s: out of memory", fn);
            } else if (len != d) {
                luaL_argerror(L, 1, lua_pushfstring(L, "row %d has %d values, row 1 has %d",
                                                    (int)i + 1, (int)len, (int)d));
            }
            for (size_t k = 0; k < d; k++) {
                int isnum;
                lua_geti(L, -1, (lua_Integer)k + 1);
                double v = lua_tonumberx(L, -1, &isnum);
                if (!isnum || !isfinite(v))
                    luaL_argerror(L, 1, lua_pushfstring(L, "row %d, value %d must be a finite "
                                                        "number", (int)i + 1, (int)k + 1));
                p->x[i * d + k] = v;
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
        p->n = n;
        p->d = d;
    } else {
        luaL_argerror(L, 1, lua_pushfstring(L, "data must be a dataset, a list of rows or a "
                                               "\"blobs:\" string, got %s", luaL_typename(L, 1)));
    }
    for (size_t i = 0; i < p->n * p->d; i++)
        if (!isfinite(p->x[i]))
            luaL_error(L, "%s: data row %d is not finite (NaN or infinity)", fn,
                       (int)(i / p->d) + 1);
    return p;
}

/* The 'precision' field for device (shared with bl.job.cluster). */
int lbl_cluster_precision(lua_State *L, int o, const char *fn, const char *device)
{
    const char *ps = lbl_opt_string(L, o, fn, "precision", NULL);
    if (!ps)
        return !strcasecmp(device, "reference") ? BL_PREC_FP64 : BL_PREC_FP32;
    int p = bl_precision_parse(ps);
    if (p < 0)
        luaL_error(L, "%s: field 'precision' must be \"fp64\", \"fp32\" or \"fp16\", got \"%s\"",
                   fn, ps);
    if (!strcasecmp(device, "reference") && p != BL_PREC_FP64)
        luaL_error(L, "%s: field 'precision': the reference device computes in fp64 only", fn);
    return p;
}

static bl_precision opt_precision(lua_State *L, int o, const char *fn, const char *device)
{
    return (bl_precision)lbl_cluster_precision(L, o, fn, device);
}

/* The 'optimizer' field (shared with bl.job.cluster). */
int lbl_cluster_optimizer(lua_State *L, int o, const char *fn)
{
    const char *os = lbl_opt_string(L, o, fn, "optimizer", "lazy-greedy");
    int opt = bl_optimizer_parse(os);
    if (opt < 0)
        luaL_error(L, "%s: field 'optimizer' must be one of greedy, lazy-greedy, "
                      "stochastic-greedy, sieve-streaming, sieve-streaming++, "
                      "three-sieves, salsa; got \"%s\"", fn, os);
    return opt;
}

static void new_backend(lua_State *L, cl_points *p, const char *fn, const char *device,
                        bl_precision prec, int nslots, int threads)
{
    bl_error err = { 0 };
    bl_cluster_data data = { p->n, p->d, p->x };
    if (bl_cluster_backend_new(device, &data, prec, nslots, threads, cli_settings(), &p->b,
                               &err)) {
        if (strstr(err.msg, "unknown device") || strstr(err.msg, "device"))
            luaL_error(L, "%s: field 'device': %s", fn, err.msg);
        lbl_fail(L, fn, &err);
    }
}

typedef struct cl_cb {
    lbl_progress p;
} cl_cb;

static int cl_progress(void *ctx, double fraction, double f)
{
    cl_cb *c = ctx;
    if (c->p.fidx) {
        lua_pushnumber(c->p.L, fraction);
        lua_pushnumber(c->p.L, f);
        lbl_progress_call(&c->p, 2);
    }
    return lbl_progress_stop(&c->p);
}

/* The result table of bl.cluster.exemplar (shared with bl.job.cluster). */
void lbl_push_cluster(lua_State *L, const bl_cluster_result *r, size_t n, size_t d,
                      const char *device, int precision, int optimizer)
{
    lua_createtable(L, 0, 10);
    lua_pushnumber(L, r->f);
    lua_setfield(L, -2, "f");
    lua_createtable(L, (int)r->k, 0);
    for (size_t i = 0; i < r->k; i++) {
        lua_pushinteger(L, (lua_Integer)r->exemplars[i] + 1);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "exemplars");
    lua_createtable(L, (int)r->k, 0);
    for (size_t i = 0; i < r->k && r->f_trace; i++) {
        lua_pushnumber(L, r->f_trace[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "f_trace");
    lua_pushinteger(L, (lua_Integer)r->evaluations);
    lua_setfield(L, -2, "evaluations");
    lua_pushnumber(L, r->seconds);
    lua_setfield(L, -2, "seconds");
    lua_pushstring(L, device);
    lua_setfield(L, -2, "device");
    lua_pushstring(L, bl_precision_name((bl_precision)precision));
    lua_setfield(L, -2, "precision");
    lua_pushstring(L, bl_optimizer_name((bl_optimizer)optimizer));
    lua_setfield(L, -2, "optimizer");
    lua_pushinteger(L, (lua_Integer)n);
    lua_setfield(L, -2, "n");
    lua_pushinteger(L, (lua_Integer)d);
    lua_setfield(L, -2, "d");
}

static void push_result(lua_State *L, const cl_points *p, const bl_cluster_opts *o)
{
    lbl_push_cluster(L, &p->r, p->n, p->d, p->b->device, (int)p->b->precision,
                     (int)o->optimizer);
}

static void check_data_arg(lua_State *L)
{
    if (lua_isnoneornil(L, 1))
        luaL_argerror(L, 1, "data must be a dataset, a list of rows or a \"blobs:\" string, "
                            "got no value");
}

/* bl.cluster.exemplar(data, {k=, optimizer=, device=, precision=, seed=,
 * epsilon=, T=, batch=, threads=, limit=, on_progress=}) */
static int l_exemplar(lua_State *L)
{
    const char *fn = "bl.cluster.exemplar";
    check_data_arg(L);
    if (!lua_istable(L, 2))
        return luaL_argerror(L, 2, lua_pushfstring(L, "options table {k=...} expected, got %s",
                                                   luaL_typename(L, 2)));
    int o = lua_absindex(L, 2);
    static const char *const keys[] = { "k", "optimizer", "device", "precision", "seed",
                                        "epsilon", "T", "batch", "threads", "limit",
                                        "on_progress", NULL };
    lbl_opt_keys(L, o, fn, keys);
    if (!lbl_opt_present(L, o, "k"))
        return luaL_error(L, "%s: field 'k' must be a positive integer, got nil", fn);
    bl_cluster_opts co = { 0 };
    co.k = (size_t)lbl_opt_int(L, o, fn, "k", 1, 1, (lua_Integer)1 << 32);
    co.optimizer = (bl_optimizer)lbl_cluster_optimizer(L, o, fn);
    const char *device = lbl_opt_string(L, o, fn, "device", "cpu");
    bl_precision prec = opt_precision(L, o, fn, device);
    co.seed = lbl_opt_seed(L, o, fn, "seed", 1);
    co.epsilon = lbl_opt_number(L, o, fn, "epsilon", 0);
    if (lbl_opt_present(L, o, "epsilon") && !(co.epsilon > 0 && co.epsilon < 1))
        return luaL_error(L, "%s: field 'epsilon' must be in (0, 1), got %f", fn, co.epsilon);
    co.T = (int)lbl_opt_int(L, o, fn, "T", 0, 1, 1 << 30);
    co.batch = (size_t)lbl_opt_int(L, o, fn, "batch", 0, 1, 1 << 20);
    int threads = lbl_threads(L, o, fn);
    size_t limit = (size_t)lbl_opt_int(L, o, fn, "limit", 0, 1, LUA_MAXINTEGER);
    int fidx = 0;
    if (lua_getfield(L, o, "on_progress") != LUA_TNIL) {
        if (!lua_isfunction(L, -1))
            return luaL_error(L, "%s: field 'on_progress' must be a function, got %s", fn,
                              luaL_typename(L, -1));
        fidx = lua_gettop(L);
    } else {
        lua_pop(L, 1);
    }
    cl_points *p = check_points(L, fn, limit);
    if (co.k > p->n)
        return luaL_error(L, "%s: field 'k' = %d exceeds the %d data points", fn, (int)co.k,
                          (int)p->n);
    new_backend(L, p, fn, device, prec, bl_cluster_slots_needed(&co), threads);
    cl_cb cb;
    lbl_progress_init(&cb.p, L, fidx);
    co.on_progress = cl_progress;
    co.ctx = &cb;
    bl_error err = { 0 };
    lbl_hold hold;   /* the points (and the dataset they came from) */
    lbl_hold_init(&hold, L);
    lbl_hold_add(&hold, 1);
    lbl_hold_add(&hold, lua_gettop(L));
    int rc = bl_cluster_run(p->b, &co, &p->r, &err);
    lbl_hold_release(&hold);
    if (rc == 0 && cb.p.failed)
        rc = BL_ECANCELED;
    if (rc == 0 && lbl_interrupted())
        rc = BL_ECANCELED;
    lbl_progress_finish(&cb.p, rc, fn, &err);
    int pidx = lua_gettop(L);
    push_result(L, p, &co);
    lua_pushcfunction(L, pts_gc);   /* free the points and the backend now */
    lua_pushvalue(L, pidx);
    lua_call(L, 1, 0);
    lbl_rec_note(L, fn, 0, 1, 2, 0);
    return 1;
}

/* 1-based index list field -> malloc'ed 0-based array (NULL, *n = 0 when
 * absent); errors name the field. */
static uint32_t *opt_indices(lua_State *L, int o, const char *fn, const char *name, size_t n,
                             size_t *count, int *present)
{
    *count = 0;
    *present = 0;
    if (!o || lua_getfield(L, o, name) == LUA_TNIL) {
        if (o)
            lua_pop(L, 1);
        return NULL;
    }
    if (!lua_istable(L, -1))
        luaL_error(L, "%s: field '%s' must be a list of row indices, got %s", fn, name,
                   luaL_typename(L, -1));
    size_t len = (size_t)luaL_len(L, -1);
    uint32_t *v = lua_newuserdatauv(L, (len ? len : 1) * sizeof *v, 0); /* GC'ed */
    for (size_t i = 0; i < len; i++) {
        lua_geti(L, -2, (lua_Integer)i + 1);
        int isint;
        lua_Integer x = lua_tointegerx(L, -1, &isint);
        if (!isint || x < 1 || (size_t)x > n)
            luaL_error(L, "%s: field '%s': item %d must be a row index in 1..%d", fn, name,
                       (int)i + 1, (int)n);
        v[i] = (uint32_t)(x - 1);
        lua_pop(L, 1);
    }
    lua_remove(L, -2);   /* keep the scratch userdata on the stack */
    *count = len;
    *present = 1;
    return v;
}

/* bl.cluster.gains(data [, {set=, candidates=, device=, precision=,
 * threads=, limit=}]) -> gains (one per candidate), f(set) */
static int l_gains(lua_State *L)
{
    const char *fn = "bl.cluster.gains";
    check_data_arg(L);
    int o = lbl_opt_table(L, 2);
    static const char *const keys[] = { "set", "candidates", "device", "precision", "threads",
                                        "limit", NULL };
    lbl_opt_keys(L, o, fn, keys);
    const char *device = lbl_opt_string(L, o, fn, "device", "cpu");
    bl_precision prec = opt_precision(L, o, fn, device);
    int threads = lbl_threads(L, o, fn);
    size_t limit = (size_t)lbl_opt_int(L, o, fn, "limit", 0, 1, LUA_MAXINTEGER);
    cl_points *p = check_points(L, fn, limit);
    int pidx = lua_gettop(L);
    size_t ns, nc;
    int have_set, have_cand;
    uint32_t *set = opt_indices(L, o, fn, "set", p->n, &ns, &have_set);
    uint32_t *cand = opt_indices(L, o, fn, "candidates", p->n, &nc, &have_cand);
    if (!have_cand) {
        nc = p->n;
        cand = lua_newuserdatauv(L, nc * sizeof *cand, 0);
        for (size_t i = 0; i < nc; i++)
            cand[i] = (uint32_t)i;
    }
    new_backend(L, p, fn, device, prec, 1, threads);
    bl_error err = { 0 };
    int rc = 0;
    for (size_t i = 0; i < ns && !rc; i++)
        rc = p->b->ops->add(p->b, 0, set[i], &err);
    double f = 0;
    if (!rc)
        rc = p->b->ops->value(p->b, 0, &f, &err);
    double *g = lua_newuserdatauv(L, (nc ? nc : 1) * sizeof *g, 0);
    if (!rc && nc)
        rc = p->b->ops->gains(p->b, 0, cand, nc, g, &err);
    if (rc)
        return lbl_fail(L, fn, &err);
    lua_createtable(L, (int)nc, 0);
    for (size_t i = 0; i < nc; i++) {
        lua_pushnumber(L, g[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_pushnumber(L, f);
    lua_pushcfunction(L, pts_gc);
    lua_pushvalue(L, pidx);
    lua_call(L, 1, 0);
    return 2;
}

void lbl_open_cluster(lua_State *L)
{
    static const luaL_Reg fns[] = { { "exemplar", l_exemplar }, { "gains", l_gains },
                                    { NULL, NULL } };
    luaL_newlib(L, fns);
    lua_setfield(L, -2, "cluster");
}
