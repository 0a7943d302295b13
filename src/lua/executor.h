/* executor.h - the one place where betlab runs Lua.
 *
 * Every chunk, script, console line and (later) TUI action runs through an
 * executor: a lua_State with the standard libraries and the `betlab` module
 * (preloaded, and as the global `betlab`), every call under lua_pcall with a
 * traceback message handler, print and io.write routed to the front end's
 * sink, relative entries removed from package.path and betlab's lua/ folder
 * put first.  The executor knows nothing about readline or curses: a front
 * end passes a sink (function pointer + context) and feeds it text.
 *
 * Signals (as lua.c): while a call runs, SIGINT only sets a flag and a count
 * hook that raises "interrupted" at the next Lua instruction; long C calls
 * poll bl_exec_interrupted() through their cancel/stop mechanism.  A second
 * SIGINT in the same call makes the error sticky (pcall cannot swallow it).
 * SIGHUP and SIGTERM set a flag; the record is autosaved at the next safe
 * point (bl_exec_safe_point, the hook, or bl_exec_free), the hook raises at
 * every instruction until the call ends, and a second signal or a 2 s grace
 * period makes the hook autosave, restore (bl_exec_set_restore) and
 * _exit(128 + signal): every script can be stopped. */
#ifndef BL_LUA_EXECUTOR_H
#define BL_LUA_EXECUTOR_H

#include <stddef.h>

typedef struct lua_State lua_State;

enum { BL_SINK_OUT = 1, BL_SINK_ERR = 2 };
/* Where output goes: stream BL_SINK_OUT (print, io.write, REPL results) or
 * BL_SINK_ERR (error messages and tracebacks). */
typedef void (*bl_sink_fn)(void *ctx, int stream, const char *text, size_t len);

typedef struct bl_exec bl_exec;

/* Status of a call. */
enum {
    BL_EXEC_OK = 0,
    BL_EXEC_ERROR = 1,       /* Lua error (reported to the sink)            */
    BL_EXEC_INCOMPLETE = 2,  /* console: chunk continues on the next line   */
    BL_EXEC_HANGUP = 3,      /* SIGHUP/SIGTERM: record saved, the front end exits (128 + bl_exec_term_signal()) */
};

/* New state; sink may be NULL (stdout/stderr).  NULL on allocation failure. */
bl_exec *bl_exec_new(bl_sink_fn sink, void *sink_ctx);
/* Autosaves an active record, closes the state (finalizers run). */
void bl_exec_free(bl_exec *x);
lua_State *bl_exec_lua(bl_exec *x);
void bl_exec_set_sink(bl_exec *x, bl_sink_fn sink, void *sink_ctx);
/* Write to the sink (used by the bindings' print and by front ends). */
void bl_exec_write(bl_exec *x, int stream, const char *text, size_t len);

/* Run $XDG_CONFIG_HOME/betlab/init.lua (default ~/.config/betlab/init.lua)
 * if it exists.  Returns a BL_EXEC_* status. */
int bl_exec_run_init(bl_exec *x);
/* Run a script: path, or "-" for stdin; sets the global `arg` (arg[0] =
 * path, arg[1..n] = args) and passes args as the chunk's `...`. */
int bl_exec_run_file(bl_exec *x, const char *path, int argc, char **argv);
/* Script files (and init.lua) are loaded as text only (mode "t"): a
 * precompiled chunk is refused unless this is set (`run --allow-bytecode`). */
void bl_exec_allow_bytecode(bl_exec *x, int allow);
/* Run a chunk of text named `name` (e.g. "=init"). */
int bl_exec_run_string(bl_exec *x, const char *chunk, const char *name);
/* Console: run one (possibly multi-line) input the way lua.c does: "=expr"
 * means "return expr"; "return <input>" is tried first; an input that ends
 * before the chunk does gives BL_EXEC_INCOMPLETE; results are printed. */
int bl_exec_repl(bl_exec *x, const char *input);

/* Signals: a front end calls bl_exec_install_signals once (SIGINT only
 * while a call runs; SIGHUP, SIGTERM always; SIGALRM for the grace period).
 * A front end with its own handlers calls bl_exec_signal(sig) from them
 * (async-signal-safe). */
void bl_exec_install_signals(bl_exec *x);
void bl_exec_signal(int sig);
/* Called before a forced exit: restore from the main thread (may use
 * curses), restore_async from a signal handler (async-signal-safe only). */
void bl_exec_set_restore(void (*restore)(void), void (*restore_async)(void));
int bl_exec_interrupted(void);       /* SIGINT, SIGHUP or SIGTERM pending  */
void bl_exec_clear_interrupt(void);
int bl_exec_hangup(void);            /* SIGHUP or SIGTERM received         */
int bl_exec_term_signal(void);       /* which: SIGHUP, SIGTERM or 0        */
/* Safe point: handles a pending SIGHUP (autosave); returns BL_EXEC_HANGUP
 * then, else BL_EXEC_OK. */
int bl_exec_safe_point(bl_exec *x);

/* Autosave the active record under $XDG_STATE_HOME/betlab/sessions/.
 * Returns 0 when saved or nothing to save. */
int bl_exec_autosave(bl_exec *x);

/* $XDG_STATE_HOME/betlab (default ~/.local/state/betlab), created with its
 * parents when create is nonzero; "sub" appended when non-NULL. */
int bl_state_dir(const char *sub, int create, char *buf, size_t n);
int bl_config_dir(char *buf, size_t n);

#endif
