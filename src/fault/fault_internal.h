/* fault_internal.h - private structures of the fault layer. */
#ifndef BL_FAULT_INTERNAL_H
#define BL_FAULT_INTERNAL_H

#include <stdint.h>

#include "fault/fault.h"

#define BL_FAULT_MAX_PARAMS 16

enum { KIND_BITFLIP = 1, KIND_ASYM, KIND_STUCK, KIND_PLUGIN };

typedef struct bl_fault_plugin bl_fault_plugin;

struct bl_fault_kind {
    int type;
    char name[BL_NAME_MAX];
    char *help;
    char *source;                 /* "built-in" or the plugin path   */
    size_t nparams;
    bl_fault_param params[BL_FAULT_MAX_PARAMS];
    int rate_param;               /* index, or -1                    */
    bl_fault_plugin *plugin;      /* KIND_PLUGIN                     */
};

/* One stored target of a layer, as the kinds see it. */
typedef struct fault_view {
    uint64_t *words;
    uint32_t rows, cols, wpr;
    uint32_t segs, seg_bits, seg_words;
    const uint64_t *real;         /* [wpr]: real-bit mask of each word of a row */
    int layer;                    /* model layer index (stream)      */
    const char *layer_name;
    bl_fault_target target;
} fault_view;

/* plugin.c */
struct betlab_plugin_info;
/* Every field of a plugin's info struct (plugins/betlab_plugin.h) against
 * the ABI and sane bounds; 0 or an error naming path and the field.  Reads
 * only what the struct's sizes say exists (the fuzz target feeds it). */
int bl_plugin_info_check(const char *path, const struct betlab_plugin_info *info,
                         bl_error *err);
int bl_fault_plugin_load(const char *path, bl_fault_kind **out, bl_error *err);
void bl_fault_plugin_free(bl_fault_kind *k);
int bl_fault_plugin_check(const bl_fault_kind *k, const double *v, bl_error *err);
int bl_fault_plugin_apply(const bl_fault_kind *k, const double *v, const fault_view *fv,
                          uint64_t seed, bl_error *err);

#endif
