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
 * overrides a rule without one for that layer and target; two rules for
 * the same layer and target are an error.  Whitespace around tokens is
 * ignored.  LAYER may name a weight layer (fc1, conv2) for every target:
 * its thresholds/activations are those of the THRESH layer that follows
 * it; a THRESH layer's own name (bn1) works for thresholds/activations.
 *
 * Kinds (built-in; betlab-faults section of betlab(1)):
 *   bitflip:p        a bit flips iff u < p.
 *   asym:p01,p10     a stored 0 becomes 1 iff u < p01, a stored 1 becomes 0
 *                    iff u < p10 (the same u: coupled in both rates).
 *   asym:p,ratio     ratio form: p01 = p, p10 = p / ratio (default 1).
 *   stuck:p0,p1      stuck at 0 iff u < p0, stuck at 1 iff u >= 1 - p1
 *                    (p0 + p1 <= 1); each set grows with its own rate.
 * Activations support bitflip only (the engine flips the +-1 outputs of
 * each THRESH layer; bl_engine_set_activation_faults).  Rates have a
 * resolution of 2^-32 (src/base/coupled.h).
 *
 * Stored bits and their uniform's index b: weights, b = (row *
 * words_per_row + word) * 64 + bit (padding positions are skipped, never
 * changed); thresholds, b = 32 c + k for bit k of tau_c (two's complement:
 * a flip of bit 31 makes a huge threshold of the other sign: that is the
 * physics of a stored int32). */
#ifndef BL_FAULT_FAULT_H
#define BL_FAULT_FAULT_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/settings.h"
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

/* Plugins by name (plugin.c).  The search path, colon-separated: the
 * settings' plugin_path (BETLAB_PLUGIN_PATH) first, then ./plugins, then the
 * shipped plugins folder (bl_resource_dir "plugins": the settings' home,
 * next to the executable, PREFIX/lib/betlab/plugins).  s may be NULL. */
int bl_plugin_search_path(const bl_settings *s, char *buf, size_t size);
/* `name` containing '/' or ending in ".so" is a file and copied as is; a
 * bare name is the first DIR/NAME.so along search_path.  Not found:
 * BL_ENOTFOUND, and the message lists the folders searched. */
int bl_plugin_resolve(const char *name, const char *search_path, char *out, size_t size,
                      bl_error *err);
/* Resolve `name` along bl_plugin_search_path(s) and load it. */
int bl_fault_registry_load_named(bl_fault_registry *reg, const char *name, const bl_settings *s,
                                 bl_error *err);
size_t bl_fault_registry_count(const bl_fault_registry *reg);
const bl_fault_kind *bl_fault_registry_at(const bl_fault_registry *reg, size_t i);
const bl_fault_kind *bl_fault_registry_find(const bl_fault_registry *reg, const char *name);

const char *bl_fault_kind_name(const bl_fault_kind *k);
const char *bl_fault_kind_help(const bl_fault_kind *k);
const char *bl_fault_kind_source(const bl_fault_kind *k); /* "built-in" or plugin path */
size_t bl_fault_kind_nparams(const bl_fault_kind *k);
const bl_fault_param *bl_fault_kind_param(const bl_fault_kind *k, size_t i);
/* Index of the parameter a sweep sets (bitflip p, asym p, plugins' flagged
 * one), or -1; stuck sets p0 = p1 = ber / 2 (returns 0). */
int bl_fault_kind_rate_param(const bl_fault_kind *k);

/* Parse SPEC against the registry and the model's layer names (model may
 * be NULL: layer names are then checked at apply time).  Parameter values
 * are validated against their declared ranges.  The spec refers to the
 * registry's kinds: free it before the registry. */
int bl_fault_spec_parse(const bl_fault_registry *reg, const char *text, const bl_model *model,
                        bl_fault_spec **out, bl_error *err);
void bl_fault_spec_free(bl_fault_spec *spec);
/* Canonical text of the spec (malloc'ed): rules in order, every parameter
 * written (asym in the form it was given), shortest round-trip numbers;
 * parse(format(s)) formats to the same text. */
char *bl_fault_spec_format(const bl_fault_spec *spec);
size_t bl_fault_spec_count(const bl_fault_spec *spec); /* number of rules */
/* For sweeps: set the rate of every rule to ber (each kind maps a BER to
 * its parameters: bitflip p = ber; asym p01 = ber, p10 = ber / ratio;
 * stuck p0 = p1 = ber / 2; plugins name their rate parameter). */
int bl_fault_spec_set_rate(bl_fault_spec *spec, double ber, bl_error *err);
/* The same for the rules of one target only (BL_FT_COUNT: every rule): the
 * workbench's sliders drive the weight rates and leave a spec's threshold
 * and activation rates as given. */
int bl_fault_spec_set_target_rate(bl_fault_spec *spec, bl_fault_target t, double ber,
                                  bl_error *err);
/* Rule override for one layer's target (the TUI's per-layer sliders):
 * sets the rate of the rule naming that layer and target, else adds one
 * copied from the "*" rule of that target, else adds bitflip:p=ber.
 * The layer name is checked against the model at apply time. */
int bl_fault_spec_set_layer_rate(bl_fault_spec *spec, const char *layer, bl_fault_target t,
                                 double ber, bl_error *err);

typedef struct bl_fault_stats {
    uint64_t bits[BL_FT_COUNT];       /* stored bits exposed, per target   */
    uint64_t changed[BL_FT_COUNT];    /* bits whose value changed          */
} bl_fault_stats;

/* Make `faulty` (an architecture clone of `clean`, e.g. from
 * bl_model_clone) equal to `clean` with the spec's weight and threshold
 * faults applied for `seed`.  Activation rules are not applied here; see
 * bl_fault_activation_rates (the engine applies them during inference).
 * Work is proportional to stored words (masks XORed into them).  st may
 * be NULL; bits[] counts the bits under a rule. */
int bl_fault_apply(const bl_fault_spec *spec, const bl_model *clean, bl_model *faulty,
                   uint64_t seed, bl_fault_stats *st, bl_error *err);

/* rates[i] (i < model->nlayers) = activation flip rate of THRESH layer i
 * under the spec, 0 elsewhere: pass to bl_engine_set_activation_faults
 * (bnn/engine.h) with the same seed as bl_fault_apply. */
int bl_fault_activation_rates(const bl_fault_spec *spec, const bl_model *model, double *rates,
                              bl_error *err);

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
/* The weight and threshold faults that spec text `spec` applies to m with
 * coupled seed `seed` (repetition 0), as a map: so another model or setting
 * can be evaluated on exactly the same flipped bits (`eval --save-map`). */
int bl_fault_map_from_spec(const bl_fault_registry *reg, const char *spec, const bl_model *m,
                           uint64_t seed, bl_fault_map **out, bl_error *err);
int bl_fault_map_load(const char *path, bl_fault_map **out, bl_error *err);
void bl_fault_map_free(bl_fault_map *map);
/* In memory (load/save and fuzzing); `what` names the source in errors. */
int bl_fault_map_parse(const uint8_t *buf, size_t size, const char *what, bl_fault_map **out,
                       bl_error *err);
int bl_fault_map_serialize(const bl_fault_map *map, uint8_t **buf, size_t *size, bl_error *err);
/* Total number of changed bits recorded. */
uint64_t bl_fault_map_bits(const bl_fault_map *map);

#endif
