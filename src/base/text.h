/* text.h - escaping text for the sink it goes to.
 *
 * Strings that come from data (model metadata, file names, CSV fields,
 * Lua arguments) must never be able to change the meaning of what they are
 * written into: a newline in a model name must not end a Lua comment, an
 * ESC byte must not reach a terminal, a comma must not add a CSV column.
 * Every sink betlab writes goes through one of these functions.
 *
 * The escapers share one notation for bytes that cannot appear as they are:
 * "\xNN" (two hex digits), plus "\n", "\r", "\t" for the common ones.
 * "Unsafe" bytes are the C0 controls (0x00-0x1f), DEL (0x7f), the C1
 * controls (U+0080-U+009F, which some terminals act on) and every byte of
 * an invalid UTF-8 sequence; valid UTF-8 text is kept as it is.
 *
 * Functions returning char * give a malloc'ed NUL-terminated string (free
 * with free()), NULL on allocation failure.  n is the input length in
 * bytes (embedded NULs are escaped, never cut). */
#ifndef BL_BASE_TEXT_H
#define BL_BASE_TEXT_H

#include <stddef.h>

/* 1 when s[0..n) is valid UTF-8 with no NUL byte (what betlab's loaders
 * require of metadata, names and keys), else 0. */
int bl_text_valid_utf8(const void *s, size_t n);

/* Offset of the first byte that makes s[0..n) not valid UTF-8 (or a NUL);
 * n when it is valid. */
size_t bl_text_utf8_error_at(const void *s, size_t n);

/* A Lua string literal equal to s, equivalent to string.format("%q"): in
 * double quotes, '\\' and '"' escaped, unsafe bytes as \xNN / \n / \r / \t,
 * so the literal is one line of valid UTF-8. */
char *bl_text_lua_quote(const char *s, size_t n);

/* s as the text of one comment line (Lua "--", shell "#", gnuplot "#"):
 * no newline or other unsafe byte survives (they become \xNN / \n ...), so
 * the comment cannot end early.  Backslashes are kept. */
char *bl_text_comment_line(const char *s, size_t n);

/* s as one RFC 4180 CSV field: quoted (with '"' doubled) when it contains
 * ',', '"', CR, LF or leading/trailing spaces, else as it is. */
char *bl_text_csv_field(const char *s, size_t n);

/* s made safe for a terminal: unsafe bytes shown as \x1b, \n etc.
 * (a backslash itself is kept, so ordinary Windows paths stay readable). */
char *bl_text_terminal(const char *s, size_t n);

/* As bl_text_terminal, into buf (cap bytes, always NUL-terminated when cap
 * > 0, cut at a whole escape).  Returns buf, so it fits in a printf
 * argument list: printf("%s", bl_text_terminal_buf(s, buf, sizeof buf)). */
const char *bl_text_terminal_buf(const char *s, char *buf, size_t cap);

#endif
