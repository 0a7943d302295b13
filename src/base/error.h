/* error.h - error codes and the error record every core function fills.
 *
 * Convention (DESIGN.md "Interfaces"): functions return 0 on success or a
 * negative BL_E* code, and describe the failure in a caller-provided
 * bl_error (which may be NULL when the caller does not care).  The message
 * carries context: file, byte offset, layer.  Nothing in the core prints.
 */
#ifndef BL_BASE_ERROR_H
#define BL_BASE_ERROR_H

#include <stddef.h>

enum {
    BL_OK = 0,
    BL_EIO = -1,          /* open/read/write/fsync/rename failed            */
    BL_EFORMAT = -2,      /* malformed file: bad magic, truncated, bad size */
    BL_ENOMEM = -3,       /* allocation failed                              */
    BL_EINVAL = -4,       /* bad argument from the caller                   */
    BL_ERANGE = -5,       /* size or value out of range / would overflow    */
    BL_ECHECKSUM = -6,    /* CRC mismatch                                   */
    BL_ECANCELED = -7,    /* job cancelled                                  */
    BL_EUNSUPPORTED = -8, /* valid but not supported (dtype, version...)    */
    BL_ENOTFOUND = -9,    /* named thing (file, dataset, array) not found   */
};

#define BL_ERROR_MSG_MAX 512

typedef struct bl_error {
    int code;                       /* last BL_E* code, 0 when none       */
    char msg[BL_ERROR_MSG_MAX];     /* one line, no trailing newline      */
} bl_error;

/* Fill err (if non-NULL) with code and a printf-style message; returns code
 * so callers can write `return bl_error_set(err, BL_EFORMAT, "...")`. */
int bl_error_set(bl_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix the existing message with more context ("loading x.bnn: ..."). */
int bl_error_prefix(bl_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void bl_error_clear(bl_error *err);

/* Short generic description of a code ("malformed input", ...). */
const char *bl_strerror(int code);

#endif
