/* fault.c - registry, built-in kinds, fault specs and applying faults.
 *
 * Built-in kinds (all coupled through one uniform u per stored bit):
 *   bitflip  p            a bit flips iff u < p.
 *   asym     p01, p10     a stored 0 flips to 1 iff u < p01, a stored 1
 *                         flips to 0 iff u < p10 (same u for both).
 *            p, ratio     ratio form: p01 = p, p10 = p / ratio.
 *   stuck    p0, p1       a bit is stuck at 0 iff u < p0, stuck at 1 iff
 *                         u >= 1 - p1 (p0 + p1 <= 1, so never both); a
 *                         stuck bit changes only when it held the other
 *                         value.  Both sets grow with their own rate, so
 *                         stuck-at bits stay stuck at the same value when
 *                         either rate grows (coupled).
 * Where a rule applies, the uniforms come from the stream (seed, layer,
 * target) of the storing layer (src/base/coupled.h), bit index = position
 * in the stored words (row r, word k, bit j: (r * words_per_row + k) * 64
 * + j; thresholds: 32 c + bit), so padding positions have uniforms too but
 * are never touched. */
#include "fault/fault.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/coupled.h"
#include "base/mem.h"
#include "fault/fault_internal.h"

const char *bl_fault_target_name(bl_fault_target t)
{
    switch (t) {
    case BL_FT_WEIGHTS: return "weights";
    case BL_FT_THRESHOLDS: return "thresholds";
    case BL_FT_ACTIVATIONS: return "activations";
    default: return "?";
    }
}

/* ---- registry ------------------------------------------------------------ */

struct bl_fault_registry {
    size_t n, cap;
    bl_fault_kind **kinds;
};

static bl_fault_kind *builtin(int type, const char *name, const char *help)
{
    bl_fault_kind *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->type = type;
    snprintf(k->name, sizeof k->name, "%s", name);
    k->help = strdup(help);
    k->source = strdup("built-in");
    k->rate_param = 0;
    if (!k->help || !k->source) {
        free(k->help);
        free(k->source);
        free(k);
        return NULL;
    }
    return k;
}

static void addp(bl_fault_kind *k, const char *name, double def, double min, double max,
                 const char *help)
{
    bl_fault_param *p = &k->params[k->nparams++];
    p->name = name;
    p->def = def;
    p->min = min;
    p->max = max;
    p->help = help;
}

static void kind_free(bl_fault_kind *k)
{
    if (!k)
        return;
    if (k->type == KIND_PLUGIN) {
        bl_fault_plugin_free(k);
        return;
    }
    free(k->help);
    free(k->source);
    free(k);
}

static int reg_add(bl_fault_registry *reg, bl_fault_kind *k)
{
    if (reg->n == reg->cap) {
        size_t cap = reg->cap ? 2 * reg->cap : 8;
        bl_fault_kind **nk = realloc(reg->kinds, cap * sizeof *nk);
        if (!nk)
            return BL_ENOMEM;
        reg->kinds = nk;
        reg->cap = cap;
    }
    reg->kinds[reg->n++] = k;
    return 0;
}

int bl_fault_registry_new(bl_fault_registry **out, bl_error *err)
{
    *out = NULL;
    bl_fault_registry *reg = calloc(1, sizeof *reg);
    if (!reg)
        return bl_error_set(err, BL_ENOMEM, "out of memory creating fault registry");
    bl_fault_kind *b = builtin(KIND_BITFLIP, "bitflip", "symmetric bit flips: a bit flips iff u < p");
    bl_fault_kind *a = builtin(KIND_ASYM, "asym",
                               "asymmetric flips: 0->1 iff u < p01, 1->0 iff u < p10 "
                               "(or p01 = p, p10 = p/ratio)");
    bl_fault_kind *s = builtin(KIND_STUCK, "stuck",
                               "stuck-at: 0 iff u < p0, 1 iff u >= 1 - p1");
    if (b) {
        addp(b, "p", 0, 0, 1, "bit error rate: probability that a bit flips");
    }
    if (a) {
        addp(a, "p01", 0, 0, 1, "probability that a stored 0 (-1) flips to 1 (+1)");
        addp(a, "p10", 0, 0, 1, "probability that a stored 1 (+1) flips to 0 (-1)");
        addp(a, "p", 0, 0, 1, "ratio form: p01 = p");
        addp(a, "ratio", 1, 1e-9, 1e9, "ratio form: p10 = p / ratio");
        a->rate_param = 2;
    }
    if (s) {
        addp(s, "p0", 0, 0, 1, "probability that a bit is stuck at 0 (-1)");
        addp(s, "p1", 0, 0, 1, "probability that a bit is stuck at 1 (+1)");
    }
    if (!b || !a || !s || reg_add(reg, b) || reg_add(reg, a) || reg_add(reg, s)) {
        kind_free(b);
        if (reg->n < 2) kind_free(a);
        if (reg->n < 3) kind_free(s);
        free(reg->kinds);
        free(reg);
        return bl_error_set(err, BL_ENOMEM, "out of memory creating fault registry");
    }
    *out = reg;
    return 0;
}

