/* json_out.h - JSON text whose numbers read back as the same doubles.
 *
 * jansson prints reals with a fixed precision: 10 digits lose bits
 * (21.57417385 for 21.574173816192665), 17 digits print noise
 * (0.10000000000000001).  bl_json_dumps prints every real in the shortest
 * form that strtod reads back to the same double (0.1, 21.574173816192665),
 * so a JSON round trip of any numeric field is bit-identical. */
#ifndef BL_BASE_JSON_OUT_H
#define BL_BASE_JSON_OUT_H

#include <stddef.h>

#include <jansson.h>

/* Shortest "%.Ng" text of v that reads back as v (N <= 17); buf >= 32. */
void bl_fmt_double(char *buf, size_t n, double v);
/* json_dumps(v, flags) with shortest round-trip reals (flags' own
 * JSON_REAL_PRECISION is ignored).  malloc'ed; NULL on failure. */
char *bl_json_dumps(const json_t *v, size_t flags);

/* A JSON string of text that may not be UTF-8 (a path, a name from a
 * file): as it is when valid, else with the bad bytes escaped ("\\xe9"),
 * never NULL-dropped as json_string would. */
json_t *bl_json_text(const char *s);

#endif
