/* console.h - `betlab console`: a readline REPL over the executor.
 * Uses readline's callback interface (rl_callback_handler_install,
 * rl_callback_read_char) from a poll loop, so that signals only set flags
 * and the same pieces fit the TUI later.  History: $XDG_STATE_HOME/betlab/
 * history.  Completion walks dotted prefixes (bl.fa<Tab> -> bl.fault). */
#ifndef BL_LUA_CONSOLE_H
#define BL_LUA_CONSOLE_H

typedef struct bl_exec bl_exec;

/* Run the console; returns the process exit status. */
int bl_console_main(int no_init);

/* Completion candidates for `text` (e.g. "bl.fa", "m:ev") in the state of
 * x: a NULL-terminated malloc'ed array of malloc'ed strings, or NULL.
 * Shared with the TUI's console pane. */
char **bl_console_complete(bl_exec *x, const char *text);

#endif
