/* rram.c - data-dependent RRAM errors.
 *
 * In RRAM the two resistance states fail at different rates, and a cell
 * whose neighbour holds the other state is disturbed more (sneak currents,
 * thermal crosstalk).  A stored bit's flip probability is
 *     base  = p        for a stored 0 (high resistance -> set to 1)
 *           = p * k10  for a stored 1 (low resistance -> reset to 0)
 *     rate  = min(1, base * nf)  if a neighbouring cell of the same memory
 *                                row (left or right stored position, padding
 *                                cells hold 0) holds the other value,
 *           = base               otherwise.
 * Neighbours are read before any flip.  One coupled uniform u per bit
 * decides for all four classes (flip iff u < rate), so raising p only adds
 * faulty bits.  Parameters: p (rate, default 0.001), k10 (default 0.5),
 * nf (neighbour factor, default 3).
 * Build: cc -shared -fPIC -O2 -Iplugins -o plugins/rram.so plugins/rram.c */
#include <stdlib.h>

#include "betlab_plugin.h"

static const betlab_param_decl params[] = {
    { sizeof(betlab_param_decl), BETLAB_PARAM_RATE, "p", 0.001, 0, 1,
      "flip rate of a stored 0 with equal neighbours" },
    { sizeof(betlab_param_decl), 0, "k10", 0.5, 0, 100, "rate of a stored 1 relative to p" },
    { sizeof(betlab_param_decl), 0, "nf", 3, 0, 1000,
      "rate factor when a neighbouring cell holds the other value" },
};

static double cap1(double x) { return x < 1 ? x : 1; }

static int apply(void *state, const betlab_target_view *v)
{
    const betlab_host_api *host = state;
    double p = v->params[0], k10 = v->params[1], nf = v->params[2];
    double rates[4] = { cap1(p), cap1(p * k10), cap1(p * nf), cap1(p * k10 * nf) };
    size_t wpr = v->words_per_row;
    uint64_t *buf = malloc(4 * wpr * sizeof *buf);
    if (!buf) {
        host->error(v->host_ctx, "out of memory");
        return 1;
    }
    uint64_t *m[4] = { buf, buf + wpr, buf + 2 * wpr, buf + 3 * wpr };
    for (uint32_t r = 0; r < v->rows; r++) {
        uint64_t *x = v->words + (size_t)r * wpr;
        host->coupled_masks(v->host_ctx, (uint64_t)r * wpr, wpr, 4, rates, m);
        uint64_t flip[64], *fl = wpr <= 64 ? flip : malloc(wpr * sizeof *fl);
        if (!fl) {
            free(buf);
            host->error(v->host_ctx, "out of memory");
            return 1;
        }
        for (size_t w = 0; w < wpr; w++) {
            uint64_t left = x[w] << 1 | (w ? x[w - 1] >> 63 : 0);
            uint64_t right = x[w] >> 1 | (w + 1 < wpr ? x[w + 1] << 63 : 0);
            uint64_t dl = (x[w] ^ left) & ~(w == 0 ? (uint64_t)1 : 0);
            uint64_t dr = (x[w] ^ right) & ~(w + 1 == wpr ? (uint64_t)1 << 63 : 0);
            uint64_t d = dl | dr, one = x[w];
            fl[w] = (~one & ~d & m[0][w]) | (one & ~d & m[1][w]) | (~one & d & m[2][w]) |
                    (one & d & m[3][w]);
        }
        for (size_t w = 0; w < wpr; w++)
            x[w] ^= fl[w]; /* padding is cleared by the host */
        if (fl != flip)
            free(fl);
    }
    free(buf);
    return 0;
}

static int init(const betlab_host_api *host, void *ctx, void **state)
{
    if (host->struct_size < sizeof(betlab_host_api)) {
        host->error(ctx, "host API too old");
        return 1;
    }
    *state = (void *)host;
    return 0;
}

static const betlab_plugin_info info = {
    .struct_size = sizeof(betlab_plugin_info),
    .abi_major = BETLAB_PLUGIN_ABI_MAJOR,
    .abi_minor = BETLAB_PLUGIN_ABI_MINOR,
    .name = "rram",
    .help = "data-dependent RRAM flips: rate by stored value, raised when a neighbour differs",
    .params = params,
    .nparams = sizeof params / sizeof params[0],
    .param_size = sizeof(betlab_param_decl),
    .init = init,
    .apply = apply,
};

BETLAB_EXPORT int betlab_plugin_entry(const betlab_host_api *host, const betlab_plugin_info **out)
{
    if (!host || host->abi_major != BETLAB_PLUGIN_ABI_MAJOR)
        return 1;
    *out = &info;
    return 0;
}
