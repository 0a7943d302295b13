/* record.c - session records: every state-changing call made through the
 * module, as a Lua file that replays it (bl.record.start/stop).
 *
 * Each binding that creates an object or changes state calls lbl_rec_note
 * after it succeeded.  Objects remember their origin (function and
 * arguments, in a weak-keyed registry table), so a record started late can
 * still recreate an object made before it started: the first time a record
 * refers to such an object it writes the statement that made it.  Objects
 * and results get variables in a table `r` (r.m1, r.ds2, r.res3), which
 * the record returns, so `dofile(record)` gives them back.  Values are
 * written exactly: strings as one-line literals (bl_text_lua_quote: %q with
 * newlines and control bytes escaped), integers as integers, floats with 17
 * significant digits (round-trip exact), tables recursively with sorted
 * keys; functions (progress callbacks) are written as nil.
 *
 * Data never becomes code: model names in the header comment pass through
 * bl_text_comment_line, every string value through bl_text_lua_quote.
 *
 * The file is written atomically by bl.record.stop, and autosaved (under
 * $XDG_STATE_HOME/betlab/sessions/, and to its own path) on exit and on
 * SIGHUP.  When that folder cannot be used (XDG_STATE_HOME a regular file,
 * no permission, disk full) the autosave falls back to the current folder,
 * then /tmp, and says on stderr where the record went. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"
#include "base/text.h"
#include "base/version.h"
#include "base/strbuf.h"
#include "lua/lbl.h"

#define ORIGINS "betlab.origins"
#define NAMES "betlab.recnames"

struct lbl_recorder {
    char *path;          /* where stop() writes; NULL: autosave only      */
    bl_strbuf body;
    bl_strbuf models;         /* header lines naming model checksums           */
    bl_strbuf seeds;          /* "1, 2, 7"                                     */
    char started[64];
    unsigned long counter;
    unsigned long statements;
};

void lbl_rec_free(lbl_recorder *r)
{
    if (!r)
        return;
    free(r->path);
    free(r->body.p);
    free(r->models.p);
    free(r->seeds.p);
    free(r);
}

static void weak_table(lua_State *L, const char *name)
{
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, name);
}

static const char *kind_prefix(lua_State *L, int idx)
{
    static const struct { const char *tname, *prefix; } k[] = {
        { LBL_MODEL, "m" },  { LBL_DATASET, "ds" }, { LBL_FAULT, "f" },
        { LBL_SWEEP, "sw" }, { LBL_HIST, "h" },
    };
    for (size_t i = 0; i < sizeof k / sizeof *k; i++)
        if (luaL_testudata(L, idx, k[i].tname))
            return k[i].prefix;
    return NULL;
}

static void add_seed(lbl_recorder *r, lua_Integer s)
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%lld", (long long)s);
    /* avoid repeats of the same seed */
    if (r->seeds.p) {
        const char *p = r->seeds.p;
        size_t len = strlen(tmp);
        while ((p = strstr(p, tmp))) {
            if ((p == r->seeds.p || p[-1] == ' ') && (p[len] == ',' || p[len] == 0))
                return;
            p += len;
        }
    }
    if (r->seeds.len)
        bl_strbuf_puts(&r->seeds, ", ");
    bl_strbuf_puts(&r->seeds, tmp);
}

static void ser_value(lua_State *L, lbl_recorder *r, int idx, bl_strbuf *out, int depth);

static void ser_number(lua_State *L, int idx, bl_strbuf *out)
{
    if (lua_isinteger(L, idx)) {
        lua_Integer v = lua_tointeger(L, idx);
        if (v == LUA_MININTEGER)
            bl_strbuf_puts(out, "math.mininteger");
        else
            bl_strbuf_printf(out, "%lld", (long long)v);
        return;
    }
    double d = lua_tonumber(L, idx);
    if (isnan(d))
        bl_strbuf_puts(out, "(0/0)");
    else if (isinf(d))
        bl_strbuf_puts(out, d > 0 ? "(1/0)" : "(-1/0)");
    else {
        char tmp[64];
        snprintf(tmp, sizeof tmp, "%.17g", d);
        bl_strbuf_puts(out, tmp);
        if (!strpbrk(tmp, ".eEn"))
            bl_strbuf_puts(out, ".0");   /* stays a float on replay */
    }
}

