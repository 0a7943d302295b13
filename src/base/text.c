#include "base/text.h"

#include "base/strbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Length (1..4) of the valid UTF-8 sequence at s[0], 0 when s[0] starts an
 * invalid one or is NUL.  Overlong forms, surrogates and code points past
 * U+10FFFF are invalid (as in the model loader, which uses this). */
static size_t seq_len(const uint8_t *s, size_t n, uint32_t *cpo)
{
    uint8_t c = s[0];
    size_t k;
    uint32_t cp;
    if (c == 0)
        return 0;
    if (c < 0x80) {
        *cpo = c;
        return 1;
    } else if ((c & 0xe0) == 0xc0) {
        k = 1;
        cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        k = 2;
        cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        k = 3;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n <= k)
        return 0;
    for (size_t j = 1; j <= k; j++) {
        if ((s[j] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[j] & 0x3f);
    }
    if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    *cpo = cp;
    return k + 1;
}

size_t bl_text_utf8_error_at(const void *sv, size_t n)
{
    const uint8_t *s = sv;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t k = seq_len(s + i, n - i, &cp);
        if (k == 0)
            return i;
        i += k;
    }
    return n;
}

int bl_text_valid_utf8(const void *s, size_t n) { return bl_text_utf8_error_at(s, n) == n; }

static void put_escape(bl_strbuf *b, uint8_t c)
{
    static const char hex[] = "0123456789abcdef";
    char e[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };
    if (c == '\n')
        bl_strbuf_add(b, "\\n", 2);
    else if (c == '\r')
        bl_strbuf_add(b, "\\r", 2);
    else if (c == '\t')
        bl_strbuf_add(b, "\\t", 2);
    else
        bl_strbuf_add(b, e, 4);
}

/* The shared walk: safe UTF-8 is copied (with '\\' and '"' escaped when
 * lua is set), everything else escaped byte by byte. */
static void escape_into(bl_strbuf *b, const uint8_t *s, size_t n, int lua)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp = 0;
        size_t k = seq_len(s + i, n - i, &cp);
        if (k == 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f)) {
            size_t m = k ? k : 1;
            for (size_t j = 0; j < m; j++)
                put_escape(b, s[i + j]);
            i += m;
            continue;
        }
        if (lua && (s[i] == '\\' || s[i] == '"'))
            bl_strbuf_add(b, "\\", 1);
        bl_strbuf_add(b, (const char *)s + i, k);
        i += k;
    }
}

static char *finish(bl_strbuf *b)
{
    if (!b->oom && !b->p)
        bl_strbuf_add(b, "", 0);
    if (b->oom) {
        free(b->p);
        return NULL;
    }
    return b->p;
}

char *bl_text_lua_quote(const char *s, size_t n)
{
    bl_strbuf b = { 0 };
    bl_strbuf_add(&b, "\"", 1);
    escape_into(&b, (const uint8_t *)s, n, 1);
    bl_strbuf_add(&b, "\"", 1);
    return finish(&b);
}

char *bl_text_comment_line(const char *s, size_t n)
{
    bl_strbuf b = { 0 };
    escape_into(&b, (const uint8_t *)s, n, 0);
    return finish(&b);
}

char *bl_text_terminal(const char *s, size_t n)
{
    bl_strbuf b = { 0 };
    escape_into(&b, (const uint8_t *)s, n, 0);
    return finish(&b);
}

const char *bl_text_terminal_buf(const char *s, char *buf, size_t cap)
{
    if (cap == 0)
        return buf;
    char *t = bl_text_terminal(s, strlen(s));
    if (!t) {
        buf[0] = 0;
        return buf;
    }
    size_t len = strlen(t);
    if (len >= cap) {
        /* cut before a partial UTF-8 sequence (a cut escape such as "\x1"
         * is only shorter text, never a control byte) */
        len = cap - 1;
        while (len > 0 && ((uint8_t)t[len] & 0xc0) == 0x80)
            len--;
    }
    memcpy(buf, t, len);
    buf[len] = 0;
    free(t);
    return buf;
}

char *bl_text_csv_field(const char *s, size_t n)
{
    int quote = n > 0 && (s[0] == ' ' || s[n - 1] == ' ');
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    bl_strbuf b = { 0 };
    if (!quote) {
        bl_strbuf_add(&b, s, n);
        return finish(&b);
    }
    bl_strbuf_add(&b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            bl_strbuf_add(&b, "\"", 1);
        bl_strbuf_add(&b, s + i, 1);
    }
    bl_strbuf_add(&b, "\"", 1);
    return finish(&b);
}
