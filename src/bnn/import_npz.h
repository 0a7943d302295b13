/* import_npz.h - the .npz importer with its options and its report
 * (betlab-format(5), IMPORT).  bl_model_import_npz (model.h) is this with
 * no options and no report.
 *
 * Tolerance, explained:
 *   - names: arrays may be renamed with OLD=NEW rules (a rule renames the
 *     array OLD and every array OLD.<field>), and/or by a naming scheme:
 *     "torch" (a state_dict saved as is: modules in order, a module with a
 *     2-D or 4-D .weight is the next fcK / convK, one with .running_mean
 *     the next bnK, a batch norm after the last weight layer is "out") or
 *     "larq" (Keras weight names "layer/kernel:0", "layer/gamma:0",
 *     "layer/moving_mean:0" ..., same order rule; batch-norm eps defaults
 *     to Keras' 1e-3).  Rules apply to the names as saved and win over the
 *     scheme.
 *   - arrays that no layer uses are an error naming them all, unless
 *     listed in `ignore` (an exact name or a module prefix);
 *   - a real input normalisation (input.mean/input.std as given to
 *     torchvision's Normalize, or an input.zero that is not an integer
 *     code) is folded into the first layer: betlab keeps the nearest
 *     integer zero code z0 and adds u (z0 - z) S_r (S_r the row's sum of
 *     +-1 weights) to the layer's bias before the threshold is folded.
 *     That is exact for a dense first layer; for a conv first layer the
 *     zero padding sees fewer taps at the border, so it is exact in the
 *     interior only (info->norm_exact 0; bl_import_norm_check counts the
 *     inputs whose first-layer output then differs from the float model).
 *   - reference.pred (int, [images]): the float model's predictions, kept
 *     in the report for an agreement check. */
#ifndef BL_BNN_IMPORT_NPZ_H
#define BL_BNN_IMPORT_NPZ_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "bnn/model.h"
#include "data/dataset.h"

typedef struct bl_import_opts {
    const char *const *map;      /* "OLD=NEW" rules                        */
    size_t nmap;
    const char *names;           /* NULL or "betlab", "torch", "larq"      */
    const char *const *ignore;   /* arrays (or module prefixes) to skip    */
    size_t nignore;
} bl_import_opts;

typedef struct bl_import_info {
    double input_scale, input_zero;  /* the real encoding of the float model */
    int norm_real;                   /* 1: the zero was not an integer code  */
    int norm_exact;                  /* 1: the fold is exact for every input */
    int64_t *reference_pred;         /* reference.pred, or NULL              */
    size_t nreference;
    size_t nrenamed;                 /* arrays renamed by rules or scheme    */
    size_t nignored;                 /* arrays skipped by `ignore`           */
    /* first THRESH layer's float parameters, for bl_import_norm_check */
    int first_thresh;                /* layer index, -1 when none            */
    double *bn;                      /* per channel: gamma, beta, mean, sd, bias */
} bl_import_info;

/* Validate options (a scheme name, OLD=NEW rules) before any work. */
int bl_import_check_opts(const bl_import_opts *o, bl_error *err);
/* opts and info may be NULL. */
int bl_import_npz(const char *path, const char *spec, const bl_import_opts *opts,
                  bl_model **out, bl_import_info *info, bl_error *err);
void bl_import_info_free(bl_import_info *info);

/* How many of the first `limit` (0: all) inputs of ds (8-bit codes) get
 * a different first-layer output (the first BN+sign, after its pool) from
 * betlab's model than from the float model with the real normalisation;
 * *outputs counts the differing neuron outputs. */
int bl_import_norm_check(const bl_model *m, const bl_import_info *info, const bl_dataset *ds,
                         size_t limit, size_t *changed_inputs, uint64_t *outputs,
                         bl_error *err);

#endif