/* Strings are data: bl_text_lua_quote writes a one-line literal (like %q,
 * but newlines and control bytes as escapes), so no string can end the
 * literal or the line early. */
static void ser_string(lua_State *L, int idx, bl_strbuf *out)
{
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    char *q = bl_text_lua_quote(s, len);
    if (!q) {
        out->oom = 1;
        return;
    }
    bl_strbuf_puts(out, q);
    free(q);
}

/* A model's line in the header comment: its name (metadata, i.e. data from
 * the file) made one safe comment line. */
static void note_model(lbl_recorder *r, const char *var, lbl_model *mu)
{
    const char *mn = bl_model_meta_get(mu->m, "name");
    const char *shown = mn ? mn : (mu->path ? mu->path : "unnamed");
    char *c = bl_text_comment_line(shown, strlen(shown));
    bl_strbuf_printf(&r->models, "--   %s: checksum %08x (", var, bl_model_checksum(mu->m));
    bl_strbuf_puts(&r->models, c ? c : "?");
    bl_strbuf_puts(&r->models, ")\n");
    free(c);
}

static int is_name(const char *s)
{
    static const char *const reserved[] = { "and", "break", "do", "else", "elseif", "end",
                                            "false", "for", "function", "goto", "if", "in",
                                            "local", "nil", "not", "or", "repeat", "return",
                                            "then", "true", "until", "while", NULL };
    if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
        return 0;
    for (const char *p = s; *p; p++)
        if (!(*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9')))
            return 0;
    for (int i = 0; reserved[i]; i++)
        if (strcmp(s, reserved[i]) == 0)
            return 0;
    return 1;
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void ser_table(lua_State *L, lbl_recorder *r, int idx, bl_strbuf *out, int depth)
{
    if (depth > 32) {
        bl_strbuf_puts(out, "nil --[[too deep]]");
        return;
    }
    idx = lua_absindex(L, idx);
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    bl_strbuf_puts(out, "{");
    int first = 1;
    for (lua_Integer i = 1; i <= n; i++) {
        if (!first)
            bl_strbuf_puts(out, ", ");
        first = 0;
        lua_rawgeti(L, idx, i);
        ser_value(L, r, -1, out, depth + 1);
        lua_pop(L, 1);
    }
    /* other keys: serialise "key=value" entries, then sort them */
    size_t cnt = 0, cap = 0;
    char **items = NULL;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int isint;
        lua_Integer k = lua_tointegerx(L, -2, &isint);
        if (lua_type(L, -2) == LUA_TNUMBER && isint && k >= 1 && k <= n) {
            lua_pop(L, 1);
            continue;
        }
        bl_strbuf e = { 0 };
        if (lua_type(L, -2) == LUA_TSTRING && is_name(lua_tostring(L, -2))) {
            bl_strbuf_puts(&e, lua_tostring(L, -2));
            if (r && strcmp(lua_tostring(L, -2), "seed") == 0 && lua_isinteger(L, -1))
                add_seed(r, lua_tointeger(L, -1));
        } else {
            bl_strbuf_puts(&e, "[");
            ser_value(L, r, -2, &e, depth + 1);
            bl_strbuf_puts(&e, "]");
        }
        bl_strbuf_puts(&e, "=");
        ser_value(L, r, -1, &e, depth + 1);
        lua_pop(L, 1);
        if (cnt == cap) {
            cap = cap ? cap * 2 : 8;
            char **ni = realloc(items, cap * sizeof *ni);
            if (!ni) {
                free(e.p);
                out->oom = 1;
                break;
            }
            items = ni;
        }
        items[cnt++] = e.p ? e.p : strdup("");
    }
    if (cnt)
        qsort(items, cnt, sizeof *items, cmpstr);
    for (size_t i = 0; i < cnt; i++) {
        if (!first)
            bl_strbuf_puts(out, ", ");
        first = 0;
        bl_strbuf_puts(out, items[i] ? items[i] : "");
        free(items[i]);
    }
    free(items);
    bl_strbuf_puts(out, "}");
}

static void ser_call(lua_State *L, lbl_recorder *r, const char *fn, int method, int first,
                     int nargs, bl_strbuf *out);

/* Name of object at idx in this record, writing its origin first when it
 * has none yet.  Pushes nothing. */
static void ser_object(lua_State *L, lbl_recorder *r, int idx, bl_strbuf *out)
{
    idx = lua_absindex(L, idx);
    lua_getfield(L, LUA_REGISTRYINDEX, NAMES);
    lua_pushvalue(L, idx);
    if (lua_rawget(L, -2) == LUA_TSTRING) {
        bl_strbuf_puts(out, lua_tostring(L, -1));
        lua_pop(L, 2);
        return;
    }
    lua_pop(L, 2);
    const char *prefix = kind_prefix(L, idx);
    lua_getfield(L, LUA_REGISTRYINDEX, ORIGINS);
    lua_pushvalue(L, idx);
    if (!r || !prefix || lua_rawget(L, -2) != LUA_TTABLE) {
        lua_pop(L, 2);
        bl_strbuf_puts(out, "nil --[[object of unknown origin]]");
        return;
    }
    int o = lua_gettop(L);
    lua_getfield(L, o, "fn");
    lua_getfield(L, o, "method");
    lua_getfield(L, o, "n");
    const char *fn = lua_tostring(L, -3);
    int method = lua_toboolean(L, -2);
    int n = (int)lua_tointeger(L, -1);
    luaL_checkstack(L, n + 4, "record");
    int base = lua_gettop(L) + 1;
    for (int i = 1; i <= n; i++)
        lua_rawgeti(L, o, i);
    bl_strbuf expr = { 0 };
    ser_call(L, r, fn, method, base, n, &expr);
    lua_settop(L, o - 2);
    char name[48];
    snprintf(name, sizeof name, "r.%s%lu", prefix, ++r->counter);
    bl_strbuf_printf(&r->body, "%s = ", name);
    bl_strbuf_puts(&r->body, expr.p ? expr.p : "nil");
    bl_strbuf_puts(&r->body, "\n");
    free(expr.p);
    r->statements++;
    lua_getfield(L, LUA_REGISTRYINDEX, NAMES);
    lua_pushvalue(L, idx);
    lua_pushstring(L, name);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lbl_model *mu = lbl_testudata(L, idx, LBL_K_MODEL);
    if (mu && mu->m)
        note_model(r, name, mu);
    bl_strbuf_puts(out, name);
}

static void ser_value(lua_State *L, lbl_recorder *r, int idx, bl_strbuf *out, int depth)
{
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TNIL: bl_strbuf_puts(out, "nil"); break;
    case LUA_TBOOLEAN: bl_strbuf_puts(out, lua_toboolean(L, idx) ? "true" : "false"); break;
    case LUA_TNUMBER: ser_number(L, idx, out); break;
    case LUA_TSTRING: ser_string(L, idx, out); break;
    case LUA_TTABLE: ser_table(L, r, idx, out, depth); break;
    case LUA_TUSERDATA: ser_object(L, r, idx, out); break;
    case LUA_TFUNCTION: bl_strbuf_puts(out, "nil --[[function]]"); break;
    default: bl_strbuf_printf(out, "nil --[[%s]]", luaL_typename(L, idx)); break;
    }
}

static void ser_call(lua_State *L, lbl_recorder *r, const char *fn, int method, int first,
                     int nargs, bl_strbuf *out)
{
    int a = first;
    if (r && strcmp(fn, "bl.model.random") == 0 && nargs >= 2 && lua_isinteger(L, first + 1))
        add_seed(r, lua_tointeger(L, first + 1));
    if (method) {
        ser_value(L, r, first, out, 0);
        bl_strbuf_printf(out, ":%s(", fn);
        a++;
    } else
        bl_strbuf_printf(out, "%s(", fn);
    for (int i = a; i < first + nargs; i++) {
        if (i > a)
            bl_strbuf_puts(out, ", ");
        ser_value(L, r, i, out, 0);
    }
    bl_strbuf_puts(out, ")");
}

static lbl_recorder *active(lua_State *L) { return lbl_getctx(L)->rec; }

void lbl_rec_note(lua_State *L, const char *fn, int method, int first, int nargs, int res)
{
    if (res)
        res = lua_absindex(L, res);
    first = lua_absindex(L, first);
    int top = lua_gettop(L);
    luaL_checkstack(L, 16, "record");
    if (res && lua_type(L, res) == LUA_TUSERDATA) {
        /* origin: {fn=, method=, n=, args...} */
        lua_getfield(L, LUA_REGISTRYINDEX, ORIGINS);
        lua_pushvalue(L, res);
        lua_createtable(L, nargs, 3);
        lua_pushstring(L, fn);
        lua_setfield(L, -2, "fn");
        lua_pushboolean(L, method);
        lua_setfield(L, -2, "method");
        lua_pushinteger(L, nargs);
        lua_setfield(L, -2, "n");
        for (int i = 0; i < nargs; i++) {
            lua_pushvalue(L, first + i);
            lua_rawseti(L, -2, i + 1);
        }
        lua_rawset(L, -3);
        lua_pop(L, 1);
    }
    lbl_recorder *r = active(L);
    if (!r) {
        lua_settop(L, top);
        return;
    }
    bl_strbuf expr = { 0 };
    ser_call(L, r, fn, method, first, nargs, &expr);
    const char *prefix = res ? kind_prefix(L, res) : NULL;
    if (res && (prefix || lua_istable(L, res))) {
        char name[48];
        snprintf(name, sizeof name, "r.%s%lu", prefix ? prefix : "res", ++r->counter);
        bl_strbuf_printf(&r->body, "%s = %s\n", name, expr.p ? expr.p : "nil");
        if (prefix) {
            lua_getfield(L, LUA_REGISTRYINDEX, NAMES);
            lua_pushvalue(L, res);
            lua_pushstring(L, name);
            lua_rawset(L, -3);
            lua_pop(L, 1);
            lbl_model *mu = lbl_testudata(L, res, LBL_K_MODEL);
            if (mu && mu->m)
                note_model(r, name, mu);
        } else {
            /* the numbers, for the reader (the replay recomputes them) */
            bl_strbuf res_text = { 0 };
            ser_table(L, NULL, res, &res_text, 0);
            bl_strbuf_puts(&r->body, "--> ");
            bl_strbuf_puts(&r->body, res_text.p ? res_text.p : "");
            bl_strbuf_puts(&r->body, "\n");
            free(res_text.p);
        }
    } else
        bl_strbuf_printf(&r->body, "%s\n", expr.p ? expr.p : "nil");
    free(expr.p);
    r->statements++;
    lua_settop(L, top);
}

static char *record_text(lbl_recorder *r)
{
    bl_strbuf t = { 0 };
    char now[64];
    time_t tt = time(NULL);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime(&tt));
    bl_strbuf_puts(&t, "-- betlab session record: replay with `betlab run FILE`\n");
    bl_strbuf_printf(&t, "-- betlab %s, recorded %s to %s\n", BETLAB_VERSION, r->started, now);
    bl_strbuf_puts(&t, "-- models:\n");
    bl_strbuf_puts(&t, r->models.p ? r->models.p : "--   (none)\n");
    bl_strbuf_printf(&t, "-- seeds: %s\n", r->seeds.p ? r->seeds.p : "(none)");
    bl_strbuf_puts(&t, "local bl = require \"betlab\"\nlocal r = {}\n");
    bl_strbuf_puts(&t, r->body.p ? r->body.p : "");
    bl_strbuf_puts(&t, "return r\n");
    if (t.oom) {
        free(t.p);
        return NULL;
    }
    return t.p;
}

