/* campaign_merge.c - reading record files, merging shards into sweep-style
 * results, their JSON/CSV/table forms, and status (campaign.h). */
#include "study/campaign_internal.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "base/file.h"
#include "base/json_out.h"
#include "study/stats.h"

/* ---- parsing record lines ---- */

void bl_campaign_rec_clear(bl_campaign_rec *r)
{
    free(r->correct);
    free(r->names);
    free(r->flip);
    free(r->analytic);
    free(r->mean);
    free(r->below);
    memset(r, 0, sizeof *r);
}

void bl_campaign_file_clear(bl_campaign_file *f)
{
    for (size_t i = 0; i < f->nrecs; i++)
        bl_campaign_rec_clear(&f->recs[i]);
    free(f->recs);
    memset(f, 0, sizeof *f);
}

static int count_items(const char *s, char sep)
{
    int n = *s ? 1 : 0;
    for (; *s; s++)
        n += *s == sep;
    return n;
}

static int parse_u64_list(const char *s, uint64_t **out, int n)
{
    *out = malloc((size_t)(n ? n : 1) * sizeof **out);
    if (!*out || count_items(s, ',') != n)
        return -1;
    for (int i = 0; i < n; i++) {
        char *end;
        (*out)[i] = strtoull(s, &end, 10);
        if (end == s || (*end && *end != ','))
            return -1;
        s = *end ? end + 1 : end;
    }
    return 0;
}

static int parse_dbl_list(const char *s, double **out, int n)
{
    *out = malloc((size_t)(n ? n : 1) * sizeof **out);
    if (!*out || count_items(s, ',') != n)
        return -1;
    for (int i = 0; i < n; i++) {
        char *end;
        (*out)[i] = strtod(s, &end);
        if (end == s || (*end && *end != ','))
            return -1;
        s = *end ? end + 1 : end;
    }
    return 0;
}

static int parse_names(const char *s, bl_campaign_rec *r)
{
    r->nlayers = count_items(s, ',');
    r->names = calloc((size_t)(r->nlayers ? r->nlayers : 1), sizeof *r->names);
    if (!r->names)
        return -1;
    for (int i = 0; i < r->nlayers; i++) {
        size_t k = strcspn(s, ",");
        if (k >= sizeof r->names[i])
            return -1;
        memcpy(r->names[i], s, k);
        s += k + (s[k] == ',');
    }
    return 0;
}

static int parse_margins(const char *s, bl_campaign_rec *r)
{
    int n = r->nlayers;
    r->mean = malloc((size_t)(n ? n : 1) * sizeof *r->mean);
    r->below = malloc((size_t)(n ? n : 1) * sizeof *r->below);
    if (!r->mean || !r->below || count_items(s, ',') != n)
        return -1;
    for (int i = 0; i < n; i++) {
        char *end;
        r->mean[i] = strtod(s, &end);
        for (int k = 0; k < BL_MARGIN_NK; k++) {
            if (*end != ':')
                return -1;
            s = end + 1;
            r->below[i][k] = strtod(s, &end);
        }
        if (*end && *end != ',')
            return -1;
        s = *end ? end + 1 : end;
    }
    return 0;
}

/* Fields after "R hash version unit": the unit's kind and its data. */
static int parse_payload(char **tok, int nt, bl_campaign_rec *r)
{
    int i = 0;
    if (nt < 1)
        return -1;
    if (strcmp(tok[0], "E") == 0) {
        if (nt < 10)
            return -1;
        r->kind = BL_UNIT_EVAL;
        r->model = (uint32_t)strtoul(tok[1], NULL, 10);
        r->fault = (uint32_t)strtoul(tok[2], NULL, 10);
        r->ber = (uint32_t)strtoul(tok[3], NULL, 10);
        r->rep0 = atoi(tok[4]);
        r->nrep = atoi(tok[5]);
        r->images = strtoull(tok[6], NULL, 10);
        r->clean = strtoull(tok[7], NULL, 10);
        r->changed = strtoull(tok[8], NULL, 10);
        if (strncmp(tok[9], "c=", 2) || r->nrep < 1 ||
            parse_u64_list(tok[9] + 2, &r->correct, r->nrep))
            return -1;
        i = 10;
    } else if (strcmp(tok[0], "M") == 0) {
        if (nt < 3)
            return -1;
        r->kind = BL_UNIT_MARGINS;
        r->model = (uint32_t)strtoul(tok[1], NULL, 10);
        r->images = strtoull(tok[2], NULL, 10);
        i = 3;
    } else {
        return -1;
    }
    for (; i < nt; i++) {
        const char *t = tok[i];
        int bad = 0;
        if (strncmp(t, "L=", 2) == 0)
            bad = parse_names(t + 2, r);
        else if (strncmp(t, "F=", 2) == 0)
            bad = parse_dbl_list(t + 2, &r->flip, r->nlayers);
        else if (strncmp(t, "A=", 2) == 0)
            bad = parse_dbl_list(t + 2, &r->analytic, r->nlayers);
        else if (strncmp(t, "M=", 2) == 0)
            bad = parse_margins(t + 2, r);
        else if (strncmp(t, "t=", 2) == 0)
            r->seconds = strtod(t + 2, NULL);
        else
            bad = 1;
        if (bad)
            return -1;
    }
    return r->kind == BL_UNIT_MARGINS && !r->mean ? -1 : 0;
}

