/* data_files.h - shared helpers of the dataset tests: a temporary folder
 * per test group, writing plain and gzipped files into it, and loading with
 * expected success or failure. */
#ifndef BL_TEST_DATA_FILES_H
#define BL_TEST_DATA_FILES_H

#include <stddef.h>

#include "data/dataset.h"

extern char tdir[256];

/* Path of `name` inside the test folder (8 rotating buffers). */
const char *P(const char *name);
/* cmocka group setup/teardown: create and remove the test folder. */
int setup_dir(void **state);
int teardown_dir(void **state);
/* Write a file (plain or gzip) into the folder; returns its path. */
const char *write_file(const char *name, const void *data, size_t n);
const char *write_gz(const char *name, const void *data, size_t n);
/* Load a dataset that must load. */
bl_dataset *load_ok(const char *path, const bl_load_opts *o);

/* Load expecting failure with code; the message must name `needle`. */
#define EXPECT_FAIL(path, opts, code, needle)                                         \
    do {                                                                              \
        bl_error e_ = {0};                                                            \
        bl_dataset *d_ = (bl_dataset *)1;                                             \
        int rc_ = bl_dataset_load((path), (opts), &d_, &e_);                           \
        if (rc_ != (code))                                                            \
            fail_msg("%s: expected %d, got %d (%s)", (path), (code), rc_, e_.msg);   \
        assert_null(d_);                                                              \
        if (!strstr(e_.msg, (needle)))                                                \
            fail_msg("message \"%s\" lacks \"%s\"", e_.msg, (needle));               \
    } while (0)

#endif
