/* train_internal.h - the trainer's structures and per-layer kernels, shared
 * by src/bnn/train_*.c and the unit tests (gradient checks).  Not a public
 * API. */
#ifndef BL_BNN_TRAIN_INTERNAL_H
#define BL_BNN_TRAIN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/pool.h"
#include "bnn/train.h"

#define TR_BN_EPS 1e-5f
#define TR_BN_MOMENTUM 0.1f
#define TR_ALPHA_MIN 1e-4f
#define TR_FLIP_CHUNK 65536u   /* weights per flip / update chunk (RNG stream) */
#define TR_ADAM_B1 0.9f
#define TR_ADAM_B2 0.999f
#define TR_ADAM_EPS 1e-8f
#define TR_CONV_CHUNK 16u      /* images per im2col block                     */

/* A learnable tensor with its gradient and Adam moments. */
typedef struct tr_param {
    size_t n;
    float *w, *g, *m, *v;
    int clip;                  /* 1: clip to [-1, 1] after each step          */
    float *wb;                 /* weight layers: sign(w) rewritten by Adam   */
} tr_param;

typedef struct tr_layer {
    bl_layer_kind kind;
    int index;                 /* model layer index                          */
    size_t in_size, out_size;  /* per image                                  */
    float *y, *dy;             /* batch x out_size (FLATTEN: aliases)        */
    /* DENSE / CONV3 */
    int real_input;
    uint32_t rows, cols;       /* cols: dense n_in, conv 9*cin                */
    uint32_t h, w, cin;        /* conv geometry                               */
    tr_param W;                /* rows x cols latent weights                  */
    float *wb;                 /* rows x cols binarized (+ flipped) weights   */
    uint64_t *flipmask;        /* 1 bit per weight: flipped this step         */
    size_t nflipped;
    float *cols_buf, *dcols_buf;  /* conv im2col scratch (per pool thread)     */
    float *dW_part;            /* conv per-chunk partial weight gradients     */
    /* MAXPOOL2 */
    uint8_t *arg;              /* batch x out_size: argmax 0..3               */
    /* THRESH */
    float unit;                /* scale of the incoming integer a            */
    tr_param gamma, beta;
    float *rmean, *rvar;       /* running statistics (units of unit*a)       */
    float *bmean, *binvstd;    /* batch statistics of the last forward       */
    float *z;                  /* batch x out_size: normalised, pre-sign     */
    int32_t *tau;              /* folded thresholds (eval)                   */
    int8_t *dir;
} tr_layer;

/* Adam over n elements: moments, weights clamped to [lo, hi], wb = sign. */
typedef void (*tr_adam_fn)(float *w, const float *g, float *m, float *v, float *wb, size_t n,
                           float lo, float hi, float lr, float ib1, float ib2);
void tr_adam_range_scalar(float *w, const float *g, float *m, float *v, float *wb, size_t n,
                          float lo, float hi, float lr, float ib1, float ib2);
void tr_adam_range_avx2(float *w, const float *g, float *m, float *v, float *wb, size_t n,
                        float lo, float hi, float lr, float ib1, float ib2);
void tr_adam_range_avx512(float *w, const float *g, float *m, float *v, float *wb, size_t n,
                          float lo, float hi, float lr, float ib1, float ib2);

struct bl_trainer {
    bl_train_opts o;
    bl_model *arch;            /* the spec's model: geometry and names        */
    int nl;
    tr_layer *L;
    tr_param alpha;            /* output scale (n = 1)                        */
    size_t cap;                /* allocated batch capacity                    */
    float *x0;                 /* batch x input size: codes as float          */
    bl_pool *pool;
    /* data */
    bl_dataset *train, *test;
    uint8_t *train_codes;      /* quantised training inputs                   */
    int32_t *train_labels;
    size_t ntrain, nin;
    uint8_t *test_codes;
    int32_t *test_labels;
    size_t ntest;
    uint32_t *perm;            /* current epoch's order                       */
    int perm_epoch;            /* epoch the permutation belongs to (-1 none)  */
    /* progress (saved in checkpoints) */
    int epoch;                 /* completed epochs                            */
    size_t step_in_epoch;      /* minibatches done in the current epoch       */
    size_t step;               /* global minibatch count (Adam t, flip key)   */
    double ep_loss_sum;        /* current epoch's running sums                */
    size_t ep_correct, ep_seen;
    double ep_seconds;
    tr_adam_fn adam;           /* SIMD level of the Adam update               */
    int wb_clean;              /* every wb == sign(W), no flips applied       */
    char data_name[2][256];    /* train/test names given by the caller       */
    bl_epoch_stats *hist;
    int nhist;
};

/* ---- kernels (train_layers.c); all activations NHWC, batch b ---------- */

/* The kernels take the trainer's pool (NULL: serial); their results do not
 * depend on its thread count.  y[b x rows] = x[b x cols] . wb^T */
void tr_dense_fwd(bl_pool *pool, const float *x, const float *wb, size_t b, uint32_t rows,
                  uint32_t cols, float *y);
