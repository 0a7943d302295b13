/* backend_opencl.h - the OpenCL backend of exemplar clustering.
 *
 * V (converted to the chosen precision) and the minima slots stay resident
 * on the device; calls upload only candidate indices and download gains.
 * Device strings: "opencl", "opencl:P:D", "opencl:NAME" (src/ocl/ocl.h). */
#ifndef BL_CLUSTER_BACKEND_OPENCL_H
#define BL_CLUSTER_BACKEND_OPENCL_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/settings.h"
#include "cluster/cluster.h"

/* settings (may be NULL): kernels folder, binary cache and the tuning
 * overrides ocl_tile, ocl_dist_dot, ocl_batch. */
int bl_cluster_opencl_new(const char *device, const bl_cluster_data *data, bl_precision prec,
                          int nslots, const bl_settings *settings, bl_cluster_backend **out,
                          bl_error *err);

/* Extra (OpenCL only): S_slot := S_slot u {elems[0..count)} in one pass over
 * V (min over the added rows, tiled like the gains), for f of a large set. */
int bl_cluster_opencl_add_many(bl_cluster_backend *b, int slot, const uint32_t *elems,
                               size_t count, bl_error *err);

/* Extra (OpenCL only): wait for the device queue (for timing). */
int bl_cluster_opencl_finish(bl_cluster_backend *b, bl_error *err);

/* Extra: one line describing the device and the tiling chosen. */
int bl_cluster_opencl_info(const bl_cluster_backend *b, char *buf, size_t size);

#endif
