/* cmd_campaign.c - `betlab campaign run|merge|status|slurm`: campaign files
 * (a Lua file returning a table) read through the Lua executor, converted
 * into a plain bl_campaign_desc; units, records, resuming, shards and merge
 * are the core's (study/campaign.h, jobs/campaign_job.h).  Signals: SIGTERM,
 * SIGHUP and SIGINT only set a flag that the runner polls between units. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "cli/cli.h"
#include "jobs/campaign_job.h"
#include "lua/executor.h"
#include "study/campaign.h"

typedef struct campaign_opts {
    const char *out, *shard, *time, *mem, *partition, *csv, *betlab;
    long threads, tasks, cpus;
    int submit, wait, json;
} campaign_opts;

#define T campaign_opts
static const cli_opt campaign_optv[] = {
    CLI_STR("out", 'o', "DIR|FILE", T, out,
            "run, slurm: the output folder (default FILE without .lua, plus .campaign); "
            "merge: write the merged result there (JSON, or CSV for *.csv)", 0),
    CLI_STR("shard", 's', "I/N", T, shard,
            "run: only the units of shard I of N (0 <= I < N), a cost-balanced partition", 0),
    CLI_INT_CORE("threads", 't', "T", T, threads,
                 "run: engine threads, 1.." CLI_STRINGIFY(BL_THREADS_MAX)
                 " (default: the file's threads, else one per CPU)", 0),
    CLI_INT("tasks", 'n', "N", 1, BL_CAMPAIGN_MAX_SHARDS, T, tasks,
            "slurm: array tasks (shards)", 0),
    CLI_STR("time", 0, "T", T, time, "slurm: time limit of each task (sbatch --time)", 0),
    CLI_STR("mem", 0, "M", T, mem, "slurm: memory of each task (sbatch --mem)", 0),
    CLI_INT("cpus", 0, "C", 1, 4096, T, cpus,
            "slurm: CPUs per task, also its engine threads (default 1)", 0),
    CLI_STR("partition", 0, "P", T, partition, "slurm: the partition (sbatch --partition)", 0),
    CLI_STR("betlab", 0, "CMD", T, betlab,
            "slurm: the betlab the tasks run (default: this program's absolute path)", 0),
    CLI_FLAG("submit", 0, T, submit,
             "slurm: submit the array and its merge job with sbatch, print the job ids", 0),
    CLI_FLAG("wait", 0, T, wait, "slurm --submit: wait until the merge job has finished", 0),
    CLI_FLAG("json", 'j', T, json, "run, merge: print the merged result as JSON", 0),
    CLI_STR("csv", 'c', "FILE", T, csv, "run, merge: also write the merged rows as CSV", 0),
    CLI_END,
};
#undef T

const cli_spec cli_spec_campaign = {
    "campaign",
    "campaigns of models x faults x BERs x repetitions: resumable, sharded, on Slurm",
    "run FILE | merge DIR... | status DIR | slurm FILE", 2, -1, 0, campaign_optv,
};

/* ---- the campaign file ---- */

typedef struct cfile {
    size_t nmodels, nfaults;
    char **model_names;
    uint64_t *train_seeds;
    char **specs;
    double **bers;
    size_t *nbers;
    char *data;
    long limit, reps, reps_per_unit, min_reps, max_reps, threads;
    double ci_width;
    uint64_t seed;
    unsigned record;
    char **plugins;
    int nplugins;
} cfile;

static void cfile_free(cfile *c)
{
    for (size_t i = 0; i < c->nmodels; i++)
        free(c->model_names[i]);
    for (size_t i = 0; i < c->nfaults; i++) {
        free(c->specs[i]);
        free(c->bers[i]);
    }
    for (int i = 0; i < c->nplugins; i++)
        free(c->plugins[i]);
    free(c->model_names);
    free(c->train_seeds);
    free(c->specs);
    free(c->bers);
    free(c->nbers);
    free(c->plugins);
    free(c->data);
    memset(c, 0, sizeof *c);
}

