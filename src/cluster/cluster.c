/* cluster.c - backend dispatcher, names of precisions and optimizers,
 * input validation shared by every backend. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/cpu.h"
#include "cluster/cluster.h"

#if defined(__has_include)
#if __has_include("cluster/backend_opencl.h")
#include "cluster/backend_opencl.h"
#define BL_CLUSTER_HAVE_OPENCL 1
#endif
#endif

int bl_cluster_cpu_new(const bl_cluster_data *data, bl_precision prec, int nslots, int threads,
                       int simd, bl_cluster_backend **out, bl_error *err);
int bl_cluster_reference_new(const bl_cluster_data *data, int nslots, bl_cluster_backend **out,
                             bl_error *err);

static const char *const prec_names[] = { "fp64", "fp32", "fp16" };

const char *bl_precision_name(bl_precision p)
{
    return (unsigned)p < 3 ? prec_names[p] : "?";
}

int bl_precision_parse(const char *s)
{
    if (!s)
        return -1;
    for (int i = 0; i < 3; i++)
        if (!strcasecmp(s, prec_names[i]))
            return i;
    if (!strcasecmp(s, "double"))
        return BL_PREC_FP64;
    if (!strcasecmp(s, "float") || !strcasecmp(s, "single"))
        return BL_PREC_FP32;
    if (!strcasecmp(s, "half"))
        return BL_PREC_FP16;
    return -1;
}

static const char *const opt_names[BL_OPT_COUNT] = {
    "greedy", "lazy-greedy", "stochastic-greedy", "sieve-streaming", "sieve-streaming++",
    "three-sieves", "salsa",
};

const char *bl_optimizer_name(bl_optimizer o)
{
    return (unsigned)o < BL_OPT_COUNT ? opt_names[o] : "?";
}

/* Accepts the names above, case-insensitive, with '-' or '_' or nothing
 * between words ("lazygreedy", "Lazy_Greedy", "sievestreamingpp"). */
int bl_optimizer_parse(const char *s)
{
    if (!s)
        return -1;
    char a[64];
    size_t k = 0;
    for (const char *p = s; *p && k + 3 < sizeof a; p++) {
        if (*p == '-' || *p == '_' || *p == ' ')
            continue;
        if (*p == '+') {
            a[k++] = 'p';
            continue;
        }
        a[k++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    }
    a[k] = 0;
    for (int i = 0; i < BL_OPT_COUNT; i++) {
        char b[64];
        size_t q = 0;
        for (const char *p = opt_names[i]; *p; p++)
            if (*p != '-')
                b[q++] = *p == '+' ? 'p' : *p;
        b[q] = 0;
        if (!strcmp(a, b))
            return i;
    }
    if (!strcmp(a, "lazy"))
        return BL_OPT_LAZY_GREEDY;
    if (!strcmp(a, "stochastic"))
        return BL_OPT_STOCHASTIC_GREEDY;
    if (!strcmp(a, "sieve"))
        return BL_OPT_SIEVE_STREAMING;
    if (!strcmp(a, "sievepp") || !strcmp(a, "sievestreamingplusplus"))
        return BL_OPT_SIEVE_STREAMING_PP;
    if (!strcmp(a, "threesieve"))
        return BL_OPT_THREE_SIEVES;
    return -1;
}

int bl_cluster_size_check(size_t n, size_t d, bl_error *err)
{
    if (d > BL_CLUSTER_MAX_DIM)
        return bl_error_set(err, BL_ERANGE,
                            "cluster: %zu points of %zu values each: at most %zu values per "
                            "point", n, d, BL_CLUSTER_MAX_DIM);
    if (n > BL_CLUSTER_MAX_VALUES / (d ? d : 1))
        return bl_error_set(err, BL_ERANGE,
                            "cluster: %zu points x %zu values is %.3g values (%.3g GiB as "
                            "doubles): at most %zu values in all (use --limit)", n, d,
                            (double)n * (double)d, (double)n * (double)d * 8 / (1 << 30),
                            BL_CLUSTER_MAX_VALUES);
    return 0;
}

int bl_cluster_backend_new(const char *device, const bl_cluster_data *data, bl_precision prec,
                           int nslots, int threads, const bl_settings *settings,
                           bl_cluster_backend **out, bl_error *err)
{
    *out = NULL;
    if (!device || !*device)
        device = "cpu";
    if (!data || !data->x || data->n == 0 || data->d == 0)
        return bl_error_set(err, BL_EINVAL, "cluster: empty data (%zu points of dimension %zu)",
                            data ? data->n : 0, data ? data->d : 0);
    if (data->n > UINT32_MAX)
        return bl_error_set(err, BL_ERANGE, "cluster: %zu points (at most %u)", data->n,
                            UINT32_MAX);
    int src = bl_cluster_size_check(data->n, data->d, err);
    if (src)
        return src;
    if ((unsigned)prec > BL_PREC_FP16)
        return bl_error_set(err, BL_EINVAL, "cluster: unknown precision %d", (int)prec);
    if (nslots < 1)
        return bl_error_set(err, BL_EINVAL, "cluster: nslots must be >= 1 (got %d)", nslots);
    for (size_t i = 0; i < data->n * data->d; i++)
        if (!isfinite(data->x[i]))
            return bl_error_set(err, BL_EINVAL,
                                "cluster: data has a %s at row %zu, column %zu",
                                isnan(data->x[i]) ? "NaN" : "infinity", i / data->d, i % data->d);
    if (!strcasecmp(device, "cpu") || !strncasecmp(device, "cpu:", 4)) {
        int simd = -1;
        if (device[3] == ':') {
            simd = bl_simd_parse(device + 4);
            if (simd < 0)
                return bl_error_set(err, BL_EINVAL,
                                    "cluster: unknown SIMD level in device '%s' "
                                    "(cpu:portable|avx2|avx512)", device);
            if (simd > (int)bl_simd_supported())
                return bl_error_set(err, BL_EUNSUPPORTED,
                                    "cluster: this CPU does not support %s", device + 4);
        }
        return bl_cluster_cpu_new(data, prec, nslots, threads, simd, out, err);
    }
    if (!strcasecmp(device, "reference")) {
        if (prec != BL_PREC_FP64)
            return bl_error_set(err, BL_EINVAL,
                                "cluster: the reference backend computes in fp64 only (got %s)",
                                bl_precision_name(prec));
        return bl_cluster_reference_new(data, nslots, out, err);
    }
    if (!strncasecmp(device, "opencl", 6) && (device[6] == 0 || device[6] == ':')) {
#ifdef BL_CLUSTER_HAVE_OPENCL
        return bl_cluster_opencl_new(device, data, prec, nslots, settings, out, err);
#else
        (void)settings;
        return bl_error_set(err, BL_EUNSUPPORTED, "cluster: this build has no OpenCL backend");
#endif
    }
    return bl_error_set(err, BL_EINVAL,
                        "cluster: unknown device '%s' (cpu, reference, opencl, opencl:P:D, "
                        "opencl:NAME)", device);
}

void bl_cluster_backend_free(bl_cluster_backend *b)
{
    if (b)
        b->ops->free(b);
}
