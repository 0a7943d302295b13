#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int bl_error_set(bl_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int bl_error_prefix(bl_error *err, const char *fmt, ...)
{
    if (!err)
        return 0;
    char prefix[BL_ERROR_MSG_MAX], old[BL_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t n = strlen(prefix);
    if (n > sizeof err->msg - 3)
        n = sizeof err->msg - 3;
    memcpy(err->msg, prefix, n);
    memcpy(err->msg + n, ": ", 2);
    size_t room = sizeof err->msg - n - 3;
    size_t m = strnlen(old, room);
    memcpy(err->msg + n + 2, old, m);
    err->msg[n + 2 + m] = '\0';
    return err->code;
}

void bl_error_clear(bl_error *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

const char *bl_strerror(int code)
{
    switch (code) {
    case BL_OK: return "success";
    case BL_EIO: return "input/output error";
    case BL_EFORMAT: return "malformed input";
    case BL_ENOMEM: return "out of memory";
    case BL_EINVAL: return "invalid argument";
    case BL_ERANGE: return "value out of range";
    case BL_ECHECKSUM: return "checksum mismatch";
    case BL_ECANCELED: return "cancelled";
    case BL_EUNSUPPORTED: return "unsupported";
    case BL_ENOTFOUND: return "not found";
    default: return "unknown error";
    }
}