static int push_model(cfile *c, const char *name, uint64_t seed)
{
    char **n = realloc(c->model_names, (c->nmodels + 1) * sizeof *n);
    if (n)
        c->model_names = n;
    uint64_t *s = realloc(c->train_seeds, (c->nmodels + 1) * sizeof *s);
    if (s)
        c->train_seeds = s;
    if (!n || !s || !(n[c->nmodels] = strdup(name)))
        return -1;
    s[c->nmodels++] = seed;
    return 0;
}

/* BERs: a list text (bl_parse_ber_list) or an array of numbers. */
static int lua_bers(lua_State *L, int idx, double **out, size_t *n, bl_error *err)
{
    if (lua_type(L, idx) == LUA_TSTRING)
        return bl_parse_ber_list(lua_tostring(L, idx), out, n, err);
    if (!lua_istable(L, idx))
        return bl_error_set(err, BL_EINVAL, "bers: a list text (\"1e-4:1e-1:10\") or an array "
                            "of numbers");
    size_t k = lua_rawlen(L, idx);
    *out = malloc((k ? k : 1) * sizeof **out);
    if (!*out)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    for (size_t i = 0; i < k; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i + 1);
        int ok;
        (*out)[i] = lua_tonumberx(L, -1, &ok);
        lua_pop(L, 1);
        if (!ok)
            return bl_error_set(err, BL_EINVAL, "bers[%zu] is not a number", i + 1);
    }
    *n = k;
    return 0;
}

/* One models[] entry: "NAME" or {model = NAME, train_seed = S} or
 * {model = "runs/fc_s{seed}.bnn" | "random:SPEC", train_seeds = {...}}. */
static int lua_model(lua_State *L, cfile *c, size_t i, bl_error *err)
{
    if (lua_type(L, -1) == LUA_TSTRING)
        return push_model(c, lua_tostring(L, -1), 0) ? bl_error_set(err, BL_ENOMEM, "oom") : 0;
    if (!lua_istable(L, -1))
        return bl_error_set(err, BL_EINVAL, "models[%zu]: a name or a table", i);
    lua_getfield(L, -1, "model");
    const char *name = lua_tostring(L, -1);
    lua_pop(L, 1); /* the table keeps the string alive */
    if (!name)
        return bl_error_set(err, BL_EINVAL, "models[%zu]: no model = \"FILE|NAME|random:SPEC\"",
                            i);
    lua_getfield(L, -1, "train_seed");
    uint64_t one = (uint64_t)lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, -1, "train_seeds");
    int rc = 0;
    if (!lua_istable(L, -1)) {
        rc = push_model(c, name, one) ? bl_error_set(err, BL_ENOMEM, "oom") : 0;
    } else {
        const char *at = strstr(name, "{seed}");
        int random = strncmp(name, "random:", 7) == 0 && !strchr(name, '@');
        if (!at && !random)
            rc = bl_error_set(err, BL_EINVAL, "models[%zu]: train_seeds needs {seed} in the "
                              "model's name (\"runs/fc_s{seed}.bnn\") or random:SPEC", i);
        for (lua_Integer k = 1; !rc && k <= (lua_Integer)lua_rawlen(L, -1); k++) {
            lua_rawgeti(L, -1, k);
            uint64_t s = (uint64_t)lua_tointeger(L, -1);
            lua_pop(L, 1);
            char buf[4096];
            if (at)
                snprintf(buf, sizeof buf, "%.*s%" PRIu64 "%s", (int)(at - name), name, s, at + 6);
            else
                snprintf(buf, sizeof buf, "%s@%" PRIu64, name, s);
            rc = push_model(c, buf, s) ? bl_error_set(err, BL_ENOMEM, "oom") : 0;
        }
    }
    lua_pop(L, 1);
    return rc;
}

