/* campaign.c - campaign plan (units, hash, shards), record lines and the
 * resumable runner (campaign.h). */
#include "study/campaign_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/clock.h"
#include "base/strbuf.h"
#include "base/file.h"
#include "base/json_out.h"
#include "base/version.h"
#include "study/metrics_report.h"

struct bl_campaign_plan {
    const bl_campaign_desc *d;
    bl_campaign_unit *units;
    size_t nunits;
    size_t *nbers;
    char hash[17];
};

/* ---- expansion ---- */

int bl_campaign_expand(const bl_campaign_shape *s, bl_campaign_unit **units, size_t *n,
                       bl_error *err)
{
    int per = s->stopping ? 0 : (s->reps_per_unit > 0 ? s->reps_per_unit : s->reps);
    if (!s->stopping && per > s->reps)
        per = s->reps;
    size_t count = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t k = 0;
        for (uint32_t m = 0; m < s->nmodels; m++) {
            if (s->record & BL_CAMPAIGN_MARGINS) {
                if (pass)
                    (*units)[k] = (bl_campaign_unit){ .id = (uint32_t)k, .kind = BL_UNIT_MARGINS,
                                                      .model = m };
                k++;
            }
            for (uint32_t f = 0; f < s->nfaults; f++)
                for (uint32_t b = 0; b < s->nbers[f]; b++) {
                    int r0 = 0;
                    do {
                        int nr = s->stopping ? 0 : (s->reps - r0 < per ? s->reps - r0 : per);
                        if (pass)
                            (*units)[k] = (bl_campaign_unit){ .id = (uint32_t)k,
                                .kind = BL_UNIT_EVAL, .model = m, .fault = f, .ber = b,
                                .rep0 = r0, .nrep = nr };
                        k++;
                        r0 += nr;
                        if (k > BL_CAMPAIGN_MAX_UNITS)
                            return bl_error_set(err, BL_ERANGE, "campaign: more than %d work "
                                                "units (use larger reps_per_unit)",
                                                BL_CAMPAIGN_MAX_UNITS);
                    } while (!s->stopping && r0 < s->reps);
                }
        }
        if (!pass) {
            count = k;
            *units = calloc(count ? count : 1, sizeof **units);
            if (!*units)
                return bl_error_set(err, BL_ENOMEM, "campaign: out of memory");
        }
    }
    *n = count;
    return 0;
}

/* ---- plan ---- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* The campaign's identity: everything that decides the results (models by
 * their checksum, not their path), in a canonical text. */
static int plan_hash(bl_campaign_plan *p, bl_error *err)
{
    const bl_campaign_desc *d = p->d;
    bl_strbuf t = { 0 };
    bl_strbuf_printf(&t, "%s\n", BL_CAMPAIGN_FORMAT);
    for (size_t m = 0; m < d->nmodels; m++)
        bl_strbuf_printf(&t, "model %s %" PRIu64 " %08x %zu\n", d->models[m].name, d->models[m].train_seed,
               (unsigned)bl_model_checksum(d->models[m].model),
               bl_inputs_count(d->models[m].inputs));
    bl_strbuf_printf(&t, "data %s %zu\n", d->data ? d->data : "", d->limit);
    for (size_t f = 0; f < d->nfaults; f++) {
        bl_strbuf_printf(&t, "fault %s", d->faults[f].spec);
        for (size_t b = 0; b < d->faults[f].nbers; b++)
            bl_strbuf_printf(&t, " %a", d->faults[f].bers[b]);
        bl_strbuf_printf(&t, "\n");
    }
    bl_strbuf_printf(&t, "reps %d %d %a %d %d seed %" PRIu64 " record %u\n", d->reps, d->reps_per_unit,
           d->ci_width, d->min_reps, d->max_reps, d->seed, d->record | BL_CAMPAIGN_ACCURACY);
    if (t.oom) {
        free(t.p);
        return bl_error_set(err, BL_ENOMEM, "campaign: out of memory");
    }
    snprintf(p->hash, sizeof p->hash, "%016" PRIx64, fnv(1469598103934665603ull, t.p, t.len));
    free(t.p);
    return 0;
}

