/* betlab_plugin.h - the whole ABI between betlab and a fault-model plugin.
 *
 * A plugin is one shared object (cc -shared -fPIC -O2 -o x.so x.c) that
 * includes only this header and exports one function:
 *
 *     int betlab_plugin_entry(const betlab_host_api *host,
 *                             const betlab_plugin_info **out);
 *
 * It returns 0 and points *out at a static betlab_plugin_info describing
 * the fault model (or non-zero when it cannot work with this host, e.g.
 * host->struct_size too small); see betlab-plugin(7).  A plugin never
 * links against betlab's symbols: everything it needs from the host comes
 * through the betlab_host_api function pointers.
 *
 * Versioning.  BETLAB_PLUGIN_ABI_MAJOR changes when a struct changes
 * incompatibly; the host rejects any other major.  MINOR grows when fields
 * are appended to the end of a struct.  Every struct passed across starts
 * with uint32_t struct_size = sizeof the struct as its creator compiled
 * it; a reader must check struct_size before touching a field (a field
 * exists iff offsetof(field) + sizeof(field) <= struct_size).  The first
 * three fields of betlab_plugin_info (struct_size, abi_major, abi_minor)
 * are frozen forever so that any host can read any plugin's version.
 *
 * Bits.  Plugins see the stored bits of one target of one layer at a time:
 *   weights     rows = neurons / output channels; each row is segs_per_row
 *               segments (1 for dense, 9 taps for conv), each seg_bits real
 *               bits padded to seg_words 64-bit words; 1 = +1, 0 = -1.
 *   thresholds  one row of 32 * channels bits: channel c's threshold tau_c
 *               (int32, two's complement) at bits 32c .. 32c+31, LSB first.
 * Bit i of the target lives in words[i / 64], bit i % 64 (little-endian),
 * and i is also its index for the coupled uniforms.  Padding bits must
 * stay zero (the host clears them after apply anyway).
 *
 * Reproducibility.  Use only host->coupled_masks / host->uniform for
 * randomness: they are pure functions of (seed, layer, target, bit), so a
 * fault map is reproducible and coupled (a bit faulty at rate p is faulty
 * at every larger rate) when the plugin flips bits where u_b < rate. */
#ifndef BETLAB_PLUGIN_H
#define BETLAB_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define BETLAB_PLUGIN_ABI_MAJOR 1
#define BETLAB_PLUGIN_ABI_MINOR 0

#define BETLAB_PLUGIN_ENTRY "betlab_plugin_entry"

enum betlab_target {
    BETLAB_TARGET_WEIGHTS = 0,
    BETLAB_TARGET_THRESHOLDS = 1
};

enum betlab_log_level { BETLAB_LOG_DEBUG = 0, BETLAB_LOG_INFO = 1, BETLAB_LOG_WARN = 2 };

/* Functions the host offers.  host_ctx is the opaque pointer the host
 * passed along with the call being served (entry: NULL is allowed). */
typedef struct betlab_host_api {
    uint32_t struct_size;
    uint32_t abi_major, abi_minor;    /* the host's ABI version            */
    /* out[r][i] = bit j set iff u of bit 64*(first_word+i)+j < rates[r],
     * for r < nrates (<= 16), i < nwords.  Coupled: the same u for every
     * rate.  Only inside apply (host_ctx = view->host_ctx). */
    void (*coupled_masks)(void *host_ctx, uint64_t first_word, size_t nwords, uint32_t nrates,
                          const double *rates, uint64_t *const *out);
    /* u of one bit in [0, 1), 32-bit resolution (slow: prefer masks). */
    double (*uniform)(void *host_ctx, uint64_t bit);
    /* Report an error (one line, printf-style); the call then returns
     * non-zero.  Valid in entry, init, check and apply. */
    void (*error)(void *host_ctx, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 2, 3)))
#endif
        ;
    /* Log a line (the host decides whether it is shown). */
    void (*log)(void *host_ctx, int level, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 3, 4)))
#endif
        ;
} betlab_host_api;

#define BETLAB_PARAM_RATE 1u  /* the parameter a BER sweep sets (one at most) */

/* A declared parameter.  Names: [A-Za-z][A-Za-z0-9_]*, < 32 chars,
 * unique; min <= def <= max, all finite; help non-empty. */
typedef struct betlab_param_decl {
    uint32_t struct_size;
    uint32_t flags;                   /* BETLAB_PARAM_RATE or 0            */
    const char *name;
    double def, min, max;
    const char *help;
} betlab_param_decl;

/* One target of one layer, for apply. */
typedef struct betlab_target_view {
    uint32_t struct_size;
    uint32_t target;                  /* enum betlab_target                */
    uint64_t *words;                  /* rows * words_per_row words        */
    uint32_t rows;
    uint32_t cols;                    /* real bits per row                 */
    uint32_t words_per_row;
    uint32_t segs_per_row;            /* 1 (dense, thresholds) or 9 (conv) */
    uint32_t seg_bits;                /* real bits per segment             */
    uint32_t seg_words;               /* words per segment                 */
    uint32_t layer_index;             /* index in the model                */
    const char *layer_name;
    uint64_t seed;                    /* repetition seed (seed + r)        */
    const double *params;             /* values, in declaration order      */
    uint32_t nparams;
    void *host_ctx;                   /* pass to host functions            */
} betlab_target_view;

typedef struct betlab_plugin_info {
    uint32_t struct_size;             /* frozen: sizeof(betlab_plugin_info) */
    uint32_t abi_major, abi_minor;    /* frozen: BETLAB_PLUGIN_ABI_*        */
    const char *name;                 /* kind name in specs: [a-z][a-z0-9_]* */
    const char *help;                 /* one line                           */
    const betlab_param_decl *params;  /* nparams declarations               */
    uint32_t nparams;                 /* <= 16                              */
    uint32_t param_size;              /* sizeof(betlab_param_decl): stride  */
    /* Optional (NULL = nothing to do): make per-plugin state; return 0, or
     * non-zero after host->error(host_ctx, ...). */
    int (*init)(const betlab_host_api *host, void *host_ctx, void **state);
    /* Optional: check a set of parameter values beyond their ranges. */
    int (*check)(void *state, const double *params, uint32_t nparams, void *host_ctx);
    /* Required: modify view->words in place; 0 or non-zero + host->error. */
    int (*apply)(void *state, const betlab_target_view *view);
    /* Optional: free the state. */
    void (*fini)(void *state);
} betlab_plugin_info;

typedef int (*betlab_plugin_entry_fn)(const betlab_host_api *host,
                                      const betlab_plugin_info **out);

#if defined(__GNUC__)
#define BETLAB_EXPORT __attribute__((visibility("default")))
#else
#define BETLAB_EXPORT
#endif

#endif