/* Split line (NUL-terminated, no "\n") at spaces. */
static int split(char *line, char ***tok)
{
    int n = count_items(line, ' ');
    *tok = malloc((size_t)(n ? n : 1) * sizeof **tok);
    if (!*tok)
        return -1;
    int k = 0;
    for (char *s = strtok(line, " "); s && k < n; s = strtok(NULL, " "))
        (*tok)[k++] = s;
    return k;
}

/* One line [p, p+n) ending in '\n': 0 valid (header or record added), 1
 * invalid (torn or corrupt), <0 error. */
static int read_line(const char *p, size_t n, bl_campaign_file *f, const char *path, bl_error *err)
{
    if (n < 12 || p[n - 1] != '\n' || p[n - 11] != ' ' || p[n - 10] != '*')
        return 1;
    size_t body = n - 11;
    unsigned long want = strtoul(p + n - 9, NULL, 16);
    if (crc32(0L, (const Bytef *)p, (uInt)body) != want)
        return 1;
    char *line = strndup(p, body);
    char **tok = NULL;
    int nt = line ? split(line, &tok) : -1;
    int rc = 1;
    if (nt >= 7 && strcmp(tok[0], "H") == 0 && !f->have_header) {
        snprintf(f->hash, sizeof f->hash, "%s", tok[1]);
        snprintf(f->version, sizeof f->version, "%s", tok[2]);
        f->shard = atoi(tok[3]);
        f->nshards = atoi(tok[4]);
        f->shard_units = strtoull(tok[5], NULL, 10);
        f->total_units = strtoull(tok[6], NULL, 10);
        f->have_header = 1;
        rc = 0;
    } else if (nt >= 5 && strcmp(tok[0], "R") == 0 && f->have_header) {
        if (strcmp(tok[1], f->hash) || strcmp(tok[2], f->version)) {
            rc = bl_error_set(err, BL_EINVAL, "%s: a record of campaign %s (betlab %s) in a "
                              "file of campaign %s (betlab %s)", path, tok[1], tok[2], f->hash,
                              f->version);
        } else {
            bl_campaign_rec r = { .unit = (uint32_t)strtoul(tok[3], NULL, 10) };
            bl_campaign_rec *nr = realloc(f->recs, (f->nrecs + 1) * sizeof *nr);
            if (!nr) {
                rc = bl_error_set(err, BL_ENOMEM, "campaign: out of memory");
            } else if (parse_payload(tok + 4, nt - 4, &r)) {
                bl_campaign_rec_clear(&r);
                f->recs = nr;
            } else {
                f->recs = nr;
                f->recs[f->nrecs++] = r;
                rc = 0;
            }
        }
    }
    free(tok);
    free(line);
    return rc;
}

int bl_campaign_file_read(const char *path, bl_campaign_file *f, bl_error *err)
{
    memset(f, 0, sizeof *f);
    struct stat sb;
    if (stat(path, &sb) && errno == ENOENT)
        return 0;
    uint8_t *data = NULL;
    size_t size = 0;
    int rc = bl_file_read(path, (size_t)1 << 40, &data, &size, err);
    if (rc)
        return rc;
    size_t off = 0;
    while (off < size) {
        const char *p = (const char *)data + off, *nl = memchr(p, '\n', size - off);
        size_t n = nl ? (size_t)(nl - p) + 1 : size - off;
        int k = read_line(p, n, f, path, err);
        if (k < 0) {
            free(data);
            bl_campaign_file_clear(f);
            return k;
        }
        if (k) {
            f->torn = 1;
            break;
        }
        off += n;
    }
    f->valid_bytes = off;
    free(data);
    return 0;
}

