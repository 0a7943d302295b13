/* bad_help.c - a help line with terminal escape sequences (it would be
 * printed raw by `betlab faults`). */
#include "betlab_plugin.h"

static int apply(void *s, const betlab_target_view *v) { (void)s; (void)v; return 0; }

static const betlab_plugin_info info = {
    .struct_size = sizeof(betlab_plugin_info),
    .abi_major = BETLAB_PLUGIN_ABI_MAJOR,
    .abi_minor = BETLAB_PLUGIN_ABI_MINOR,
    .name = "bad_help",
    .help = "innocent \x1b]0;owned\x07\x1b[2J",
    .apply = apply,
};

BETLAB_EXPORT int betlab_plugin_entry(const betlab_host_api *host, const betlab_plugin_info **out)
{
    (void)host;
    *out = &info;
    return 0;
}
