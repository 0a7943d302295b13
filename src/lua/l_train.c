/* l_train.c - bl.train: bit-flip training (bnn/train.h) from Lua. */
#include <stdlib.h>
#include <string.h>

#include "bnn/train.h"
#include "lua/lbl.h"

typedef struct train_cb {
    lbl_progress epoch;      /* on_epoch(table)                 */
    lbl_progress progress;   /* on_progress(fraction, message)  */
    int epochs;
} train_cb;

static int train_progress(void *ctx, const bl_train_progress *p)
{
    train_cb *c = ctx;
    lua_State *L = c->epoch.L;
    if (p->epoch_end && p->stats && c->epoch.fidx) {
        const bl_epoch_stats *s = p->stats;
        lua_createtable(L, 0, 6);
        lua_pushinteger(L, s->epoch);
        lua_setfield(L, -2, "epoch");
        lua_pushnumber(L, s->loss);
        lua_setfield(L, -2, "loss");
        lua_pushnumber(L, s->train_acc);
        lua_setfield(L, -2, "train_accuracy");
        if (s->test_acc >= 0) {
            lua_pushnumber(L, s->test_acc);
            lua_setfield(L, -2, "test_accuracy");
        }
        lua_pushnumber(L, s->lr);
        lua_setfield(L, -2, "lr");
        lua_pushnumber(L, s->seconds);
        lua_setfield(L, -2, "seconds");
        lbl_progress_call(&c->epoch, 1);
    }
    if (!p->epoch_end && c->progress.fidx && p->total) {
        double f = ((double)(p->epoch - 1) + (double)p->done / (double)p->total) / c->epochs;
        lua_pushnumber(L, f);
        lua_pushfstring(L, "epoch %d/%d: step %d/%d, loss %f", p->epoch, c->epochs, (int)p->done,
                        (int)p->total, p->loss);
        lbl_progress_call(&c->progress, 2);
    }
    return lbl_progress_stop(&c->epoch) || lbl_progress_stop(&c->progress);
}

static int opt_fn(lua_State *L, int o, const char *fn, const char *name)
{
    if (lua_getfield(L, o, name) != LUA_TNIL) {
        if (!lua_isfunction(L, -1))
            luaL_error(L, "%s: field '%s' must be a function, got %s", fn, name,
                       luaL_typename(L, -1));
        return lua_gettop(L);
    }
    lua_pop(L, 1);
    return 0;
}

/* bl.train's options (table at idx; shared with bl.job.train) into o, the
 * datasets (borrowed from Lua), limit and name; raises on a bad option.
 * on_epoch/on_progress are accepted here; the caller decides what to do
 * with them. */