/* ---- merge ---- */

typedef struct cjson {
    json_t *root;
    const char *hash, *version;
    bl_campaign_shape shape;
    size_t *nbers;
    uint64_t seed;
    size_t units;
} cjson;

static void cjson_clear(cjson *c)
{
    json_decref(c->root);
    free(c->nbers);
    memset(c, 0, sizeof *c);
}

static int cjson_read(const char *dir, cjson *c, bl_error *err)
{
    memset(c, 0, sizeof *c);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, BL_CAMPAIGN_JSON);
    json_error_t je;
    c->root = json_load_file(path, 0, &je);
    if (!c->root)
        return bl_error_set(err, BL_EIO, "%s: not a campaign output (%s)", dir, je.text);
    json_t *r = c->root, *fs = json_object_get(r, "faults"), *ms = json_object_get(r, "models");
    const char *fmt = json_string_value(json_object_get(r, "format"));
    c->hash = json_string_value(json_object_get(r, "campaign"));
    c->version = json_string_value(json_object_get(r, "version"));
    if (!fmt || strcmp(fmt, BL_CAMPAIGN_FORMAT) || !c->hash || !c->version ||
        !json_is_array(fs) || !json_is_array(ms))
        return bl_error_set(err, BL_EINVAL, "%s: not a %s file", path, BL_CAMPAIGN_FORMAT);
    c->shape.nmodels = json_array_size(ms);
    c->shape.nfaults = json_array_size(fs);
    c->nbers = calloc(c->shape.nfaults ? c->shape.nfaults : 1, sizeof *c->nbers);
    if (!c->nbers)
        return bl_error_set(err, BL_ENOMEM, "campaign: out of memory");
    for (size_t f = 0; f < c->shape.nfaults; f++)
        c->nbers[f] = json_array_size(json_object_get(json_array_get(fs, f), "bers"));
    c->shape.nbers = c->nbers;
    c->shape.reps = (int)json_integer_value(json_object_get(r, "reps"));
    c->shape.reps_per_unit = (int)json_integer_value(json_object_get(r, "reps_per_unit"));
    c->shape.stopping = json_real_value(json_object_get(r, "ci_width")) > 0;
    c->seed = (uint64_t)json_integer_value(json_object_get(r, "seed"));
    c->units = (size_t)json_integer_value(json_object_get(r, "units"));
    json_t *rec = json_object_get(r, "record");
    for (size_t i = 0; i < json_array_size(rec); i++) {
        const char *w = json_string_value(json_array_get(rec, i));
        c->shape.record |= w && !strcmp(w, "flips") ? BL_CAMPAIGN_FLIPS : 0;
        c->shape.record |= w && !strcmp(w, "margins") ? BL_CAMPAIGN_MARGINS : 0;
    }
    return 0;
}

static int is_shard_file(const char *name, int *i, int *n)
{
    char tail[8];
    return sscanf(name, "shard-%d-of-%d%7s", i, n, tail) == 3 && strcmp(tail, ".rec") == 0;
}

/* Shard files in numeric order (shard-2 before shard-10): by shard count,
 * then index; other names by text. */
static int by_name(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    int xi, xn, yi, yn;
    if (is_shard_file(x, &xi, &xn) && is_shard_file(y, &yi, &yn) && (xn != yn || xi != yi))
        return xn != yn ? (xn > yn) - (xn < yn) : (xi > yi) - (xi < yi);
    return strcmp(x, y);
}

/* The shard files of dir in numeric order (malloc'ed names). */
static int list_shards(const char *dir, char ***names, size_t *n, bl_error *err)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return bl_error_set(err, BL_EIO, "%s: %s", dir, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        int i, k;
        if (!is_shard_file(e->d_name, &i, &k))
            continue;
        char **nn = realloc(*names, (*n + 1) * sizeof *nn);
        if (!nn || !(nn[*n] = strdup(e->d_name))) {
            if (nn)
                *names = nn;
            rc = bl_error_set(err, BL_ENOMEM, "campaign: out of memory");
            break;
        }
        *names = nn;
        (*n)++;
    }
    closedir(d);
    if (*n)
        qsort(*names, *n, sizeof **names, by_name);
    return rc;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static int same_rec(const bl_campaign_rec *a, const bl_campaign_rec *b)
{
    if (a->kind != b->kind || a->nrep != b->nrep || a->images != b->images ||
        a->clean != b->clean || a->changed != b->changed)
        return 0;
    for (int k = 0; k < a->nrep; k++)
        if (a->correct[k] != b->correct[k])
            return 0;
    return 1;
}

