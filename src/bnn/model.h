/* model.h - a binarized neural network as plain data.
 *
 * DESIGN.md "Shared definitions / BNN".  A model is a list of layers:
 *
 *   DENSE   binary dense: rows = output neurons, cols = input features.
 *           a_j = sum_i w_ji * x_i over the row's real bits (w in {-1,+1}).
 *   CONV3   binary 3x3 convolution, stride 1, zero padding of 1 (padding
 *           contributes 0, as in a float reference): rows = out channels.
 *   MAXPOOL2  2x2 max-pool, stride 2 (floor), on integer pre-activations.
 *   THRESH  folded batch norm + sign: out_c = +1 iff a >= tau_c (dir +1)
 *           or a <= tau_c (dir -1).
 *   FLATTEN   HWC order, so a no-op on the data; kept to make shapes explicit.
 *
 * Bits: 1 = +1, 0 = -1, packed little-endian in uint64_t words (bit i of a
 * row at word i/64, bit i%64), rows padded to whole words; padding bits are
 * zero and never count.  A CONV3 row is 9 taps (ky, kx row-major), each tap
 * holding cin bits padded to its own whole words (words_per_tap), so a 64-
 * channel tap is exactly one word.  Bit (tap t, channel c) is row bit
 * t*words_per_tap*64 + c.
 *
 * The first weight layer takes real inputs: 8-bit codes q in 0..255 that
 * stand for (q - input_zero) * input_scale.  Its pre-activation is the exact
 * integer sum_i w_i (q_i - input_zero), so thresholds stay integers.  Every
 * later weight layer takes the +-1 outputs of a THRESH layer.
 *
 * The last layer is DENSE; its integer scores (optionally mapped through a
 * per-class affine out_scale*a + out_bias, for imported models with a final
 * batch norm) give the class by argmax, lowest index on ties.
 *
 * The struct is public: the fault layer writes the stored words directly. */
#ifndef BL_BNN_MODEL_H
#define BL_BNN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef enum bl_layer_kind {
    BL_LAYER_DENSE = 1,
    BL_LAYER_CONV3 = 2,
    BL_LAYER_MAXPOOL2 = 3,
    BL_LAYER_THRESH = 4,
    BL_LAYER_FLATTEN = 5,
} bl_layer_kind;

typedef struct bl_shape {
    uint32_t h, w, c;
} bl_shape;

static inline size_t bl_shape_size(bl_shape s) { return (size_t)s.h * s.w * s.c; }

#define BL_NAME_MAX 32

typedef struct bl_layer {
    bl_layer_kind kind;
    char name[BL_NAME_MAX];  /* "fc1", "conv2", "bn1", "pool1", "flatten" */
    bl_shape in, out;

    /* DENSE and CONV3 */
    int real_input;          /* 1: inputs are 8-bit codes (first layer)    */
    uint32_t rows;           /* neurons / output channels                  */
    uint32_t cols;           /* real input bits per row (n_in or 9*cin)    */
    uint32_t words_per_tap;  /* CONV3 only: ceil(cin/64)                   */
    uint32_t words_per_row;  /* dense: ceil(cols/64); conv: 9*words_per_tap */
    uint64_t *weights;       /* rows*words_per_row words, BL_ALIGN aligned */

    /* THRESH: one per channel (out.c) */
    int32_t *tau;
    int8_t *dir;             /* +1 or -1 */

    /* last DENSE only, optional (NULL = identity) */
    float *out_scale, *out_bias;
} bl_layer;

/* Free-form metadata (name, dataset, training settings, accuracy ...). */
typedef struct bl_meta_entry {
    char *key, *value;
} bl_meta_entry;

typedef struct bl_model {
    bl_shape input;
    uint32_t nclasses;
    float input_scale;       /* real value of one input code step          */
    int32_t input_zero;      /* code that stands for 0.0                   */
    uint32_t nlayers;
    bl_layer *layers;
    uint32_t nmeta;
    bl_meta_entry *meta;
} bl_model;

/* Build an architecture from a one-line spec, weights all -1 (zero bits),
 * thresholds 0 / +1:
 *   "784-2048-2048-10"            dense stack, first number = input size
 *   "28x28x1-c64-p-c64-p-2048-10" input shape, then cN = conv 3x3 with N
 *                                 channels, p = max-pool 2x2, N = dense
 *   "fc" = "784-2048-2048-10" with a 28x28x1 input; "vgg3" =
 *   "28x28x1-c64-p-c64-p-2048-10".
 * BN+sign (THRESH) follows every weight layer but the last (after its pool
 * when a pool follows); FLATTEN precedes the first dense layer after convs.
 * `input` may be NULL; for a dense stack it gives the image shape (h*w*c
 * must equal the first number), else 1x1xN is used. */
int bl_model_from_spec(const char *spec, const bl_shape *input, bl_model **out, bl_error *err);
/* The bytes bl_model_from_spec would allocate for spec (weights,
 * thresholds, layer table), from the shapes alone: nothing is allocated.
 * bl_model_from_spec refuses specs above 4 GiB in all. */
int bl_model_spec_bytes(const char *spec, const bl_shape *input, uint64_t *bytes, bl_error *err);

/* Fill every weight, threshold and direction with seeded random values
 * (thresholds spread around the pre-activation scale so outputs vary). */
void bl_model_randomize(bl_model *m, uint64_t seed);

/* Check shapes chain, sizes, padding bits zero, directions +-1. */
int bl_model_validate(const bl_model *m, bl_error *err);

int bl_model_clone(const bl_model *m, bl_model **out, bl_error *err);
/* Copy weights/thresholds of src into dst (same architecture): cheap reset
 * of a faulty copy to the clean model. */
int bl_model_copy_params(bl_model *dst, const bl_model *src, bl_error *err);
void bl_model_free(bl_model *m);

/* Stored weight bits of a layer (real bits, padding excluded), and total. */
uint64_t bl_layer_stored_bits(const bl_layer *l);
uint64_t bl_model_stored_bits(const bl_model *m);
/* Binary multiply-accumulates for one input (conv counts valid taps only). */
uint64_t bl_model_macs(const bl_model *m);
/* Index of the layer named `name`, or -1. */
int bl_model_find_layer(const bl_model *m, const char *name);
const char *bl_layer_kind_name(bl_layer_kind k);

/* Metadata: set replaces an existing key; get returns NULL when absent. */
int bl_model_meta_set(bl_model *m, const char *key, const char *value);
const char *bl_model_meta_get(const bl_model *m, const char *key);

/* CRC32 over architecture and parameters (not metadata): identifies a
 * model's behaviour in session records. */
uint32_t bl_model_checksum(const bl_model *m);

/* Files (model_file.c; format in betlab-format(5)). */
int bl_model_load(const char *path, bl_model **out, bl_error *err);
int bl_model_save(const bl_model *m, const char *path, bl_error *err);
/* Parse/serialise a .bnn image in memory (used by load/save and fuzzing). */
int bl_model_parse(const uint8_t *buf, size_t size, const char *what, bl_model **out,
                   bl_error *err);
int bl_model_serialize(const bl_model *m, uint8_t **buf, size_t *size, bl_error *err);

/* Import float weights and BN parameters from an .npz (import_npz.c). */
int bl_model_import_npz(const char *path, const char *spec, bl_model **out, bl_error *err);

#endif
