/* strbuf.h - a growing text (or byte) buffer: append, formatted append; on
 * allocation failure oom is set and later appends do nothing, so a writer
 * checks once at the end.  The text is always NUL-terminated. */
#ifndef BL_BASE_STRBUF_H
#define BL_BASE_STRBUF_H

#include <stddef.h>

typedef struct bl_strbuf {
    char *p;       /* NULL until the first append */
    size_t len, cap;
    int oom;
} bl_strbuf;

void bl_strbuf_add(bl_strbuf *b, const void *s, size_t n);
void bl_strbuf_puts(bl_strbuf *b, const char *s);
void bl_strbuf_printf(bl_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bl_strbuf_free(bl_strbuf *b);

#endif
