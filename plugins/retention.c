/* retention.c - retention loss as a function of time and temperature.
 *
 * Stored bits of a resistive or charge-based memory drift towards the
 * wrong state over time, faster when hot.  The bit error rate after t
 * hours at temperature T (kelvin) follows a power law in time with an
 * Arrhenius acceleration in temperature:
 *
 *     BER(t, T) = min(0.5, ber0 * (t / t0)^beta * exp(Ea / k * (1/T0 - 1/T)))
 *
 * with k = 8.617333262e-5 eV/K (Boltzmann).  Parameters (defaults):
 *   ber0  0.001   BER measured after t0 hours at T0 (the sweep rate)
 *   t     1000    hours since the data was written
 *   T     300     storage temperature, K
 *   Ea    1.1     activation energy, eV (0: no temperature dependence)
 *   beta  1       time exponent (1: linear in time)
 *   t0    1000    reference time of ber0, hours
 *   T0    300     reference temperature of ber0, K
 * A bit flips iff its coupled uniform u < BER(t, T): a longer time or a
 * higher temperature only adds faulty bits (coupled across settings).
 * Build: cc -shared -fPIC -O2 -Iplugins -o plugins/retention.so plugins/retention.c -lm */
#include <math.h>
#include <stdlib.h>

#include "betlab_plugin.h"

#define P(flags, name, def, min, max, help) \
    { sizeof(betlab_param_decl), flags, name, def, min, max, help }

static const betlab_param_decl params[] = {
    P(BETLAB_PARAM_RATE, "ber0", 0.001, 0, 0.5, "BER after t0 hours at T0"),
    P(0, "t", 1000, 0, 1e7, "hours since the data was written"),
    P(0, "T", 300, 150, 600, "storage temperature in kelvin"),
    P(0, "Ea", 1.1, 0, 5, "activation energy in eV"),
    P(0, "beta", 1, 0, 10, "time exponent of the power law"),
    P(0, "t0", 1000, 1e-6, 1e9, "reference time of ber0, hours"),
    P(0, "T0", 300, 150, 600, "reference temperature of ber0, kelvin"),
};

static double ber(const double *v)
{
    const double k = 8.617333262e-5;
    double x = v[0] * pow(v[1] / v[5], v[4]) * exp(v[3] / k * (1.0 / v[6] - 1.0 / v[2]));
    return isfinite(x) ? (x < 0.5 ? x : 0.5) : 0.5;
}

static int check(void *state, const double *v, uint32_t n, void *ctx)
{
    const betlab_host_api *host = state;
    if (n != 7) {
        host->error(ctx, "expected 7 parameters, got %u", n);
        return 1;
    }
    if (v[1] == 0 && v[4] == 0) {
        host->error(ctx, "t = 0 with beta = 0 is undefined (0^0)");
        return 1;
    }
    return 0;
}

static int apply(void *state, const betlab_target_view *v)
{
    const betlab_host_api *host = state;
    double p = ber(v->params);
    if (p <= 0)
        return 0;
    size_t nw = (size_t)v->rows * v->words_per_row, chunk = 4096;
    uint64_t *m = malloc(chunk * sizeof *m);
    if (!m) {
        host->error(v->host_ctx, "out of memory");
        return 1;
    }
    for (size_t w0 = 0; w0 < nw; w0 += chunk) {
        size_t n = nw - w0 < chunk ? nw - w0 : chunk;
        uint64_t *outs[1] = { m };
        host->coupled_masks(v->host_ctx, w0, n, 1, &p, outs);
        for (size_t i = 0; i < n; i++)
            v->words[w0 + i] ^= m[i]; /* padding is cleared by the host */
    }
    free(m);
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
    .name = "retention",
    .help = "retention loss: BER = ber0 (t/t0)^beta exp(Ea/k (1/T0 - 1/T)), capped at 0.5",
    .params = params,
    .nparams = sizeof params / sizeof params[0],
    .param_size = sizeof(betlab_param_decl),
    .init = init,
    .check = check,
    .apply = apply,
};

BETLAB_EXPORT int betlab_plugin_entry(const betlab_host_api *host, const betlab_plugin_info **out)
{
    if (!host || host->abi_major != BETLAB_PLUGIN_ABI_MAJOR)
        return 1;
    *out = &info;
    return 0;
}