/* Check a record against its unit in the expansion and keep it. */
static int take_rec(bl_campaign_rec *r, const bl_campaign_unit *units, size_t nunits,
                    bl_campaign_rec *slot, const char *path, bl_error *err)
{
    const bl_campaign_unit *U = r->unit < nunits ? &units[r->unit] : NULL;
    if (!U || U->kind != r->kind || U->model != r->model ||
        (U->kind == BL_UNIT_EVAL && (U->fault != r->fault || U->ber != r->ber ||
                                     U->rep0 != r->rep0 || (U->nrep && U->nrep != r->nrep))))
        return bl_error_set(err, BL_EINVAL, "%s: record of unit %u does not match the "
                            "campaign's units", path, r->unit);
    if (slot->correct || slot->mean) {
        if (!same_rec(slot, r))
            return bl_error_set(err, BL_EINVAL, "%s: unit %u has a different result than in "
                                "another shard file (not a deterministic rerun?)", path,
                                r->unit);
        return 0;
    }
    *slot = *r;
    memset(r, 0, sizeof *r);
    return 0;
}

static int gather_dir(const char *dir, const cjson *c, const bl_campaign_unit *units,
                      size_t nunits, bl_campaign_rec *recs, bl_error *err)
{
    char **names;
    size_t nn;
    int rc = list_shards(dir, &names, &nn, err);
    for (size_t i = 0; !rc && i < nn; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        bl_campaign_file f;
        if ((rc = bl_campaign_file_read(path, &f, err)))
            break;
        if (f.have_header && (strcmp(f.hash, c->hash) || strcmp(f.version, c->version)))
            rc = bl_error_set(err, BL_EINVAL, "%s: records of campaign %s (betlab %s) in an "
                              "output of campaign %s (betlab %s)", path, f.hash, f.version,
                              c->hash, c->version);
        for (size_t k = 0; !rc && k < f.nrecs; k++)
            rc = take_rec(&f.recs[k], units, nunits, &recs[f.recs[k].unit < nunits ?
                                                           f.recs[k].unit : 0], path, err);
        bl_campaign_file_clear(&f);
    }
    free_names(names, nn);
    return rc;
}

static int fill_group(bl_campaign_group *g, const cjson *c, uint32_t m, uint32_t f,
                      const bl_campaign_unit *units, size_t nunits, const bl_campaign_rec *recs,
                      bl_error *err);

static int assemble(bl_campaign_result *res, const cjson *c, const bl_campaign_unit *units,
                    size_t nunits, const bl_campaign_rec *recs, bl_error *err)
{
    json_t *ms = json_object_get(c->root, "models");
    res->ngroups = c->shape.nmodels * c->shape.nfaults;
    res->groups = calloc(res->ngroups ? res->ngroups : 1, sizeof *res->groups);
    if (!res->groups)
        return bl_error_set(err, BL_ENOMEM, "campaign: out of memory");
    for (uint32_t m = 0; m < c->shape.nmodels; m++)
        for (uint32_t f = 0; f < c->shape.nfaults; f++) {
            int rc = fill_group(&res->groups[m * c->shape.nfaults + f], c, m, f, units, nunits,
                                recs, err);
            if (rc)
                return rc;
        }
    for (size_t u = 0; u < nunits; u++) {
        res->unit_seconds += recs[u].seconds;
        if (units[u].kind != BL_UNIT_MARGINS)
            continue;
        const bl_campaign_rec *r = &recs[u];
        bl_campaign_margin *nm = realloc(res->margins, (res->nmargins + (size_t)r->nlayers + 1) *
                                                           sizeof *nm);
        if (!nm)
            return bl_error_set(err, BL_ENOMEM, "campaign: out of memory");
        res->margins = nm;
        for (int l = 0; l < r->nlayers; l++) {
            bl_campaign_margin *x = &res->margins[res->nmargins];
            memset(x, 0, sizeof *x);
            x->model = strdup(json_string_value(json_object_get(json_array_get(ms, r->model),
                                                                "name")));
            memcpy(x->layer, r->names[l], sizeof x->layer);
            x->mean = r->mean[l];
            memcpy(x->below, r->below[l], sizeof x->below);
            res->nmargins++;
        }
    }
    return 0;
}