void bl_fault_registry_free(bl_fault_registry *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->n; i++)
        kind_free(reg->kinds[i]);
    free(reg->kinds);
    free(reg);
}

int bl_fault_registry_load_plugin(bl_fault_registry *reg, const char *path, bl_error *err)
{
    if (!reg || !path)
        return bl_error_set(err, BL_EINVAL, "load plugin: no registry or path");
    bl_fault_kind *k = NULL;
    int rc = bl_fault_plugin_load(path, &k, err);
    if (rc)
        return rc;
    if (bl_fault_registry_find(reg, k->name)) {
        bl_error_set(err, BL_EINVAL, "%s: fault model '%s' is already registered (%s)", path,
                     k->name, bl_fault_registry_find(reg, k->name)->source);
        bl_fault_plugin_free(k);
        return BL_EINVAL;
    }
    if (reg_add(reg, k)) {
        bl_fault_plugin_free(k);
        return bl_error_set(err, BL_ENOMEM, "%s: out of memory", path);
    }
    return 0;
}

size_t bl_fault_registry_count(const bl_fault_registry *reg) { return reg ? reg->n : 0; }

const bl_fault_kind *bl_fault_registry_at(const bl_fault_registry *reg, size_t i)
{
    return reg && i < reg->n ? reg->kinds[i] : NULL;
}

const bl_fault_kind *bl_fault_registry_find(const bl_fault_registry *reg, const char *name)
{
    if (!reg || !name)
        return NULL;
    for (size_t i = 0; i < reg->n; i++)
        if (strcmp(reg->kinds[i]->name, name) == 0)
            return reg->kinds[i];
    return NULL;
}

const char *bl_fault_kind_name(const bl_fault_kind *k) { return k->name; }
const char *bl_fault_kind_help(const bl_fault_kind *k) { return k->help; }
const char *bl_fault_kind_source(const bl_fault_kind *k) { return k->source; }
size_t bl_fault_kind_nparams(const bl_fault_kind *k) { return k->nparams; }
const bl_fault_param *bl_fault_kind_param(const bl_fault_kind *k, size_t i)
{
    return i < k->nparams ? &k->params[i] : NULL;
}
int bl_fault_kind_rate_param(const bl_fault_kind *k) { return k->rate_param; }

/* ---- specs ------------------------------------------------------------------ */

typedef struct rule {
    char layer[BL_NAME_MAX];      /* "*" = every layer            */
    bl_fault_target target;
    const bl_fault_kind *kind;
    double v[BL_FAULT_MAX_PARAMS];
    uint32_t set;                 /* params given explicitly      */
} rule;

struct bl_fault_spec {
    const bl_fault_registry *reg;
    size_t n, cap;
    rule *rules;
};

static int spec_push(bl_fault_spec *s, const rule *r)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 4;
        rule *nr = realloc(s->rules, cap * sizeof *nr);
        if (!nr)
            return BL_ENOMEM;
        s->rules = nr;
        s->cap = cap;
    }
    s->rules[s->n++] = *r;
    return 0;
}

void bl_fault_spec_free(bl_fault_spec *spec)
{
    if (!spec)
        return;
    free(spec->rules);
    free(spec);
}

static int is_weight_layer(const bl_layer *l)
{
    return l->kind == BL_LAYER_DENSE || l->kind == BL_LAYER_CONV3;
}

/* Model layer that stores (layer li, target t): the layer itself for
 * weights of a weight layer and for thresholds/activations of a THRESH
 * layer; a weight layer's thresholds/activations are those of the THRESH
 * layer that follows it (after a pool/flatten).  -1 when none. */
static int storing_layer(const bl_model *m, int li, bl_fault_target t)
{
    const bl_layer *l = &m->layers[li];
    if (t == BL_FT_WEIGHTS)
        return is_weight_layer(l) ? li : -1;
    if (l->kind == BL_LAYER_THRESH)
        return li;
    if (!is_weight_layer(l))
        return -1;
    for (uint32_t j = (uint32_t)li + 1; j < m->nlayers; j++) {
        if (m->layers[j].kind == BL_LAYER_THRESH)
            return (int)j;
        if (is_weight_layer(&m->layers[j]))
            return -1;
    }
    return -1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

static int valid_name(const char *s, int allow_dot)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-' || (allow_dot && *s == '.')))
            return 0;
    return 1;
}

