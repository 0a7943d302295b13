/* blobs.c - seeded Gaussian blobs (the synthetic data of the clustering
 * tests, benchmark and `betlab cluster --data blobs:N,D,K[,SEED]`). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/rng.h"
#include "cluster/subsets.h"

int bl_cluster_blobs(size_t n, size_t d, size_t k, uint64_t seed, double **x, int32_t **labels,
                     bl_error *err)
{
    *x = NULL;
    if (labels)
        *labels = NULL;
    size_t nd, kd;
    if (n == 0 || d == 0 || k == 0)
        return bl_error_set(err, BL_EINVAL, "blobs: N, D and K must be positive");
    int rc = bl_cluster_size_check(n, d, err);   /* what a clustering run takes */
    if (rc)
        return rc;
    if (!bl_size_mul(n, d, &nd) || !bl_size_mul(k, d, &kd))
        return bl_error_set(err, BL_ERANGE, "blobs: %zu x %zu is too large", n, d);
    double *c = malloc(kd * sizeof(double));
    double *v = malloc(nd * sizeof(double));
    int32_t *lab = labels ? malloc(n * sizeof(int32_t)) : NULL;
    if (!c || !v || (labels && !lab)) {
        free(c);
        free(v);
        free(lab);
        return bl_error_set(err, BL_ENOMEM, "blobs: out of memory");
    }
    for (size_t i = 0; i < kd; i++)
        c[i] = -10.0 + 20.0 * bl_rng_uniform(seed, BL_RNG_TEST, 1, i);
    for (size_t i = 0; i < nd; i += 2) {
        /* Box-Muller: two normals per pair of uniforms */
        double u1 = bl_rng_uniform(seed, BL_RNG_TEST, 2, i);
        double u2 = bl_rng_uniform(seed, BL_RNG_TEST, 2, i + 1);
        double r = sqrt(-2.0 * log(1.0 - u1)), a = 2.0 * M_PI * u2;
        v[i] = r * cos(a);
        if (i + 1 < nd)
            v[i + 1] = r * sin(a);
    }
    for (size_t i = 0; i < n; i++) {
        size_t l = i % k;
        for (size_t j = 0; j < d; j++)
            v[i * d + j] += c[l * d + j];
        if (lab)
            lab[i] = (int32_t)l;
    }
    free(c);
    *x = v;
    if (labels)
        *labels = lab;
    return 0;
}

int bl_cluster_blobs_parse(const char *spec, size_t *n, size_t *d, size_t *k, uint64_t *seed)
{
    if (strncmp(spec, "blobs:", 6))
        return -1;
    unsigned long long a = 0, b = 0, c = 0, s = 1;
    int used = 0;
    int got = sscanf(spec + 6, "%llu,%llu,%llu%n,%llu%n", &a, &b, &c, &used, &s, &used);
    if (got < 3 || spec[6 + used] != 0 || a == 0 || b == 0 || c == 0)
        return -1;
    *n = (size_t)a;
    *d = (size_t)b;
    *k = (size_t)c;
    *seed = (uint64_t)s;
    return 0;
}
