/* cmd_devices.c - `betlab devices [--json]`: OpenCL platforms and devices. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/env.h"
#include "ocl/ocl.h"

static const char *type_name(cl_device_type t)
{
    if (t & CL_DEVICE_TYPE_GPU) return "gpu";
    if (t & CL_DEVICE_TYPE_CPU) return "cpu";
    if (t & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
    return "other";
}

typedef struct devices_opts {
    int json;
} devices_opts;

static const cli_opt devices_optv[] = {
    CLI_FLAG("json", 'j', devices_opts, json,
             "print one JSON object: the devices and the kernel binary cache folder", 0),
    CLI_END,
};

const cli_spec cli_spec_devices = {
    "devices", "OpenCL platforms and devices (compute units, memory, fp16/fp64)", NULL, 0, 0, 0,
    devices_optv,
};

int cmd_devices(int argc, char **argv)
{
    devices_opts o = { 0 };
    cli_args a;
    int prc = cli_parse(&cli_spec_devices, argc, argv, &o, &a);
    if (prc)
        return cli_parse_exit(prc);
    int json = o.json;
    bl_ocl_device_info *all = NULL;
    size_t n = 0;
    bl_error err = { 0 };
    if (bl_ocl_list(&all, &n, &err)) {
        cli_cmd_error("devices", "%s", err.msg);
        return BL_EXIT_RUNTIME;
    }
    char cache[1024];
    int have_cache = bl_ocl_cache_dir(cli_settings(), cache, sizeof cache) == 0;
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; ++i) {
            const bl_ocl_device_info *d = &all[i];
            char spec[32];
            snprintf(spec, sizeof spec, "opencl:%d:%d", d->platform, d->index);
            json_array_append_new(arr, json_pack("{s:s, s:i, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:b, s:b}",
                "device", spec, "platform", d->platform, "index", d->index, "platform_name", d->platform_name,
                "name", d->name, "vendor", d->vendor, "type", type_name(d->type), "version", d->version,
                "driver", d->driver, "compute_units", (json_int_t)d->compute_units,
                "global_mem", (json_int_t)d->global_mem, "local_mem", (json_int_t)d->local_mem,
                "max_alloc", (json_int_t)d->max_alloc, "max_work_group", (json_int_t)d->max_wg,
                "fp16", d->fp16, "fp64", d->fp64));
        }
        json_t *root = json_pack("{s:o, s:s?}", "devices", arr, "kernel_cache", have_cache ? cache : NULL);
        cli_print_json(root);
    } else if (n == 0) {
        printf("no OpenCL platform or device found (install an ICD, e.g. pocl-opencl-icd)\n");
    } else {
        int last = -1;
        for (size_t i = 0; i < n; ++i) {
            const bl_ocl_device_info *d = &all[i];
            if (d->platform != last) {
                printf("platform %d: %s (%s)\n", d->platform, d->platform_name, d->platform_version);
                last = d->platform;
            }
            printf("  opencl:%d:%d  %s [%s, %s]\n", d->platform, d->index, d->name, type_name(d->type), d->vendor);
            printf("      %u compute units, %.1f GiB global (max alloc %.1f GiB), %llu KiB local, "
                   "max work-group %zu, fp16 %s, fp64 %s, driver %s\n",
                   d->compute_units, (double)d->global_mem / 1073741824.0, (double)d->max_alloc / 1073741824.0,
                   (unsigned long long)(d->local_mem >> 10), d->max_wg, d->fp16 ? "yes" : "no",
                   d->fp64 ? "yes" : "no", d->driver);
        }
        if (have_cache) printf("kernel binary cache: %s\n", cache);
    }
    free(all);
    return BL_EXIT_OK;
}
