/* settings.h - process-level settings, filled by the front end.
 *
 * The core never reads the environment (DESIGN.md "Architecture"): a front
 * end (src/cli/env.c for the betlab binary, its Lua and its workbench) reads
 * BETLAB_HOME, BETLAB_DATA, BETLAB_SIMD, BETLAB_PLUGIN_PATH, the OpenCL
 * cache and tuning variables once, fills this struct and passes it down to
 * the functions that take one.  Zero-initialised means "no overrides": the
 * built-in defaults, no binary cache for OpenCL programs.  Strings are
 * borrowed; they must outlive every call that is given the struct. */
#ifndef BL_BASE_SETTINGS_H
#define BL_BASE_SETTINGS_H

#include <stddef.h>

typedef struct bl_settings {
    const char *home;        /* resource root searched first (BETLAB_HOME)     */
    const char *data_dir;    /* named datasets searched here first (BETLAB_DATA) */
    const char *simd;        /* SIMD cap name (BETLAB_SIMD); applied by the front
                                end with bl_simd_set_limit (base/cpu.h)        */
    const char *plugin_path; /* colon-separated plugin folders searched first
                                (BETLAB_PLUGIN_PATH)                           */
    const char *ocl_cache;   /* folder of the OpenCL binary cache; NULL or "":
                                no cache (front end: BETLAB_OCL_CACHE, "off",
                                $XDG_CACHE_HOME/betlab/kernels, ~/.cache/...)   */
    const char *ocl_tile;    /* "TP,TC,TK,RP,RC" tiling tried first (BETLAB_OCL_TILE) */
    int ocl_dist_dot;        /* distances by dot products (BETLAB_OCL_DIST=dot) */
    size_t ocl_batch;        /* candidates per device call, 0: sized to the
                                device (BETLAB_OCL_BATCH)                      */
} bl_settings;

#endif