static int write_record(lbl_recorder *r, const char *path, bl_error *err)
{
    char *text = record_text(r);
    if (!text)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    int rc = bl_file_write_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}

int lbl_rec_autosave(lua_State *L, const char *dir)
{
    lbl_recorder *r = active(L);
    if (!r)
        return 0;
    char stamp[32];
    time_t tt = time(NULL);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", gmtime(&tt));
    /* the state folder first, then the fallbacks; a record is never lost
     * silently */
    char cwd[2048];
    const char *dirs[3] = { dir, getcwd(cwd, sizeof cwd) ? cwd : ".", "/tmp" };
    bl_error err = { 0 }, first = { 0 };
    int rc = -1, tried = 0;
    for (int i = 0; i < 3 && rc; i++) {
        if (!dirs[i])
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%ssession-%s-%ld.lua", dirs[i], i ? "betlab-" : "",
                 stamp, (long)getpid());
        rc = write_record(r, path, &err);
        if (rc && !tried++)
            first = err;
        if (!rc && i > 0) {
            char shown[512];
            bl_text_terminal_buf(dir ? first.msg : "the state folder "
                                 "($XDG_STATE_HOME/betlab/sessions) cannot be created",
                                 shown, sizeof shown);
            fprintf(stderr, "betlab: session record not saved in the state folder (%s); "
                    "saved to %s\n", shown, path);
        }
    }
    if (rc) {
        char shown[512];
        bl_text_terminal_buf(err.msg, shown, sizeof shown);
        fprintf(stderr, "betlab: session record lost: %s\n", shown);
    }
    if (r->path && write_record(r, r->path, &err)) {
        char shown[512];
        bl_text_terminal_buf(err.msg, shown, sizeof shown);
        fprintf(stderr, "betlab: session record not saved to its own path: %s\n", shown);
        rc = -1;
    }
    return rc;
}