static int check_desc(const bl_campaign_desc *d, bl_error *err)
{
    if (!d->nmodels)
        return bl_error_set(err, BL_EINVAL, "campaign: no models");
    if (!d->nfaults)
        return bl_error_set(err, BL_EINVAL, "campaign: no fault specs");
    if (d->reps_per_unit < 0 || d->reps_per_unit > BL_REPS_MAX)
        return bl_error_set(err, BL_ERANGE, "campaign: reps_per_unit %d outside 1..%d",
                            d->reps_per_unit, BL_REPS_MAX);
    if (d->ci_width > 0 && d->reps_per_unit)
        return bl_error_set(err, BL_EINVAL, "campaign: reps_per_unit goes with fixed reps (a "
                            "stopping rule keeps all repetitions of a BER in one unit)");
    for (size_t f = 0; f < d->nfaults; f++) {
        const bl_campaign_fault *F = &d->faults[f];
        if (!F->spec || !F->nbers)
            return bl_error_set(err, BL_EINVAL, "campaign: fault %zu has no spec or no BERs",
                                f + 1);
        bl_evaluate_cfg c = { .fault = F->spec, .bers = F->bers, .nbers = F->nbers,
                              .reps = d->ci_width > 0 ? 0 : (d->reps ? d->reps : 1),
                              .ci_width = d->ci_width, .min_reps = d->min_reps,
                              .max_reps = d->max_reps };
        int rc = bl_evaluate_check_params(&c, err);
        if (rc) {
            bl_error_prefix(err, "campaign: fault '%s'", F->spec);
            return rc;
        }
    }
    for (size_t m = 0; m < d->nmodels; m++) {
        const bl_campaign_model *M = &d->models[m];
        if (!M->name || !M->model || !M->inputs)
            return bl_error_set(err, BL_EINVAL, "campaign: model %zu is not loaded", m + 1);
        for (size_t f = 0; f < d->nfaults; f++) {
            bl_fault_spec *s = NULL;
            int rc = bl_fault_spec_parse(d->reg, d->faults[f].spec, M->model, &s, err);
            bl_fault_spec_free(s);
            if (rc) {
                bl_error_prefix(err, "campaign: model %s", M->name);
                return rc;
            }
        }
    }
    return 0;
}

int bl_campaign_plan_new(const bl_campaign_desc *d, bl_campaign_plan **out, bl_error *err)
{
    *out = NULL;
    int rc = check_desc(d, err);
    if (rc)
        return rc;
    bl_campaign_plan *p = calloc(1, sizeof *p);
    if (!p || !(p->nbers = calloc(d->nfaults, sizeof *p->nbers))) {
        free(p);
        return bl_error_set(err, BL_ENOMEM, "campaign: out of memory");
    }
    p->d = d;
    for (size_t f = 0; f < d->nfaults; f++)
        p->nbers[f] = d->faults[f].nbers;
    bl_campaign_shape s = { .nmodels = d->nmodels, .nfaults = d->nfaults, .nbers = p->nbers,
                            .reps = d->reps ? d->reps : 1, .reps_per_unit = d->reps_per_unit,
                            .stopping = d->ci_width > 0, .record = d->record };
    if ((rc = bl_campaign_expand(&s, &p->units, &p->nunits, err)) || (rc = plan_hash(p, err))) {
        bl_campaign_plan_free(p);
        return rc;
    }
    /* cost: images x repetitions x MACs (a stopping rule's expected
     * repetitions: its maximum's midpoint); flip fractions add a pass per
     * map, margins one clean pass */
    for (size_t u = 0; u < p->nunits; u++) {
        bl_campaign_unit *U = &p->units[u];
        const bl_campaign_model *M = &d->models[U->model];
        double work = (double)bl_inputs_count(M->inputs) * (double)bl_model_macs(M->model);
        double reps = U->nrep ? U->nrep : 0.5 * (d->max_reps > 0 ? d->max_reps : 100);
        if (U->kind == BL_UNIT_MARGINS)
            U->cost = work;
        else
            U->cost = work * reps * (d->record & BL_CAMPAIGN_FLIPS ? 2.0 : 1.0);
    }
    *out = p;
    return 0;
}

void bl_campaign_plan_free(bl_campaign_plan *p)
{
    if (!p)
        return;
    free(p->units);
    free(p->nbers);
    free(p);
}

size_t bl_campaign_units(const bl_campaign_plan *p, const bl_campaign_unit **units)
{
    if (units)
        *units = p->units;
    return p->nunits;
}

const char *bl_campaign_hash(const bl_campaign_plan *p) { return p->hash; }

