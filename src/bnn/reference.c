/* reference.c - the float reference forward pass (engine.h).
 *
 * Straight from the definitions in model.h: float arithmetic over +-1.0f
 * weights and (float)(q - input_zero) inputs, one input at a time, naive
 * loops, no packing, no SIMD.  It is the correctness oracle of the packed
 * engine and the "float reference" of the benchmark.
 *
 * Exactness: every partial sum is an integer.  For the first weight layer
 * |partial sum| <= cols * 255, for a binary layer <= cols; float holds
 * every integer up to 2^24 exactly, so the sums (and hence pre-activations,
 * thresholds and the argmax) are exact as long as the first layer has
 * cols * 255 < 2^24 (cols <= 65793) and every binary layer cols < 2^24.
 * Models beyond that bound are refused with BL_ERANGE.  fc (784 * 255 =
 * 199920) and vgg3 (9 * 255 = 2295, binary 3136) are far inside it. */
#include <stdlib.h>

#include "bnn/engine.h"

#define REF_EXACT_LIMIT (1u << 24)

static float wsign(const uint64_t *row, size_t bit)
{
    return ((row[bit >> 6] >> (bit & 63)) & 1) ? 1.0f : -1.0f;
}

int bl_reference_forward(const bl_model *m, const uint8_t *codes, float **preacts, float *scores)
{
    size_t maxn = bl_shape_size(m->input);
    for (uint32_t li = 0; li < m->nlayers; li++) {
        const bl_layer *l = &m->layers[li];
        size_t n = bl_shape_size(l->out);
        if (n > maxn)
            maxn = n;
        if (l->kind == BL_LAYER_DENSE || l->kind == BL_LAYER_CONV3) {
            uint64_t bound = l->real_input ? (uint64_t)l->cols * 255u : l->cols;
            if (bound >= REF_EXACT_LIMIT)
                return BL_ERANGE;
        }
    }
    float *cur = malloc(maxn * sizeof *cur), *nxt = malloc(maxn * sizeof *nxt);
    if (!cur || !nxt) {
        free(cur);
        free(nxt);
        return BL_ENOMEM;
    }
    size_t nin = bl_shape_size(m->input);
    for (size_t i = 0; i < nin; i++)
        cur[i] = (float)((int32_t)codes[i] - m->input_zero);

    int cls = 0;
    for (uint32_t li = 0; li < m->nlayers; li++) {
        const bl_layer *l = &m->layers[li];
        size_t nout = bl_shape_size(l->out);
        switch (l->kind) {
        case BL_LAYER_DENSE:
            for (uint32_t j = 0; j < l->rows; j++) {
                const uint64_t *row = l->weights + (size_t)j * l->words_per_row;
                float a = 0.0f;
                for (uint32_t i = 0; i < l->cols; i++)
                    a += wsign(row, i) * cur[i];
                nxt[j] = a;
            }
            break;
        case BL_LAYER_CONV3: {
            uint32_t H = l->in.h, W = l->in.w, C = l->in.c;
            for (uint32_t y = 0; y < H; y++)
                for (uint32_t x = 0; x < W; x++)
                    for (uint32_t o = 0; o < l->rows; o++) {
                        const uint64_t *row = l->weights + (size_t)o * l->words_per_row;
                        float a = 0.0f;
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                long yy = (long)y + ky - 1, xx = (long)x + kx - 1;
                                if (yy < 0 || xx < 0 || yy >= (long)H || xx >= (long)W)
                                    continue; /* zero padding contributes 0 */
                                size_t t = (size_t)(ky * 3 + kx);
                                const float *px = cur + ((size_t)yy * W + (size_t)xx) * C;
                                for (uint32_t c = 0; c < C; c++)
                                    a += wsign(row, t * l->words_per_tap * 64 + c) * px[c];
                            }
                        nxt[((size_t)y * W + x) * l->rows + o] = a;
                    }
            break;
        }
        case BL_LAYER_MAXPOOL2: {
            uint32_t W = l->in.w, C = l->in.c;
            for (uint32_t y = 0; y < l->out.h; y++)
                for (uint32_t x = 0; x < l->out.w; x++)
                    for (uint32_t c = 0; c < C; c++) {
                        float v = cur[((size_t)(2 * y) * W + 2 * x) * C + c];
                        for (int d = 1; d < 4; d++) {
                            float u = cur[((size_t)(2 * y + d / 2) * W + 2 * x + d % 2) * C + c];
                            if (u > v)
                                v = u;
                        }
                        nxt[((size_t)y * l->out.w + x) * C + c] = v;
                    }
            break;
        }
        case BL_LAYER_THRESH: {
            uint32_t C = l->out.c;
            for (size_t i = 0; i < nout; i++) {
                size_t c = i % C;
                float t = (float)l->tau[c];
                int on = l->dir[c] > 0 ? cur[i] >= t : cur[i] <= t;
                nxt[i] = on ? 1.0f : -1.0f;
            }
            break;
        }
        case BL_LAYER_FLATTEN:
            for (size_t i = 0; i < nout; i++)
                nxt[i] = cur[i];
            break;
        }
        if (preacts && preacts[li] &&
            (l->kind == BL_LAYER_DENSE || l->kind == BL_LAYER_CONV3 ||
             l->kind == BL_LAYER_MAXPOOL2))
            for (size_t i = 0; i < nout; i++)
                preacts[li][i] = nxt[i];
        float *t = cur;
        cur = nxt;
        nxt = t;
    }
    /* cur holds the last layer's scores */
    const bl_layer *last = &m->layers[m->nlayers - 1];
    double best = 0.0;
    for (uint32_t k = 0; k < m->nclasses; k++) {
        if (scores)
            scores[k] = cur[k];
        double v = (double)(int32_t)cur[k];
        if (last->out_scale)
            v = (double)last->out_scale[k] * v;
        if (last->out_bias)
            v = v + (double)last->out_bias[k];
        if (k == 0 || v > best) {
            best = v;
            cls = (int)k;
        }
    }
    free(cur);
    free(nxt);
    return cls;
}
