/* paths.h - where betlab's shipped files live.
 *
 * `make` leaves ./betlab runnable in place: resource folders (lua/,
 * kernels/, plugins/, models/) are looked up next to the executable first,
 * then under the install prefix ($PREFIX/share/betlab, or lib/betlab for
 * plugins).  The settings' home (BETLAB_HOME) is searched before both. */
#ifndef BL_BASE_PATHS_H
#define BL_BASE_PATHS_H

#include <stddef.h>

#include "base/settings.h"

/* Find resource folder `name` ("lua", "kernels", "plugins", "models"):
 * s->home/name first (s may be NULL), then next to the executable (or the
 * source tree above it, for test binaries), then the install prefix.
 * Writes the path into buf and returns 0, or BL_ENOTFOUND. */
int bl_resource_dir(const bl_settings *s, const char *name, char *buf, size_t bufsize);

/* Directory of the running executable (from /proc/self/exe). */
int bl_exe_dir(char *buf, size_t bufsize);

#endif