static int by_cost(const void *a, const void *b, void *ctx)
{
    const bl_campaign_unit *u = ctx;
    const bl_campaign_unit *x = &u[*(const size_t *)a], *y = &u[*(const size_t *)b];
    if (x->cost != y->cost)
        return x->cost > y->cost ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

int bl_campaign_partition(const bl_campaign_plan *p, int nshards, int *shard, bl_error *err)
{
    if (nshards < 1 || nshards > BL_CAMPAIGN_MAX_SHARDS)
        return bl_error_set(err, BL_ERANGE, "campaign: %d shards outside 1..%d", nshards,
                            BL_CAMPAIGN_MAX_SHARDS);
    size_t *order = malloc((p->nunits ? p->nunits : 1) * sizeof *order);
    double *load = calloc((size_t)nshards, sizeof *load);
    if (!order || !load) {
        free(order);
        free(load);
        return bl_error_set(err, BL_ENOMEM, "campaign: out of memory");
    }
    for (size_t u = 0; u < p->nunits; u++)
        order[u] = u;
    /* a total order (cost, then id): the same partition on every machine */
    qsort_r(order, p->nunits, sizeof *order, by_cost, p->units);
    for (size_t i = 0; i < p->nunits; i++) {
        int best = 0;
        for (int s = 1; s < nshards; s++)
            if (load[s] < load[best])
                best = s;
        shard[order[i]] = best;
        load[best] += p->units[order[i]].cost;
    }
    free(order);
    free(load);
    return 0;
}

/* ---- record lines ---- */

/* Append " *CRC\n" over the line so far. */
static void tb_seal(bl_strbuf *t)
{
    if (t->oom)
        return;
    uLong c = crc32(0L, (const Bytef *)t->p, (uInt)t->len);
    bl_strbuf_printf(t, " *%08lx\n", (unsigned long)c);
}

static void rec_layers(bl_strbuf *t, const bl_metrics_result *mr, int flips)
{
    bl_strbuf_printf(t, " L=");
    for (int l = 0; l < mr->nlayers; l++)
        bl_strbuf_printf(t, "%s%s", l ? "," : "", mr->layers[l].h.name);
    if (flips) {
        bl_strbuf_printf(t, " F=");
        for (int l = 0; l < mr->nlayers; l++)
            bl_strbuf_printf(t, "%s%a", l ? "," : "", mr->layers[l].measured.mean);
        bl_strbuf_printf(t, " A=");
        for (int l = 0; l < mr->nlayers; l++)
            bl_strbuf_printf(t, "%s%a", l ? "," : "", mr->layers[l].analytic);
        return;
    }
    bl_strbuf_printf(t, " M=");
    for (int l = 0; l < mr->nlayers; l++) {
        const bl_margin_summary *s = &mr->layers[l].margins;
        bl_strbuf_printf(t, "%s%a", l ? "," : "", s->mean);
        for (int k = 0; k < BL_MARGIN_NK; k++)
            bl_strbuf_printf(t, ":%a", s->below[k]);
    }
}

/* ---- runner ---- */

typedef struct runner {
    const bl_campaign_plan *p;
    const bl_campaign_run_opts *o;
    bl_engine *e;
    bl_cache *cache;
    int model;            /* the engine's model, -1: none */
} runner;

static int runner_model(runner *R, int m, bl_error *err)
{
    if (R->model == m)
        return 0;
    bl_cache_free(R->cache);
    bl_engine_free(R->e);
    R->cache = NULL;
    R->e = NULL;
    R->model = -1;
    const bl_campaign_model *M = &R->p->d->models[m];
    bl_engine_opts eo = { .threads = R->o->threads, .simd = -1 };
    int rc = bl_engine_new(M->model, &eo, &R->e, err);
    if (!rc)
        rc = bl_cache_new(R->e, M->model, M->inputs, &R->cache, err);
    if (!rc)
        R->model = m;
    return rc;
}

static int run_metrics(runner *R, const bl_campaign_unit *U, unsigned what, double ber, int reps,
                       uint64_t seed, bl_metrics_result **mr, bl_error *err)
{
    const bl_campaign_model *M = &R->p->d->models[U->model];
    bl_metrics_cfg mc = { .model = M->model, .inputs = M->inputs, .reg = R->p->d->reg,
                          .what = what, .ber = ber, .reps = reps, .seed = seed,
                          .threads = R->o->threads, .engine = R->e };
    return bl_metrics_run(&mc, NULL, mr, err);
}

/* Run one unit and format its record line into t. */
static int run_unit(runner *R, const bl_campaign_unit *U, bl_strbuf *t, bl_error *err)
{
    const bl_campaign_desc *d = R->p->d;
    const bl_campaign_model *M = &d->models[U->model];
    int rc = runner_model(R, (int)U->model, err);
    if (rc)
        return rc;
    double t0 = bl_now();
    bl_strbuf_printf(t, "R %s %s %u", R->p->hash, BETLAB_VERSION, U->id);
    bl_metrics_result *mr = NULL;
    if (U->kind == BL_UNIT_MARGINS) {
        if ((rc = run_metrics(R, U, BL_MET_MARGINS, 0.0, 1, d->seed, &mr, err)))
            return rc;
        bl_strbuf_printf(t, " M %u %" PRIu64, U->model, (uint64_t)bl_inputs_count(M->inputs));
        rec_layers(t, mr, 0);
    } else {
        const bl_campaign_fault *F = &d->faults[U->fault];
        uint64_t seed = d->seed + (uint64_t)U->rep0;
        bl_evaluate_cfg c = { .model = M->model, .inputs = M->inputs, .reg = d->reg,
                              .fault = F->spec, .bers = &F->bers[U->ber], .nbers = 1,
                              .seed = seed, .reps = U->nrep, .ci_width = d->ci_width,
                              .min_reps = d->min_reps, .max_reps = d->max_reps,
                              .threads = R->o->threads, .engine = R->e, .cache = R->cache };
        bl_evaluate_result *r = NULL;
        if ((rc = bl_evaluate(&c, NULL, &r, err)))
            return rc;
        const bl_evaluate_row *w = &r->rows[0];
        bl_strbuf_printf(t, " E %u %u %u %d %d %zu %" PRIu64 " %" PRIu64 " c=", U->model, U->fault, U->ber,
               U->rep0, w->reps, r->images, r->clean_correct, w->changed_bits);
        for (int k = 0; k < w->reps; k++)
            bl_strbuf_printf(t, "%s%" PRIu64, k ? "," : "", w->correct[k]);
        int reps = w->reps;
        bl_evaluate_result_free(r);
        if ((d->record & BL_CAMPAIGN_FLIPS) &&
            (rc = run_metrics(R, U, BL_MET_ANALYTIC | BL_MET_MEASURED, F->bers[U->ber], reps,
                              seed, &mr, err)))
            return rc;
        if (mr)
            rec_layers(t, mr, 1);
    }
    bl_metrics_result_free(mr);
    bl_strbuf_printf(t, " t=%.6f", bl_now() - t0);
    tb_seal(t);
    return t->oom ? bl_error_set(err, BL_ENOMEM, "campaign: out of memory") : 0;
}

static int write_all(int fd, const char *p, size_t n, const char *path, bl_error *err)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return bl_error_set(err, BL_EIO, "%s: write: %s", path, strerror(errno));
        p += k;
        n -= (size_t)k;
    }
    if (fsync(fd))
        return bl_error_set(err, BL_EIO, "%s: fsync: %s", path, strerror(errno));
    return 0;
}