/* One faults[] entry: "SPEC" (the campaign's bers) or {spec = ..., bers = ...}. */
static int lua_fault(lua_State *L, cfile *c, int top_bers, size_t i, bl_error *err)
{
    size_t k = c->nfaults;
    c->specs = realloc(c->specs, (k + 1) * sizeof *c->specs);
    c->bers = realloc(c->bers, (k + 1) * sizeof *c->bers);
    c->nbers = realloc(c->nbers, (k + 1) * sizeof *c->nbers);
    if (!c->specs || !c->bers || !c->nbers)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    c->specs[k] = NULL;
    c->bers[k] = NULL;
    c->nbers[k] = 0;
    c->nfaults++;
    const char *spec = NULL;
    int bidx = top_bers;
    if (lua_type(L, -1) == LUA_TSTRING) {
        spec = lua_tostring(L, -1);
    } else if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "spec");
        spec = lua_tostring(L, -1);
        lua_pop(L, 1);
        lua_getfield(L, -1, "bers");
        if (!lua_isnil(L, -1))
            bidx = lua_gettop(L);
    }
    int rc = 0;
    if (!spec)
        rc = bl_error_set(err, BL_EINVAL, "faults[%zu]: a spec text or {spec = ..., bers = ...}",
                          i);
    else if (!(c->specs[k] = strdup(spec)))
        rc = bl_error_set(err, BL_ENOMEM, "out of memory");
    else if (!bidx || lua_isnil(L, bidx))
        rc = bl_error_set(err, BL_EINVAL, "faults[%zu] (%s): no BERs (bers = ... in the fault "
                          "or the campaign)", i, spec);
    else if ((rc = lua_bers(L, bidx, &c->bers[k], &c->nbers[k], err)))
        bl_error_prefix(err, "faults[%zu] (%s)", i, spec);
    return rc; /* lua_list resets the stack */
}

static const char *const known_keys[] = {
    "models", "data", "limit", "faults", "bers", "reps", "reps_per_unit", "ci_width",
    "min_reps", "max_reps", "seed", "record", "threads", "plugins", "name", NULL,
};

static int check_keys(lua_State *L, bl_error *err)
{
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        int ok = 0;
        for (int i = 0; k && known_keys[i]; i++)
            ok |= strcmp(k, known_keys[i]) == 0;
        if (!ok) {
            const char *near = k ? cli_suggest(k, known_keys, sizeof known_keys /
                                               sizeof *known_keys - 1) : NULL;
            int rc = bl_error_set(err, BL_EINVAL, "unknown field '%s'%s%s%s", k ? k : "?",
                                  near ? " (did you mean " : "", near ? near : "",
                                  near ? "?)" : "");
            lua_pop(L, 1);
            return rc;
        }
    }
    return 0;
}

static long field_int(lua_State *L, const char *name, long def)
{
    lua_getfield(L, -1, name);
    long v = lua_isnil(L, -1) ? def : (long)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return v;
}

