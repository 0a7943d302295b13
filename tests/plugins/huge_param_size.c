/* huge_param_size.c - param_size = 1 << 30: a stride that would make the
 * host read far beyond the declarations (it crashed `betlab faults`). */
#include "betlab_plugin.h"

static const betlab_param_decl params[] = {
    { sizeof(betlab_param_decl), BETLAB_PARAM_RATE, "p", 0.01, 0, 1, "rate" },
    { sizeof(betlab_param_decl), 0, "q", 0, 0, 1, "second" },
};

static int apply(void *s, const betlab_target_view *v) { (void)s; (void)v; return 0; }

static const betlab_plugin_info info = {
    .struct_size = sizeof(betlab_plugin_info),
    .abi_major = BETLAB_PLUGIN_ABI_MAJOR,
    .abi_minor = BETLAB_PLUGIN_ABI_MINOR,
    .name = "huge_param_size",
    .help = "declares a parameter stride of 1 GiB",
    .params = params,
    .nparams = 2,
    .param_size = 1u << 30,
    .apply = apply,
};

BETLAB_EXPORT int betlab_plugin_entry(const betlab_host_api *host, const betlab_plugin_info **out)
{
    (void)host;
    *out = &info;
    return 0;
}
