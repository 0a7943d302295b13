/* bad_init.c - init fails with a message; check rejects n > 5. */
#include "betlab_plugin.h"

static const betlab_param_decl params[] = {
    { sizeof(betlab_param_decl), BETLAB_PARAM_RATE, "p", 0, 0, 1, "rate" },
};

static int init(const betlab_host_api *host, void *ctx, void **state)
{
    (void)state;
    host->error(ctx, "no RRAM calibration table found (%d entries)", 0);
    return 1;
}

static int apply(void *s, const betlab_target_view *v) { (void)s; (void)v; return 0; }

static const betlab_plugin_info info = {
    .struct_size = sizeof(betlab_plugin_info),
    .abi_major = BETLAB_PLUGIN_ABI_MAJOR,
    .abi_minor = BETLAB_PLUGIN_ABI_MINOR,
    .name = "bad_init",
    .help = "init always fails",
    .params = params,
    .nparams = 1,
    .param_size = sizeof(betlab_param_decl),
    .init = init,
    .apply = apply,
};

BETLAB_EXPORT int betlab_plugin_entry(const betlab_host_api *host, const betlab_plugin_info **out)
{
    (void)host;
    *out = &info;
    return 0;
}
