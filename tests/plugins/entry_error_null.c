/* entry_error_null.c - the entry point fails with host->error(NULL, ...):
 * NULL is the host_ctx the ABI allows in entry, and the message must reach
 * the user (it was reported as "no message"). */
#include "betlab_plugin.h"

BETLAB_EXPORT int betlab_plugin_entry(const betlab_host_api *host, const betlab_plugin_info **out)
{
    *out = 0;
    host->error(0, "calibration file %s not found", "rram.cal");
    return 1;
}