/* One model x fault: its rows from the units of each BER, in repetition
 * order, finished exactly as bl_evaluate finishes a row. */
static int fill_group(bl_campaign_group *g, const cjson *c, uint32_t m, uint32_t f,
                      const bl_campaign_unit *units, size_t nunits, const bl_campaign_rec *recs,
                      bl_error *err)
{
    json_t *M = json_array_get(json_object_get(c->root, "models"), m),
           *F = json_array_get(json_object_get(c->root, "faults"), f);
    g->model = strdup(json_string_value(json_object_get(M, "name")));
    g->train_seed = (uint64_t)json_integer_value(json_object_get(M, "train_seed"));
    g->fault = strdup(json_string_value(json_object_get(F, "spec")));
    bl_evaluate_result *r = g->result = calloc(1, sizeof *r);
    size_t nb = c->nbers[f];
    if (!g->model || !g->fault || !r || !(r->rows = calloc(nb ? nb : 1, sizeof *r->rows)))
        return bl_error_set(err, BL_ENOMEM, "campaign: out of memory");
    r->nrows = nb;
    r->seed = c->seed;
    r->fault = strdup(g->fault);
    for (size_t b = 0; b < nb; b++) {
        bl_evaluate_row *w = &r->rows[b];
        w->ber = json_real_value(json_array_get(json_object_get(F, "bers"), b));
        int total = 0;
        double *fsum = NULL;
        for (int pass = 0; pass < 2; pass++) {
            int k = 0;
            for (size_t u = 0; u < nunits; u++) {
                const bl_campaign_unit *U = &units[u];
                const bl_campaign_rec *R = &recs[u];
                if (U->kind != BL_UNIT_EVAL || U->model != m || U->fault != f || U->ber != b)
                    continue;
                if (!pass) {
                    total += R->nrep;
                    r->images = R->images;
                    r->clean_correct = R->clean;
                    if (R->flip && !g->nlayers) {
                        g->nlayers = R->nlayers;
                        g->flips = calloc(nb * (size_t)R->nlayers, sizeof *g->flips);
                        g->analytic = calloc(nb * (size_t)R->nlayers, sizeof *g->analytic);
                        g->layer_names = calloc((size_t)R->nlayers, sizeof *g->layer_names);
                        if (!g->flips || !g->analytic || !g->layer_names)
                            return bl_error_set(err, BL_ENOMEM, "campaign: out of memory");
                        memcpy(g->layer_names, R->names, (size_t)R->nlayers * 32);
                    }
                    continue;
                }
                for (int q = 0; q < R->nrep; q++, k++) {
                    w->correct[k] = R->correct[q];
                    w->acc[k] = (double)R->correct[q] / (double)R->images;
                }
                w->changed_bits += R->changed;
                for (int l = 0; R->flip && l < g->nlayers && l < R->nlayers; l++) {
                    fsum[l] += R->flip[l] * R->nrep;
                    g->analytic[b * (size_t)g->nlayers + (size_t)l] = R->analytic[l];
                }
            }
            if (!pass) {
                w->acc = malloc((size_t)(total ? total : 1) * sizeof *w->acc);
                w->correct = malloc((size_t)(total ? total : 1) * sizeof *w->correct);
                fsum = calloc((size_t)(g->nlayers + 1), sizeof *fsum);
                if (!w->acc || !w->correct || !fsum) {
                    free(fsum);
                    return bl_error_set(err, BL_ENOMEM, "campaign: out of memory");
                }
            }
        }
        w->reps = total;
        r->maps += (uint64_t)total;
        bl_evaluate_row_finish(w, r->images);
        for (int l = 0; l < g->nlayers; l++)
            g->flips[b * (size_t)g->nlayers + (size_t)l] = fsum[l] / total;
        free(fsum);
    }
    if (r->images)
        r->clean_accuracy = (double)r->clean_correct / (double)r->images;
    return 0;
}

