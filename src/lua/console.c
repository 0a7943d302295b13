/* console.c - the readline REPL of `betlab console` (see console.h). */
#include "lua/console.h"

#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "base/version.h"
#include "lua/executor.h"

#define PROMPT "> "
#define PROMPT2 ">> "
#define HISTORY_MAX 1000

/* ---- completion ---- */

static const char *const keywords[] = { "and", "break", "do", "else", "elseif", "end", "false",
                                        "for", "function", "goto", "if", "in", "local", "nil",
                                        "not", "or", "repeat", "return", "then", "true", "until",
                                        "while", NULL };

typedef struct strlist {
    char **v;
    size_t n, cap;
} strlist;

static void sl_add(strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return;
    if (l->n + 2 > l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return;
        l->v = v;
        l->cap = cap;
    }
    char *d = strdup(s);
    if (d) {
        l->v[l->n++] = d;
        l->v[l->n] = NULL;
    }
}

/* Keys of the value at the top (table fields, and its metatable's __index
 * table), that start with `part`; only functions when methods_only. */
static void collect(lua_State *L, const char *head, const char *part, int methods_only,
                    strlist *out)
{
    size_t plen = strlen(part);
    for (int pass = 0; pass < 2; pass++) {
        int t = lua_gettop(L);
        if (pass == 1) {
            if (!lua_getmetatable(L, t))
                break;
            lua_getfield(L, -1, "__index");
            lua_remove(L, -2);
            t = lua_gettop(L);
        } else
            lua_pushvalue(L, t), t = lua_gettop(L);
        if (lua_istable(L, t)) {
            lua_pushnil(L);
            while (lua_next(L, t)) {
                if (lua_type(L, -2) == LUA_TSTRING) {
                    const char *k = lua_tostring(L, -2);
                    if (strncmp(k, part, plen) == 0 && k[0] != '_' &&
                        (!methods_only || lua_isfunction(L, -1))) {
                        size_t n = strlen(head) + strlen(k) + 1;
                        char *c = malloc(n);
                        if (c) {
                            snprintf(c, n, "%s%s", head, k);
                            sl_add(out, c);
                            free(c);
                        }
                    }
                }
                lua_pop(L, 1);
            }
        }
        lua_settop(L, t - 1);
    }
}

/* Field `name` of the value at the top, without running metamethods other
 * than a table __index; replaces the top.  Returns 0 when missing. */
static int step(lua_State *L, const char *name)
{
    int t = lua_gettop(L);
    if (lua_istable(L, t)) {
        lua_pushstring(L, name);
        if (lua_rawget(L, t) != LUA_TNIL) {
            lua_replace(L, t);
            return 1;
        }
        lua_pop(L, 1);
    }
    if (lua_getmetatable(L, t)) {
        if (lua_getfield(L, -1, "__index") == LUA_TTABLE) {
            lua_pushstring(L, name);
            if (lua_rawget(L, -2) != LUA_TNIL) {
                lua_replace(L, t);
                lua_settop(L, t);
                return 1;
            }
        }
    }
    lua_settop(L, t);
    return 0;
}

char **bl_console_complete(bl_exec *x, const char *text)
{
    lua_State *L = bl_exec_lua(x);
    int top = lua_gettop(L);
    strlist out = { 0 };
    const char *sep = NULL;
    for (const char *p = text; *p; p++)
        if (*p == '.' || *p == ':')
            sep = p;
    lua_pushglobaltable(L);
    if (!sep) {
        collect(L, "", text, 0, &out);
        for (int i = 0; keywords[i]; i++)
            if (strncmp(keywords[i], text, strlen(text)) == 0)
                sl_add(&out, keywords[i]);
    } else {
        /* walk the dotted path before the last separator */
        char path[512];
        size_t hl = (size_t)(sep - text) + 1;
        if (hl < sizeof path) {
            memcpy(path, text, hl - 1);
            path[hl - 1] = 0;
            int ok = 1;
            char *save, *tok = strtok_r(path, ".:", &save);
            while (tok && ok) {
                ok = step(L, tok);
                tok = strtok_r(NULL, ".:", &save);
            }
            if (ok) {
                char head[512];
                memcpy(head, text, hl);
                head[hl] = 0;
                collect(L, head, sep + 1, *sep == ':', &out);
            }
        }
    }
    lua_settop(L, top);
    if (out.n > 1) {
        /* sort for a stable display */
        for (size_t i = 1; i < out.n; i++)
            for (size_t j = i; j > 0 && strcmp(out.v[j - 1], out.v[j]) > 0; j--) {
                char *t = out.v[j];
                out.v[j] = out.v[j - 1];
                out.v[j - 1] = t;
            }
    }
    return out.v;
}

/* ---- readline glue ---- */

static bl_exec *g_x;
static char **g_matches;
static size_t g_match_i;
static char *g_pending;   /* incomplete chunk so far */
static int g_done, g_status;
static char g_histfile[PATH_MAX];

static char *generator(const char *text, int state)
{
    (void)text;
    if (state == 0)
        g_match_i = 0;
    if (!g_matches || !g_matches[g_match_i])
        return NULL;
    return strdup(g_matches[g_match_i++]);
}

static char **attempt(const char *text, int start, int end)
{
    (void)start;
    (void)end;
    rl_attempted_completion_over = 1;   /* never fall back to file names */
    rl_completion_append_character = '\0';
    if (g_matches) {
        for (size_t i = 0; g_matches[i]; i++)
            free(g_matches[i]);
        free(g_matches);
    }
    g_matches = bl_console_complete(g_x, text);
    return rl_completion_matches(text, generator);
}