static int lua_record(lua_State *L, cfile *c, bl_error *err)
{
    lua_getfield(L, -1, "record");
    int rc = 0;
    c->record = BL_CAMPAIGN_ACCURACY;
    if (lua_type(L, -1) == LUA_TSTRING) {
        lua_newtable(L);
        lua_insert(L, -2);
        lua_rawseti(L, -2, 1);
    }
    for (lua_Integer k = 1; lua_istable(L, -1) && k <= (lua_Integer)lua_rawlen(L, -1); k++) {
        lua_rawgeti(L, -1, k);
        const char *w = lua_tostring(L, -1);
        if (w && strcmp(w, "accuracy") == 0)
            ;
        else if (w && strcmp(w, "flips") == 0)
            c->record |= BL_CAMPAIGN_FLIPS;
        else if (w && strcmp(w, "margins") == 0)
            c->record |= BL_CAMPAIGN_MARGINS;
        else
            rc = bl_error_set(err, BL_EINVAL, "record: '%s' is not accuracy, flips or margins",
                              w ? w : "?");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return rc;
}

static int lua_list(lua_State *L, const char *field, cfile *c, int top_bers, bl_error *err)
{
    lua_getfield(L, -1, field);
    int rc = 0;
    if (!lua_istable(L, -1) || lua_rawlen(L, -1) == 0)
        rc = bl_error_set(err, BL_EINVAL, "%s: a non-empty array", field);
    for (lua_Integer k = 1; !rc && k <= (lua_Integer)lua_rawlen(L, -1); k++) {
        lua_rawgeti(L, -1, k);
        int top = lua_gettop(L);
        rc = field[0] == 'm' ? lua_model(L, c, (size_t)k, err)
                             : lua_fault(L, c, top_bers, (size_t)k, err);
        lua_settop(L, top - 1);
    }
    lua_pop(L, 1);
    return rc;
}

/* The table the file returns, on the top of L, into c. */
static int convert(lua_State *L, cfile *c, bl_error *err)
{
    if (!lua_istable(L, -1))
        return bl_error_set(err, BL_EINVAL, "the file must return a table (return { models = "
                            "..., faults = ..., bers = ..., reps = ... })");
    int rc = check_keys(L, err);
    if (rc)
        return rc;
    lua_getfield(L, -1, "data");
    c->data = strdup(lua_isstring(L, -1) ? lua_tostring(L, -1) : "fashion-mnist:test");
    lua_pop(L, 1);
    c->limit = field_int(L, "limit", 0);
    c->reps = field_int(L, "reps", 0);
    c->reps_per_unit = field_int(L, "reps_per_unit", 0);
    c->min_reps = field_int(L, "min_reps", 0);
    c->max_reps = field_int(L, "max_reps", 0);
    c->threads = field_int(L, "threads", 0);
    c->seed = (uint64_t)field_int(L, "seed", 1);
    lua_getfield(L, -1, "ci_width");
    c->ci_width = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!c->reps && !(c->ci_width > 0))
        c->reps = 10;
    if (c->limit < 0)
        return bl_error_set(err, BL_ERANGE, "limit %ld must be >= 0 (0: all inputs)", c->limit);
    if ((rc = lua_record(L, c, err)) || (rc = lua_list(L, "models", c, 0, err)))
        return rc;
    lua_getfield(L, -1, "bers");
    lua_insert(L, -2); /* keep bers below the campaign table */
    int top_bers = lua_isnil(L, -2) ? 0 : lua_gettop(L) - 1;
    rc = lua_list(L, "faults", c, top_bers, err);
    lua_remove(L, -2);
    if (rc)
        return rc;
    lua_getfield(L, -1, "plugins");
    for (lua_Integer k = 1; lua_istable(L, -1) && k <= (lua_Integer)lua_rawlen(L, -1); k++) {
        lua_rawgeti(L, -1, k);
        char **np = realloc(c->plugins, (size_t)(c->nplugins + 1) * sizeof *np);
        if (np && lua_isstring(L, -1)) {
            c->plugins = np;
            c->plugins[c->nplugins++] = strdup(lua_tostring(L, -1));
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return 0;
}

static int read_file(const char *path, cfile *c, bl_error *err)
{
    memset(c, 0, sizeof *c);
    bl_exec *x = bl_exec_new(NULL, NULL);
    if (!x)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    lua_State *L = bl_exec_lua(x);
    lua_pushstring(L, path);
    lua_setglobal(L, "_BETLAB_CAMPAIGN_FILE");
    int rc;
    if (bl_exec_run_string(x, "_BETLAB_CAMPAIGN = dofile(_BETLAB_CAMPAIGN_FILE)", "=campaign")) {
        rc = bl_error_set(err, BL_EINVAL, "%s: the campaign file failed (message above)", path);
    } else {
        lua_getglobal(L, "_BETLAB_CAMPAIGN");
        rc = convert(L, c, err);
        if (rc)
            bl_error_prefix(err, "%s", path);
    }
    bl_exec_free(x);
    return rc;
}

/* ---- run ---- */

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) { g_stop = sig; }
static int stop_requested(void *ctx)
{
    (void)ctx;
    return g_stop != 0;
}


static int parse_shard(const char *s, int *i, int *n)
{
    char tail;
    if (!s) {
        *i = 0;
        *n = 1;
        return 0;
    }
    return sscanf(s, "%d/%d%c", i, n, &tail) == 2 && *n >= 1 && *n <= BL_CAMPAIGN_MAX_SHARDS &&
                   *i >= 0 && *i < *n ? 0 : -1;
}

/* The default output folder: FILE without .lua, plus .campaign. */
static void default_dir(const char *file, char *buf, size_t n)
{
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    size_t k = strlen(base);
    if (k > 4 && strcmp(base + k - 4, ".lua") == 0)
        k -= 4;
    snprintf(buf, n, "%.*s.campaign", (int)k, base);
}

typedef struct loaded {
    bl_campaign_model *models;
    bl_model **m;
    bl_dataset **ds;
    bl_inputs **in;
    bl_campaign_fault *faults;
    bl_fault_registry *reg;
    size_t n;
} loaded;

static void loaded_free(loaded *l)
{
    for (size_t i = 0; i < l->n; i++) {
        bl_inputs_free(l->in ? l->in[i] : NULL);
        bl_dataset_free(l->ds ? l->ds[i] : NULL);
        bl_model_free(l->m ? l->m[i] : NULL);
    }
    free(l->models);
    free(l->m);
    free(l->ds);
    free(l->in);
    free(l->faults);
    bl_fault_registry_free(l->reg);
}

static int load_all(const cfile *c, loaded *l, bl_campaign_desc *d, bl_error *err)
{
    memset(l, 0, sizeof *l);
    l->n = c->nmodels;
    l->models = calloc(c->nmodels, sizeof *l->models);
    l->m = calloc(c->nmodels, sizeof *l->m);
    l->ds = calloc(c->nmodels, sizeof *l->ds);
    l->in = calloc(c->nmodels, sizeof *l->in);
    l->faults = calloc(c->nfaults, sizeof *l->faults);
    if (!l->models || !l->m || !l->ds || !l->in || !l->faults)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    int rc = cli_fault_registry(c->plugins, c->nplugins, &l->reg, err);
    for (size_t i = 0; !rc && i < c->nmodels; i++) {
        rc = cli_load_inputs(c->model_names[i], c->data, (size_t)c->limit, 1, &l->m[i],
                             &l->ds[i], &l->in[i], err);
        l->models[i] = (bl_campaign_model){ c->model_names[i], c->train_seeds[i], l->m[i],
                                            l->in[i] };
    }
    for (size_t f = 0; f < c->nfaults; f++)
        l->faults[f] = (bl_campaign_fault){ c->specs[f], c->bers[f], c->nbers[f] };
    *d = (bl_campaign_desc){ .models = l->models, .nmodels = c->nmodels, .data = c->data,
                             .limit = (size_t)c->limit, .faults = l->faults,
                             .nfaults = c->nfaults, .reps = (int)c->reps,
                             .reps_per_unit = (int)c->reps_per_unit, .ci_width = c->ci_width,
                             .min_reps = (int)c->min_reps, .max_reps = (int)c->max_reps,
                             .seed = c->seed, .record = c->record, .reg = l->reg };
    return rc;
}

static int print_merged(const char *const *dirs, size_t n, const campaign_opts *o,
                        const char *out, bl_error *err)
{
    bl_campaign_result *r = NULL;
    int rc = bl_campaign_merge(dirs, n, &r, err);
    if (!rc && out)
        rc = bl_campaign_save(r, out, err);
    if (!rc && o->csv)
        rc = bl_campaign_save(r, o->csv, err); /* *.csv: CSV */
    if (!rc && o->json)
        cli_print_json(bl_campaign_to_json(r));
    else if (!rc)
        bl_campaign_print_table(r, stdout);
    bl_campaign_result_free(r);
    return rc;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

static int campaign_run(const char *file, campaign_opts *o, const cli_args *a)
{
    int shard, nshards;
    if (parse_shard(o->shard, &shard, &nshards))
        return cli_usage_error("campaign", "--shard '%s': I/N with 0 <= I < N <= %d",
                               o->shard, BL_CAMPAIGN_MAX_SHARDS);
    char dirbuf[4096];
    default_dir(file, dirbuf, sizeof dirbuf);
    const char *dir = o->out ? o->out : dirbuf;
    bl_error err = { 0 };
    cfile c;
    loaded l = { 0 };
    bl_campaign_desc d;
    bl_campaign_plan *p = NULL;
    int rc = read_file(file, &c, &err);
    if (!rc)
        rc = load_all(&c, &l, &d, &err);
    if (!rc)
        rc = bl_campaign_plan_new(&d, &p, &err);
    long threads = cli_given(a, "threads") ? o->threads : c.threads;
    bl_campaign_run_opts ro = { .dir = dir, .shard = shard, .nshards = nshards,
                                .threads = (int)threads };
    bl_campaign_run_stats st = { 0 };
    int tty = isatty(2);
    if (!rc) {
        install_signals();
        rc = bl_campaign_job_run_sync(p, &ro, tty ? cli_progress_bar : NULL, NULL, stop_requested, NULL, &st,
                                      &err);
        if (tty)
            cli_progress_clear();
    }
    char shardtxt[64] = "";
    if (nshards > 1)
        snprintf(shardtxt, sizeof shardtxt, " --shard %d/%d", shard, nshards);
    if (rc == BL_ECANCELED) {
        fprintf(stderr, "betlab: campaign: stopped by signal %d: %zu of %zu units of shard %d/%d "
                "recorded in %s\nresume with: betlab campaign run %s --out %s%s\n", (int)g_stop,
                st.done_before + st.done_now, st.total, shard, nshards, dir, file, dir,
                shardtxt);
    } else if (!rc) {
        double over = st.seconds > 0 ? 100.0 * (st.seconds - st.unit_seconds) / st.seconds : 0;
        fprintf(stderr, "campaign %s: shard %d/%d: %zu units (%zu resumed, %zu run) in %.3f s, "
                "units %.3f s, machinery %.2f%%%s\n", bl_campaign_hash(p), shard, nshards,
                st.total, st.done_before, st.done_now, st.seconds, st.unit_seconds, over,
                st.torn ? "; a torn record was redone" : "");
        if (nshards == 1) {
            char out[4200];
            snprintf(out, sizeof out, "%s/result.json", dir);
            const char *dirs[1] = { dir };
            rc = print_merged(dirs, 1, o, out, &err);
        }
    }
    if (rc && rc != BL_ECANCELED)
        cli_cmd_error("campaign", "%s", err.msg);
    bl_campaign_plan_free(p);
    loaded_free(&l);
    cfile_free(&c);
    return rc ? BL_EXIT_RUNTIME : BL_EXIT_OK;
}

/* ---- status ---- */

static int campaign_status(const char *dir)
{
    bl_campaign_shard_status *s = NULL;
    size_t n = 0, total = 0;
    char hash[17];
    bl_error err = { 0 };
    if (bl_campaign_status(dir, &s, &n, &total, hash, &err)) {
        cli_cmd_error("campaign", "%s", err.msg);
        return BL_EXIT_RUNTIME;
    }
    printf("campaign %s: %zu units in %s\n", hash, total, dir);
    size_t done = 0;
    for (size_t i = 0; i < n; i++) {
        printf("shard %d/%d: %zu/%zu units done%s%s\n", s[i].shard, s[i].nshards, s[i].done,
               s[i].total, s[i].done == s[i].total ? " (complete)" : "",
               s[i].torn ? ", a torn record will be redone" : "");
        done += s[i].done;
        /* shards of the same N with no file yet */
        for (int k = 0; k < s[i].nshards; k++) {
            int seen = 0;
            for (size_t j = 0; j < n; j++)
                seen |= s[j].nshards == s[i].nshards && s[j].shard == k;
            int first = 1;
            for (size_t j = 0; j < i; j++)
                first &= s[j].nshards != s[i].nshards;
            if (!seen && first)
                printf("shard %d/%d: not started\n", k, s[i].nshards);
        }
    }
    if (!n)
        printf("no shard has started\n");
    printf("done: %zu of %zu units\n", done, total);
    free(s);
    return BL_EXIT_OK;
}

/* ---- slurm ---- */

/* 'text' with ' quoted for sh. */
static void shq(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++)
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    fputc('\'', f);
}

typedef struct slurm_ctx {
    char file[PATH_MAX], dir[PATH_MAX], exe[PATH_MAX], name[256];
    long tasks, cpus;
    const campaign_opts *o;
} slurm_ctx;

static void sbatch_common(FILE *f, const slurm_ctx *s)
{
    if (s->o->partition)
        fprintf(f, "#SBATCH --partition=%s\n", s->o->partition);
    if (s->o->time)
        fprintf(f, "#SBATCH --time=%s\n", s->o->time);
    if (s->o->mem)
        fprintf(f, "#SBATCH --mem=%s\n", s->o->mem);
}

static void write_array(FILE *f, const slurm_ctx *s)
{
    fprintf(f, "#!/bin/sh\n");
    fprintf(f, "# betlab campaign %s: %ld shards as a Slurm job array.\n", s->file, s->tasks);
    fprintf(f, "# Submit: jid=$(sbatch --parsable THIS_FILE), then the merge:\n");
    fprintf(f, "#   sbatch --dependency=afterok:$jid %s/slurm-merge.sh\n", s->dir);
    fprintf(f, "# (betlab campaign slurm ... --submit does both).  A task that is killed\n"
               "# (time limit, preemption) resumes where it stopped when run again.\n");
    fprintf(f, "#SBATCH --job-name=%s\n", s->name);
    fprintf(f, "#SBATCH --array=0-%ld\n", s->tasks - 1);
    fprintf(f, "#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=%ld\n", s->cpus);
    sbatch_common(f, s);
    fprintf(f, "#SBATCH --output=%s/slurm-%%A_%%a.out\n", s->dir);
    fprintf(f, "exec ");
    shq(f, s->exe);
    fprintf(f, " campaign run ");
    shq(f, s->file);
    fprintf(f, " --out ");
    shq(f, s->dir);
    fprintf(f, " --shard \"$SLURM_ARRAY_TASK_ID/%ld\" --threads %ld\n", s->tasks, s->cpus);
}

static void write_merge(FILE *f, const slurm_ctx *s)
{
    fprintf(f, "#!/bin/sh\n# merge the shards of betlab campaign %s (after the array)\n",
            s->file);
    fprintf(f, "#SBATCH --job-name=%s-merge\n#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=1\n",
            s->name);
    sbatch_common(f, s);
    fprintf(f, "#SBATCH --output=%s/slurm-merge-%%j.out\n", s->dir);
    fprintf(f, "exec ");
    shq(f, s->exe);
    fprintf(f, " campaign merge ");
    shq(f, s->dir);
    fprintf(f, " --out ");
    char out[PATH_MAX + 16];
    snprintf(out, sizeof out, "%s/result.json", s->dir);
    shq(f, out);
    fprintf(f, "\n");
}

static int write_script(const char *path, void (*fn)(FILE *, const slurm_ctx *),
                        const slurm_ctx *s)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fn(f, s);
    int bad = fflush(f) || fsync(fileno(f));
    bad |= fclose(f);
    chmod(path, 0755);
    return bad ? -1 : 0;
}