static int first_missing(const cjson *c, const bl_campaign_unit *units, size_t nunits,
                         const bl_campaign_rec *recs, bl_error *err)
{
    size_t missing = 0, first = 0;
    for (size_t u = 0; u < nunits; u++)
        if (!recs[u].correct && !recs[u].mean && !missing++)
            first = u;
    if (!missing)
        return 0;
    const bl_campaign_unit *U = &units[first];
    json_t *M = json_array_get(json_object_get(c->root, "models"), U->model);
    json_t *F = json_array_get(json_object_get(c->root, "faults"), U->fault);
    return bl_error_set(err, BL_EINVAL, "incomplete: %zu of %zu units have no record (first: "
                        "unit %zu, %s %s%s BER %g); run the missing shards (betlab campaign "
                        "status DIR) and merge again", missing, nunits, first,
                        json_string_value(json_object_get(M, "name")),
                        U->kind == BL_UNIT_MARGINS ? "margins" : "",
                        U->kind == BL_UNIT_MARGINS ? ""
                            : json_string_value(json_object_get(F, "spec")),
                        U->kind == BL_UNIT_MARGINS ? 0.0
                            : json_real_value(json_array_get(json_object_get(F, "bers"),
                                                             U->ber)));
}

int bl_campaign_merge(const char *const *dirs, size_t ndirs, bl_campaign_result **out,
                      bl_error *err)
{
    *out = NULL;
    if (!ndirs)
        return bl_error_set(err, BL_EINVAL, "campaign merge: no output folders");
    cjson c, o;
    int rc = cjson_read(dirs[0], &c, err);
    for (size_t i = 1; !rc && i < ndirs; i++) {
        if ((rc = cjson_read(dirs[i], &o, err)))
            break;
        if (strcmp(o.version, c.version))
            rc = bl_error_set(err, BL_EINVAL, "cannot merge outputs of different betlab "
                              "versions: %s has betlab %s, %s has betlab %s", dirs[i],
                              o.version, dirs[0], c.version);
        else if (strcmp(o.hash, c.hash))
            rc = bl_error_set(err, BL_EINVAL, "cannot merge outputs of different campaigns: "
                              "%s holds campaign %s, %s holds campaign %s (another campaign "
                              "file, model or dataset)", dirs[i], o.hash, dirs[0], c.hash);
        cjson_clear(&o);
    }
    bl_campaign_unit *units = NULL;
    size_t nunits = 0;
    bl_campaign_rec *recs = NULL;
    bl_campaign_result *res = NULL;
    if (!rc)
        rc = bl_campaign_expand(&c.shape, &units, &nunits, err);
    if (!rc && nunits != c.units)
        rc = bl_error_set(err, BL_EINVAL, "%s: campaign.json says %zu units, its settings "
                          "give %zu", dirs[0], c.units, nunits);
    if (!rc && !(recs = calloc(nunits ? nunits : 1, sizeof *recs)))
        rc = bl_error_set(err, BL_ENOMEM, "campaign: out of memory");
    for (size_t i = 0; !rc && i < ndirs; i++)
        rc = gather_dir(dirs[i], &c, units, nunits, recs, err);
    if (!rc)
        rc = first_missing(&c, units, nunits, recs, err);
    if (!rc && !(res = calloc(1, sizeof *res)))
        rc = bl_error_set(err, BL_ENOMEM, "campaign: out of memory");
    if (!rc) {
        snprintf(res->hash, sizeof res->hash, "%s", c.hash);
        snprintf(res->version, sizeof res->version, "%s", c.version);
        rc = assemble(res, &c, units, nunits, recs, err);
    }
    for (size_t u = 0; recs && u < nunits; u++)
        bl_campaign_rec_clear(&recs[u]);
    free(recs);
    free(units);
    cjson_clear(&c);
    if (rc) {
        bl_campaign_result_free(res);
        return rc;
    }
    *out = res;
    return 0;
}

void bl_campaign_result_free(bl_campaign_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->ngroups; i++) {
        bl_campaign_group *g = &r->groups[i];
        free(g->model);
        free(g->fault);
        bl_evaluate_result_free(g->result);
        free(g->flips);
        free(g->analytic);
        free(g->layer_names);
    }
    free(r->groups);
    for (size_t i = 0; i < r->nmargins; i++)
        free(r->margins[i].model);
    free(r->margins);
    free(r);
}

/* ---- outputs ---- */