static void save_history(const char *chunk)
{
    /* one history line per chunk: newlines become spaces */
    char *h = strdup(chunk);
    if (!h)
        return;
    for (char *p = h; *p; p++)
        if (*p == '\n')
            *p = ' ';
    add_history(h);
    free(h);
    if (g_histfile[0]) {
        if (append_history(1, g_histfile) != 0) {
            FILE *f = fopen(g_histfile, "a");   /* first time: create it */
            if (f)
                fclose(f);
            append_history(1, g_histfile);
        }
        history_truncate_file(g_histfile, HISTORY_MAX);
    }
}

/* One line from the user (both the readline and the plain path). */
static void handle_line(char *line, int interactive)
{
    if (!line) {
        g_done = 1;
        return;
    }
    char *chunk;
    if (g_pending) {
        size_t n = strlen(g_pending) + strlen(line) + 2;
        chunk = malloc(n);
        if (chunk)
            snprintf(chunk, n, "%s\n%s", g_pending, line);
        free(g_pending);
        g_pending = NULL;
    } else
        chunk = strdup(line);
    if (!chunk)
        return;
    if (chunk[strspn(chunk, " \t")] == 0) {
        free(chunk);
        return;
    }
    int rc = bl_exec_repl(g_x, chunk);
    if (rc == BL_EXEC_INCOMPLETE) {
        g_pending = chunk;
        if (interactive)
            rl_set_prompt(PROMPT2);
        return;
    }
    if (interactive) {
        save_history(chunk);
        rl_set_prompt(PROMPT);
    }
    free(chunk);
    fflush(stdout);
    if (rc == BL_EXEC_HANGUP) {
        g_done = 1;
        g_status = 128 + bl_exec_term_signal();
    }
}

static void rl_handler(char *line)
{
    handle_line(line, 1);
    free(line);
}

static void console_sink(void *ctx, int stream, const char *text, size_t len)
{
    (void)ctx;
    FILE *f = stream == BL_SINK_ERR ? stderr : stdout;
    fwrite(text, 1, len, f);
    fflush(f);
}

static int interactive_loop(void)
{
    rl_catch_signals = 0;        /* SIGINT/SIGHUP only set the executor's flags */
    rl_readline_name = "betlab";
    rl_attempted_completion_function = attempt;
    rl_basic_word_break_characters = " \t\n\"\\'`@$><=;|&{(,+-*/%^~#[]";
    rl_completer_word_break_characters = rl_basic_word_break_characters;
    using_history();
    if (bl_state_dir(NULL, 1, g_histfile, sizeof g_histfile - 16) == 0) {
        strcat(g_histfile, "/history");
        read_history(g_histfile);
    } else
        g_histfile[0] = 0;
    rl_callback_handler_install(PROMPT, rl_handler);
    while (!g_done) {
        struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
        int r = poll(&pfd, 1, -1);
        if (bl_exec_safe_point(g_x) == BL_EXEC_HANGUP) {
            g_status = 128 + bl_exec_term_signal();
            break;
        }
        if (r < 0 && errno == EINTR) {
            if (bl_exec_interrupted()) {
                /* Ctrl-C at the prompt: drop the line (and a pending chunk) */
                bl_exec_clear_interrupt();
                free(g_pending);
                g_pending = NULL;
                rl_free_line_state();
                rl_callback_sigcleanup();
                rl_replace_line("", 0);
                fputs("^C\n", stdout);
                fflush(stdout);
                rl_set_prompt(PROMPT);
                rl_on_new_line();
                rl_redisplay();
            }
            continue;
        }
        if (r < 0)
            break;
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
            rl_callback_read_char();
    }
    rl_callback_handler_remove();
    if (g_status == 0)
        fputc('\n', stdout);
    return g_status;
}

static int plain_loop(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (!g_done && (n = getline(&line, &cap, stdin)) >= 0) {
        if (n > 0 && line[n - 1] == '\n')
            line[n - 1] = 0;
        handle_line(line, 0);
        if (bl_exec_safe_point(g_x) == BL_EXEC_HANGUP)
            g_status = 128 + bl_exec_term_signal(), g_done = 1;
    }
    free(line);
    return g_status;
}

int bl_console_main(int no_init)
{
    int tty = isatty(STDIN_FILENO);
    g_x = bl_exec_new(console_sink, NULL);
    if (!g_x) {
        fprintf(stderr, "betlab: cannot start Lua\n");
        return 1;
    }
    bl_exec_install_signals(g_x);
    if (tty)
        printf("betlab %s console (%s); `bl` is the betlab module; Ctrl-D exits\n",
               BETLAB_VERSION, LUA_RELEASE);
    fflush(stdout);
    if (!no_init && bl_exec_run_init(g_x) == BL_EXEC_HANGUP) {
        bl_exec_free(g_x);
        return 128 + bl_exec_term_signal();
    }
    int status = tty ? interactive_loop() : plain_loop();
    free(g_pending);
    g_pending = NULL;
    if (g_matches) {
        for (size_t i = 0; g_matches[i]; i++)
            free(g_matches[i]);
        free(g_matches);
        g_matches = NULL;
    }
    bl_exec_free(g_x);
    g_x = NULL;
    return status;
}
