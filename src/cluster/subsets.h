/* subsets.h - Gaussian blobs (synthetic clustering data) and representative
 * test subsets: k exemplars of a test set, each weighted by the size of its
 * cluster, so an accuracy (or a BER sweep) can run on k images instead of
 * the whole set. */
#ifndef BL_CLUSTER_SUBSETS_H
#define BL_CLUSTER_SUBSETS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "bnn/model.h"
#include "cluster/cluster.h"
#include "data/dataset.h"

/* n points in R^d around k centres (uniform in [-10, 10]^d, unit standard
 * deviation), point i in cluster i % k; seeded (bl_rng, BL_RNG_TEST).
 * *x: n*d doubles (malloc); labels (may be NULL): n cluster ids (malloc). */
int bl_cluster_blobs(size_t n, size_t d, size_t k, uint64_t seed, double **x, int32_t **labels,
                     bl_error *err);

/* Parse "blobs:N,D,K[,SEED]" (returns 0 and fills the numbers) or -1. */
int bl_cluster_blobs_parse(const char *spec, size_t *n, size_t *d, size_t *k, uint64_t *seed);

/* The dataset's features as doubles, n*d (malloc): u8 -> value/255, other
 * dtypes as stored.  limit 0 = all rows. */
int bl_cluster_features(const bl_dataset *ds, size_t limit, double **x, size_t *n, size_t *d,
                        bl_error *err);

/* Weights of exemplars: every point goes to its nearest exemplar (squared
 * Euclidean, ties to the earlier exemplar); weight[i] = points of exemplar i.
 * The weights sum to n. */
int bl_cluster_assign(const bl_cluster_data *data, const uint32_t *ex, size_t k,
                      uint32_t *weights, bl_error *err);

typedef struct bl_subset_opts {
    size_t k;
    const char *space;        /* "pixels" (default) or a layer: index or name */
    int sign;                 /* layer space: 1 = sign of pre-activations (+-1), 0 = raw */
    bl_optimizer optimizer;   /* default greedy */
    const char *device;       /* default "cpu" */
    bl_precision precision;   /* default fp32 */
    int threads;
    uint64_t seed;
    size_t limit;             /* test rows used (0 = all) */
    const bl_settings *settings; /* for OpenCL devices (NULL: defaults) */
} bl_subset_opts;

typedef struct bl_subset_result {
    size_t n, k;
    uint32_t *exemplars;      /* k row indices (malloc)                 */
    uint32_t *weights;        /* k cluster sizes, sum n (malloc)        */
    double full_accuracy;     /* accuracy on all n rows                 */
    double weighted_accuracy; /* sum w_i [exemplar i correct] / n       */
    double f;                 /* clustering objective of the exemplars  */
    double seconds;           /* clustering time                        */
} bl_subset_result;

int bl_subset_choose(const bl_model *m, const bl_dataset *ds, const bl_subset_opts *opts,
                     bl_subset_result *res, bl_error *err);
void bl_subset_result_free(bl_subset_result *res);

#endif