void lbl_train_opts(lua_State *L, int idx, const char *fn, bl_train_opts *op, bl_dataset **trainp,
                    bl_dataset **testp, size_t *limitp, const char **namep)
{
    static const char *const keys[] = { "arch", "data", "test", "epochs", "batch", "lr", "flip",
                                        "reg", "loss", "seed", "threads", "limit", "name",
                                        "on_epoch", "on_progress", NULL };
    int top = lua_gettop(L);
    lbl_opt_keys(L, idx, fn, keys);
    bl_train_opts o;
    bl_train_opts_default(&o);
    const char *arch = lbl_opt_string(L, idx, fn, "arch", NULL);
    if (!arch)
        luaL_error(L, "%s: field 'arch' must be a string (fc, vgg3 or a spec), got nil", fn);
    if (strlen(arch) >= sizeof o.spec)
        luaL_error(L, "%s: field 'arch' is too long", fn);
    strcpy(o.spec, arch);
    if (lua_getfield(L, idx, "data") == LUA_TNIL || !lbl_testudata(L, -1, LBL_K_DATASET))
        luaL_error(L, "%s: field 'data' must be a dataset, got %s", fn, luaL_typename(L, -1));
    bl_dataset *train = lbl_check_dataset(L, -1);
    bl_dataset *test = NULL;
    if (lua_getfield(L, idx, "test") != LUA_TNIL) {
        if (!lbl_testudata(L, -1, LBL_K_DATASET))
            luaL_error(L, "%s: field 'test' must be a dataset, got %s", fn, luaL_typename(L, -1));
        test = lbl_check_dataset(L, -1);
    }
    o.epochs = (int)lbl_opt_int(L, idx, fn, "epochs", 1, 1, 100000);
    o.batch = (int)lbl_opt_int(L, idx, fn, "batch", o.batch, 1, 1 << 20);
    o.lr = lbl_opt_number(L, idx, fn, "lr", o.lr);
    if (!(o.lr > 0))
        luaL_error(L, "%s: field 'lr' must be > 0", fn);
    o.seed = lbl_opt_seed(L, idx, fn, "seed", o.seed);
    o.threads = lbl_threads(L, idx, fn);
    size_t limit = (size_t)lbl_opt_int(L, idx, fn, "limit", 0, 0, LUA_MAXINTEGER);
    const char *loss = lbl_opt_string(L, idx, fn, "loss", "ce");
    if (strcmp(loss, "ce") == 0)
        o.loss = BL_LOSS_CE;
    else if (strcmp(loss, "mhl") == 0)
        o.loss = BL_LOSS_MHL;
    else
        luaL_error(L, "%s: field 'loss' must be \"ce\" or \"mhl\"", fn);
    const char *name = lbl_opt_string(L, idx, fn, "name", NULL);
    if (lua_getfield(L, idx, "flip") != LUA_TNIL) {
        if (!lua_istable(L, -1))
            luaL_error(L, "%s: field 'flip' must be a table {p=, mode=}", fn);
        int f = lua_gettop(L);
        static const char *const fk[] = { "p", "p01", "p10", "mode", NULL };
        char ff[96];
        snprintf(ff, sizeof ff, "%s: field 'flip'", fn);
        lbl_opt_keys(L, f, ff, fk);
        if (lbl_opt_present(L, f, "p") &&
            (lbl_opt_present(L, f, "p01") || lbl_opt_present(L, f, "p10")))
            luaL_error(L, "%s: give either p or p01/p10", ff);
        double p = lbl_opt_number(L, f, ff, "p", 0);
        o.p01 = lbl_opt_number(L, f, ff, "p01", p);
        o.p10 = lbl_opt_number(L, f, ff, "p10", p);
        if (o.p01 < 0 || o.p01 > 1 || o.p10 < 0 || o.p10 > 1)
            luaL_error(L, "%s: rates must be in [0, 1]", ff);
        const char *mode = lbl_opt_string(L, f, ff, "mode", "ste");
        if (strcmp(mode, "ste") == 0 || strcmp(mode, "flip-ste") == 0)
            o.flip_mode = BL_FLIP_STE;
        else if (strcmp(mode, "exact") == 0 || strcmp(mode, "flip-exact") == 0)
            o.flip_mode = BL_FLIP_EXACT;
        else
            luaL_error(L, "%s: mode must be \"ste\" or \"exact\"", ff);
    }
    lua_pop(L, 1);
    if (lua_getfield(L, idx, "reg") != LUA_TNIL) {
        if (!lua_istable(L, -1))
            luaL_error(L, "%s: field 'reg' must be a table {margin=, b=}", fn);
        int r = lua_gettop(L);
        static const char *const rk[] = { "margin", "b", NULL };
        char rf[96];
        snprintf(rf, sizeof rf, "%s: field 'reg'", fn);
        lbl_opt_keys(L, r, rf, rk);
        o.reg_lambda = lbl_opt_number(L, r, rf, "margin", 0);
        o.reg_b = lbl_opt_number(L, r, rf, "b", 1);
        if (o.reg_lambda < 0 || o.reg_b < 0)
            luaL_error(L, "%s: margin and b must be >= 0", rf);
    }
    lua_settop(L, top);   /* the datasets stay referenced by the options table */
    *op = o;
    *trainp = train;
    *testp = test;
    *limitp = limit;
    *namep = name;
}