/* DIR/campaign.json: written once; a later run must be the same campaign. */
static int write_campaign_json(const bl_campaign_plan *p, const char *dir, bl_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, BL_CAMPAIGN_JSON);
    json_error_t je;
    json_t *old = json_load_file(path, 0, &je);
    if (old) {
        const char *h = json_string_value(json_object_get(old, "campaign"));
        const char *v = json_string_value(json_object_get(old, "version"));
        int same = h && v && strcmp(h, p->hash) == 0 && strcmp(v, BETLAB_VERSION) == 0;
        int rc = same ? 0 : bl_error_set(err, BL_EINVAL, "%s holds campaign %s (betlab %s), "
                                         "not this one (%s, betlab %s): use another --out",
                                         dir, h ? h : "?", v ? v : "?", p->hash,
                                         BETLAB_VERSION);
        json_decref(old);
        return rc;
    }
    const bl_campaign_desc *d = p->d;
    json_t *o = json_object(), *ms = json_array(), *fs = json_array(), *rec = json_array();
    json_object_set_new(o, "format", json_string(BL_CAMPAIGN_FORMAT));
    json_object_set_new(o, "campaign", json_string(p->hash));
    json_object_set_new(o, "version", json_string(BETLAB_VERSION));
    json_object_set_new(o, "units", json_integer((json_int_t)p->nunits));
    for (size_t m = 0; m < d->nmodels; m++) {
        json_t *j = json_object();
        json_object_set_new(j, "name", json_string(d->models[m].name));
        json_object_set_new(j, "train_seed", json_integer((json_int_t)d->models[m].train_seed));
        json_array_append_new(ms, j);
    }
    for (size_t f = 0; f < d->nfaults; f++) {
        json_t *j = json_object(), *b = json_array();
        json_object_set_new(j, "spec", json_string(d->faults[f].spec));
        for (size_t k = 0; k < d->faults[f].nbers; k++)
            json_array_append_new(b, json_real(d->faults[f].bers[k]));
        json_object_set_new(j, "bers", b);
        json_array_append_new(fs, j);
    }
    json_object_set_new(o, "models", ms);
    json_object_set_new(o, "data", json_string(d->data ? d->data : ""));
    json_object_set_new(o, "limit", json_integer((json_int_t)d->limit));
    json_object_set_new(o, "faults", fs);
    json_object_set_new(o, "reps", json_integer(d->reps ? d->reps : 1));
    json_object_set_new(o, "reps_per_unit", json_integer(d->reps_per_unit));
    json_object_set_new(o, "ci_width", json_real(d->ci_width));
    json_object_set_new(o, "min_reps", json_integer(d->min_reps));
    json_object_set_new(o, "max_reps", json_integer(d->max_reps));
    json_object_set_new(o, "seed", json_integer((json_int_t)d->seed));
    json_array_append_new(rec, json_string("accuracy"));
    if (d->record & BL_CAMPAIGN_FLIPS)
        json_array_append_new(rec, json_string("flips"));
    if (d->record & BL_CAMPAIGN_MARGINS)
        json_array_append_new(rec, json_string("margins"));
    json_object_set_new(o, "record", rec);
    char *text = bl_json_dumps(o, JSON_INDENT(2));
    json_decref(o);
    if (!text)
        return bl_error_set(err, BL_ENOMEM, "campaign: out of memory");
    size_t n = strlen(text);
    char *t2 = realloc(text, n + 2);
    if (t2) {
        text = t2;
        memcpy(text + n, "\n", 2);
        n++;
    }
    int rc = bl_file_write_atomic(path, text, n, err);
    free(text);
    return rc;
}

