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

/* Read a whole file (at most max_size bytes, else BL_ERANGE).  *data is
 * malloc'ed (free with free()); a NUL is appended past *size. */
int bl_file_read(const char *path, size_t max_size, uint8_t **data, size_t *size, bl_error *err);

/* Atomically replace path with the given bytes. */
int bl_file_write_atomic(const char *path, const void *data, size_t size, bl_error *err);

/* Read a file that may be gzip-compressed (detected by magic 1f 8b), via
 * zlib; plain files are returned as they are.  max_size bounds the
 * decompressed size. */
int bl_file_read_maybe_gz(const char *path, size_t max_size, uint8_t **data, size_t *size,
                          bl_error *err);

#endif
