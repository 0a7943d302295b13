/* ocl.h - betlab's OpenCL layer: discovery, selection, program builds.
 *
 * Device strings (shared by every OpenCL user, DESIGN.md / issue 7):
 *   "opencl"        the first device of the first platform
 *   "opencl:P:D"    platform P, device D (0-based, as `betlab devices` lists them)
 *   "opencl:P"      platform P, device 0
 *   "opencl:NAME"   first device whose name, vendor or platform name/vendor
 *                   contains NAME (case-insensitive), e.g. "opencl:nvidia"
 * Programs are built from kernels/NAME.cl (bl_resource_dir("kernels"), with
 * the settings' home first) and the device binaries cached in the settings'
 * ocl_cache folder (the front end's choice: $XDG_CACHE_HOME/betlab/kernels,
 * ~/.cache/betlab/kernels, or BETLAB_OCL_CACHE; none: no cache).
 * The cache key covers device name, driver version, platform version,
 * source text and build options; entries carry the full key and a checksum
 * and are written atomically; a bad entry is rebuilt and overwritten. */
#ifndef BL_OCL_OCL_H
#define BL_OCL_OCL_H

#include <stddef.h>
#include <stdint.h>

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 300
#endif
#include <CL/cl.h>

#include "base/error.h"
#include "base/settings.h"

typedef struct bl_ocl_device_info {
    int platform, index;              /* as in "opencl:P:D"                  */
    cl_platform_id platform_id;
    cl_device_id id;
    char platform_name[128], platform_vendor[128], platform_version[128];
    char name[128], vendor[128], version[128], driver[128];
    cl_device_type type;
    unsigned compute_units;
    uint64_t global_mem, local_mem, max_alloc;
    size_t max_wg;
    int fp16, fp64;                   /* cl_khr_fp16 / cl_khr_fp64 (or fp64 config) */
} bl_ocl_device_info;

/* Name of a CL error code ("CL_OUT_OF_RESOURCES"); "CL_UNKNOWN_ERROR(-n)"-style
 * text for unknown codes (in a static per-thread buffer). */
const char *bl_ocl_strerror(cl_int code);

/* Fill err with "what: CL_NAME (code)" and return BL_EIO (BL_ENOMEM for the
 * out-of-memory codes). */
int bl_ocl_error(bl_error *err, cl_int code, const char *what);

/* Every device of every platform.  *out is malloc'ed (free()); zero devices
 * is not an error (count 0). */
int bl_ocl_list(bl_ocl_device_info **out, size_t *count, bl_error *err);

/* Parse a device string and find the device.  Bad strings and unmatched
 * names fail with BL_EINVAL / BL_ENOTFOUND and a message naming the string. */
int bl_ocl_select(const char *spec, bl_ocl_device_info *out, bl_error *err);

/* A device with a context and an in-order queue (profiling enabled). */
typedef struct bl_ocl {
    bl_ocl_device_info info;
    cl_context ctx;
    cl_command_queue queue;
    char *home;       /* copies of the settings given to bl_ocl_open (or NULL) */
    char *cache_dir;
} bl_ocl;

/* Open the device `spec`.  s (may be NULL: no overrides, no binary cache)
 * gives the resource home and the cache folder; bl_ocl keeps copies. */
int bl_ocl_open(const char *spec, const bl_settings *s, bl_ocl **out, bl_error *err);
void bl_ocl_close(bl_ocl *o);

enum { BL_OCL_CACHE_OFF = 0, BL_OCL_CACHE_MISS = 1, BL_OCL_CACHE_HIT = 2, BL_OCL_CACHE_CORRUPT = 3 };

/* Directory of the binary cache under settings s (no trailing slash);
 * BL_ENOTFOUND when s has none (s may be NULL). */
int bl_ocl_cache_dir(const bl_settings *s, char *buf, size_t size);

/* Build the program in file `path` (absolute, or a name looked up in the
 * kernels resource folder, e.g. "exemplar.cl") with `options`.  On build
 * failure the error message ends with the build log.  cache_state (may be
 * NULL) receives BL_OCL_CACHE_*. */
int bl_ocl_build(bl_ocl *o, const char *path, const char *options, cl_program *out,
                 int *cache_state, bl_error *err);

/* Path of the cache entry for (device, source text, options). */
int bl_ocl_cache_path(const bl_ocl *o, const char *src, size_t src_len, const char *options,
                      char *buf, size_t size);

#endif
