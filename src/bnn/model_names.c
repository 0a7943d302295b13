#include "bnn/model_names.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/paths.h"

/* Anything there but a folder names a file: a FIFO or device is then
 * refused by the loader ("not a regular file"), not mistaken for a
 * shipped model's name. */
static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && !S_ISDIR(st.st_mode);
}

static int set_path(char *path_out, size_t n, const char *p)
{
    if (path_out && n)
        snprintf(path_out, n, "%s", p);
    return 0;
}

int bl_model_parse_seed(const char *arg, const char *digits, uint64_t *seed, bl_error *err)
{
    /* strtoull alone would take "-1", " 7" and "0x10" */
    int ok = *digits != 0;
    for (const char *c = digits; *c && ok; c++)
        ok = *c >= '0' && *c <= '9';
    if (ok) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(digits, &end, 10);
        ok = errno == 0 && *end == 0;
        *seed = (uint64_t)v;
    }
    if (!ok)
        return bl_error_set(err, BL_EINVAL,
                            "%s: bad seed \"%s\" after '@' (decimal digits, at most %llu)", arg,
                            digits, (unsigned long long)UINT64_MAX);
    return 0;
}

static int random_model(const char *arg, bl_model **out, bl_error *err)
{
    char spec[256];
    if ((size_t)snprintf(spec, sizeof spec, "%s", arg + 7) >= sizeof spec)
        return bl_error_set(err, BL_EINVAL, "%.40s...: architecture spec too long", arg);
    uint64_t seed = 1;
    char *at = strchr(spec, '@');
    if (at) {
        *at = 0;
        int rc = bl_model_parse_seed(arg, at + 1, &seed, err);
        if (rc)
            return rc;
    }
    if (!*spec)
        return bl_error_set(err, BL_EINVAL, "%s: no architecture after 'random:' (e.g. random:fc, "
                            "random:784-256-10@7)", arg);
    int rc = bl_model_from_spec(spec, NULL, out, err);
    if (rc)
        return bl_error_prefix(err, "%s", arg);
    bl_model_randomize(*out, seed);
    bl_model_meta_set(*out, "name", arg);
    return 0;
}

int bl_model_resolve(const char *arg, const bl_settings *s, bl_model **out, char *path_out,
                     size_t path_size, bl_error *err)
{
    *out = NULL;
    set_path(path_out, path_size, "");
    if (!arg || !*arg)
        return bl_error_set(err, BL_EINVAL, "empty model name (a .bnn file, a shipped model name, "
                            "or random:SPEC[@SEED])");
    if (strncmp(arg, "random:", 7) == 0)
        return random_model(arg, out, err);
    if (is_file(arg) || strchr(arg, '/')) {
        set_path(path_out, path_size, arg);
        return bl_model_load(arg, out, err);
    }
    /* a bare name (with or without .bnn): the shipped models */
    size_t len = strlen(arg);
    int has_ext = len > 4 && strcmp(arg + len - 4, ".bnn") == 0;
    char dir[PATH_MAX], path[PATH_MAX + 300];
    if (bl_resource_dir(s, "models", dir, sizeof dir) != 0)
        return bl_error_set(err, BL_ENOTFOUND,
                            "%s: no such model file here, and no shipped models/ folder found "
                            "(looked in BETLAB_HOME, next to the executable and the install "
                            "prefix)", arg);
    snprintf(path, sizeof path, "%s/%s%s", dir, arg, has_ext ? "" : ".bnn");
    if (is_file(path)) {
        set_path(path_out, path_size, path);
        return bl_model_load(path, out, err);
    }
    return bl_error_set(err, BL_ENOTFOUND,
                        "%s: no such model: not a file in the current folder, and no %.*s.bnn "
                        "among the shipped models in %s (built with `make models`); or use "
                        "random:SPEC[@SEED]",
                        arg, (int)(has_ext ? len - 4 : len), arg, dir);
}
