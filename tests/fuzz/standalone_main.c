/* standalone_main.c - replay a fuzz target's corpus without libFuzzer.
 *
 * Linked with a tests/fuzz/fuzz_*.c file by `make test`: every file under
 * the given directories (or the given files) is passed once to
 * LLVMFuzzerTestOneInput.  Under `make asan` this turns every input the
 * fuzzer ever kept into a sanitizer-checked regression test.  A missing or
 * empty corpus folder fails the run. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    uint8_t *buf;
    size_t n;
    if (bl_file_read(path, (size_t)64 << 20, &buf, &n, NULL) != 0) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

/* Replays every file of folder `dir`; returns how many, or -1 when the
 * folder cannot be read. */
static int run_dir(const char *dir, int *bad)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "cannot open corpus folder %s\n", dir);
        return -1;
    }
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        *bad |= run_file(p);
        files++;
    }
    closedir(d);
    return files;
}

int main(int argc, char **argv)
{
    int files = 0, bad = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR|FILE...\n", argv[0]);
        return 2;
    }
    /* The empty input is always interesting. */
    LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
    for (int i = 1; i < argc; i++) {
        /* A missing or empty corpus is a failure: replaying only the empty
         * input would pass while testing nothing (a renamed target, a
         * corpus folder lost in a move). */
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "FAIL: no corpus at %s (every fuzz target needs tests/fuzz/corpus/<target>/)\n",
                    argv[i]);
            bad = 1;
        } else if (!S_ISDIR(st.st_mode)) {
            bad |= run_file(argv[i]);
            files++;
        } else {
            int n = run_dir(argv[i], &bad);
            if (n <= 0) {
                if (n == 0)
                    fprintf(stderr, "FAIL: corpus folder %s has no inputs\n", argv[i]);
                bad = 1;
            } else {
                files += n;
            }
        }
    }
    printf("replayed %d inputs\n", files);
    return bad;
}
