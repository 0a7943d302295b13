#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

int bl_file_open_regular(const char *path, bl_error *err)
{
    /* O_NONBLOCK: opening a FIFO for reading would wait for a writer for
     * ever; with it the open returns at once and fstat says what it is. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return bl_error_set(err, errno == ENOENT ? BL_ENOTFOUND : BL_EIO, "%s: %s", path,
                            strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int dir = S_ISDIR(st.st_mode);
        close(fd);
        return bl_error_set(err, BL_EIO, "%s: not a regular file (%s)", path,
                            dir ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO"
                            : S_ISCHR(st.st_mode) ? "a character device" : "a special file");
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

int bl_file_check_regular(const char *path, bl_error *err)
{
    int fd = bl_file_open_regular(path, err);
    if (fd < 0)
        return fd;
    close(fd);
    return 0;
}

int bl_file_read(const char *path, size_t max_size, uint8_t **data, size_t *size, bl_error *err)
{
    *data = NULL;
    *size = 0;
    int fd = bl_file_open_regular(path, err);
    if (fd < 0)
        return fd;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return bl_error_set(err, BL_EIO, "%s: %s", path, strerror(errno));
    }
    if ((uint64_t)st.st_size > max_size) {
        close(fd);
        return bl_error_set(err, BL_ERANGE, "%s: file is %lld bytes, limit is %zu", path,
                            (long long)st.st_size, max_size);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n + 1);
    if (!buf) {
        close(fd);
        return bl_error_set(err, BL_ENOMEM, "%s: cannot allocate %zu bytes", path, n);
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : 0;
            free(buf);
            close(fd);
            return bl_error_set(err, BL_EIO, "%s: read failed at byte %zu: %s", path, got,
                                e ? strerror(e) : "file shrank while reading");
        }
        got += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    *data = buf;
    *size = n;
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Follow path through symbolic links (up to 40, as the kernel) to the name
 * the data should land at, even when the last link dangles: saving through
 * a link must replace the file it points to and keep the link. */
static int resolve_links(const char *path, char *out, size_t cap, bl_error *err)
{
    char cur[PATH_MAX];
    if (snprintf(cur, sizeof cur, "%s", path) >= (int)sizeof cur)
        return bl_error_set(err, BL_EINVAL, "%s: path too long", path);
    for (int hops = 0;; hops++) {
        struct stat st;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode))
            break;
        if (hops == 40)
            return bl_error_set(err, BL_EIO, "%s: too many levels of symbolic links", path);
        char target[PATH_MAX];
        ssize_t k = readlink(cur, target, sizeof target - 1);
        if (k < 0)
            return bl_error_set(err, BL_EIO, "%s: cannot read link: %s", path, strerror(errno));
        target[k] = 0;
        char next[PATH_MAX];
        const char *slash = strrchr(cur, '/');
        int w;
        if (target[0] == '/' || !slash)
            w = snprintf(next, sizeof next, "%s", target);
        else
            w = snprintf(next, sizeof next, "%.*s/%s", (int)(slash - cur), cur, target);
        if (w < 0 || (size_t)w >= sizeof next)
            return bl_error_set(err, BL_EINVAL, "%s: link target path too long", path);
        memcpy(cur, next, (size_t)w + 1);
    }
    if (strlen(cur) >= cap)
        return bl_error_set(err, BL_EINVAL, "%s: path too long", path);
    memcpy(out, cur, strlen(cur) + 1);
    return 0;
}

/* "-": stdout, through stdio so the bytes stay in order with what the front
 * end printed before. */
static int write_stdout(const void *data, size_t size, bl_error *err)
{
    if (fwrite(data, 1, size, stdout) != size || fflush(stdout) != 0)
        return bl_error_set(err, BL_EIO, "standard output: write failed: %s", strerror(errno));
    return 0;
}

/* Character devices and FIFOs are written in place: renaming over them
 * would replace the node (as root, /dev/full or /dev/null itself). */
static int write_in_place(const char *path, const char *shown, const void *data, size_t size,
                          bl_error *err)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return bl_error_set(err, BL_EIO, "%s: cannot open for writing: %s", shown,
                            strerror(errno));
    if (write_all(fd, data, size) != 0) {
        int e = errno;
        close(fd);
        return bl_error_set(err, BL_EIO, "%s: write failed: %s", shown,
                            e ? strerror(e) : "short write");
    }
    if (close(fd) != 0)
        return bl_error_set(err, BL_EIO, "%s: write failed: %s", shown, strerror(errno));
    return 0;
}

int bl_file_write_atomic(const char *path, const void *data, size_t size, bl_error *err)
{
    return bl_file_write_checked(path, data, size, NULL, NULL, err);
}

