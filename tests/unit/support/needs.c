/* needs.c - see needs.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/needs.h"

bool needs_skip_allowed(void)
{
    const char *v = getenv("BETLAB_ALLOW_SKIP");
    return v && strcmp(v, "1") == 0;
}

void needs_fail_or_skip(const char *why)
{
    if (needs_skip_allowed()) {
        printf("skip: %s (BETLAB_ALLOW_SKIP=1)\n", why);
        skip();
    }
    fail_msg("%s (or set BETLAB_ALLOW_SKIP=1 to skip)", why);
}

void needs_fashion(void)
{
    if (access(BL_TEST_FASHION_DIR "/t10k-images-idx3-ubyte.gz", R_OK) != 0 &&
        access(BL_TEST_FASHION_DIR "/t10k-images-idx3-ubyte", R_OK) != 0)
        needs_fail_or_skip("FashionMNIST is not installed in " BL_TEST_FASHION_DIR
                           ": run make deps (package dataset-fashion-mnist)");
}
