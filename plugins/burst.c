/* burst.c - burst (row) errors: runs of adjacent bits of one memory row
 * fail together.
 *
 * A burst starts at a real bit of a row with probability q and flips that
 * bit and the len-1 real bits after it in the same row (it is cut at the
 * row's end; padding is skipped).  q is derived from the rate p so that,
 * away from row ends, a bit is faulty with probability exactly p:
 *     1 - (1 - q)^len = p   =>   q = 1 - (1 - p)^(1/len).
 * Starts come from the host's coupled uniforms (start iff u < q, q grows
 * with p), so the faulty bits at p are a subset of those at any p' > p.
 *
 * Parameters: p (rate, default 0.001), len (bits per burst, default 8).
 * Build: cc -shared -fPIC -O2 -Iplugins -o plugins/burst.so plugins/burst.c */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "betlab_plugin.h"

static const betlab_param_decl params[] = {
    { sizeof(betlab_param_decl), BETLAB_PARAM_RATE, "p", 0.001, 0.0, 1.0,
      "fraction of bits hit by a burst (away from row ends)" },
    { sizeof(betlab_param_decl), 0, "len", 8, 1, 4096, "adjacent bits of a row per burst" },
};

static int apply(void *state, const betlab_target_view *v)
{
    const betlab_host_api *host = (const betlab_host_api *)state;
    double p = v->params[0];
    unsigned len = (unsigned)v->params[1];
    if (p <= 0)
        return 0;
    double q = p >= 1 ? 1.0 : -expm1(log1p(-p) / len);
    size_t wpr = v->words_per_row;
    uint64_t *start = malloc(wpr * sizeof *start), *hit = malloc(wpr * sizeof *hit);
    if (!start || !hit) {
        free(start);
        free(hit);
        host->error(v->host_ctx, "out of memory");
        return 1;
    }
    uint64_t seg_span = (uint64_t)v->seg_words * 64;
    for (uint32_t r = 0; r < v->rows; r++) {
        uint64_t *row = v->words + (size_t)r * wpr;
        uint64_t *outs[1] = { start };
        host->coupled_masks(v->host_ctx, (uint64_t)r * wpr, wpr, 1, &q, outs);
        memset(hit, 0, wpr * sizeof *hit);
        for (size_t w = 0; w < wpr; w++) {
            uint64_t s = start[w];
            while (s) {
                uint64_t pos = (uint64_t)w * 64 + (uint64_t)__builtin_ctzll(s);
                s &= s - 1;
                uint64_t seg = pos / seg_span, off = pos % seg_span;
                if (seg >= v->segs_per_row || off >= v->seg_bits)
                    continue; /* a start on padding: no cell there */
                uint64_t real = seg * v->seg_bits + off; /* index among real bits */
                uint64_t end = real + len < v->cols ? real + len : v->cols;
                for (uint64_t k = real; k < end; k++) {
                    uint64_t b = (k / v->seg_bits) * seg_span + k % v->seg_bits;
                    hit[b >> 6] |= (uint64_t)1 << (b & 63);
                }
            }
        }
        for (size_t w = 0; w < wpr; w++)
            row[w] ^= hit[w];
    }
    free(start);
    free(hit);
    return 0;
}

static int init(const betlab_host_api *host, void *ctx, void **state)
{
    if (host->struct_size < sizeof(betlab_host_api)) {
        host->error(ctx, "host API too old");
        return 1;
    }
    *state = (void *)host; /* the only state: the host's function table */
    return 0;
}

static const betlab_plugin_info info = {
    .struct_size = sizeof(betlab_plugin_info),
    .abi_major = BETLAB_PLUGIN_ABI_MAJOR,
    .abi_minor = BETLAB_PLUGIN_ABI_MINOR,
    .name = "burst",
    .help = "burst errors: runs of len adjacent bits of a memory row flip together",
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