int bl_file_write_checked(const char *path, const void *data, size_t size, bl_file_check_fn check,
                          void *ctx, bl_error *err)
{
    size_t len = strlen(path);
    if (len == 0 || len > PATH_MAX - 16)
        return bl_error_set(err, BL_EINVAL, "bad output path '%s'", path);
    if (strcmp(path, "-") == 0)
        return write_stdout(data, size, err);
    /* stat follows every link, also /proc's (/dev/stdout -> pipe:[N]) */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))
            return write_in_place(path, path, data, size, err);
        return bl_error_set(err, BL_EINVAL, "%s: not a regular file, character device or FIFO; "
                            "not replacing it", path);
    }
    char real[PATH_MAX];
    int rc = resolve_links(path, real, sizeof real - 16, err);
    if (rc)
        return rc;
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", real);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return bl_error_set(err, BL_EIO, "%s: cannot create temporary file: %s", path,
                            strerror(errno));
    if (write_all(fd, data, size) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return bl_error_set(err, BL_EIO, "%s: write failed: %s", path, strerror(e));
    }
    /* mkstemp makes 0600 files; saved models and records are ordinary
     * user files, so give them the usual umask-filtered 0666. */
    mode_t um = umask(0);
    umask(um);
    fchmod(fd, 0666 & ~um);
    if (close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return bl_error_set(err, BL_EIO, "%s: write failed: %s", path, strerror(e));
    }
    /* what is on disk must pass the caller's check before it replaces
     * anything (a model must load again) */
    if (check && (rc = check(tmp, ctx, err)) != 0) {
        unlink(tmp);
        bl_error_prefix(err, "%s: not replaced, what would be written does not read back",
                        path);
        return rc;
    }
    if (rename(tmp, real) != 0) {
        int e = errno;
        unlink(tmp);
        return bl_error_set(err, BL_EIO, "%s: cannot replace file: %s", path, strerror(e));
    }
    /* Make the rename itself durable. */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", real);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = 0;
    else if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

int bl_file_read_maybe_gz(const char *path, size_t max_size, uint8_t **data, size_t *size,
                          bl_error *err)
{
    uint8_t *raw;
    size_t rawn;
    /* Compressed files are read whole first; bound them by max_size too. */
    int rc = bl_file_read(path, max_size, &raw, &rawn, err);
    if (rc)
        return rc;
    if (rawn < 2 || raw[0] != 0x1f || raw[1] != 0x8b) {
        *data = raw;
        *size = rawn;
        return 0;
    }
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 15 + 32) != Z_OK) {
        free(raw);
        return bl_error_set(err, BL_ENOMEM, "%s: zlib init failed", path);
    }
    size_t cap = rawn * 4 + 1024, n = 0;
    if (cap > max_size + 1)
        cap = max_size + 1;
    uint8_t *out = malloc(cap + 1);
    if (!out) {
        inflateEnd(&zs);
        free(raw);
        return bl_error_set(err, BL_ENOMEM, "%s: out of memory", path);
    }
    zs.next_in = raw;
    zs.avail_in = (uInt)(rawn > UINT_MAX ? UINT_MAX : rawn);
    int zrc = Z_OK;
    for (;;) {
        if (n == cap) {
            if (cap > max_size) {
                rc = bl_error_set(err, BL_ERANGE,
                                  "%s: decompressed size exceeds limit of %zu bytes", path,
                                  max_size);
                break;
            }
            size_t ncap = cap * 2;
            if (ncap > max_size + 1)
                ncap = max_size + 1;
            uint8_t *o2 = realloc(out, ncap + 1);
            if (!o2) {
                rc = bl_error_set(err, BL_ENOMEM, "%s: out of memory", path);
                break;
            }
            out = o2;
            cap = ncap;
        }
        size_t room = cap - n;
        zs.next_out = out + n;
        zs.avail_out = (uInt)(room > UINT_MAX ? UINT_MAX : room);
        zrc = inflate(&zs, Z_NO_FLUSH);
        n = (size_t)(zs.next_out - out);
        if (zrc == Z_STREAM_END) {
            /* gzip allows concatenated members; continue if input remains */
            if (zs.avail_in > 0 && zs.next_in[0] == 0x1f) {
                inflateReset(&zs);
                continue;
            }
            break;
        }
        if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
            rc = bl_error_set(err, BL_EFORMAT, "%s: corrupt gzip data near compressed byte %lu: %s",
                              path, (unsigned long)zs.total_in, zs.msg ? zs.msg : "inflate error");
            break;
        }
        if (zrc == Z_BUF_ERROR && zs.avail_in == 0) {
            rc = bl_error_set(err, BL_EFORMAT, "%s: truncated gzip data (%zu compressed bytes)",
                              path, rawn);
            break;
        }
    }
    inflateEnd(&zs);
    free(raw);
    if (rc) {
        free(out);
        return rc;
    }
    out[n] = 0;
    *data = out;
    *size = n;
    return 0;
}
