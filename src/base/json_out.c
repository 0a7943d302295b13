/* json_out.c - shortest round-trip reals in JSON text (json_out.h). */
#include "base/json_out.h"

#include "base/text.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bl_fmt_double(char *buf, size_t n, double v)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* A number token that is a real (has '.', 'e' or 'E'), as jansson wrote it
 * with 17 digits: rewrite it in its shortest form.  Integers and strings
 * are copied as they are. */
char *bl_json_dumps(const json_t *v, size_t flags)
{
    flags &= ~(size_t)JSON_REAL_PRECISION(31);
    char *s = json_dumps(v, flags | JSON_REAL_PRECISION(17));
    if (!s)
        return NULL;
    size_t len = strlen(s);
    char *out = malloc(len + 1); /* shortest forms are never longer */
    if (!out) {
        free(s);
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        char c = s[i];
        if (c == '"') { /* a string: copy through its closing quote */
            out[o++] = s[i++];
            while (i < len && s[i] != '"') {
                if (s[i] == '\\' && i + 1 < len)
                    out[o++] = s[i++];
                out[o++] = s[i++];
            }
            if (i < len)
                out[o++] = s[i++];
        } else if (c == '-' || isdigit((unsigned char)c)) {
            size_t j = i + 1;
            int real = 0;
            while (j < len && (isdigit((unsigned char)s[j]) || strchr(".eE+-", s[j]))) {
                real |= s[j] == '.' || s[j] == 'e' || s[j] == 'E';
                j++;
            }
            char tok[64];
            if (real && j - i < sizeof tok) {
                memcpy(tok, s + i, j - i);
                tok[j - i] = 0;
                char sh[40];
                bl_fmt_double(sh, sizeof sh, strtod(tok, NULL));
                /* keep it a real for readers that care (1 -> 1.0) */
                if (!strpbrk(sh, ".eEni"))
                    strcat(sh, ".0");
                size_t k = strlen(sh);
                if (k <= j - i) {
                    memcpy(out + o, sh, k);
                    o += k;
                    i = j;
                    continue;
                }
            }
            memcpy(out + o, s + i, j - i);
            o += j - i;
            i = j;
        } else {
            out[o++] = s[i++];
        }
    }
    out[o] = 0;
    free(s);
    return out;
}

json_t *bl_json_text(const char *s)
{
    if (!s)
        return json_null();
    if (bl_text_valid_utf8(s, strlen(s)))
        return json_string(s);
    char *t = bl_text_terminal(s, strlen(s));
    json_t *j = t ? json_string(t) : NULL;
    free(t);
    return j ? j : json_null();
}
