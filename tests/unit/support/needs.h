/* needs.h - tests that need something outside the tree (the Debian
 * FashionMNIST files, an OpenCL device, an instruction set).  A missing
 * resource that `make deps` installs is a failure, not a silent pass:
 * needs_fail_or_skip() fails the test with the reason, or skips it (which
 * tests/run_tests.sh counts and reports) when BETLAB_ALLOW_SKIP=1. */
#ifndef BL_TEST_NEEDS_H
#define BL_TEST_NEEDS_H

#include <stdbool.h>

/* Where the dataset-fashion-mnist package puts its files (-D to try the
 * missing case). */
#ifndef BL_TEST_FASHION_DIR
#define BL_TEST_FASHION_DIR "/usr/share/datasets/fashion-mnist"
#endif

/* Whether BETLAB_ALLOW_SKIP=1 is set. */
bool needs_skip_allowed(void);
/* Fails the current cmocka test with `why` (printed), or skips it when
 * skips are allowed.  Does not return. */
void needs_fail_or_skip(const char *why);
/* Fails or skips (as above) unless the FashionMNIST test split is installed. */
void needs_fashion(void);

#endif
