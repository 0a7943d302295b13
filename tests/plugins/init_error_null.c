/* init_error_null.c - init fails with host->error(NULL, ...) instead of its
 * host_ctx: the message is still the plugin's. */
#include "betlab_plugin.h"

static int init(const betlab_host_api *host, void *ctx, void **state)
{
    (void)ctx;
    *state = 0;
    host->error(0, "no device table for %s", "chip-7");
    return 1;
}

static int apply(void *s, const betlab_target_view *v) { (void)s; (void)v; return 0; }

static const betlab_plugin_info info = {
    .struct_size = sizeof(betlab_plugin_info),
    .abi_major = BETLAB_PLUGIN_ABI_MAJOR,
    .abi_minor = BETLAB_PLUGIN_ABI_MINOR,
    .name = "init_error_null",
    .help = "init fails through host->error(NULL, ...)",
    .init = init,
    .apply = apply,
};

BETLAB_EXPORT int betlab_plugin_entry(const betlab_host_api *host, const betlab_plugin_info **out)
{
    (void)host;
    *out = &info;
    return 0;
}