json_t *bl_campaign_to_json(const bl_campaign_result *r)
{
    static const char *const timing[] = { "seconds", "fault_seconds", "eval_seconds",
                                          "images_per_s", "threads", "simd", NULL };
    json_t *o = json_object(), *res = json_array(), *mar = json_array();
    json_object_set_new(o, "campaign", json_string(r->hash));
    json_object_set_new(o, "version", json_string(r->version));
    for (size_t i = 0; i < r->ngroups; i++) {
        const bl_campaign_group *g = &r->groups[i];
        json_t *e = bl_evaluate_to_json(g->result, 1), *j = json_object();
        json_object_set_new(j, "model", json_string(g->model));
        json_object_set_new(j, "train_seed", json_integer((json_int_t)g->train_seed));
        for (int k = 0; timing[k]; k++)   /* results only: shards ran on other machines */
            json_object_del(e, timing[k]);
        json_object_update(j, e);
        json_decref(e);
        json_t *rows = json_object_get(j, "rows");
        for (size_t b = 0; g->nlayers && b < json_array_size(rows); b++) {
            json_t *fl = json_object(), *an = json_object();
            for (int l = 0; l < g->nlayers; l++) {
                size_t x = b * (size_t)g->nlayers + (size_t)l;
                json_object_set_new(fl, g->layer_names[l], json_real(g->flips[x]));
                json_object_set_new(an, g->layer_names[l], isnan(g->analytic[x])
                                        ? json_null() : json_real(g->analytic[x]));
            }
            json_object_set_new(json_array_get(rows, b), "flip_fraction", fl);
            json_object_set_new(json_array_get(rows, b), "flip_analytic", an);
        }
        json_array_append_new(res, j);
    }
    for (size_t i = 0; i < r->nmargins; i++) {
        const bl_campaign_margin *m = &r->margins[i];
        json_t *j = json_object(), *b = json_array();
        json_object_set_new(j, "model", json_string(m->model));
        json_object_set_new(j, "layer", json_string(m->layer));
        json_object_set_new(j, "mean", json_real(m->mean));
        for (int k = 0; k < BL_MARGIN_NK; k++)
            json_array_append_new(b, json_real(m->below[k]));
        json_object_set_new(j, "below_2k", b);
        json_array_append_new(mar, j);
    }
    json_object_set_new(o, "results", res);
    json_object_set_new(o, "margins", mar);
    return o;
}

static int add_quoted(char **buf, size_t *len, const char *s)
{
    size_t n = strlen(s), extra = 3;
    for (size_t i = 0; i < n; i++)
        extra += s[i] == '"';
    char *nb = realloc(*buf, *len + n + extra + 1);
    if (!nb)
        return -1;
    *buf = nb;
    nb[(*len)++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            nb[(*len)++] = '"';
        nb[(*len)++] = s[i];
    }
    nb[(*len)++] = '"';
    nb[(*len)++] = ',';
    nb[*len] = 0;
    return 0;
}

static int add_text(char **buf, size_t *len, const char *s, size_t n)
{
    char *nb = realloc(*buf, *len + n + 1);
    if (!nb)
        return -1;
    memcpy(nb + *len, s, n);
    *len += n;
    nb[*len] = 0;
    *buf = nb;
    return 0;
}

char *bl_campaign_to_csv(const bl_campaign_result *r)
{
    char *out = NULL;
    size_t len = 0;
    static const char head[] = "model,train_seed,fault,";
    int bad = add_text(&out, &len, head, sizeof head - 1);
    for (size_t i = 0; !bad && i < r->ngroups; i++) {
        const bl_campaign_group *g = &r->groups[i];
        char *csv = bl_evaluate_to_csv(g->result);
        if (!csv)
            break;
        char *line = strstr(csv, "\r\n") + 2; /* after the header */
        if (i == 0)
            bad |= add_text(&out, &len, csv, (size_t)(line - csv));
        char seed[32];
        snprintf(seed, sizeof seed, "%" PRIu64 ",", g->train_seed);
        while (!bad && *line) {
            char *end = strstr(line, "\r\n");
            end = end ? end + 2 : line + strlen(line);
            bad |= add_quoted(&out, &len, g->model) || add_text(&out, &len, seed, strlen(seed)) ||
                   add_quoted(&out, &len, g->fault) ||
                   add_text(&out, &len, line, (size_t)(end - line));
            line = end;
        }
        free(csv);
    }
    if (bad || (r->ngroups == 0 && !out)) {
        free(out);
        return NULL;
    }
    return out;
}

