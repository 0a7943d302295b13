/* nan_range.c - a parameter whose maximum is NaN. */
#include <math.h>

#include "betlab_plugin.h"

static const betlab_param_decl params[] = {
    { sizeof(betlab_param_decl), BETLAB_PARAM_RATE, "p", 0.5, 0, NAN, "rate" },
};

static int apply(void *s, const betlab_target_view *v) { (void)s; (void)v; return 0; }

static const betlab_plugin_info info = {
    .struct_size = sizeof(betlab_plugin_info),
    .abi_major = BETLAB_PLUGIN_ABI_MAJOR,
    .abi_minor = BETLAB_PLUGIN_ABI_MINOR,
    .name = "nan_range",
    .help = "a NaN bound",
    .params = params,
    .nparams = 1,
    .param_size = sizeof(betlab_param_decl),
    .apply = apply,
};

BETLAB_EXPORT int betlab_plugin_entry(const betlab_host_api *host, const betlab_plugin_info **out)
{
    (void)host;
    *out = &info;
    return 0;
}
