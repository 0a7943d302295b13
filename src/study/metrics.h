/* metrics.h - bit error tolerance metrics of a BNN (DESIGN.md "Neuron-level
 * margin metric", "Inter-neuron metric").
 *
 * Hidden layers.  Every THRESH layer makes one hidden layer: its source is
 * the layer right before it (DENSE, CONV3, or the MAXPOOL2 after a CONV3:
 * the pooled pre-activation), its weight layer the DENSE/CONV3 that feeds
 * it; the hidden layer is named after the weight layer ("fc1", "conv2").
 * A neuron is one (channel, position) of the source output for margins and
 * flip fractions; for importance a neuron is a THRESH channel (for a conv
 * layer, one channel at every position: that is what one threshold drives).
 *
 * Tie rule (THRESH): dir +1: out = +1 iff a >= tau; dir -1: out = +1 iff
 * a <= tau.  The value a = tau belongs to the "inclusive" side.  Margin
 * m = |a - tau|.  One flipped weight of a binary layer moves a by exactly 2
 * (a pooled a by at most 2), so the flips needed to change the output are
 *     inclusive side (a >= tau for dir +1, a <= tau for dir -1):  floor(m/2) + 1
 *     other side:                                                 ceil(m/2)
 * (dir +1, a >= tau: flips when a - 2K < tau <=> K >= floor((a-tau)/2) + 1;
 *  dir +1, a < tau: flips when a + 2K >= tau <=> K >= ceil((tau-a)/2); dir -1
 *  mirrored.)  For a pooled pre-activation this is a lower bound.
 *
 * Analytic flip probability (binary dense layers, and binary conv layers
 * not followed by a pool): the terms t_i = w_i x_i over the n valid inputs;
 * flipping w_i changes a by -2 t_i.  n_plus = terms that support the
 * current output (flipping one moves a toward tau: t_i = +1 when the output
 * flips by a decreasing, t_i = -1 otherwise), n_minus = n - n_plus.  Under
 * symmetric BER p the output flips iff K_plus - K_minus >= K* (flips
 * needed), K_plus ~ Bin(n_plus, p), K_minus ~ Bin(n_minus, p) independent;
 * P is computed by an exact convolution of the two pmfs (each truncated
 * where the omitted mass is below 1e-18).  Not available for the real-input
 * first layer (terms of unequal magnitude: see flipprob.c) nor for pooled
 * conv layers (the 4 pooled pixels share the faulty weights): these return
 * BL_EUNSUPPORTED and report only the Monte-Carlo measurement. */
#ifndef BL_STUDY_METRICS_H
#define BL_STUDY_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "bnn/engine.h"
#include "bnn/model.h"
#include "fault/fault.h"
#include "study/stats.h"

typedef struct bl_hidden {
    int thresh;   /* THRESH layer index                     */
    int src;      /* layer whose pre-activations it reads   */
    int weight;   /* DENSE/CONV3 layer that feeds it        */
    const char *name; /* the weight layer's name            */
} bl_hidden;

/* Hidden layers of m in order; returns the count (<= max written). */
int bl_hidden_layers(const bl_model *m, bl_hidden *out, int max);
/* Hidden layer by weight-layer name or THRESH name; -1 when none. */
int bl_hidden_find(const bl_model *m, const char *name, bl_hidden *out);

/* Output (+1 / -1) of a THRESH unit and the flips needed to change it. */
static inline int bl_thresh_out(int32_t a, int32_t tau, int dir)
{
    return dir > 0 ? (a >= tau ? 1 : -1) : (a <= tau ? 1 : -1);
}
static inline int64_t bl_flips_needed(int32_t a, int32_t tau, int dir)
{
    int64_t d = (int64_t)a - tau;
    if (dir < 0)
        d = -d;            /* now: out = +1 iff d >= 0 */
    return d >= 0 ? d / 2 + 1 : (-d + 1) / 2;
}

/* Pre-activations of the hidden layer's source for every input
 * (count * bl_shape_size(src out), HWC); *pre malloc'ed. */
int bl_hidden_preacts(bl_engine *e, const bl_model *m, const bl_inputs *in, const bl_hidden *h,
                      int32_t **pre, bl_error *err);

/* ---- margins ---- */
#define BL_MARGIN_NQ 5      /* quantiles 1, 5, 25, 50, 75 % */
#define BL_MARGIN_NK 4      /* k = 1, 2, 4, 8               */
extern const double bl_margin_qlevels[BL_MARGIN_NQ];
extern const int bl_margin_ks[BL_MARGIN_NK];