void bl_campaign_print_table(const bl_campaign_result *r, FILE *f)
{
    fprintf(f, "campaign  %s (betlab %s)\n", r->hash, r->version);
    for (size_t i = 0; i < r->ngroups; i++) {
        const bl_campaign_group *g = &r->groups[i];
        fprintf(f, "\nmodel     %s", g->model);
        if (g->train_seed)
            fprintf(f, " (training seed %" PRIu64 ")", g->train_seed);
        fputc('\n', f);
        /* the sweep's table without its time line (units ran apart) */
        char *buf = NULL;
        size_t n = 0;
        FILE *m = open_memstream(&buf, &n);
        if (!m)
            continue;
        bl_evaluate_print_table(g->result, m);
        fclose(m);
        char *t = strstr(buf, "\ntime ");
        if (t)
            t[1] = 0;
        fputs(buf, f);
        free(buf);
        for (size_t b = 0; g->nlayers && b < g->result->nrows; b++) {
            fprintf(f, "%12.6g  flip fraction", g->result->rows[b].ber);
            for (int l = 0; l < g->nlayers; l++)
                fprintf(f, "  %s %.4g", g->layer_names[l],
                        g->flips[b * (size_t)g->nlayers + (size_t)l]);
            fputc('\n', f);
        }
    }
    for (size_t i = 0; i < r->nmargins; i++) {
        const bl_campaign_margin *m = &r->margins[i];
        fprintf(f, "%smargins   %s %s: mean %.3f, below 2/4/8/16: %.4f %.4f %.4f %.4f\n",
                i ? "" : "\n", m->model, m->layer, m->mean, m->below[0], m->below[1],
                m->below[2], m->below[3]);
    }
    fprintf(f, "\nunits     %.3f s of evaluation in the records\n", r->unit_seconds);
}

int bl_campaign_save(const bl_campaign_result *r, const char *path, bl_error *err)
{
    size_t n = strlen(path);
    char *text;
    if (n > 4 && strcmp(path + n - 4, ".csv") == 0) {
        text = bl_campaign_to_csv(r);
    } else {
        json_t *j = bl_campaign_to_json(r);
        text = bl_json_dumps(j, JSON_INDENT(2));
        json_decref(j);
        char *t2 = text ? realloc(text, strlen(text) + 2) : NULL;
        if (t2) {
            text = t2;
            strcat(text, "\n");
        }
    }
    if (!text)
        return bl_error_set(err, BL_ENOMEM, "%s: out of memory", path);
    int rc = bl_file_write_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}

/* ---- status ---- */

int bl_campaign_status(const char *dir, bl_campaign_shard_status **out, size_t *n,
                       size_t *total_units, char hash[17], bl_error *err)
{
    *out = NULL;
    *n = 0;
    cjson c;
    int rc = cjson_read(dir, &c, err);
    if (rc) {
        cjson_clear(&c);
        return rc;
    }
    *total_units = c.units;
    snprintf(hash, 17, "%s", c.hash);
    char **names;
    size_t nn;
    rc = list_shards(dir, &names, &nn, err);
    bl_campaign_shard_status *s = calloc(nn ? nn : 1, sizeof *s);
    if (!rc && !s)
        rc = bl_error_set(err, BL_ENOMEM, "campaign: out of memory");
    for (size_t i = 0; !rc && i < nn; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        bl_campaign_file f;
        if ((rc = bl_campaign_file_read(path, &f, err)))
            break;
        bl_campaign_shard_status *x = &s[(*n)++];
        snprintf(x->file, sizeof x->file, "%s", names[i]);
        is_shard_file(names[i], &x->shard, &x->nshards);
        x->total = f.shard_units;
        x->torn = f.torn;
        unsigned char *seen = calloc(c.units ? c.units : 1, 1);
        for (size_t k = 0; seen && k < f.nrecs; k++)
            if (f.recs[k].unit < c.units && !seen[f.recs[k].unit]++)
                x->done++;
        free(seen);
        bl_campaign_file_clear(&f);
    }
    free_names(names, nn);
    cjson_clear(&c);
    if (rc) {
        free(s);
        *n = 0;
        return rc;
    }
    *out = s;
    return 0;
}
