/* npy.h - NumPy .npy arrays and .npz archives (zip of .npy, stored or
 * deflated, via zlib).  Used by the dataset loader and the model importer.
 * Supported dtypes: <f4 <f8 |u1 <i4 <i8 |b1 (little-endian, C or Fortran
 * order; Fortran arrays are transposed to C order on load). */
#ifndef BL_DATA_NPY_H
#define BL_DATA_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "data/dataset.h"

#define BL_ARRAY_MAX_DIMS 8

typedef struct bl_array {
    bl_dtype dtype;
    int ndim;
    size_t shape[BL_ARRAY_MAX_DIMS];
    size_t count;   /* product of shape (1 for a 0-d array) */
    void *data;     /* owned, C order, BL_ALIGN-aligned; free with bl_array_free */
} bl_array;

void bl_array_free(bl_array *a);

/* Parse a .npy image held in memory; `what` names it in error messages
 * (file name, or "archive.npz:member.npy"). */
int bl_npy_parse(const uint8_t *buf, size_t size, const char *what, bl_array *out,
                 bl_error *err);
int bl_npy_load(const char *path, bl_array *out, bl_error *err);

typedef struct bl_npz bl_npz;
int bl_npz_open(const char *path, bl_npz **out, bl_error *err);
void bl_npz_close(bl_npz *z);
size_t bl_npz_count(const bl_npz *z);
/* Member name without the ".npy" suffix. */
const char *bl_npz_name(const bl_npz *z, size_t i);
/* BL_ENOTFOUND when there is no such member. */
int bl_npz_get(bl_npz *z, const char *name, bl_array *out, bl_error *err);

/* Write a .npy / .npz (stored, uncompressed, with CRC) atomically: for
 * tests, fixtures and exporting results. */
int bl_npy_save(const char *path, const bl_array *a, bl_error *err);
int bl_npz_save(const char *path, size_t n, const char *const *names, const bl_array *arrays,
                bl_error *err);

#endif
