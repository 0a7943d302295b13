/* env.h - the front end's hold on the process: environment variables and
 * the OpenBLAS core-type fix.
 *
 * The core never reads the environment (DESIGN.md "Architecture"); the
 * betlab binary, its Lua (run, console, the Lua in the workbench) and its
 * workbench read it here, into a bl_settings (base/settings.h) that they
 * pass down.  Variables:
 *   BETLAB_HOME          resource root (lua/, kernels/, plugins/, models/)
 *   BETLAB_DATA          folder searched first for named datasets
 *   BETLAB_SIMD          cap the SIMD level (portable, avx2, avx512)
 *   BETLAB_PLUGIN_PATH   colon-separated folders searched first for plugins
 *   BETLAB_OCL_CACHE     OpenCL binary cache folder, or "off"; else
 *                        $XDG_CACHE_HOME/betlab/kernels (absolute only), else
 *                        $HOME/.cache/betlab/kernels
 *   BETLAB_OCL_TILE, BETLAB_OCL_DIST=dot, BETLAB_OCL_BATCH
 *                        OpenCL clustering tuning overrides (benchmarks) */
#ifndef BL_CLI_ENV_H
#define BL_CLI_ENV_H

#include <stddef.h>

#include "base/settings.h"

/* Fill *s from the environment.  Strings point into the environment,
 * except the OpenCL cache folder, which is composed in buf (bufsize bytes;
 * PATH_MAX is plenty). */
void cli_settings_from_env(bl_settings *s, char *buf, size_t bufsize);

/* Apply the process-wide parts of s: the SIMD cap (bl_simd_set_limit;
 * unknown names are ignored, as ever). */
void cli_settings_apply(const bl_settings *s);

/* The settings of this process: read from the environment and applied on
 * the first call (thread-safe), the same object afterwards. */
const bl_settings *cli_settings(void);

/* OpenBLAS 0.3.21 (Debian 12) does not recognise recent Xeons and falls
 * back to its SSE3 "Prescott" kernels, about 7x slower for sgemm.  It picks
 * its kernels when the library loads, from OPENBLAS_CORETYPE, so the only
 * remedy is to set that variable and re-execute the program: when
 * OPENBLAS_CORETYPE is unset, OpenBLAS chose Prescott and the CPU has AVX2
 * (Haswell kernels) or AVX-512 (SkylakeX kernels), set it and execv
 * /proc/self/exe with argv0 (if non-NULL) followed by argv[0..argc-1].
 * Returns only when there is nothing to do or the exec failed (the program
 * then goes on with the slow kernels).  An explicit OPENBLAS_CORETYPE is
 * always respected.  Used by main.c and the benchmarks. */
void cli_openblas_fix(const char *argv0, int argc, char **argv);

/* main.c, first thing: the OpenBLAS fix for the commands that can train
 * (train; run, console and tui through bl.train; no command = the
 * workbench), then the settings. */
void cli_process_start(int argc, char **argv);

#endif
