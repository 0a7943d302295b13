/* train_export.c - turning a trainer into a packed .bnn model: BN folded
 * into integer thresholds (tr_fold_layer), latent weights packed by sign
 * (w >= 0 -> bit 1 = +1) into the layout of model.h, training settings in
 * the metadata. */
#include <stdio.h>
#include <string.h>

#include "bnn/train_internal.h"

static void pack_layer(const tr_layer *l, bl_layer *ml)
{
    memset(ml->weights, 0, (size_t)ml->rows * ml->words_per_row * sizeof(uint64_t));
    for (uint32_t r = 0; r < l->rows; r++) {
        uint64_t *row = ml->weights + (size_t)r * ml->words_per_row;
        const float *w = l->W.w + (size_t)r * l->cols;
        if (ml->kind == BL_LAYER_DENSE) {
            for (uint32_t i = 0; i < l->cols; i++)
                if (w[i] >= 0)
                    row[i >> 6] |= (uint64_t)1 << (i & 63);
        } else {
            uint32_t cin = l->cin;
            for (uint32_t tap = 0; tap < 9; tap++)
                for (uint32_t c = 0; c < cin; c++)
                    if (w[tap * cin + c] >= 0) {
                        size_t bit = (size_t)tap * ml->words_per_tap * 64 + c;
                        row[bit >> 6] |= (uint64_t)1 << (bit & 63);
                    }
        }
    }
}

static void meta_num(bl_model *m, const char *key, const char *fmt, double v)
{
    char buf[64];
    snprintf(buf, sizeof buf, fmt, v);
    bl_model_meta_set(m, key, buf);
}

int bl_trainer_export(const bl_trainer *t, bl_model **out, bl_error *err)
{
    *out = NULL;
    bl_model *m;
    int rc = bl_model_clone(t->arch, &m, err);
    if (rc)
        return rc;
    for (int i = 0; i < t->nl; i++) {
        const tr_layer *l = &t->L[i];
        bl_layer *ml = &m->layers[i];
        if (l->W.n)
            pack_layer(l, ml);
        else if (l->kind == BL_LAYER_THRESH)
            tr_fold_layer(t, i, ml->tau, ml->dir);
    }
    rc = bl_model_validate(m, err);
    if (rc) {
        bl_model_free(m);
        return bl_error_prefix(err, "exporting the trained model");
    }
    const bl_train_opts *o = &t->o;
    bl_model_meta_set(m, "arch", o->spec);
    bl_model_meta_set(m, "trainer", "betlab train");
    meta_num(m, "epochs", "%.0f", (double)t->epoch);
    meta_num(m, "batch", "%.0f", (double)o->batch);
    meta_num(m, "lr", "%.6g", o->lr);
    bl_model_meta_set(m, "lr_schedule", "cosine");
    bl_model_meta_set(m, "optimizer", "adam");
    bl_model_meta_set(m, "loss", o->loss == BL_LOSS_MHL ? "mhl" : "ce");
    if (o->p01 == o->p10) {
        meta_num(m, "flip_p", "%.6g", o->p01);
    } else {
        meta_num(m, "flip_p01", "%.6g", o->p01);
        meta_num(m, "flip_p10", "%.6g", o->p10);
    }
    bl_model_meta_set(m, "flip_mode", o->flip_mode == BL_FLIP_EXACT ? "exact" : "ste");
    if (o->reg_lambda > 0) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.6g,%.6g", o->reg_lambda, o->reg_b);
        bl_model_meta_set(m, "reg_margin", buf);
    }
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)o->seed);
    bl_model_meta_set(m, "seed", buf);
    meta_num(m, "train_images", "%.0f", (double)t->ntrain);
    meta_num(m, "output_scale", "%.6g", (double)t->alpha.w[0]);
    if (t->data_name[0][0])
        bl_model_meta_set(m, "dataset", t->data_name[0]);
    *out = m;
    return 0;
}
