/* backend_opencl.c - first stub so the dispatcher links; the real backend follows. */
#include "cluster/backend_opencl.h"

int bl_cluster_opencl_new(const char *device, const bl_cluster_data *data, bl_precision prec,
                          int nslots, bl_cluster_backend **out, bl_error *err)
{
    (void)data; (void)prec; (void)nslots;
    if (out) *out = NULL;
    return bl_error_set(err, BL_EUNSUPPORTED, "%s: OpenCL backend not built yet", device ? device : "opencl");
}

int bl_cluster_opencl_add_many(bl_cluster_backend *b, int slot, const uint32_t *elems,
                               size_t count, bl_error *err)
{
    (void)b; (void)slot; (void)elems; (void)count;
    return bl_error_set(err, BL_EUNSUPPORTED, "OpenCL backend not built yet");
}

int bl_cluster_opencl_finish(bl_cluster_backend *b, bl_error *err)
{
    (void)b;
    return bl_error_set(err, BL_EUNSUPPORTED, "OpenCL backend not built yet");
}
