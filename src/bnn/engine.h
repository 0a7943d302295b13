/* engine.h - the packed inference engine.
 *
 * Usage:
 *   bl_engine *e;   bl_engine_new(model, &opts, &e, &err);
 *   bl_inputs *in;  bl_inputs_prepare(model, dataset, 0, &in, &err);
 *   bl_engine_predict(e, model, in, pred, &err);        // argmax per input
 *
 * The engine holds a thread pool and a plan (buffer sizes, SIMD level) for
 * one architecture; it reads the weights of the model passed to each call,
 * so a faulty copy of the same architecture (bl_model_clone + bit flips)
 * can be evaluated with the same engine and inputs.  Results are
 * bit-identical for every SIMD level and thread count.
 *
 * Faults: evaluating the same inputs under many fault maps is the main
 * workload.  bl_cache keeps the clean first-layer pre-activations of the
 * inputs; bl_engine_predict_cached() then corrects only what the changed
 * first-layer bits touch (work proportional to the flipped bits) and
 * recomputes the later layers. */
#ifndef BL_BNN_ENGINE_H
#define BL_BNN_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "base/cpu.h"
#include "base/error.h"
#include "bnn/model.h"
#include "data/dataset.h"

typedef struct bl_engine_opts {
    int threads;   /* <= 0: one per CPU                                  */
    int simd;      /* -1 (or 0 with simd_set = 0): bl_simd_default()     */
    int simd_set;  /* 1: use `simd` as given (tests force each level)    */
} bl_engine_opts;

typedef struct bl_engine bl_engine;
typedef struct bl_inputs bl_inputs;
typedef struct bl_cache bl_cache;

int bl_engine_new(const bl_model *m, const bl_engine_opts *opts, bl_engine **out, bl_error *err);
void bl_engine_free(bl_engine *e);
bl_simd bl_engine_simd(const bl_engine *e);
int bl_engine_threads(const bl_engine *e);

/* Inputs converted once to the model's 8-bit input codes (u8 data used as
 * is; other dtypes quantised with the model's input_scale/input_zero),
 * laid out for the engine, with their labels.  limit 0 = all. */
int bl_inputs_prepare(const bl_model *m, const bl_dataset *ds, size_t limit, bl_inputs **out,
                      bl_error *err);
/* From raw codes (n x bl_shape_size(m->input) bytes) and optional labels. */
int bl_inputs_from_codes(const bl_model *m, const uint8_t *codes, const int32_t *labels,
                         size_t n, bl_inputs **out, bl_error *err);
void bl_inputs_free(bl_inputs *in);
size_t bl_inputs_count(const bl_inputs *in);
const int32_t *bl_inputs_labels(const bl_inputs *in); /* NULL when unlabeled */

/* Class of every input (pred has bl_inputs_count entries). */
int bl_engine_predict(bl_engine *e, const bl_model *m, const bl_inputs *in, int32_t *pred,
                      bl_error *err);

/* Integer pre-activations of layer `layer` (a DENSE, CONV3 or MAXPOOL2
 * layer index) for every input: out has count * bl_shape_size(out shape)
 * entries, HWC per input.  For the margin and importance metrics. */
int bl_engine_preacts(bl_engine *e, const bl_model *m, const bl_inputs *in, int layer,
                      int32_t *out, bl_error *err);

/* Integer output scores (count * nclasses) for every input. */
int bl_engine_scores(bl_engine *e, const bl_model *m, const bl_inputs *in, int32_t *scores,
                     bl_error *err);

typedef struct bl_eval_stats {
    size_t images, correct;
    double accuracy;      /* correct / images                          */
    double seconds;       /* wall time of the evaluation               */
    double images_per_s;
    double bmacs_per_s;   /* binary MACs (bl_model_macs * images) / s  */
} bl_eval_stats;

/* Predict and compare with the labels (BL_EINVAL when unlabeled). */
int bl_engine_eval(bl_engine *e, const bl_model *m, const bl_inputs *in, bl_eval_stats *st,
                   bl_error *err);

/* Clean first-layer state of `clean` on `in`, for fast re-evaluation. */
int bl_cache_new(bl_engine *e, const bl_model *clean, const bl_inputs *in, bl_cache **out,
                 bl_error *err);
void bl_cache_free(bl_cache *c);
/* The clean model's class for every input, computed when the cache was
 * made (NULL when activation faults were armed on the engine then). */
const int32_t *bl_cache_clean_predictions(const bl_cache *c);
/* Above this fraction of changed first-layer bits (default 1/32, where the
 * correction stops paying off) bl_engine_predict_cached recomputes the
 * first layer instead; same results either way.  Tests set 1.0 to force
 * the correction path. */
void bl_cache_set_max_changed(bl_cache *c, double fraction);
/* Same result as bl_engine_predict(e, faulty, in, ...), where `faulty` has
 * the architecture of the cached clean model and may differ in any bits. */
int bl_engine_predict_cached(bl_engine *e, const bl_cache *c, const bl_model *faulty,
                             int32_t *pred, bl_error *err);

/* Activation faults (fault target "activations"): from now on, every
 * prediction of this engine flips the +-1 output of neuron n (HWC index
 * in the THRESH layer's output) for input i (its index in the bl_inputs)
 * of THRESH layer L iff u < rate_per_layer[L], where u is the coupled
 * uniform (src/base/coupled.h) of stream (seed, bl_coupled_stream(L, 2))
 * at bit ((i / 64) * neurons_of_L + n) * 64 + i % 64.  rate_per_layer has
 * one entry per model layer (non-zero only for THRESH layers; see
 * bl_fault_activation_rates); NULL or all zeros turns faults off.  Exact
 * and identical for every SIMD level and thread count; applies to
 * predict, scores, preacts, eval and predict_cached. */
int bl_engine_set_activation_faults(bl_engine *e, const double *rate_per_layer, uint64_t seed,
                                    bl_error *err);

/* The float reference (reference.c): a plain, obviously correct forward
 * pass in float over +-1 values, one input at a time, no packing and no
 * SIMD.  Writes the pre-activations of every weight/pool layer when
 * `preacts` is non-NULL (preacts[layer] sized like that layer's output;
 * entries of other layers untouched) and returns the predicted class. */
int bl_reference_forward(const bl_model *m, const uint8_t *codes, float **preacts,
                         float *scores);

#endif