/* bl.record.start([path]) */
static int l_start(lua_State *L)
{
    const char *path = luaL_optstring(L, 1, NULL);
    lbl_ctx *c = lbl_getctx(L);
    if (c->rec)
        return luaL_error(L, "bl.record.start: already recording%s%s (call bl.record.stop first)",
                          c->rec->path ? " to " : "", c->rec->path ? c->rec->path : "");
    lbl_recorder *r = calloc(1, sizeof *r);
    if (!r || (path && !(r->path = strdup(path)))) {
        free(r);
        return luaL_error(L, "bl.record.start: out of memory");
    }
    time_t tt = time(NULL);
    strftime(r->started, sizeof r->started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&tt));
    weak_table(L, NAMES);   /* fresh variable names */
    c->rec = r;
    lua_pushboolean(L, 1);
    return 1;
}

/* bl.record.stop() -> path (nil when started without one), statements */
static int l_stop(lua_State *L)
{
    lbl_ctx *c = lbl_getctx(L);
    lbl_recorder *r = c->rec;
    if (!r)
        return luaL_error(L, "bl.record.stop: not recording (call bl.record.start first)");
    bl_error err = { 0 };
    int rc = r->path ? write_record(r, r->path, &err) : 0;
    c->rec = NULL;
    if (r->path)
        lua_pushstring(L, r->path);
    else
        lua_pushnil(L);
    lua_pushinteger(L, (lua_Integer)r->statements);
    lbl_rec_free(r);
    if (rc)
        return lbl_fail(L, "bl.record.stop", &err);
    return 2;
}

/* bl.record.text(): the record so far (nil when not recording). */
static int l_text(lua_State *L)
{
    lbl_recorder *r = active(L);
    if (!r) {
        lua_pushnil(L);
        return 1;
    }
    char *t = record_text(r);
    if (!t)
        return luaL_error(L, "bl.record.text: out of memory");
    lua_pushstring(L, t);
    free(t);
    return 1;
}

/* bl.record.active() -> true/false, path */
static int l_active(lua_State *L)
{
    lbl_recorder *r = active(L);
    lua_pushboolean(L, r != NULL);
    if (r && r->path)
        lua_pushstring(L, r->path);
    else
        lua_pushnil(L);
    return 2;
}

void lbl_open_record(lua_State *L)
{
    weak_table(L, ORIGINS);
    weak_table(L, NAMES);
    static const luaL_Reg fns[] = {
        { "start", l_start }, { "stop", l_stop }, { "text", l_text }, { "active", l_active },
        { NULL, NULL },
    };
    luaL_newlib(L, fns);
    lua_setfield(L, -2, "record");
}