/* dW[rows x cols] = dy^T . x (overwrites); dx[b x cols] = dy . wb (dx may be NULL) */
void tr_dense_bwd(bl_pool *pool, const float *x, const float *wb, const float *dy, size_t b,
                  uint32_t rows, uint32_t cols, float *dW, float *dx);
/* 3x3 conv, stride 1, zero pad 1: x[b x h x w x cin], wb[cout x 9 x cin],
 * y[b x h x w x cout].  cols_buf and dcols_buf hold one block of
 * TR_CONV_CHUNK*h*w*9*cin floats per pool thread; dW_part holds
 * (ceil(b / TR_CONV_CHUNK) - 1) * cout*9*cin floats (per-chunk partial
 * weight gradients, summed in chunk order). */
void tr_conv_fwd(bl_pool *pool, const float *x, const float *wb, size_t b, uint32_t h, uint32_t w,
                 uint32_t cin, uint32_t cout, float *cols_buf, float *y);
void tr_conv_bwd(bl_pool *pool, const float *x, const float *wb, const float *dy, size_t b,
                 uint32_t h, uint32_t w, uint32_t cin, uint32_t cout, float *cols_buf,
                 float *dcols_buf, float *dW_part, float *dW, float *dx);
/* 2x2 max-pool stride 2 (floor) of x[b x h x w x c]. */
void tr_pool_fwd(bl_pool *pool, const float *x, size_t b, uint32_t h, uint32_t w, uint32_t c,
                 float *y, uint8_t *arg);
/* dx is zeroed and the gradient routed to each window's argmax. */
void tr_pool_bwd(bl_pool *pool, const float *dy, const uint8_t *arg, size_t b, uint32_t h,
                 uint32_t w, uint32_t c, float *dx);
/* Batch norm over m = rows of x[m x c] (x = unit * a): z = gamma*xhat + beta,
 * batch mean and 1/sqrt(var + eps) written to bmean/binvstd; ysign (may be
 * NULL) gets sign(z) as +-1. */
void tr_bn_fwd_train(bl_pool *pool, const float *a, float unit, size_t m, uint32_t c,
                     const float *gamma, const float *beta, float *bmean, float *binvstd, float *z,
                     float *ysign);
/* Given dz, accumulate dgamma/dbeta (overwrite) and write da (d/d a; may be
 * NULL).  z_ste (may be NULL): first zero dz where |z_ste| > 1 (sign STE). */
void tr_bn_bwd(bl_pool *pool, const float *a, float unit, size_t m, uint32_t c,
               const float *gamma, const float *bmean, const float *binvstd, const float *z_ste,
               float *dz, float *dgamma, float *dbeta, float *da);
/* Losses on logits alpha*s[b x k]: mean over the batch; writes ds (d/d s)
 * and *dalpha; returns the loss; counts correct argmax(s) into *correct. */
double tr_loss(bl_loss_kind kind, const float *s, const int32_t *labels, size_t b, uint32_t k,
               float alpha, float *ds, float *dalpha, size_t *correct);
/* Margin regularizer lambda*mean(max(0, bm - |z|)) over n values; adds its
 * gradient to dz and returns its value. */
double tr_margin_reg(const float *z, size_t n, double lambda, double bm, float *dz);

/* ---- network (train_net.c) -------------------------------------------- */
int tr_net_build(bl_trainer *t, bl_error *err);
void tr_net_free(bl_trainer *t);
int tr_net_reserve(bl_trainer *t, size_t batch, bl_error *err);
void tr_init_params(bl_trainer *t);
/* Binarize latent weights into wb (clean, no flips) unless already clean;
 * with flips, then draw and apply step's flips (train_flip.c). */
void tr_binarize(bl_trainer *t, size_t step, int flips);
/* Recompute every wb = sign(W) (after W changed outside Adam). */
void tr_binarize_full(bl_trainer *t);
/* Training forward + backward on b inputs (codes); gradients into the
 * params' g; BN running stats updated when update_running; loss returned
 * (with the regularizer); correct predictions counted into *correct. */
double tr_forward_backward_ex(bl_trainer *t, const uint8_t *codes, const int32_t *labels,
                              size_t b, size_t *correct, int update_running);
double tr_forward_backward(bl_trainer *t, const uint8_t *codes, const int32_t *labels, size_t b,
                           size_t *correct);
/* Eval forward (folded thresholds, binarized weights without flips):
 * predicted classes of b inputs. */
void tr_eval_forward(bl_trainer *t, const uint8_t *codes, size_t b, int32_t *pred);
/* Fold THRESH layer i's BN (running stats) into integer thresholds in
 * units of the incoming pre-activation a, clamped to +-(max |a| + 1). */
void tr_fold_layer(const bl_trainer *t, int i, int32_t *tau, int8_t *dir);
/* Fold every THRESH layer into its tau/dir. */
void tr_fold_all(bl_trainer *t);
/* Apply one Adam step with learning rate lr at step number tstep (1-based). */
void tr_adam_step(bl_trainer *t, double lr, size_t tstep);
/* All learnable tensors in a fixed order (checkpoints). */
int tr_params_list(bl_trainer *t, tr_param **out, int max);
double tr_lr_at(const bl_trainer *t, size_t step);

#endif
