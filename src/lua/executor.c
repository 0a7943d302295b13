/* executor.c - the one executor for all Lua in betlab (see executor.h).
 * Modelled on lua.c: msghandler/docall/laction/lstop, incomplete-input
 * detection by the "<eof>" syntax error, "return <line>" tried first. */
#include "lua/executor.h"

#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <lualib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/paths.h"
#include "cli/env.h"
#include "lua/lbl.h"

struct bl_exec {
    lua_State *L;
    bl_sink_fn sink;
    void *sink_ctx;
    int allow_bytecode;   /* script files may be precompiled chunks */
};

/* Signal state: handlers only set these (and the count hook, as lua.c).
 *
 * SIGINT: one catchable "interrupted!" error at the next instruction; a
 * second SIGINT in the same call makes it sticky (raised at every hook tick
 * until the call returns, so pcall cannot swallow it for ever).
 *
 * SIGHUP / SIGTERM end the process: the hook raises "hangup"/"terminated" at
 * every tick (a script that catches it with pcall gets it again at its next
 * instruction); a second signal, or BL_EXEC_GRACE_S seconds after the first
 * (SIGALRM re-arms the hook), make the hook itself autosave the record, call
 * the front end's restore function and _exit(128 + signal) from the main
 * thread.  If even the hook cannot run (a script removed it, a coroutine or
 * a C call that never returns), one second later the
 * alarm handler restores the terminal with async-signal-safe calls and
 * _exits: the process always ends. */
#define BL_EXEC_GRACE_S 2

static volatile sig_atomic_t g_int, g_int_n, g_int_sticky, g_term_sig, g_term_n, g_grace_over, g_in_call;
static lua_State *volatile g_L;
static bl_exec *g_exec;
static void (*g_restore)(void), (*g_restore_async)(void);

int bl_exec_interrupted(void) { return g_int || g_term_sig; }
int bl_exec_hangup(void) { return g_term_sig != 0; }
int bl_exec_term_signal(void) { return g_term_sig; }
void bl_exec_clear_interrupt(void) { g_int = 0; }
int lbl_interrupted(void) { return g_int || g_term_sig; }

void bl_exec_set_restore(void (*restore)(void), void (*restore_async)(void))
{
    g_restore = restore;
    g_restore_async = restore_async;
}

/* Main thread, in the hook: the record is saved, the terminal restored. */
static void forced_exit(void)
{
    if (g_exec)
        bl_exec_autosave(g_exec);
    if (g_restore)
        g_restore();
    fflush(stdout);
    fflush(stderr);
    _exit(128 + g_term_sig);
}

static void lstop(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    if (g_term_sig) {   /* keep the hook: pcall cannot swallow this */
        if (g_term_n >= 2 || g_grace_over)
            forced_exit();
        static int saved;
        if (g_exec && !saved) {   /* once: the hook fires at every instruction */
            saved = 1;
            bl_exec_autosave(g_exec);
        }
        luaL_error(L, g_term_sig == SIGHUP ? "hangup" : "terminated");
    }
    if (!g_int_sticky)
        lua_sethook(L, NULL, 0, 0);
    g_int = 0;
    luaL_error(L, "interrupted!");
}