static int param_index(const bl_fault_kind *k, const char *name)
{
    for (size_t i = 0; i < k->nparams; i++)
        if (strcmp(k->params[i].name, name) == 0)
            return (int)i;
    return -1;
}

static void param_list(const bl_fault_kind *k, char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = 0;
    for (size_t i = 0; i < k->nparams && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%s", i ? ", " : "", k->params[i].name);
    if (k->nparams == 0)
        snprintf(buf, n, "none");
}

/* Effective rates of built-in kinds. */
static void asym_rates(const rule *r, double *p01, double *p10)
{
    if (r->set & (1u << 2 | 1u << 3)) { /* ratio form */
        *p01 = r->v[2];
        *p10 = r->v[2] / r->v[3];
    } else {
        *p01 = r->v[0];
        *p10 = r->v[1];
    }
}

/* Check the combination of values of a rule (ranges already checked). */
static int rule_check(const rule *r, const char *where, bl_error *err)
{
    const bl_fault_kind *k = r->kind;
    if (k->type == KIND_ASYM && (r->set & 3u) && (r->set & 12u))
        return bl_error_set(err, BL_EINVAL,
                            "%sasym: give either p01/p10 or p/ratio, not both", where);
    if (k->type == KIND_ASYM) {   /* derived rates: every front end gets this one check */
        double p01, p10;
        asym_rates(r, &p01, &p10);
        if (!(p10 >= 0 && p10 <= 1))
            return bl_error_set(err, BL_ERANGE, "%sasym: p10 = p/ratio = %g/%g = %g exceeds 1",
                                where, r->v[2], r->v[3], p10);
    }
    if (k->type == KIND_STUCK && r->v[0] + r->v[1] > 1)
        return bl_error_set(err, BL_ERANGE, "%sstuck: p0 + p1 = %g exceeds 1", where,
                            r->v[0] + r->v[1]);
    if (r->target == BL_FT_ACTIVATIONS && k->type != KIND_BITFLIP)
        return bl_error_set(err, BL_EUNSUPPORTED,
                            "%sactivations support the bitflip kind only (got %s)", where,
                            k->name);
    if (k->type == KIND_PLUGIN && r->target == BL_FT_ACTIVATIONS)
        return bl_error_set(err, BL_EUNSUPPORTED, "%splugins act on weights and thresholds only",
                            where);
    if (k->type == KIND_PLUGIN) {
        int rc = bl_fault_plugin_check(k, r->v, err);
        if (rc)
            return bl_error_prefix(err, "%.*s", (int)strlen(where) - 2, where);
    }
    return 0;
}

static int check_layer(const bl_model *m, const char *layer, bl_fault_target t, const char *where,
                       bl_error *err)
{
    if (!m || strcmp(layer, "*") == 0)
        return 0;
    int li = bl_model_find_layer(m, layer);
    if (li < 0) {
        char names[256];
        size_t o = 0;
        names[0] = 0;
        for (uint32_t i = 0; i < m->nlayers && o < sizeof names; i++)
            if (storing_layer(m, (int)i, t) >= 0)
                o += (size_t)snprintf(names + o, sizeof names - o, "%s%s", o ? ", " : "",
                                      m->layers[i].name);
        return bl_error_set(err, BL_ENOTFOUND, "%sunknown layer '%s' (layers with %s: %s)", where,
                            layer, bl_fault_target_name(t), names);
    }
    if (storing_layer(m, li, t) < 0)
        return bl_error_set(err, BL_EINVAL, "%slayer '%s' (%s) has no %s", where, layer,
                            bl_layer_kind_name(m->layers[li].kind), bl_fault_target_name(t));
    return 0;
}

static int parse_rule(const bl_fault_registry *reg, char *text, const bl_model *m, int idx,
                      rule *r, bl_error *err)
{
    char where[96];
    memset(r, 0, sizeof *r);
    snprintf(r->layer, sizeof r->layer, "*");
    r->target = BL_FT_WEIGHTS;
    char *colon = strchr(text, ':');
    if (colon)
        *colon = 0;
    char *eq = strchr(text, '=');
    char *kindname = text;
    if (eq) {
        *eq = 0;
        char *lhs = trim(text);
        kindname = eq + 1;
        char *dot = strchr(lhs, '.');
        if (dot) {
            *dot = 0;
            char *tn = trim(dot + 1);
            if (strcmp(tn, "weights") == 0)
                r->target = BL_FT_WEIGHTS;
            else if (strcmp(tn, "thresholds") == 0)
                r->target = BL_FT_THRESHOLDS;
            else if (strcmp(tn, "activations") == 0)
                r->target = BL_FT_ACTIVATIONS;
            else
                return bl_error_set(err, BL_EINVAL,
                                    "fault spec rule %d: unknown target '%s' (weights, thresholds "
                                    "or activations)", idx, tn);
        }
        lhs = trim(lhs);
        if (!valid_name(lhs, 0) && strcmp(lhs, "*") != 0)
            return bl_error_set(err, BL_EINVAL, "fault spec rule %d: bad layer name '%s'", idx,
                                lhs);
        if (strlen(lhs) >= BL_NAME_MAX)
            return bl_error_set(err, BL_EINVAL, "fault spec rule %d: layer name too long", idx);
        snprintf(r->layer, sizeof r->layer, "%s", lhs);
    }
    kindname = trim(kindname);
    if (strcmp(r->layer, "*") == 0)
        snprintf(where, sizeof where, "fault spec rule %d (*.%s): ", idx,
                 bl_fault_target_name(r->target));
    else
        snprintf(where, sizeof where, "fault spec rule %d (%s.%s): ", idx, r->layer,
                 bl_fault_target_name(r->target));
    if (!*kindname)
        return bl_error_set(err, BL_EINVAL, "%smissing fault model name", where);
    const bl_fault_kind *k = bl_fault_registry_find(reg, kindname);
    if (!k) {
        char names[256];
        size_t o = 0;
        names[0] = 0;
        for (size_t i = 0; i < bl_fault_registry_count(reg) && o < sizeof names; i++)
            o += (size_t)snprintf(names + o, sizeof names - o, "%s%s", i ? ", " : "",
                                  reg->kinds[i]->name);
        return bl_error_set(err, BL_ENOTFOUND, "%sunknown fault model '%.40s' (known: %s)", where,
                            kindname, names);
    }
    r->kind = k;
    for (size_t i = 0; i < k->nparams; i++)
        r->v[i] = k->params[i].def;
    if (colon) {
        char *params = colon + 1;
        if (!*trim(params))
            return bl_error_set(err, BL_EINVAL, "%s%s: empty parameter list after ':'", where,
                                k->name);
        /* empty items ("p=1,,") are errors: walk by hand instead of strtok */
        char *p = params;
        for (;;) {
            char *comma = strchr(p, ',');
            if (comma)
                *comma = 0;
            char *item = trim(p);
            char *ke = strchr(item, '=');
            if (!*item || !ke)
                return bl_error_set(err, BL_EINVAL, "%s%s: expected KEY=VALUE, got '%.40s'",
                                    where, k->name, item);
            *ke = 0;
            char *key = trim(item), *val = trim(ke + 1);
            int pi = param_index(k, key);
            if (pi < 0) {
                char pl[200];
                param_list(k, pl, sizeof pl);
                return bl_error_set(err, BL_EINVAL, "%s%s: unknown parameter '%.40s' (known: %s)",
                                    where, k->name, key, pl);
            }
            if (r->set & (1u << pi))
                return bl_error_set(err, BL_EINVAL, "%s%s: parameter '%s' given twice", where,
                                    k->name, key);
            char *end = NULL;
            double v = strtod(val, &end);
            if (!*val || *end || !isfinite(v))
                return bl_error_set(err, BL_EINVAL, "%s%s: %s: '%.40s' is not a number", where,
                                    k->name, key, val);
            const bl_fault_param *pd = &k->params[pi];
            if (v < pd->min || v > pd->max)
                return bl_error_set(err, BL_ERANGE, "%s%s: %s=%g out of range [%g, %g]", where,
                                    k->name, key, v, pd->min, pd->max);
            r->v[pi] = v;
            r->set |= 1u << pi;
            if (!comma)
                break;
            p = comma + 1;
        }
    }
    int rc = check_layer(m, r->layer, r->target, where, err);
    if (rc)
        return rc;
    return rule_check(r, where, err);
}

int bl_fault_spec_parse(const bl_fault_registry *reg, const char *text, const bl_model *model,
                        bl_fault_spec **out, bl_error *err)
{
    *out = NULL;
    if (!reg || !text)
        return bl_error_set(err, BL_EINVAL, "fault spec: no registry or text");
    size_t len = strlen(text);
    if (len > 65536)
        return bl_error_set(err, BL_ERANGE, "fault spec: too long (%zu bytes)", len);
    char *buf = strdup(text);
    bl_fault_spec *s = calloc(1, sizeof *s);
    if (!buf || !s) {
        free(buf);
        free(s);
        return bl_error_set(err, BL_ENOMEM, "out of memory parsing fault spec");
    }
    s->reg = reg;
    int rc = 0, idx = 0;
    char *p = buf;
    for (;;) {
        char *semi = strchr(p, ';');
        if (semi)
            *semi = 0;
        idx++;
        char *item = trim(p);
        if (!*item) {
            rc = bl_error_set(err, BL_EINVAL, "fault spec rule %d: empty rule%s", idx,
                              len ? "" : " (empty spec)");
            break;
        }
        rule r;
        rc = parse_rule(reg, item, model, idx, &r, err);
        if (rc)
            break;
        for (size_t i = 0; i < s->n; i++)
            if (strcmp(s->rules[i].layer, r.layer) == 0 && s->rules[i].target == r.target) {
                rc = bl_error_set(err, BL_EINVAL,
                                  "fault spec rule %d: %s.%s already has a rule (rule %zu)", idx,
                                  r.layer, bl_fault_target_name(r.target), i + 1);
                break;
            }
        if (rc)
            break;
        if (spec_push(s, &r)) {
            rc = bl_error_set(err, BL_ENOMEM, "out of memory parsing fault spec");
            break;
        }
        if (!semi)
            break;
        p = semi + 1;
    }
    free(buf);
    if (rc) {
        bl_fault_spec_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* Shortest decimal that reads back as the same double. */
static void fmt_double(char *buf, size_t n, double v)
{
    char best[40] = "", t[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*g", prec, v);
        if (strtod(t, NULL) == v && (!best[0] || strlen(t) < strlen(best)))
            memcpy(best, t, sizeof t);
    }
    snprintf(buf, n, "%s", best);
}

char *bl_fault_spec_format(const bl_fault_spec *spec)
{
    if (!spec)
        return NULL;
    size_t cap = 256, o = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    out[0] = 0;
    for (size_t i = 0; i < spec->n; i++) {
        const rule *r = &spec->rules[i];
        char item[1024];
        size_t k = 0;
        if (r->target != BL_FT_WEIGHTS)
            k += (size_t)snprintf(item + k, sizeof item - k, "%s.%s=", r->layer,
                                  bl_fault_target_name(r->target));
        else if (strcmp(r->layer, "*") != 0)
            k += (size_t)snprintf(item + k, sizeof item - k, "%s=", r->layer);
        k += (size_t)snprintf(item + k, sizeof item - k, "%s", r->kind->name);
        int first = 1;
        for (size_t pi = 0; pi < r->kind->nparams && k < sizeof item; pi++) {
            if (r->kind->type == KIND_ASYM) { /* one form only */
                int ratio_form = (r->set & 12u) != 0;
                if (ratio_form != (pi >= 2))
                    continue;
            }
            char num[40];
            fmt_double(num, sizeof num, r->v[pi]);
            k += (size_t)snprintf(item + k, sizeof item - k, "%c%s=%s", first ? ':' : ',',
                                  r->kind->params[pi].name, num);
            first = 0;
        }
        size_t need = o + k + 2;
        if (need > cap) {
            while (cap < need)
                cap *= 2;
            char *no = realloc(out, cap);
            if (!no) {
                free(out);
                return NULL;
            }
            out = no;
        }
        if (i)
            out[o++] = ';';
        memcpy(out + o, item, k);
        o += k;
        out[o] = 0;
    }
    return out;
}

static int rule_set_rate(rule *r, double ber, bl_error *err)
{
    const bl_fault_kind *k = r->kind;
    switch (k->type) {
    case KIND_BITFLIP:
        r->v[0] = ber;
        r->set |= 1u;
        return 0;
    case KIND_ASYM:
        if (r->set & 12u || !(r->set & 3u)) {
            r->v[2] = ber;
            if (ber / r->v[3] > 1)
                return bl_error_set(err, BL_ERANGE, "asym: p/ratio = %g exceeds 1",
                                    ber / r->v[3]);
            r->set = (r->set & 8u) | 4u;
        } else if (r->v[0] > 0) {
            double ratio = r->v[1] / r->v[0];
            if (ber * ratio > 1)
                return bl_error_set(err, BL_ERANGE, "asym: p10 = %g exceeds 1", ber * ratio);
            r->v[0] = ber;
            r->v[1] = ber * ratio;
        } else {
            r->v[1] = ber;
        }
        return 0;
    case KIND_STUCK:
        r->v[0] = r->v[1] = ber / 2;
        r->set |= 3u;
        return 0;
    default:
        if (k->rate_param < 0)
            return bl_error_set(err, BL_EUNSUPPORTED,
                                "fault model '%s' (%s) declares no rate parameter", k->name,
                                k->source);
        if (ber < k->params[k->rate_param].min || ber > k->params[k->rate_param].max)
            return bl_error_set(err, BL_ERANGE, "%s: %s=%g out of range [%g, %g]", k->name,
                                k->params[k->rate_param].name, ber,
                                k->params[k->rate_param].min, k->params[k->rate_param].max);
        r->v[k->rate_param] = ber;
        r->set |= 1u << k->rate_param;
        return bl_fault_plugin_check(k, r->v, err);
    }
}

int bl_fault_spec_set_rate(bl_fault_spec *spec, double ber, bl_error *err)
{
    return bl_fault_spec_set_target_rate(spec, BL_FT_COUNT, ber, err);
}

int bl_fault_spec_set_target_rate(bl_fault_spec *spec, bl_fault_target t, double ber,
                                  bl_error *err)
{
    if (!spec || !(ber >= 0 && ber <= 1))
        return bl_error_set(err, BL_ERANGE, "set_rate: rate %g outside [0, 1]", ber);
    /* all or nothing: work on a copy */
    rule *tmp = malloc((spec->n ? spec->n : 1) * sizeof *tmp);
    if (!tmp)
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    memcpy(tmp, spec->rules, spec->n * sizeof *tmp);
    for (size_t i = 0; i < spec->n; i++) {
        if (t != BL_FT_COUNT && tmp[i].target != t)
            continue;
        int rc = rule_set_rate(&tmp[i], ber, err);
        if (rc) {
            free(tmp);
            return rc;
        }
    }
    memcpy(spec->rules, tmp, spec->n * sizeof *tmp);
    free(tmp);
    return 0;
}

int bl_fault_spec_set_layer_rate(bl_fault_spec *spec, const char *layer, bl_fault_target t,
                                 double ber, bl_error *err)
{
    if (!spec || !layer || t >= BL_FT_COUNT)
        return bl_error_set(err, BL_EINVAL, "set_layer_rate: bad arguments");
    if (!(ber >= 0 && ber <= 1))
        return bl_error_set(err, BL_ERANGE, "set_layer_rate: rate %g outside [0, 1]", ber);
    if ((!valid_name(layer, 0) && strcmp(layer, "*") != 0) || strlen(layer) >= BL_NAME_MAX)
        return bl_error_set(err, BL_EINVAL, "set_layer_rate: bad layer name '%.40s'", layer);
    rule *hit = NULL, *wild = NULL;
    for (size_t i = 0; i < spec->n; i++) {
        if (spec->rules[i].target != t)
            continue;
        if (strcmp(spec->rules[i].layer, layer) == 0)
            hit = &spec->rules[i];
        else if (strcmp(spec->rules[i].layer, "*") == 0)
            wild = &spec->rules[i];
    }
    rule r;
    if (hit) {
        r = *hit;
    } else if (wild) {
        r = *wild;
        snprintf(r.layer, sizeof r.layer, "%s", layer);
    } else { /* no rule for this target yet: symmetric flips */
        memset(&r, 0, sizeof r);
        snprintf(r.layer, sizeof r.layer, "%s", layer);
        r.target = t;
        r.kind = bl_fault_registry_find(spec->reg, "bitflip");
        if (!r.kind)
            return bl_error_set(err, BL_ENOTFOUND, "set_layer_rate: no bitflip kind");
    }
    int rc = rule_set_rate(&r, ber, err);
    if (rc)
        return rc;
    if (hit) {
        *hit = r;
        return 0;
    }
    if (spec_push(spec, &r))
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    return 0;
}

size_t bl_fault_spec_count(const bl_fault_spec *spec) { return spec ? spec->n : 0; }

/* Effective rule of model layer li's stored target t (li = storing layer). */
static const rule *effective(const bl_fault_spec *spec, const bl_model *m, int li,
                             bl_fault_target t)
{
    const rule *wild = NULL;
    for (size_t i = 0; i < spec->n; i++) {
        const rule *r = &spec->rules[i];
        if (r->target != t)
            continue;
        if (strcmp(r->layer, "*") == 0) {
            wild = r;
            continue;
        }
        int lj = bl_model_find_layer(m, r->layer);
        if (lj >= 0 && storing_layer(m, lj, t) == li)
            return r;
    }
    return wild;
}

static int check_spec_layers(const bl_fault_spec *spec, const bl_model *m, bl_error *err)
{
    for (size_t i = 0; i < spec->n; i++) {
        char where[80];
        snprintf(where, sizeof where, "fault spec rule %zu: ", i + 1);
        int rc = check_layer(m, spec->rules[i].layer, spec->rules[i].target, where, err);
        if (rc)
            return rc;
    }
    return 0;
}

int bl_fault_activation_rates(const bl_fault_spec *spec, const bl_model *model, double *rates,
                              bl_error *err)
{
    if (!spec || !model || !rates)
        return bl_error_set(err, BL_EINVAL, "activation_rates: bad arguments");
    int rc = check_spec_layers(spec, model, err);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < model->nlayers; i++) {
        rates[i] = 0;
        if (model->layers[i].kind != BL_LAYER_THRESH)
            continue;
        const rule *r = effective(spec, model, (int)i, BL_FT_ACTIVATIONS);
        if (r)
            rates[i] = r->v[0];
    }
    return 0;
}

/* ---- applying ---------------------------------------------------------------- */

#define CHUNK 2048 /* words per mask chunk (16 KiB per mask) */

static void apply_builtin(const rule *r, const fault_view *v, uint64_t seed, uint64_t *m0,
                          uint64_t *m1)
{
    uint32_t stream = bl_coupled_stream((uint32_t)v->layer, v->target);
    size_t nw = (size_t)v->rows * v->wpr;
    double ra = 0, rb = 0;
    switch (r->kind->type) {
    case KIND_BITFLIP: ra = r->v[0]; break;
    case KIND_ASYM: asym_rates(r, &ra, &rb); break;
    case KIND_STUCK: ra = r->v[0]; rb = 1.0 - r->v[1]; break;
    }
    if (ra <= 0 && (r->kind->type == KIND_STUCK ? rb >= 1 : rb <= 0))
        return;
    for (size_t w0 = 0; w0 < nw; w0 += CHUNK) {
        size_t n = nw - w0 < CHUNK ? nw - w0 : CHUNK;
        uint64_t *w = v->words + w0;
        size_t k = w0 % v->wpr;
        if (ra > 0)
            bl_coupled_mask(seed, stream, ra, w0, n, m0);
        else
            memset(m0, 0, n * 8);
        switch (r->kind->type) {
        case KIND_BITFLIP:
            for (size_t i = 0; i < n; i++) {
                w[i] ^= m0[i] & v->real[k];
                if (++k == v->wpr) k = 0;
            }
            break;
        case KIND_ASYM:
            if (rb > 0)
                bl_coupled_mask(seed, stream, rb, w0, n, m1);
            else
                memset(m1, 0, n * 8);
            for (size_t i = 0; i < n; i++) {
                uint64_t x = w[i];
                w[i] = x ^ (v->real[k] & ((~x & m0[i]) | (x & m1[i])));
                if (++k == v->wpr) k = 0;
            }
            break;
        case KIND_STUCK: /* m1 = u < 1 - p1, so stuck at 1 = ~m1 */
            bl_coupled_mask(seed, stream, rb, w0, n, m1);
            for (size_t i = 0; i < n; i++) {
                uint64_t s0 = m0[i] & v->real[k], s1 = ~m1[i] & ~m0[i] & v->real[k];
                w[i] = (w[i] & ~s0) | s1;
                if (++k == v->wpr) k = 0;
            }
            break;
        }
    }
}

/* Real-bit mask of each word of a row of a weight layer. */
static void weight_real(const bl_layer *l, uint64_t *real)
{
    uint32_t segw = l->kind == BL_LAYER_CONV3 ? l->words_per_tap : l->words_per_row;
    uint32_t segb = l->kind == BL_LAYER_CONV3 ? l->in.c : l->cols;
    for (uint32_t k = 0; k < l->words_per_row; k++) {
        uint32_t kk = k % segw;
        uint64_t lo = (uint64_t)kk * 64;
        real[k] = segb >= lo + 64 ? ~(uint64_t)0
                  : segb <= lo    ? 0
                                  : (((uint64_t)1 << (segb - lo)) - 1);
    }
}

int bl_fault_view_init(const bl_model *m, int li, bl_fault_target t, fault_view *v,
                       uint64_t **real, uint64_t **tbuf, bl_error *err);

/* Fill a view of layer li's target t; thresholds are copied into tbuf. */
int bl_fault_view_init(const bl_model *m, int li, bl_fault_target t, fault_view *v,
                       uint64_t **real, uint64_t **tbuf, bl_error *err)
{
    const bl_layer *l = &m->layers[li];
    memset(v, 0, sizeof *v);
    *real = NULL;
    *tbuf = NULL;
    v->layer = li;
    v->layer_name = l->name;
    v->target = t;
    if (t == BL_FT_WEIGHTS) {
        v->words = l->weights;
        v->rows = l->rows;
        v->cols = l->cols;
        v->wpr = l->words_per_row;
        v->segs = l->kind == BL_LAYER_CONV3 ? 9 : 1;
        v->seg_bits = l->kind == BL_LAYER_CONV3 ? l->in.c : l->cols;
        v->seg_words = l->kind == BL_LAYER_CONV3 ? l->words_per_tap : l->words_per_row;
        *real = malloc((v->wpr ? v->wpr : 1) * 8);
        if (!*real)
            return bl_error_set(err, BL_ENOMEM, "out of memory");
        weight_real(l, *real);
    } else {
        uint32_t C = l->out.c;
        v->rows = 1;
        v->cols = 32 * C;
        v->wpr = (C + 1) / 2;
        v->segs = 1;
        v->seg_bits = v->cols;
        v->seg_words = v->wpr;
        *real = malloc((v->wpr ? v->wpr : 1) * 8);
        *tbuf = calloc(v->wpr ? v->wpr : 1, 8);
        if (!*real || !*tbuf) {
            free(*real);
            free(*tbuf);
            *real = *tbuf = NULL;
            return bl_error_set(err, BL_ENOMEM, "out of memory");
        }
        for (uint32_t k = 0; k < v->wpr; k++)
            (*real)[k] = (C & 1) && k == v->wpr - 1 ? 0xFFFFFFFFull : ~(uint64_t)0;
        for (uint32_t c = 0; c < C; c++)
            (*tbuf)[c / 2] |= (uint64_t)(uint32_t)l->tau[c] << (32 * (c & 1));
        v->words = *tbuf;
    }
    return 0;
}

static void thresh_store(bl_layer *l, const uint64_t *tbuf)
{
    for (uint32_t c = 0; c < l->out.c; c++)
        l->tau[c] = (int32_t)(uint32_t)(tbuf[c / 2] >> (32 * (c & 1)));
}

int bl_fault_apply(const bl_fault_spec *spec, const bl_model *clean, bl_model *faulty,
                   uint64_t seed, bl_fault_stats *st, bl_error *err)
{
    if (st)
        memset(st, 0, sizeof *st);
    if (!spec || !clean || !faulty)
        return bl_error_set(err, BL_EINVAL, "fault apply: missing spec or model");
    int rc = check_spec_layers(spec, clean, err);
    if (rc)
        return rc;
    rc = bl_model_copy_params(faulty, clean, err);
    if (rc)
        return rc;
    uint64_t *m0 = bl_alloc(CHUNK * 8), *m1 = bl_alloc(CHUNK * 8);
    if (!m0 || !m1) {
        bl_free(m0);
        bl_free(m1);
        return bl_error_set(err, BL_ENOMEM, "out of memory applying faults");
    }
    for (uint32_t li = 0; li < clean->nlayers && !rc; li++) {
        bl_layer *fl = &faulty->layers[li];
        for (int t = 0; t < 2 && !rc; t++) {
            if (t == BL_FT_WEIGHTS ? !is_weight_layer(fl) : fl->kind != BL_LAYER_THRESH)
                continue;
            const rule *r = effective(spec, clean, (int)li, (bl_fault_target)t);
            if (!r)
                continue;
            fault_view v;
            uint64_t *real, *tbuf;
            rc = bl_fault_view_init(faulty, (int)li, (bl_fault_target)t, &v, &real, &tbuf, err);
            if (rc)
                break;
            v.real = real;
            if (r->kind->type == KIND_PLUGIN)
                rc = bl_fault_plugin_apply(r->kind, r->v, &v, seed, err);
            else
                apply_builtin(r, &v, seed, m0, m1);
            /* padding stays zero, whatever a plugin did */
            size_t nw = (size_t)v.rows * v.wpr;
            for (size_t i = 0, k = 0; i < nw; i++) {
                v.words[i] &= real[k];
                if (++k == v.wpr) k = 0;
            }
            if (tbuf)
                thresh_store(fl, tbuf);
            if (st && !rc) {
                const bl_layer *cl = &clean->layers[li];
                if (t == BL_FT_WEIGHTS) {
                    st->bits[t] += bl_layer_stored_bits(cl);
                    for (size_t i = 0; i < nw; i++)
                        st->changed[t] += (uint64_t)__builtin_popcountll(cl->weights[i] ^
                                                                          fl->weights[i]);
                } else {
                    st->bits[t] += 32ull * cl->out.c;
                    for (uint32_t c = 0; c < cl->out.c; c++)
                        st->changed[t] += (uint64_t)__builtin_popcount(
                            (uint32_t)cl->tau[c] ^ (uint32_t)fl->tau[c]);
                }
            }
            free(real);
            free(tbuf);
        }
    }
    bl_free(m0);
    bl_free(m1);
    return rc;
}

void bl_fault_coupled_mask(uint64_t seed, uint32_t layer, bl_fault_target t, double p,
                           uint64_t *mask, size_t nbits)
{
    size_t nw = bl_words_for_bits(nbits);
    bl_coupled_mask(seed, bl_coupled_stream(layer, t), p, 0, nw, mask);
    if (nbits & 63)
        mask[nw - 1] &= ((uint64_t)1 << (nbits & 63)) - 1;
}

double bl_fault_uniform(uint64_t seed, uint32_t layer, bl_fault_target t, uint64_t bit)
{
    return bl_coupled_uniform(seed, bl_coupled_stream(layer, t), bit);
}