int lbl_trainer_new(const bl_train_opts *o, const bl_dataset *train, const bl_dataset *test,
                    size_t limit, bl_trainer **t, bl_dataset **test_view, bl_error *err)
{
    bl_dataset *tr_view = NULL, *te_view = NULL;
    int rc = 0;
    *t = NULL;
    if (test_view)
        *test_view = NULL;
    if (limit && limit < bl_dataset_count(train))
        rc = bl_dataset_subset(train, 0, limit, &tr_view, err);
    if (!rc && test && limit && limit < bl_dataset_count(test))
        rc = bl_dataset_subset(test, 0, limit, &te_view, err);
    if (!rc)
        rc = bl_trainer_new(o, tr_view ? tr_view : train, te_view ? te_view : test, t, err);
    bl_dataset_free(tr_view); /* the trainer keeps its own copy of the data */
    if (!rc && test_view)
        *test_view = te_view;
    else
        bl_dataset_free(te_view);
    return rc;
}

/* bl.train{arch=, data=, test=, epochs=, batch=, lr=, flip={p= | p01=, p10=,
 * mode="ste"|"exact"}, reg={margin=λ, b=}, loss="ce"|"mhl", seed=,
 * threads=, limit=, name=, on_epoch=fn, on_progress=fn} -> model */
static int l_train(lua_State *L)
{
    const char *fn = "bl.train";
    luaL_checktype(L, 1, LUA_TTABLE);
    bl_train_opts o;
    bl_dataset *train, *test;
    size_t limit;
    const char *name;
    lbl_train_opts(L, 1, fn, &o, &train, &test, &limit, &name);
    train_cb cb;
    cb.epochs = o.epochs;
    lbl_progress_init(&cb.epoch, L, opt_fn(L, 1, fn, "on_epoch"));
    lbl_progress_init(&cb.progress, L, opt_fn(L, 1, fn, "on_progress"));
    lbl_model *u = lbl_push_model(L, NULL);   /* filled below; __gc frees NULL fine */
    int res = lua_gettop(L);
    lbl_hold hold;   /* the callbacks may try to close the datasets */
    lbl_hold_init(&hold, L);
    lua_getfield(L, 1, "data");
    lbl_hold_add(&hold, -1);
    lua_getfield(L, 1, "test");
    lbl_hold_add(&hold, -1);
    lua_settop(L, res);

    bl_error err = { 0 };
    bl_dataset *te_view = NULL;
    bl_trainer *t = NULL;
    bl_model *m = NULL;
    int rc = lbl_trainer_new(&o, train, test, limit, &t, &te_view, &err);
    if (!rc)
        rc = bl_trainer_run(t, train_progress, &cb, &err);
    if (!rc && lbl_interrupted())
        rc = BL_ECANCELED;
    if (!rc)
        rc = bl_trainer_export(t, &m, &err);
    if (!rc && test) {
        double acc;
        if (bl_trainer_eval(t, te_view ? te_view : test, 0, &acc, &err) == 0) {
            char buf[32];
            snprintf(buf, sizeof buf, "%.6f", acc);
            bl_model_meta_set(m, "test_accuracy", buf);
        }
        bl_error_clear(&err);
    }
    if (!rc && name)
        bl_model_meta_set(m, "name", name);
    bl_trainer_free(t);
    bl_dataset_free(te_view);
    lbl_hold_release(&hold);
    if (rc) {
        lbl_progress_finish(&cb.epoch, 0, fn, &err);
        lbl_progress_finish(&cb.progress, rc, fn, &err);
    }
    u->m = m;
    lua_settop(L, res);
    lbl_rec_note(L, "bl.train", 0, 1, 1, res);
    return 1;
}

void lbl_open_train(lua_State *L)
{
    lua_pushcfunction(L, l_train);
    lua_setfield(L, -2, "train");
}
