/* data_files.c - see data_files.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "support/data_files.h"

char tdir[256];
static char pbuf[8][512];
static int pslot;

const char *P(const char *name)
{
    char *s = pbuf[pslot++ & 7];
    snprintf(s, 512, "%s/%s", tdir, name);
    return s;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

int setup_dir(void **state)
{
    (void)state;
    snprintf(tdir, sizeof tdir, "/tmp/bl_test_data_XXXXXX");
    return mkdtemp(tdir) ? 0 : -1;
}

int teardown_dir(void **state)
{
    (void)state;
    return nftw(tdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

const char *write_file(const char *name, const void *data, size_t n)
{
    const char *p = P(name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    if (n)
        assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
    return p;
}

const char *write_gz(const char *name, const void *data, size_t n)
{
    const char *p = P(name);
    gzFile g = gzopen(p, "wb");
    assert_non_null(g);
    if (n)
        assert_int_equal(gzwrite(g, data, (unsigned)n), (int)n);
    gzclose(g);
    return p;
}

bl_dataset *load_ok(const char *path, const bl_load_opts *o)
{
    bl_error e = {0};
    bl_dataset *d = NULL;
    int rc = bl_dataset_load(path, o, &d, &e);
    if (rc)
        fail_msg("%s: %d %s", path, rc, e.msg);
    return d;
}
