/* file.h - whole-file reading and atomic saving.
 *
 * Saves are atomic (DESIGN.md): write a temporary file in the same
 * directory, fsync it, rename it over the target, fsync the directory.  A
 * crash or a full disk leaves either the old file or the new one, never a
 * torn one. */
#ifndef BL_BASE_FILE_H
#define BL_BASE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Open path for reading only if it is a regular file: a FIFO, device or
 * directory is refused at once ("not a regular file"), never waited on.
 * Returns the descriptor (blocking mode, close-on-exec) or a negative
 * BL_E* code with err filled.  Every loader reads through this (directly
 * or through bl_file_read); bl_file_check_regular is the same check for
 * readers that open the file themselves (Lua's loadfile, stdio). */
int bl_file_open_regular(const char *path, bl_error *err);
int bl_file_check_regular(const char *path, bl_error *err);

/* Read a whole file (at most max_size bytes, else BL_ERANGE).  *data is
 * malloc'ed (free with free()); a NUL is appended past *size. */
int bl_file_read(const char *path, size_t max_size, uint8_t **data, size_t *size, bl_error *err);

/* Save bytes to path without ever destroying what is there on failure:
 *   - a regular file (or a new name) is replaced atomically: temporary file
 *     in the same directory, fsync, rename, fsync of the directory;
 *   - a symbolic link is followed (also a dangling one): its target is
 *     replaced and the link stays a link;
 *   - a character device or FIFO (/dev/stdout, /dev/full, a pipe) is
 *     written in place, never renamed over, and write errors (ENOSPC) are
 *     reported;
 *   - "-" means standard output (through stdio, flushed);
 *   - anything else (directory, block device, socket) is refused. */
int bl_file_write_atomic(const char *path, const void *data, size_t size, bl_error *err);

/* Checks the temporary file (its path) before it replaces the target;
 * returns 0 or a BL_E* code with err filled. */
typedef int (*bl_file_check_fn)(const char *tmp_path, void *ctx, bl_error *err);

/* As bl_file_write_atomic, and for a regular target the written temporary
 * file must pass check (when non-NULL) before the rename: a file that would
 * not load again never replaces a good one.  Devices, FIFOs and "-" are
 * not re-read (the caller checks the bytes before writing). */
int bl_file_write_checked(const char *path, const void *data, size_t size, bl_file_check_fn check,
                          void *ctx, bl_error *err);

/* Read a file that may be gzip-compressed (detected by magic 1f 8b), via
 * zlib; plain files are returned as they are.  max_size bounds the
 * decompressed size. */
int bl_file_read_maybe_gz(const char *path, size_t max_size, uint8_t **data, size_t *size,
                          bl_error *err);

#endif