/* Open the shard's file: valid records mark their units done, a torn tail
 * is cut off, a new file gets its header. */
static int open_shard(const bl_campaign_plan *p, const bl_campaign_run_opts *o, size_t total,
                      unsigned char *done, int *fd_out, char *path, size_t pathn,
                      bl_campaign_run_stats *st, bl_error *err)
{
    snprintf(path, pathn, "%s/shard-%d-of-%d.rec", o->dir, o->shard, o->nshards);
    bl_campaign_file f;
    int rc = bl_campaign_file_read(path, &f, err);
    if (rc)
        return rc;
    if (f.have_header && (strcmp(f.hash, p->hash) || strcmp(f.version, BETLAB_VERSION))) {
        rc = bl_error_set(err, BL_EINVAL, "%s: records of campaign %s (betlab %s), not of this "
                          "one (%s, betlab %s): use another --out", path, f.hash, f.version,
                          p->hash, BETLAB_VERSION);
        bl_campaign_file_clear(&f);
        return rc;
    }
    for (size_t i = 0; i < f.nrecs; i++)
        if (f.recs[i].unit < p->nunits && !done[f.recs[i].unit]) {
            done[f.recs[i].unit] = 1;
            st->done_before++;
        }
    st->torn = f.torn;
    size_t valid = f.valid_bytes;
    int header = f.have_header;
    bl_campaign_file_clear(&f);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return bl_error_set(err, BL_EIO, "%s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        close(fd);
        return bl_error_set(err, BL_EIO, "%s: another betlab campaign run is writing this "
                            "shard", path);
    }
    if (ftruncate(fd, (off_t)valid) || lseek(fd, 0, SEEK_END) < 0) {
        rc = bl_error_set(err, BL_EIO, "%s: %s", path, strerror(errno));
        close(fd);
        return rc;
    }
    if (!header) {
        bl_strbuf t = { 0 };
        bl_strbuf_printf(&t, "H %s %s %d %d %zu %zu", p->hash, BETLAB_VERSION, o->shard, o->nshards, total,
               p->nunits);
        tb_seal(&t);
        rc = t.oom ? bl_error_set(err, BL_ENOMEM, "campaign: out of memory")
                   : write_all(fd, t.p, t.len, path, err);
        free(t.p);
        if (rc) {
            close(fd);
            return rc;
        }
    }
    *fd_out = fd;
    return 0;
}

