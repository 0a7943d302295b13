/* dataset.h - in-memory datasets and views over them.
 *
 * A dataset is n samples of one shape (h x w x c, stored HWC row-major, one
 * "row" per sample) with an optional int32 label each.  Storage is shared and
 * reference counted: subsets and index selections are views that copy
 * nothing.  Every loader validates headers and sizes before trusting them;
 * errors name the file and the byte offset (DESIGN.md "Interfaces"). */
#ifndef BL_DATA_DATASET_H
#define BL_DATA_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef enum bl_dtype {
    BL_DT_U8 = 1,
    BL_DT_I32 = 2,
    BL_DT_F32 = 3,
    BL_DT_F64 = 4,
    BL_DT_I64 = 5,
    BL_DT_BOOL = 6,
} bl_dtype;

size_t bl_dtype_size(bl_dtype t);
const char *bl_dtype_name(bl_dtype t);

typedef struct bl_dataset bl_dataset;

enum { BL_CSV_LABEL_LAST = 0, BL_CSV_LABEL_FIRST = 1, BL_CSV_LABEL_NONE = 2 };

/* Options for bl_dataset_load; zero-initialise for defaults. */
typedef struct bl_load_opts {
    const char *labels_path;  /* IDX: explicit labels file (else guessed)  */
    int csv_label;            /* CSV: BL_CSV_LABEL_LAST (default), _FIRST, _NONE */
    const char *npz_x;        /* npz: array name of features (default "x")  */
    const char *npz_y;        /* npz: array name of labels (default "y")    */
    size_t max_bytes;         /* refuse inputs above this (0 = 4 GiB)       */
    const char *data_dir;     /* named datasets: searched before the system
                                 location (the front end's BETLAB_DATA)    */
} bl_load_opts;

/* Load by name or path:
 *   fashion-mnist:train | fashion-mnist:test   (from opts->data_dir, then
 *       /usr/share/datasets/fashion-mnist; also mnist:train|test)
 *   cifar10:train | cifar10:test              (data_dir, then /usr/share/datasets)
 *   *.idx, *-ubyte, *.gz   IDX images (labels file found next to it by
 *                          replacing "images-idx3" with "labels-idx1")
 *   *.bin                  CIFAR-10 binary batch(es): data_batch_N.bin
 *   *.csv                  one sample per line, numbers; label column
 *   *.npy                  features only (first axis = samples)
 *   *.npz                  arrays x (features) and y (labels)
 * opts may be NULL. */
int bl_dataset_load(const char *name_or_path, const bl_load_opts *opts, bl_dataset **out,
                    bl_error *err);

/* Build a dataset that takes ownership of malloc'ed x (n rows of h*w*c
 * elements of dtype) and y (n labels, may be NULL).  For synthetic data. */
int bl_dataset_from_memory(const char *name, bl_dtype dtype, size_t n, uint32_t h, uint32_t w,
                           uint32_t c, void *x, int32_t *y, bl_dataset **out, bl_error *err);

/* Views: share storage, copy nothing.  Free each with bl_dataset_free. */
int bl_dataset_subset(const bl_dataset *ds, size_t start, size_t count, bl_dataset **out,
                      bl_error *err);
int bl_dataset_select(const bl_dataset *ds, const uint32_t *indices, size_t n,
                      bl_dataset **out, bl_error *err);

void bl_dataset_free(bl_dataset *ds);  /* drops one reference; NULL ok */

size_t bl_dataset_count(const bl_dataset *ds);
void bl_dataset_shape(const bl_dataset *ds, uint32_t *h, uint32_t *w, uint32_t *c);
size_t bl_dataset_features(const bl_dataset *ds);     /* h*w*c */
bl_dtype bl_dataset_dtype(const bl_dataset *ds);
int bl_dataset_has_labels(const bl_dataset *ds);
int bl_dataset_nclasses(const bl_dataset *ds);        /* max label + 1 */
const char *bl_dataset_name(const bl_dataset *ds);

/* Sample i of the view: pointer to its features (dtype, HWC), its label
 * (-1 when unlabeled).  i must be < count. */
const void *bl_dataset_row(const bl_dataset *ds, size_t i);
int32_t bl_dataset_label(const bl_dataset *ds, size_t i);
/* Sample i converted to float (raw values, no scaling). */
void bl_dataset_row_f32(const bl_dataset *ds, size_t i, float *out);

/* Smallest and largest feature value over the view (NaN-free data). */
void bl_dataset_value_range(const bl_dataset *ds, double *lo, double *hi);

#endif
