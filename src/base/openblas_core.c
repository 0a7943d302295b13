#include "base/openblas_core.h"

#include <cblas.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

#include "base/cpu.h"

void bl_openblas_fix_coretype(const char *argv0, int argc, char **argv)
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
