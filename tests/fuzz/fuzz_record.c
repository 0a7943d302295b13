/* fuzz_record.c - session record files (src/lua/record.c) as betlab replays
 * them: the input is loaded as a text chunk (mode "t", as `betlab run`
 * does) and run with the betlab module.  Nothing may crash, whatever the
 * text.
 *
 * The fuzzer writes arbitrary code, so the chunk runs in a sandbox: its
 * environment has the safe standard functions (no io, os, load, dofile,
 * package; require gives only "betlab"), the module without anything that
 * writes files or runs long jobs (save*, record, csv, train, job, cluster,
 * ui) and an instruction budget (once spent, every instruction raises, so
 * a pcall loop cannot outlive it).
 * One state is built per input so no input depends on another. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lua/executor.h"

#define STEPS 200000

static void quiet(void *ctx, int stream, const char *text, size_t len)
{
    (void)ctx;
    (void)stream;
    (void)text;
    (void)len;
}

static void budget(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, budget, LUA_MASKCOUNT, 1);
    luaL_error(L, "fuzz: instruction budget spent");
}

/* drop every key of table t (at idx) whose name contains one of bad[] */
static void strip(lua_State *L, int idx)
{
    static const char *const bad[] = { "save", "write", "export", "record", "csv", "train",
                                       "job", "cluster", "ui", "plugin", "exec", NULL };
    idx = lua_absindex(L, idx);
    for (int again = 1; again;) {
        again = 0;
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            lua_pop(L, 1);
            if (lua_type(L, -1) != LUA_TSTRING)
                continue;
            const char *k = lua_tostring(L, -1);
            for (int i = 0; bad[i]; i++)
                if (strstr(k, bad[i])) {
                    lua_pushvalue(L, -1);
                    lua_pushnil(L);
                    lua_rawset(L, idx);   /* safe: assigning nil to a present key */
                    break;
                }
        }
    }
}

/* The betlab metatables' method tables lose their writers too. */
static void strip_methods(lua_State *L)
{
    lua_pushnil(L);
    while (lua_next(L, LUA_REGISTRYINDEX)) {
        if (lua_type(L, -2) == LUA_TSTRING && strncmp(lua_tostring(L, -2), "betlab.", 7) == 0 &&
            lua_istable(L, -1)) {
            if (lua_getfield(L, -1, "__index") == LUA_TTABLE)
                strip(L, -1);
            lua_pop(L, 1);
            strip(L, -1);
        }
        lua_pop(L, 1);
    }
}

static int sandbox_require(lua_State *L)
{
    if (strcmp(luaL_checkstring(L, 1), "betlab") != 0)
        return luaL_error(L, "fuzz: only betlab can be required");
    lua_pushvalue(L, lua_upvalueindex(1));
    return 1;
}

/* env = safe globals + bl (stripped copy), at the top of the stack */
static void make_env(lua_State *L)
{
    static const char *const keep[] = { "assert", "error", "ipairs", "next", "pairs", "pcall",
                                        "rawequal", "rawget", "rawlen", "rawset", "select",
                                        "setmetatable", "getmetatable", "tonumber", "tostring",
                                        "type", "xpcall", "math", "string", "table", "utf8",
                                        "print", NULL };
    lua_newtable(L);
    for (int i = 0; keep[i]; i++) {
        lua_getglobal(L, keep[i]);
        lua_setfield(L, -2, keep[i]);
    }
    /* string.dump would hand the chunk bytecode; there is no load to run it
     * with, but the record format never needs it either */
    lua_getfield(L, -1, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    lua_newtable(L);   /* the stripped bl */
    lua_getglobal(L, "bl");
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_istable(L, -1)) {
            lua_newtable(L);   /* shallow copy of a sub-table, stripped */
            lua_pushnil(L);
            while (lua_next(L, -3)) {
                lua_pushvalue(L, -2);
                lua_insert(L, -2);
                lua_rawset(L, -4);
            }
            strip(L, -1);
            lua_remove(L, -2);
        }
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -5);
    }
    lua_pop(L, 1);
    strip(L, -1);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "bl");
    lua_pushcclosure(L, sandbox_require, 1);
    lua_setfield(L, -2, "require");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1 << 16))
        return 0;
    bl_exec *x = bl_exec_new(quiet, NULL);
    if (!x)
        return 0;
    lua_State *L = bl_exec_lua(x);
    strip_methods(L);
    make_env(L);
    int env = lua_gettop(L);
    if (luaL_loadbufferx(L, (const char *)data, size, "=record", "t") == LUA_OK) {
        lua_pushvalue(L, env);
        lua_setupvalue(L, -2, 1);   /* _ENV */
        lua_sethook(L, budget, LUA_MASKCOUNT, STEPS);
        lua_pcall(L, 0, 0, 0);
        lua_sethook(L, NULL, 0, 0);
    }
    lua_settop(L, 0);
    bl_exec_free(x);
    return 0;
}
