/* progress.c - formatted progress reports (progress.h). */
#include "base/progress.h"

#include <stdarg.h>
#include <stdio.h>

void bl_progress_say(bl_progress_fn fn, void *ctx, double fraction, const char *fmt, ...)
{
    if (!fn)
        return;
    char buf[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fn(ctx, fraction, buf);
}
