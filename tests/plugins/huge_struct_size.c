/* huge_struct_size.c - betlab_plugin_info.struct_size = 1 MiB: no ABI 1.x
 * header makes a struct that large. */
#include "betlab_plugin.h"

static int apply(void *s, const betlab_target_view *v) { (void)s; (void)v; return 0; }

static const betlab_plugin_info info = {
    .struct_size = 1u << 20,
    .abi_major = BETLAB_PLUGIN_ABI_MAJOR,
    .abi_minor = BETLAB_PLUGIN_ABI_MINOR,
    .name = "huge_struct_size",
    .help = "claims a 1 MiB info struct",
    .apply = apply,
};

BETLAB_EXPORT int betlab_plugin_entry(const betlab_host_api *host, const betlab_plugin_info **out)
{
    (void)host;
    *out = &info;
    return 0;
}
