#include "base/paths.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"

#ifndef BL_PREFIX
#define BL_PREFIX "/usr/local"
#endif

int bl_exe_dir(char *buf, size_t bufsize)
{
    char tmp[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", tmp, sizeof tmp - 1);
    if (n <= 0)
        return BL_ENOTFOUND;
    tmp[n] = 0;
    char *slash = strrchr(tmp, '/');
    if (!slash)
        return BL_ENOTFOUND;
    *slash = 0;
    if ((size_t)snprintf(buf, bufsize, "%s", tmp) >= bufsize)
        return BL_ERANGE;
    return 0;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int bl_resource_dir(const bl_settings *s, const char *name, char *buf, size_t bufsize)
{
    char cand[PATH_MAX];
    const char *home = s ? s->home : NULL;
    if (home && *home) {
        snprintf(cand, sizeof cand, "%s/%s", home, name);
        if (is_dir(cand))
            goto found;
    }
    char exe[PATH_MAX];
    if (bl_exe_dir(exe, sizeof exe) == 0) {
        snprintf(cand, sizeof cand, "%s/%s", exe, name);
        if (is_dir(cand))
            goto found;
        /* test binaries live in build/tests/...; the source tree root (the
         * folder holding betlab's Makefile and src/main.c) is above */
        for (int up = 1; up <= 3; up++) {
            char rel[PATH_MAX] = "", marker[PATH_MAX];
            for (int i = 0; i < up; i++)
                strcat(rel, "/..");
            snprintf(cand, sizeof cand, "%s%s/%s", exe, rel, name);
            snprintf(marker, sizeof marker, "%s%s/src/main.c", exe, rel);
            char real[PATH_MAX];
            if (is_dir(cand) && access(marker, F_OK) == 0 && realpath(cand, real)) {
                snprintf(cand, sizeof cand, "%s", real);
                goto found;
            }
        }
    }
    snprintf(cand, sizeof cand, "%s/%s/betlab/%s", BL_PREFIX,
             strcmp(name, "plugins") == 0 ? "lib" : "share", name);
    if (is_dir(cand))
        goto found;
    return BL_ENOTFOUND;
found:
    if ((size_t)snprintf(buf, bufsize, "%s", cand) >= bufsize)
        return BL_ERANGE;
    return 0;
}