/* Run argv, its stdout into buf (first line).  The exit status. */
static int run_capture(char *const argv[], char *buf, size_t n)
{
    int fd[2];
    if (pipe(fd))
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execvp(argv[0], argv);
        fprintf(stderr, "betlab: campaign: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fd[1]);
    size_t k = 0;
    ssize_t r;
    while ((r = read(fd[0], buf + k, n - 1 - k)) > 0 && k + (size_t)r < n - 1)
        k += (size_t)r;
    if (r > 0)
        k += (size_t)r;
    buf[k] = 0;
    buf[strcspn(buf, ";\r\n")] = 0; /* --parsable: "id[;cluster]" */
    close(fd[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int submit(const slurm_ctx *s)
{
    char arr[PATH_MAX + 32], mer[PATH_MAX + 32], jid[128], mid[128], dep[160];
    snprintf(arr, sizeof arr, "%s/slurm-array.sh", s->dir);
    snprintf(mer, sizeof mer, "%s/slurm-merge.sh", s->dir);
    if (write_script(arr, write_array, s) || write_script(mer, write_merge, s)) {
        cli_cmd_error("campaign", "%s: cannot write the job scripts: %s", s->dir,
                      strerror(errno));
        return BL_EXIT_RUNTIME;
    }
    char *a1[] = { "sbatch", "--parsable", arr, NULL };
    int st = run_capture(a1, jid, sizeof jid);
    if (st || !*jid) {
        cli_cmd_error("campaign", "sbatch %s failed (exit %d)", arr, st);
        return BL_EXIT_RUNTIME;
    }
    printf("array job %s (%ld tasks): %s\n", jid, s->tasks, arr);
    fflush(stdout);
    snprintf(dep, sizeof dep, "--dependency=afterok:%s", jid);
    char *a2[] = { "sbatch", "--parsable", dep, s->o->wait ? "--wait" : mer, mer, NULL };
    if (!s->o->wait)
        a2[4] = NULL;
    st = run_capture(a2, mid, sizeof mid);
    if (!*mid) {
        cli_cmd_error("campaign", "sbatch %s failed (exit %d)", mer, st);
        return BL_EXIT_RUNTIME;
    }
    printf("merge job %s (after %s): %s -> %s/result.json\n", mid, jid, mer, s->dir);
    if (st) {
        cli_cmd_error("campaign", "merge job %s failed (exit %d); see %s/slurm-merge-%s.out and "
                      "betlab campaign status %s", mid, st, s->dir, mid, s->dir);
        return BL_EXIT_RUNTIME;
    }
    return BL_EXIT_OK;
}

static int campaign_slurm(const char *file, const campaign_opts *o)
{
    if (!o->tasks)
        return cli_usage_error("campaign", "slurm needs --tasks N");
    if (o->wait && !o->submit)
        return cli_usage_error("campaign", "--wait goes with --submit");
    slurm_ctx s = { .tasks = o->tasks, .cpus = o->cpus ? o->cpus : 1, .o = o };
    char dirbuf[PATH_MAX];
    default_dir(file, dirbuf, sizeof dirbuf);
    const char *dir = o->out ? o->out : dirbuf;
    if (!realpath(file, s.file)) {
        cli_cmd_error("campaign", "%s: %s", file, strerror(errno));
        return BL_EXIT_RUNTIME;
    }
    /* the log folder must exist when Slurm opens the tasks' output */
    if ((mkdir(dir, 0755) && errno != EEXIST) || !realpath(dir, s.dir)) {
        cli_cmd_error("campaign", "%s: %s", dir, strerror(errno));
        return BL_EXIT_RUNTIME;
    }
    if (o->betlab)
        snprintf(s.exe, sizeof s.exe, "%s", o->betlab);
    else if (!realpath("/proc/self/exe", s.exe))
        snprintf(s.exe, sizeof s.exe, "betlab");
    const char *base = strrchr(s.dir, '/');
    snprintf(s.name, sizeof s.name, "betlab-%s", base ? base + 1 : s.dir);
    if (o->submit)
        return submit(&s);
    write_array(stdout, &s);
    return BL_EXIT_OK;
}

int cmd_campaign(int argc, char **argv)
{
    campaign_opts o = { 0 };
    cli_args a;
    int prc = cli_parse(&cli_spec_campaign, argc, argv, &o, &a);
    if (prc)
        return cli_parse_exit(prc);
    const char *sub = a.argv[0];
    bl_evaluate_cfg pc = { .threads = (int)o.threads };
    bl_error err = { 0 };
    if (bl_evaluate_check_params(&pc, &err))
        return cli_usage_error("campaign", "%s", err.msg);
    static const char *const subs[] = { "run", "merge", "status", "slurm" };
    int k = -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(sub, subs[i]) == 0)
            k = i;
    if (k < 0) {
        const char *near = cli_suggest(sub, subs, 4);
        return cli_usage_error("campaign", "unknown subcommand '%s'%s%s%s", sub,
                               near ? "; did you mean " : " (run, merge, status, slurm)",
                               near ? near : "", near ? "?" : "");
    }
    if (k != 1 && a.argc != 2)
        return cli_usage_error("campaign", "%s takes one %s", sub, k == 2 ? "DIR" : "FILE");
    if (k != 3 && (o.tasks || o.time || o.mem || o.cpus || o.partition || o.submit || o.betlab))
        return cli_usage_error("campaign", "--tasks, --time, --mem, --cpus, --partition, "
                               "--betlab and --submit go with slurm");
    if (k != 0 && (o.shard || cli_given(&a, "threads")))
        return cli_usage_error("campaign", "--shard and --threads go with run");
    switch (k) {
    case 0:
        return campaign_run(a.argv[1], &o, &a);
    case 1: {
        if (print_merged((const char *const *)a.argv + 1, (size_t)a.argc - 1, &o, o.out, &err)) {
            cli_cmd_error("campaign", "%s", err.msg);
            return BL_EXIT_RUNTIME;
        }
        return BL_EXIT_OK;
    }
    case 2:
        return campaign_status(a.argv[1]);
    default:
        return campaign_slurm(a.argv[1], &o);
    }
}
