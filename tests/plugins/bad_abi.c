/* bad_abi.c - a plugin built for a future ABI major: must be rejected. */
#include "betlab_plugin.h"

static int apply(void *s, const betlab_target_view *v) { (void)s; (void)v; return 0; }

static const betlab_plugin_info info = {
    .struct_size = sizeof(betlab_plugin_info),
    .abi_major = BETLAB_PLUGIN_ABI_MAJOR + 1,
    .abi_minor = 3,
    .name = "bad_abi",
    .help = "wrong ABI major",
    .apply = apply,
};

BETLAB_EXPORT int betlab_plugin_entry(const betlab_host_api *host, const betlab_plugin_info **out)
{
    (void)host;
    *out = &info;
    return 0;
}
