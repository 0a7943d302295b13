/* model_names.h - what a model argument means, for every front end.
 *
 * `betlab eval --model X`, `betlab info X`, the workbench's --model and Lua's
 * bl.model.load(X) all resolve X here, with one set of rules:
 *   random:SPEC[@SEED]  the architecture SPEC (bl_model_from_spec) with seeded
 *                       random weights; SEED is decimal digits that fit in
 *                       64 bits (default 1)
 *   an existing file, or anything containing '/'   a .bnn file
 *   NAME or NAME.bnn    a shipped model: models/NAME.bnn in the resource
 *                       folder (bl_resource_dir, the settings' home first) */
#ifndef BL_BNN_MODEL_NAMES_H
#define BL_BNN_MODEL_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/settings.h"
#include "bnn/model.h"

/* Resolve and load `arg`.  s may be NULL (no overrides).  path_out (may be
 * NULL) receives the file loaded, or "" for random:.  Errors name `arg`; a
 * name found nowhere lists where it looked. */
int bl_model_resolve(const char *arg, const bl_settings *s, bl_model **out, char *path_out,
                     size_t path_size, bl_error *err);

/* Parse the seed after '@' in random:SPEC@SEED: decimal digits only, at
 * most UINT64_MAX.  Returns 0 or BL_EINVAL (message names `arg`). */
int bl_model_parse_seed(const char *arg, const char *digits, uint64_t *seed, bl_error *err);

#endif
