/* cluster.h - exemplar clustering: the function, backends, optimizers.
 *
 * DESIGN.md "Exemplar clustering".  Ground set V = n points in R^d,
 * auxiliary exemplar e0 = 0:
 *     L(S)  = (1/n) sum_v min_{s in S u {e0}} ||v - s||^2
 *     f(S)  = L({e0}) - L(S u {e0}),   f(empty) = 0, monotone submodular.
 * With the cached minima m_v of a set S (m_v = ||v||^2 for the empty set):
 *     gain(c | S) = (1/n) sum_v max(0, m_v - ||v - c||^2).
 *
 * A backend keeps V resident (on a device for OpenCL) together with
 * `nslots` minima vectors ("slots"): greedy uses one slot and asks for the
 * gains of many candidates at once; sieve streaming keeps one slot per
 * threshold and asks for the gains of one element against many slots.
 * Candidates and elements are row indices of V.  All sums are accumulated
 * in double (gains are small differences of large sums). */
#ifndef BL_CLUSTER_CLUSTER_H
#define BL_CLUSTER_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/settings.h"

typedef enum bl_precision {
    BL_PREC_FP64 = 0,
    BL_PREC_FP32 = 1,
    BL_PREC_FP16 = 2,   /* fp16 storage, fp32 accumulation (vload_half)     */
} bl_precision;

const char *bl_precision_name(bl_precision p);
int bl_precision_parse(const char *s);  /* -1 when unknown */

typedef struct bl_cluster_backend bl_cluster_backend;

/* Operations every backend implements (CPU: backend_cpu.c; OpenCL:
 * backend_opencl.c; the plain double reference: reference.c). */
typedef struct bl_cluster_ops {
    const char *name;  /* "cpu", "reference", "opencl" */
    /* Gains of m candidates against slot `slot`: out[i] = gain(V[cand[i]] | S_slot). */
    int (*gains)(bl_cluster_backend *b, int slot, const uint32_t *cand, size_t m, double *out,
                 bl_error *err);
    /* Gains of one element against many slots: out[j] = gain(V[elem] | S_slots[j]). */
    int (*gains_slots)(bl_cluster_backend *b, uint32_t elem, const int *slots, size_t nslots,
                       double *out, bl_error *err);
    /* S_slot := S_slot u {elem}: m_v = min(m_v, ||v - V[elem]||^2). */
    int (*add)(bl_cluster_backend *b, int slot, uint32_t elem, bl_error *err);
    /* Reset a slot to the empty set (m_v = ||v||^2). */
    int (*reset)(bl_cluster_backend *b, int slot, bl_error *err);
    /* f(S_slot) = (1/n) sum_v (||v||^2 - m_v). */
    int (*value)(bl_cluster_backend *b, int slot, double *f, bl_error *err);
    void (*free)(bl_cluster_backend *b);
} bl_cluster_ops;

/* Common header of every backend (backends embed it first). */
struct bl_cluster_backend {
    const bl_cluster_ops *ops;
    size_t n, d;
    int nslots;
    bl_precision precision;
    uint64_t evaluations;  /* gain evaluations made (one per candidate/slot) */
    char device[128];      /* human-readable device name */
};

/* The data: n rows of d values (row-major).  Backends copy what they need
 * (converted to their precision); the caller keeps ownership. */
typedef struct bl_cluster_data {
    size_t n, d;
    const double *x;
} bl_cluster_data;

/* Bounds on the data a clustering run takes, checked before anything of
 * that size is allocated (bl_cluster_features, bl_cluster_backend_new):
 * at most BL_CLUSTER_MAX_DIM values per point (backends keep working
 * buffers of d x 4096 values) and BL_CLUSTER_MAX_VALUES values in all.
 * 0, or an error naming the sizes. */
#define BL_CLUSTER_MAX_DIM ((size_t)16384)
#define BL_CLUSTER_MAX_VALUES ((size_t)1 << 28)
int bl_cluster_size_check(size_t n, size_t d, bl_error *err);

/* Device strings: "cpu" (SIMD + thread pool), "reference" (plain double
 * loops), "opencl" (first device), "opencl:P:D" (platform P, device D),
 * "opencl:NAME" (first device whose name or vendor contains NAME,
 * case-insensitive).  threads applies to "cpu" (<= 0: all CPUs).  settings
 * (may be NULL) apply to "opencl": resource home, binary cache, tuning. */
int bl_cluster_backend_new(const char *device, const bl_cluster_data *data, bl_precision prec,
                           int nslots, int threads, const bl_settings *settings,
                           bl_cluster_backend **out, bl_error *err);
void bl_cluster_backend_free(bl_cluster_backend *b);

/* Optimizers (optimizers.c).  Every optimizer works with any backend, is
 * deterministic for a seed, and reports what it did. */
typedef enum bl_optimizer {
    BL_OPT_GREEDY = 0,
    BL_OPT_LAZY_GREEDY,
    BL_OPT_STOCHASTIC_GREEDY,
    BL_OPT_SIEVE_STREAMING,
    BL_OPT_SIEVE_STREAMING_PP,
    BL_OPT_THREE_SIEVES,
    BL_OPT_SALSA,
    BL_OPT_COUNT
} bl_optimizer;

const char *bl_optimizer_name(bl_optimizer o);
int bl_optimizer_parse(const char *s);  /* -1 when unknown */

typedef struct bl_cluster_opts {
    size_t k;
    bl_optimizer optimizer;
    uint64_t seed;
    double epsilon;      /* StochasticGreedy, sieves (default 0.1 when 0)   */
    int T;               /* ThreeSieves patience (default 500 when 0)       */
    size_t batch;        /* candidates per device call (0: backend default) */
    /* progress (may be NULL): fraction done, f so far; return nonzero to stop */
    int (*on_progress)(void *ctx, double fraction, double f);
    void *ctx;
} bl_cluster_opts;

typedef struct bl_cluster_result {
    size_t k;               /* exemplars chosen (<= opts.k)                */
    uint32_t *exemplars;    /* row indices, in the order chosen (malloc)  */
    double f;               /* f(S) of the chosen set                      */
    double *f_trace;        /* f after each addition (k entries, malloc)  */
    uint64_t evaluations;   /* gain evaluations                            */
    double seconds;
} bl_cluster_result;

int bl_cluster_run(bl_cluster_backend *b, const bl_cluster_opts *opts, bl_cluster_result *res,
                   bl_error *err);
void bl_cluster_result_free(bl_cluster_result *res);

#endif
