/* fault.h - fault models, coupled fault maps, and applying faults to a model.
 *
 * DESIGN.md "Fault models".  Faults act on the stored bits of a model: the
 * packed weight words (default), the thresholds (the 32-bit two's-complement
 * tau of each THRESH channel), or the binary activations produced at
 * inference time.  Each (layer, target) pair gets its own rule.
 *
 * Coupling: for a seed, every stored bit b of (layer, target) has one
 * uniform u_b, a pure function of (seed, layer, target, b) (src/base/rng.h,
 * purpose BL_RNG_FAULT).  A bit is faulty at rate p iff u_b < p, so a bit
 * faulty at p is faulty at every p' > p.  Repetition r uses seed + r.
 *
 * Spec syntax (one line; the CLI, Lua and the TUI all use it):
 *     SPEC  = RULE { ";" RULE }
 *     RULE  = [ LAYER [ "." TARGET ] "=" ] KIND [ ":" KEY "=" VALUE { "," KEY "=" VALUE } ]
 *     TARGET = weights | thresholds | activations          (default weights)
 *     LAYER  = a layer name (fc1, conv2 ...) or "*" (every weight layer)
 * e.g. "bitflip:p=0.01", "fc2=bitflip:p=0.05;asym:p01=0.01,p10=0.001",
 *      "*.thresholds=stuck:p0=1e-4,p1=1e-4".  A rule naming a layer
 * overrides a rule without one for that layer and target. */
#ifndef BL_FAULT_FAULT_H
#define BL_FAULT_FAULT_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "bnn/model.h"

typedef enum bl_fault_target {
    BL_FT_WEIGHTS = 0,
    BL_FT_THRESHOLDS = 1,
    BL_FT_ACTIVATIONS = 2,
    BL_FT_COUNT
} bl_fault_target;

const char *bl_fault_target_name(bl_fault_target t);

/* A declared parameter of a fault kind (built-in or plugin). */
typedef struct bl_fault_param {
    const char *name;
    double def, min, max;
    const char *help;
} bl_fault_param;

typedef struct bl_fault_kind bl_fault_kind;          /* one fault model type */
typedef struct bl_fault_registry bl_fault_registry;  /* built-ins + plugins  */
typedef struct bl_fault_spec bl_fault_spec;          /* parsed SPEC          */

/* Registry with the built-in kinds: bitflip (p), asym (p01, p10, or
 * p + ratio), stuck (p0, p1). */
int bl_fault_registry_new(bl_fault_registry **out, bl_error *err);
void bl_fault_registry_free(bl_fault_registry *reg);
/* Load a plugin (.so, see plugins/betlab_plugin.h).  Errors name the file;
 * the registry is unchanged on failure. */
int bl_fault_registry_load_plugin(bl_fault_registry *reg, const char *path, bl_error *err);
size_t bl_fault_registry_count(const bl_fault_registry *reg);
const bl_fault_kind *bl_fault_registry_at(const bl_fault_registry *reg, size_t i);
const bl_fault_kind *bl_fault_registry_find(const bl_fault_registry *reg, const char *name);

const char *bl_fault_kind_name(const bl_fault_kind *k);
const char *bl_fault_kind_help(const bl_fault_kind *k);
const char *bl_fault_kind_source(const bl_fault_kind *k); /* "built-in" or plugin path */
size_t bl_fault_kind_nparams(const bl_fault_kind *k);
const bl_fault_param *bl_fault_kind_param(const bl_fault_kind *k, size_t i);

/* Parse SPEC against the registry and the model's layer names (model may
 * be NULL: layer names are then checked at apply time).  Parameter values
 * are validated against their declared ranges. */
int bl_fault_spec_parse(const bl_fault_registry *reg, const char *text, const bl_model *model,
                        bl_fault_spec **out, bl_error *err);
void bl_fault_spec_free(bl_fault_spec *spec);
/* Canonical text of the spec (malloc'ed). */
char *bl_fault_spec_format(const bl_fault_spec *spec);
/* For sweeps: set the rate of every rule to ber (each kind maps a BER to
 * its parameters: bitflip p = ber; asym p01 = ber, p10 = ber / ratio;
 * stuck p0 = p1 = ber / 2; plugins name their rate parameter). */
int bl_fault_spec_set_rate(bl_fault_spec *spec, double ber, bl_error *err);
/* Rule override for one layer's target (the TUI's per-layer sliders). */
int bl_fault_spec_set_layer_rate(bl_fault_spec *spec, const char *layer, bl_fault_target t,
                                 double ber, bl_error *err);

typedef struct bl_fault_stats {
    uint64_t bits[BL_FT_COUNT];       /* stored bits exposed, per target   */
    uint64_t changed[BL_FT_COUNT];    /* bits whose value changed          */
} bl_fault_stats;

/* Make `faulty` (an architecture clone of `clean`, e.g. from
 * bl_model_clone) equal to `clean` with the spec's weight and threshold
 * faults applied for `seed`.  Activation rules are not applied here; see
 * bl_fault_activation_masks (the engine applies them during inference).
 * st may be NULL. */
int bl_fault_apply(const bl_fault_spec *spec, const bl_model *clean, bl_model *faulty,
                   uint64_t seed, bl_fault_stats *st, bl_error *err);

/* Coupled fault map of n bits at rate p for (seed, layer, target): set bit
 * i of mask (n bits, packed little-endian) iff u_i < p.  The building block
 * of every built-in kind; plugins get it through the host API. */
void bl_fault_coupled_mask(uint64_t seed, uint32_t layer, bl_fault_target t, double p,
                           uint64_t *mask, size_t nbits);
/* The uniform u_i itself (slow path, for plugins and tests). */
double bl_fault_uniform(uint64_t seed, uint32_t layer, bl_fault_target t, uint64_t bit);

/* Fault maps as files (.bfm; betlab-format(5)): the exact changed bits of a
 * faulty model relative to its clean model, versioned and CRC-checked, so two
 * settings are compared on identical faults and a map can be shared. */
typedef struct bl_fault_map bl_fault_map;
int bl_fault_map_diff(const bl_model *clean, const bl_model *faulty, bl_fault_map **out,
                      bl_error *err);
int bl_fault_map_apply(const bl_fault_map *map, const bl_model *clean, bl_model *faulty,
                       bl_error *err);
int bl_fault_map_save(const bl_fault_map *map, const char *path, bl_error *err);
int bl_fault_map_load(const char *path, bl_fault_map **out, bl_error *err);
void bl_fault_map_free(bl_fault_map *map);

#endif
