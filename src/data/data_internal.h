/* data_internal.h - private interfaces between the dataset loaders.
 *
 * The in-memory parsers here are what the file loaders call after reading
 * a file; the fuzz targets (tests/fuzz/fuzz_*.c) call them directly.  Every
 * `what` names the input in error messages (a path, or "a.npz:x.npy"). */
#ifndef BL_DATA_INTERNAL_H
#define BL_DATA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "data/dataset.h"
#include "data/npy.h"

#define BL_DATA_DEFAULT_MAX_BYTES ((size_t)4 << 30)

static inline size_t bl_data_max_bytes(const bl_load_opts *o)
{
    return (o && o->max_bytes) ? o->max_bytes : BL_DATA_DEFAULT_MAX_BYTES;
}

/* Like bl_dataset_from_memory, but x was allocated with malloc/bl_alloc
 * (both freed with free()) and may be any supported dtype; n may be 0 only
 * when the caller says so (never for loaders).  x and y are freed on
 * failure. */
int bl_dataset_create(const char *name, bl_dtype dtype, size_t n, uint32_t h, uint32_t w,
                      uint32_t c, void *x, int32_t *y, bl_dataset **out, bl_error *err);

/* IDX: images (and optionally labels, lab may be NULL) held in memory. */
int bl_idx_from_memory(const uint8_t *img, size_t isize, const char *iwhat, const uint8_t *lab,
                       size_t lsize, const char *lwhat, const char *name, bl_dataset **out,
                       bl_error *err);
int bl_idx_load(const char *path, const char *labels_path, int labels_required,
                const char *name, size_t max_bytes, bl_dataset **out, bl_error *err);

/* CIFAR-10 binary batch held in memory. */
int bl_cifar_from_memory(const uint8_t *buf, size_t size, const char *what, bl_dataset **out,
                         bl_error *err);
int bl_cifar_load(const char *path, const char *name, size_t max_bytes, bl_dataset **out,
                  bl_error *err);
/* "cifar10:train" / "cifar10:test", from data_dir (may be NULL) first. */
int bl_cifar_load_named(const char *name, const char *data_dir, size_t max_bytes, bl_dataset **out,
                        bl_error *err);

int bl_csv_load(const char *path, int label_mode, size_t max_bytes, bl_dataset **out,
                bl_error *err);
int bl_npy_load_max(const char *path, size_t max_bytes, bl_array *out, bl_error *err);
int bl_npy_dataset(const char *path, size_t max_bytes, bl_dataset **out, bl_error *err);

/* CSV text held in memory (need not be NUL-terminated). */
int bl_csv_from_memory(const uint8_t *buf, size_t size, const char *what, int label_mode,
                       bl_dataset **out, bl_error *err);

/* npz archive from a malloc'ed buffer; takes ownership of buf (also on
 * failure). */
int bl_npz_open_buffer(uint8_t *buf, size_t size, const char *what, size_t max_bytes,
                       bl_npz **out, bl_error *err);

/* Dataset from arrays (npy/npz): takes x->data (and y's values are
 * converted); x and y are freed/reset in all cases. */
int bl_dataset_from_arrays(const char *name, const char *xwhat, bl_array *x, const char *ywhat,
                           bl_array *y, bl_dataset **out, bl_error *err);
int bl_npz_dataset(const char *path, const bl_load_opts *opts, bl_dataset **out, bl_error *err);

/* fashion-mnist:train|test, mnist:train|test, from data_dir (may be NULL)
 * first. */
int bl_named_idx_load(const char *name, const char *data_dir, size_t max_bytes, bl_dataset **out,
                      bl_error *err);

#endif