static void arm_hook(void)
{
    if (g_in_call && g_L)
        lua_sethook(g_L, lstop, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

static void on_alarm(int sig)
{
    (void)sig;
    if (!g_term_sig)
        return;
    if (g_grace_over) {   /* the hook never ran: last resort, async-signal-safe */
        if (g_restore_async)
            g_restore_async();
        _exit(128 + g_term_sig);
    }
    g_grace_over = 1;
    arm_hook();
    alarm(1);
}

void bl_exec_signal(int sig)
{
    if (sig == SIGHUP || sig == SIGTERM) {
        if (!g_term_sig) {
            g_term_sig = sig;
            alarm(BL_EXEC_GRACE_S);
        }
        g_term_n++;
    } else if (sig == SIGINT) {
        if (g_in_call && g_int_n > 0) {
            if (g_int_sticky && g_int) {   /* the hook never ran: stuck in C */
                if (g_restore_async)
                    g_restore_async();
                signal(SIGINT, SIG_DFL);
                raise(SIGINT);
            }
            g_int_sticky = 1;
        }
        if (g_in_call)
            g_int_n++;
        g_int = 1;
    }
    arm_hook();
}

static void laction(int sig) { bl_exec_signal(sig); }

void bl_exec_install_signals(bl_exec *x)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = laction;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;              /* no SA_RESTART: blocking reads return EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    g_exec = x;
}

int bl_exec_safe_point(bl_exec *x)
{
    if (g_term_sig) {
        bl_exec_autosave(x);
        return BL_EXEC_HANGUP;
    }
    return BL_EXEC_OK;
}

/* ---- output ---- */

static void default_sink(void *ctx, int stream, const char *text, size_t len)
{
    (void)ctx;
    FILE *f = stream == BL_SINK_ERR ? stderr : stdout;
    fwrite(text, 1, len, f);
    if (stream == BL_SINK_ERR)
        fflush(f);
}

void bl_exec_write(bl_exec *x, int stream, const char *text, size_t len)
{
    if (x->sink)
        x->sink(x->sink_ctx, stream, text, len);
    else
        default_sink(NULL, stream, text, len);
}

void bl_exec_set_sink(bl_exec *x, bl_sink_fn sink, void *sink_ctx)
{
    x->sink = sink;
    x->sink_ctx = sink_ctx;
}

lua_State *bl_exec_lua(bl_exec *x) { return x->L; }

static bl_exec *upexec(lua_State *L)
{
    return (bl_exec *)lua_touserdata(L, lua_upvalueindex(1));
}

/* print(...) to the sink. */
static int l_print(lua_State *L)
{
    bl_exec *x = upexec(L);
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_addchar(&b, '\n');
    luaL_pushresult(&b);
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    bl_exec_write(x, BL_SINK_OUT, s, len);
    return 0;
}

/* io.write(...): to the sink while io.output() is stdout, else the
 * original io.write (upvalue 2). */
static int l_iowrite(lua_State *L)
{
    bl_exec *x = upexec(L);
    int n = lua_gettop(L);
    lua_getglobal(L, "io");
    int io = lua_gettop(L);
    int to_sink = 0;
    if (lua_istable(L, io)) {
        lua_getfield(L, io, "output");
        lua_call(L, 0, 1);
        lua_getfield(L, io, "stdout");
        to_sink = lua_rawequal(L, -1, -2);
        lua_pop(L, 1);          /* keep io.output() at top */
    } else
        lua_pushnil(L);
    if (!to_sink) {
        lua_settop(L, n);
        lua_pushvalue(L, lua_upvalueindex(2));
        lua_insert(L, 1);
        lua_call(L, n, LUA_MULTRET);
        return lua_gettop(L);
    }
    for (int i = 1; i <= n; i++) {
        if (lua_type(L, i) == LUA_TNUMBER) {
            size_t len;
            lua_pushvalue(L, i);
            const char *s = lua_tolstring(L, -1, &len);
            bl_exec_write(x, BL_SINK_OUT, s, len);
            lua_pop(L, 1);
        } else {
            size_t len;
            const char *s = luaL_checklstring(L, i, &len);
            bl_exec_write(x, BL_SINK_OUT, s, len);
        }
    }
    return 1;   /* the file, as io.write returns it */
}

/* ---- calls ---- */

static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

static void report(bl_exec *x, int status)
{
    if (status == LUA_OK)
        return;
    const char *msg = lua_tostring(x->L, -1);
    if (!msg)
        msg = "(error object is not a string)";
    bl_exec_write(x, BL_SINK_ERR, msg, strlen(msg));
    bl_exec_write(x, BL_SINK_ERR, "\n", 1);
    lua_pop(x->L, 1);
}

/* Call the function below narg arguments under the message handler with
 * SIGINT turned into an error at the next instruction. */
static int docall(bl_exec *x, int narg, int nres)
{
    lua_State *L = x->L;
    int base = lua_gettop(L) - narg;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    g_int = 0;
    g_int_n = 0;
    g_int_sticky = 0;
    g_L = L;
    struct sigaction cur;
    if (g_exec && sigaction(SIGINT, NULL, &cur) == 0 && cur.sa_handler == SIG_DFL) {
        /* re-arm after a third Ctrl-C restored the default (a front end's
         * own handler, the TUI's, is left alone) */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = laction;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
    }
    g_in_call = 1;
    if (g_term_sig)   /* a termination signal arrived between calls */
        arm_hook();
    int status = lua_pcall(L, narg, nres, base);
    g_in_call = 0;
    lua_sethook(L, NULL, 0, 0);
    g_int = 0;
    g_int_n = 0;
    g_int_sticky = 0;
    lua_remove(L, base);
    return status;
}

static int finish(bl_exec *x, int status)
{
    report(x, status);
    if (g_term_sig) {
        bl_exec_autosave(x);
        return BL_EXEC_HANGUP;
    }
    return status == LUA_OK ? BL_EXEC_OK : BL_EXEC_ERROR;
}

int bl_exec_run_string(bl_exec *x, const char *chunk, const char *name)
{
    int status = luaL_loadbuffer(x->L, chunk, strlen(chunk), name);
    if (status == LUA_OK)
        status = docall(x, 0, 0);
    return finish(x, status);
}

int bl_exec_run_file(bl_exec *x, const char *path, int argc, char **argv)
{
    lua_State *L = x->L;
    int is_stdin = strcmp(path, "-") == 0;
    lua_createtable(L, argc, 1);
    lua_pushstring(L, path);
    lua_rawseti(L, -2, 0);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setglobal(L, "arg");
    /* text only: a precompiled chunk is unchecked code that can crash
     * the VM (a damaged string.dump) unless the user asked for it */
    bl_error ferr = { 0 };
    int status;
    if (!is_stdin && bl_file_check_regular(path, &ferr)) {   /* a FIFO would block for ever */
        lua_pushstring(L, ferr.msg);
        status = LUA_ERRFILE;
    } else
        status = luaL_loadfilex(L, is_stdin ? NULL : path, x->allow_bytecode ? NULL : "t");
    if (status == LUA_ERRSYNTAX && strstr(lua_tostring(L, -1), "binary chunk")) {
        lua_pop(L, 1);
        lua_pushfstring(L, "%s: precompiled Lua chunk refused (betlab loads scripts as text; "
                        "`betlab run --allow-bytecode` runs a chunk you trust)", path);
    }
    if (status == LUA_OK) {
        luaL_checkstack(L, argc + 2, "too many arguments to script");
        for (int i = 0; i < argc; i++)
            lua_pushstring(L, argv[i]);
        status = docall(x, argc, 0);
    }
    return finish(x, status);
}

/* REPL: lua.c's addreturn / incomplete / multiline logic on a whole input. */
static int incomplete(lua_State *L, int status)
{
    if (status == LUA_ERRSYNTAX) {
        size_t lmsg;
        const char *msg = lua_tolstring(L, -1, &lmsg);
        const char *eof = "<eof>";
        size_t le = strlen(eof);
        if (lmsg >= le && strcmp(msg + lmsg - le, eof) == 0) {
            lua_pop(L, 1);
            return 1;
        }
    }
    return 0;
}

int bl_exec_repl(bl_exec *x, const char *input)
{
    lua_State *L = x->L;
    int top = lua_gettop(L);
    const char *line = input;
    if (line[0] == '=')
        line++;
    const char *ret = lua_pushfstring(L, "return %s;", line);
    int status = luaL_loadbuffer(L, ret, strlen(ret), "=console");
    if (status == LUA_OK) {
        lua_remove(L, -2);
    } else {
        lua_pop(L, 2);
        status = luaL_loadbuffer(L, line, strlen(line), "=console");
        if (incomplete(L, status))
            return BL_EXEC_INCOMPLETE;
    }
    if (status == LUA_OK)
        status = docall(x, 0, LUA_MULTRET);
    if (status == LUA_OK) {
        int n = lua_gettop(L) - top;
        if (n > 0) {
            luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
            lua_getglobal(L, "print");
            lua_insert(L, top + 1);
            status = docall(x, n, 0);
        }
    }
    int rc = finish(x, status);
    lua_settop(L, top);
    return rc;
}

/* ---- set-up ---- */

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(path, 0700) != 0 && errno != EEXIST) {
                *p = '/';
                return -1;
            }
            *p = '/';
        }
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static int xdg_dir(const char *var, const char *fallback, const char *sub, int create, char *buf,
                   size_t n)
{
    const char *v = getenv(var);
    int w;
    if (v && v[0] == '/')
        w = snprintf(buf, n, "%s/betlab%s%s", v, sub ? "/" : "", sub ? sub : "");
    else {
        const char *home = getenv("HOME");
        if (!home || !*home)
            return -1;
        w = snprintf(buf, n, "%s/%s/betlab%s%s", home, fallback, sub ? "/" : "", sub ? sub : "");
    }
    if (w < 0 || (size_t)w >= n)
        return -1;
    return create ? mkdirs(buf) : 0;
}