typedef struct bl_margin_summary {
    uint64_t count;             /* (input, neuron) pairs                    */
    double mean;
    int64_t min, max;
    int64_t q[BL_MARGIN_NQ];    /* lower quantiles: smallest v with
                                   #(m <= v) >= q * count                   */
    double below[BL_MARGIN_NK]; /* fraction with m < 2k                     */
    double flips_le[BL_MARGIN_NK]; /* fraction with flips needed <= k       */
    uint32_t bin_width;         /* histogram: bin i = [i*w, (i+1)*w)        */
    uint32_t nbins;             /* <= 256; covers 0..max (see _bins)        */
    uint64_t *hist;             /* nbins counts (malloc'ed)                 */
} bl_margin_summary;

int bl_margin_summarize(const bl_model *m, const bl_hidden *h, const int32_t *pre, size_t count,
                        bl_margin_summary *out, bl_error *err);
/* The same with a chosen histogram: bin_width (0: the smallest width that
 * covers 0..max in max_bins bins) and at most max_bins bins (0: 256; with a
 * given width, the last bin counts everything above it).  Two summaries
 * with one width have comparable histograms (clean vs faulty margins). */
int bl_margin_summarize_bins(const bl_model *m, const bl_hidden *h, const int32_t *pre,
                             size_t count, uint32_t bin_width, uint32_t max_bins,
                             bl_margin_summary *out, bl_error *err);
void bl_margin_summary_free(bl_margin_summary *s);

/* ---- analytic flip probability ---- */
/* Probability that the output of one binary neuron flips under symmetric
 * weight BER p: n valid binary inputs, pre-activation a, threshold. */
double bl_flip_prob(uint32_t n, int32_t a, int32_t tau, int dir, double p);
/* Predicted fraction of flipped outputs of the hidden layer (mean over
 * inputs and neurons), from its clean pre-activations.  BL_EUNSUPPORTED
 * (with the reason in err) for real-input and pooled layers. */
int bl_flip_fraction_analytic(const bl_model *m, const bl_hidden *h, const int32_t *pre,
                              size_t count, double p, double *frac, bl_error *err);

/* Monte-Carlo counterpart: symmetric flips at rate p on ONLY the hidden
 * layer's weights (spec "NAME=bitflip:p=P", maps seed + r for r < reps);
 * the fraction of the layer's outputs (same units as the analytic one)
 * that differ from the clean outputs, per map; *ci = mean over maps with
 * its Student-t 95% interval (Wilson over all outputs when reps = 1).
 * The layer's inputs stay clean, so the comparison is direct.  clean_pre
 * (the layer's clean pre-activations) may be NULL. */
int bl_flip_fraction_measured(bl_engine *e, const bl_model *m, const bl_inputs *in,
                              const bl_hidden *h, const bl_fault_registry *reg, double p,
                              uint64_t seed, int reps, const int32_t *clean_pre, bl_ci *ci,
                              bl_error *err);

/* ---- inter-neuron importance ---- */
enum { BL_IMP_AUTO = 0, BL_IMP_FAST = 1, BL_IMP_BRUTE = 2 };

typedef struct bl_importance {
    size_t n;            /* neurons (THRESH channels)                       */
    double *imp;         /* I_j, n entries (malloc'ed)                      */
    double mean, max, variance; /* variance: population (divisor n)        */
    int method;          /* BL_IMP_FAST or BL_IMP_BRUTE, as used            */
    double seconds;
} bl_importance;

/* I_j = fraction of inputs whose predicted class changes when only neuron
 * j's output is inverted.  FAST (dense-only downstream, exact): sparse
 * propagation of the changed activations through the later dense layers,
 * visiting only neurons whose flips needed <= number of changed inputs.
 * BRUTE: re-evaluate the model once per neuron with that threshold
 * replaced by its complement (dir +1, tau -> dir -1, tau - 1; dir -1, tau ->
 * dir +1, tau + 1).  AUTO picks FAST when possible.  threads: for FAST. */
int bl_importance_layer(bl_engine *e, const bl_model *m, const bl_inputs *in, const bl_hidden *h,
                        int method, int threads, bl_importance *out, bl_error *err);
void bl_importance_free(bl_importance *imp);

#endif
