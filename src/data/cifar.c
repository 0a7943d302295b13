/* cifar.c - CIFAR-10 binary batches.
 *
 * A batch is a sequence of 3073-byte records: one label byte (0..9), then
 * 1024 red, 1024 green and 1024 blue bytes (32x32, row-major).  Samples are
 * stored HWC (32x32x3, u8).  A directory loads data_batch_1..5.bin. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/mem.h"
#include "data/data_internal.h"

#define REC 3073
#define PIX 1024

static int check_batch(const uint8_t *buf, size_t size, const char *what, bl_error *err)
{
    if (size == 0)
        return bl_error_set(err, BL_EFORMAT, "%s: empty file (no CIFAR-10 records)", what);
    if (size % REC != 0)
        return bl_error_set(err, BL_EFORMAT,
                            "%s: %zu bytes is not a whole number of %d-byte CIFAR-10 records: "
                            "partial record at byte %zu",
                            what, size, REC, size - size % REC);
    for (size_t r = 0; r < size / REC; r++)
        if (buf[r * REC] > 9)
            return bl_error_set(err, BL_ERANGE,
                                "%s: record %zu (byte %zu): label %u is out of range 0..9", what,
                                r, r * REC, buf[r * REC]);
    return 0;
}

/* CHW planes -> HWC rows. */
static void convert(const uint8_t *buf, size_t nrec, uint8_t *x, int32_t *y)
{
    for (size_t r = 0; r < nrec; r++) {
        const uint8_t *s = buf + r * REC;
        y[r] = s[0];
        uint8_t *d = x + r * (3 * PIX);
        for (int p = 0; p < PIX; p++) {
            d[3 * p] = s[1 + p];
            d[3 * p + 1] = s[1 + PIX + p];
            d[3 * p + 2] = s[1 + 2 * PIX + p];
        }
    }
}

int bl_cifar_from_memory(const uint8_t *buf, size_t size, const char *what, bl_dataset **out,
                         bl_error *err)
{
    *out = NULL;
    int rc = check_batch(buf, size, what, err);
    if (rc)
        return rc;
    size_t n = size / REC;
    uint8_t *x = bl_alloc(n * 3 * PIX);
    int32_t *y = malloc(n * sizeof *y);
    if (!x || !y) {
        free(x);
        free(y);
        return bl_error_set(err, BL_ENOMEM, "%s: out of memory", what);
    }
    convert(buf, n, x, y);
    return bl_dataset_create(what, BL_DT_U8, n, 32, 32, 3, x, y, out, err);
}

/* Load several batch files into one dataset. */
static int load_files(char (*paths)[4096], int nf, const char *name, size_t max_bytes,
                      bl_dataset **out, bl_error *err)
{
    uint8_t *bufs[6] = {0};
    size_t sizes[6] = {0}, total = 0;
    int rc = 0;
    for (int i = 0; i < nf && !rc; i++) {
        rc = bl_file_read(paths[i], max_bytes, &bufs[i], &sizes[i], err);
        if (!rc)
            rc = check_batch(bufs[i], sizes[i], paths[i], err);
        if (!rc && (!bl_size_add(total, sizes[i], &total) || total > max_bytes))
            rc = bl_error_set(err, BL_ERANGE, "%s: batches exceed the limit of %zu bytes",
                              paths[i], max_bytes);
    }
    if (!rc) {
        size_t n = total / REC;
        uint8_t *x = bl_alloc(n * 3 * PIX);
        int32_t *y = malloc(n * sizeof *y);
        if (!x || !y) {
            free(x);
            free(y);
            rc = bl_error_set(err, BL_ENOMEM, "%s: out of memory", name);
        } else {
            size_t at = 0;
            for (int i = 0; i < nf; i++) {
                convert(bufs[i], sizes[i] / REC, x + at * 3 * PIX, y + at);
                at += sizes[i] / REC;
            }
            for (int i = 0; i < nf; i++) {
                free(bufs[i]);
                bufs[i] = NULL;
            }
            rc = bl_dataset_create(name, BL_DT_U8, n, 32, 32, 3, x, y, out, err);
        }
    }
    for (int i = 0; i < nf; i++)
        free(bufs[i]);
    return rc;
}

static int load_dir(const char *dir, int train, const char *name, size_t max_bytes,
                    bl_dataset **out, bl_error *err)
{
    char paths[5][4096];
    int nf = train ? 5 : 1;
    for (int i = 0; i < nf; i++) {
        if (train)
            snprintf(paths[i], sizeof paths[i], "%s/data_batch_%d.bin", dir, i + 1);
        else
            snprintf(paths[i], sizeof paths[i], "%s/test_batch.bin", dir);
        if (access(paths[i], R_OK) != 0)
            return bl_error_set(err, BL_ENOTFOUND,
                                "%s: missing CIFAR-10 batch %s (a directory must hold "
                                "data_batch_1.bin .. data_batch_5.bin)",
                                name, paths[i]);
    }
    return load_files(paths, nf, name, max_bytes, out, err);
}

int bl_cifar_load(const char *path, const char *name, size_t max_bytes, bl_dataset **out,
                  bl_error *err)
{
    *out = NULL;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return load_dir(path, 1, name ? name : path, max_bytes, out, err);
    char paths[1][4096];
    snprintf(paths[0], sizeof paths[0], "%s", path);
    return load_files(paths, 1, name ? name : path, max_bytes, out, err);
}

int bl_cifar_load_named(const char *name, const char *data_dir, size_t max_bytes, bl_dataset **out,
                        bl_error *err)
{
    *out = NULL;
    const char *split = strchr(name, ':') + 1;
    int train;
    if (strcmp(split, "train") == 0)
        train = 1;
    else if (strcmp(split, "test") == 0)
        train = 0;
    else
        return bl_error_set(err, BL_ENOTFOUND,
                            "%s: unknown split \"%s\" (use cifar10:train or cifar10:test)", name,
                            split);
    char dirs[3][2048], probe[4200];
    int nd = 0;
    const char *dd = data_dir;
    if (dd && *dd) {
        snprintf(dirs[nd++], sizeof dirs[0], "%s/cifar-10-batches-bin", dd);
        snprintf(dirs[nd++], sizeof dirs[0], "%s", dd);
    }
    snprintf(dirs[nd++], sizeof dirs[0], "/usr/share/datasets/cifar-10-batches-bin");
    char canon[32];
    snprintf(canon, sizeof canon, "cifar10:%s", split);
    for (int d = 0; d < nd; d++) {
        snprintf(probe, sizeof probe, "%s/%s", dirs[d], train ? "data_batch_1.bin" : "test_batch.bin");
        if (access(probe, R_OK) == 0)
            return load_dir(dirs[d], train, canon, max_bytes, out, err);
    }
    char looked[3 * 2100];
    size_t k = 0;
    looked[0] = 0;
    for (int d = 0; d < nd; d++)
        k += (size_t)snprintf(looked + k, sizeof looked - k, "%s%s", d ? ", " : "", dirs[d]);
    return bl_error_set(err, BL_ENOTFOUND,
                        "%s: CIFAR-10 binary batches not found; looked in %s. Unpack "
                        "cifar-10-binary.tar.gz into $BETLAB_DATA (giving "
                        "$BETLAB_DATA/cifar-10-batches-bin/)",
                        name, looked);
}