int bl_state_dir(const char *sub, int create, char *buf, size_t n)
{
    return xdg_dir("XDG_STATE_HOME", ".local/state", sub, create, buf, n);
}

int bl_config_dir(char *buf, size_t n)
{
    return xdg_dir("XDG_CONFIG_HOME", ".config", NULL, 0, buf, n);
}

/* package.path / cpath without relative entries, betlab's lua/ first. */
static void fix_paths(lua_State *L)
{
    lua_getglobal(L, "package");
    const char *fields[] = { "path", "cpath" };
    char dir[PATH_MAX];
    int have_dir = bl_resource_dir(cli_settings(), "lua", dir, sizeof dir) == 0;
    for (int f = 0; f < 2; f++) {
        lua_getfield(L, -1, fields[f]);
        const char *p = lua_tostring(L, -1);
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        int first = 1;
        if (f == 0 && have_dir) {
            lua_pushfstring(L, "%s/?.lua;%s/?/init.lua", dir, dir);
            luaL_addvalue(&b);
            first = 0;
        }
        while (p && *p) {
            const char *e = strchr(p, ';');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            if (len > 0 && p[0] == '/') {
                if (!first)
                    luaL_addchar(&b, ';');
                luaL_addlstring(&b, p, len);
                first = 0;
            }
            p += len + (e ? 1 : 0);
        }
        luaL_pushresult(&b);
        lua_setfield(L, -3, fields[f]);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static int setup(lua_State *L)
{
    bl_exec *x = lua_touserdata(L, 1);
    luaL_openlibs(L);
    fix_paths(L);
    lua_pushlightuserdata(L, x);
    lua_pushcclosure(L, l_print, 1);
    lua_setglobal(L, "print");
    lua_getglobal(L, "io");
    lua_pushlightuserdata(L, x);
    lua_getfield(L, -2, "write");
    lua_pushcclosure(L, l_iowrite, 2);
    lua_setfield(L, -2, "write");
    lua_pop(L, 1);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_betlab);
    lua_setfield(L, -2, "betlab");
    lua_pop(L, 1);
    lbl_getctx(L)->exec = x;
    luaL_requiref(L, "betlab", luaopen_betlab, 1);
    lua_setglobal(L, "bl");
    return 0;
}

bl_exec *bl_exec_new(bl_sink_fn sink, void *sink_ctx)
{
    bl_exec *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->sink = sink;
    x->sink_ctx = sink_ctx;
    x->L = luaL_newstate();
    if (!x->L) {
        free(x);
        return NULL;
    }
    lua_pushcfunction(x->L, setup);
    lua_pushlightuserdata(x->L, x);
    if (docall(x, 1, 0) != LUA_OK) {
        report(x, LUA_ERRRUN);
        lua_close(x->L);
        free(x);
        return NULL;
    }
    return x;
}

int bl_exec_autosave(bl_exec *x)
{
    char dir[PATH_MAX];
    /* an unusable state folder still saves the record (record.c falls
     * back to ./ and /tmp and says where) */
    int ok = bl_state_dir("sessions", 1, dir, sizeof dir) == 0;
    return lbl_rec_autosave(x->L, ok ? dir : NULL);
}

void bl_exec_allow_bytecode(bl_exec *x, int allow) { x->allow_bytecode = allow; }

void bl_exec_free(bl_exec *x)
{
    if (!x)
        return;
    bl_exec_autosave(x);
    if (g_exec == x)
        g_exec = NULL;
    if (g_L == x->L)
        g_L = NULL;
    lua_close(x->L);
    free(x);
}

int bl_exec_run_init(bl_exec *x)
{
    char dir[PATH_MAX], path[PATH_MAX + 16];
    if (bl_config_dir(dir, sizeof dir) != 0)
        return BL_EXEC_OK;
    snprintf(path, sizeof path, "%s/init.lua", dir);
    if (access(path, F_OK) != 0)
        return BL_EXEC_OK;
    int status = luaL_loadfilex(x->L, path, "t");
    if (status == LUA_OK)
        status = docall(x, 0, 0);
    return finish(x, status);
}