static int run_check(const bl_campaign_run_opts *o, bl_error *err)
{
    if (!o || !o->dir || !*o->dir)
        return bl_error_set(err, BL_EINVAL, "campaign: no output folder");
    if (o->nshards < 1 || o->nshards > BL_CAMPAIGN_MAX_SHARDS || o->shard < 0 ||
        o->shard >= o->nshards)
        return bl_error_set(err, BL_ERANGE, "campaign: shard %d/%d: I must be in 0..N-1 and N "
                            "in 1..%d", o->shard, o->nshards, BL_CAMPAIGN_MAX_SHARDS);
    if (o->threads < 0 || o->threads > BL_THREADS_MAX)
        return bl_error_set(err, BL_ERANGE, "threads %d outside 1..%d (0: all CPUs)",
                            o->threads, BL_THREADS_MAX);
    return 0;
}

static int run_units(runner *R, const int *shard, unsigned char *done, int fd, const char *path,
                     const bl_campaign_hooks *h, bl_campaign_run_stats *st, bl_error *err)
{
    const bl_campaign_plan *p = R->p;
    size_t k = st->done_before;
    for (size_t u = 0; u < p->nunits; u++) {
        if (shard[u] != R->o->shard || done[u])
            continue;
        if (h && h->cancelled && h->cancelled(h->ctx))
            return bl_error_set(err, BL_ECANCELED, "campaign: stopped after %zu of %zu units",
                                k, st->total);
        const bl_campaign_unit *U = &p->units[u];
        if (h && h->progress) {
            char msg[160];
            if (U->kind == BL_UNIT_MARGINS)
                snprintf(msg, sizeof msg, "unit %zu/%zu: %s margins", k + 1, st->total,
                         p->d->models[U->model].name);
            else
                snprintf(msg, sizeof msg, "unit %zu/%zu: %s %s BER %g", k + 1, st->total,
                         p->d->models[U->model].name, p->d->faults[U->fault].spec,
                         p->d->faults[U->fault].bers[U->ber]);
            h->progress(h->ctx, st->total ? (double)k / (double)st->total : 1.0, msg);
        }
        bl_strbuf t = { 0 };
        double t0 = bl_now();
        int rc = run_unit(R, U, &t, err);
        st->unit_seconds += bl_now() - t0;
        if (!rc)
            rc = write_all(fd, t.p, t.len, path, err);
        free(t.p);
        if (rc)
            return rc;
        done[u] = 1;
        st->done_now++;
        k++;
    }
    if (h && h->progress)
        h->progress(h->ctx, 1.0, "done");
    return 0;
}

int bl_campaign_run(const bl_campaign_plan *p, const bl_campaign_run_opts *o,
                    const bl_campaign_hooks *h, bl_campaign_run_stats *st, bl_error *err)
{
    memset(st, 0, sizeof *st);
    int rc = run_check(o, err);
    if (rc)
        return rc;
    double t0 = bl_now();
    if (mkdir(o->dir, 0755) && errno != EEXIST)
        return bl_error_set(err, BL_EIO, "%s: %s", o->dir, strerror(errno));
    int *shard = malloc((p->nunits ? p->nunits : 1) * sizeof *shard);
    unsigned char *done = calloc(p->nunits ? p->nunits : 1, 1);
    if (!shard || !done) {
        free(shard);
        free(done);
        return bl_error_set(err, BL_ENOMEM, "campaign: out of memory");
    }
    rc = bl_campaign_partition(p, o->nshards, shard, err);
    for (size_t u = 0; !rc && u < p->nunits; u++)
        st->total += shard[u] == o->shard;
    if (!rc)
        rc = write_campaign_json(p, o->dir, err);
    int fd = -1;
    char path[4096];
    if (!rc)
        rc = open_shard(p, o, st->total, done, &fd, path, sizeof path, st, err);
    runner R = { .p = p, .o = o, .model = -1 };
    if (!rc)
        rc = run_units(&R, shard, done, fd, path, h, st, err);
    if (fd >= 0)
        close(fd);
    bl_cache_free(R.cache);
    bl_engine_free(R.e);
    free(shard);
    free(done);
    st->seconds = bl_now() - t0;
    return rc;
}
