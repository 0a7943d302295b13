#include "cli/env.h"

#include <cblas.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/cpu.h"

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* BETLAB_OCL_CACHE ("off": none), else $XDG_CACHE_HOME/betlab/kernels when
 * XDG_CACHE_HOME is absolute (the XDG rule), else ~/.cache/betlab/kernels. */
static const char *ocl_cache_dir(char *buf, size_t n)
{
    const char *o = env("BETLAB_OCL_CACHE");
    if (o)
        return strcmp(o, "off") == 0 ? NULL : o;
    const char *x = env("XDG_CACHE_HOME"), *h = env("HOME");
    int w;
    if (x && *x == '/')
        w = snprintf(buf, n, "%s/betlab/kernels", x);
    else if (h)
        w = snprintf(buf, n, "%s/.cache/betlab/kernels", h);
    else
        return NULL;
    return w >= 0 && (size_t)w < n ? buf : NULL;
}

void cli_settings_from_env(bl_settings *s, char *buf, size_t bufsize)
{
    memset(s, 0, sizeof *s);
    s->home = env("BETLAB_HOME");
    s->data_dir = env("BETLAB_DATA");
    s->simd = env("BETLAB_SIMD");
    s->plugin_path = env("BETLAB_PLUGIN_PATH");
    s->ocl_cache = ocl_cache_dir(buf, bufsize);
    s->ocl_tile = env("BETLAB_OCL_TILE");
    const char *dist = env("BETLAB_OCL_DIST");
    s->ocl_dist_dot = dist && strcmp(dist, "dot") == 0;
    const char *batch = env("BETLAB_OCL_BATCH");
    if (batch && atoi(batch) > 0)
        s->ocl_batch = (size_t)atoi(batch);
}

void cli_settings_apply(const bl_settings *s)
{
    int level = s->simd ? bl_simd_parse(s->simd) : -1;
    bl_simd_set_limit(level >= 0 ? level : BL_SIMD_COUNT);
}

static bl_settings process_settings;
static char process_cache_dir[PATH_MAX];
static pthread_once_t process_once = PTHREAD_ONCE_INIT;

static void read_process_settings(void)
{
    cli_settings_from_env(&process_settings, process_cache_dir, sizeof process_cache_dir);
    cli_settings_apply(&process_settings);
}

const bl_settings *cli_settings(void)
{
    pthread_once(&process_once, read_process_settings);
    return &process_settings;
}

void cli_openblas_fix(const char *argv0, int argc, char **argv)
{
    if (getenv("OPENBLAS_CORETYPE"))
        return;
    const char *core = openblas_get_corename();
    if (!core || strcasecmp(core, "prescott") != 0)
        return;
    bl_simd s = bl_simd_supported();
    if (s < BL_SIMD_AVX2)
        return;
    setenv("OPENBLAS_CORETYPE", s == BL_SIMD_AVX512 ? "SkylakeX" : "Haswell", 1);
    char **nargv = calloc((size_t)argc + 2, sizeof *nargv);
    if (!nargv)
        return;
    int k = 0;
    if (argv0)
        nargv[k++] = (char *)argv0;
    for (int i = 0; i < argc; i++)
        nargv[k++] = argv[i];
    execv("/proc/self/exe", nargv);
    free(nargv); /* exec failed */
}

void cli_process_start(int argc, char **argv)
{
    static const char *const trains[] = { "train", "run", "console", "tui" };
    int fix = argc < 2; /* no command: the workbench */
    for (size_t i = 0; i < sizeof trains / sizeof *trains && !fix; i++)
        fix = strcmp(argv[1], trains[i]) == 0;
    if (fix)
        cli_openblas_fix(NULL, argc, argv);
    (void)cli_settings();
}
