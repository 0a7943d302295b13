/* plugin.c - loading fault-model plugins (plugins/betlab_plugin.h).
 *
 * dlopen + dlsym of the one entry point, then every field the plugin
 * hands over is checked before it is used: ABI major, struct sizes,
 * names, parameter declarations, the apply function; init may fail with
 * its own message.  Every error names the file; a failed load leaves no
 * library mapped and nothing allocated. */
#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../plugins/betlab_plugin.h"
#include "base/coupled.h"
#include "base/paths.h"
#include "fault/fault_internal.h"

struct bl_fault_plugin {
    void *dl;
    const betlab_plugin_info *info;
    void *state;
    int inited;
};

/* Per-call context handed to the plugin as host_ctx. */
typedef struct hctx {
    int has_error;
    char msg[400];
    uint64_t seed;
    uint32_t stream;
} hctx;

static void h_error(void *c, const char *fmt, ...)
{
    hctx *h = c;
    if (!h || !fmt)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->msg, sizeof h->msg, fmt, ap);
    va_end(ap);
    for (char *p = h->msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    h->has_error = 1;
}

static void h_log(void *c, int level, const char *fmt, ...)
{
    (void)c; /* the core prints nothing; front ends may add a sink later */
    (void)level;
    (void)fmt;
}

static void h_masks(void *c, uint64_t first_word, size_t nwords, uint32_t nrates,
                    const double *rates, uint64_t *const *out)
{
    hctx *h = c;
    if (!h || !out || !rates || nrates == 0)
        return;
    if (nrates > BL_COUPLED_MAX_RATES)
        nrates = BL_COUPLED_MAX_RATES;
    bl_coupled_masks(h->seed, h->stream, nrates, rates, first_word, nwords, out);
}

static double h_uniform(void *c, uint64_t bit)
{
    hctx *h = c;
    return h ? bl_coupled_uniform(h->seed, h->stream, bit) : 0.0;
}

static const betlab_host_api host_api = {
    .struct_size = sizeof(betlab_host_api),
    .abi_major = BETLAB_PLUGIN_ABI_MAJOR,
    .abi_minor = BETLAB_PLUGIN_ABI_MINOR,
    .coupled_masks = h_masks,
    .uniform = h_uniform,
    .error = h_error,
    .log = h_log,
};

#define END_OF(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

static int valid_ident(const char *s, int lower_only)
{
    if (!s || !*s || strlen(s) >= BL_NAME_MAX)
        return 0;
    if (!(lower_only ? (*s >= 'a' && *s <= 'z') : ((*s | 32) >= 'a' && (*s | 32) <= 'z')))
        return 0;
    for (const char *p = s; *p; p++) {
        char ch = *p;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' ||
                 (!lower_only && ch >= 'A' && ch <= 'Z');
        if (!ok)
            return 0;
    }
    return 1;
}

void bl_fault_plugin_free(bl_fault_kind *k)
{
    if (!k)
        return;
    bl_fault_plugin *p = k->plugin;
    if (p) {
        if (p->inited && p->info->fini)
            p->info->fini(p->state);
        if (p->dl)
            dlclose(p->dl);
        free(p);
    }
    for (size_t i = 0; i < k->nparams; i++) {
        free((char *)k->params[i].name);
        free((char *)k->params[i].help);
    }
    free(k->help);
    free(k->source);
    free(k);
}

/* Check the info and declarations; copy them into k. */
static int take_info(const char *path, const betlab_plugin_info *info, bl_fault_kind *k,
                     bl_error *err)
{
    if (!info)
        return bl_error_set(err, BL_EFORMAT, "%s: plugin entry returned no info", path);
    if (info->struct_size < END_OF(betlab_plugin_info, abi_minor))
        return bl_error_set(err, BL_EFORMAT, "%s: betlab_plugin_info.struct_size %u is too small",
                            path, info->struct_size);
    if (info->abi_major != BETLAB_PLUGIN_ABI_MAJOR)
        return bl_error_set(err, BL_EUNSUPPORTED,
                            "%s: plugin built for ABI %u.%u, this betlab supports ABI %d.%d "
                            "(the major version must match; rebuild the plugin against this "
                            "betlab_plugin.h)", path, info->abi_major, info->abi_minor,
                            BETLAB_PLUGIN_ABI_MAJOR, BETLAB_PLUGIN_ABI_MINOR);
    if (info->struct_size < END_OF(betlab_plugin_info, fini))
        return bl_error_set(err, BL_EFORMAT,
                            "%s: betlab_plugin_info.struct_size %u is smaller than ABI %d.0 "
                            "requires (%zu)", path, info->struct_size, BETLAB_PLUGIN_ABI_MAJOR,
                            END_OF(betlab_plugin_info, fini));
    if (!valid_ident(info->name, 1))
        return bl_error_set(err, BL_EFORMAT,
                            "%s: bad fault model name (want [a-z][a-z0-9_]*, < %d chars)", path,
                            BL_NAME_MAX);
    if (!info->help || !*info->help)
        return bl_error_set(err, BL_EFORMAT, "%s: fault model '%s' has no help line", path,
                            info->name);
    if (!info->apply)
        return bl_error_set(err, BL_EFORMAT, "%s: fault model '%s' has no apply function", path,
                            info->name);
    if (info->nparams > BL_FAULT_MAX_PARAMS)
        return bl_error_set(err, BL_EFORMAT, "%s: %u parameters declared, at most %d", path,
                            info->nparams, BL_FAULT_MAX_PARAMS);
    if (info->nparams && (!info->params || info->param_size < END_OF(betlab_param_decl, help)))
        return bl_error_set(err, BL_EFORMAT,
                            "%s: parameter declarations missing or param_size %u too small "
                            "(ABI %d.0 requires %zu)", path, info->param_size,
                            BETLAB_PLUGIN_ABI_MAJOR, END_OF(betlab_param_decl, help));
    snprintf(k->name, sizeof k->name, "%s", info->name);
    k->rate_param = -1;
    for (uint32_t i = 0; i < info->nparams; i++) {
        const betlab_param_decl *d =
            (const betlab_param_decl *)((const char *)info->params + (size_t)i * info->param_size);
        if (d->struct_size < END_OF(betlab_param_decl, help))
            return bl_error_set(err, BL_EFORMAT, "%s: parameter %u: struct_size %u too small",
                                path, i, d->struct_size);
        if (!valid_ident(d->name, 0))
            return bl_error_set(err, BL_EFORMAT,
                                "%s: parameter %u: bad name (want [A-Za-z][A-Za-z0-9_]*)", path, i);
        for (size_t j = 0; j < k->nparams; j++)
            if (strcmp(k->params[j].name, d->name) == 0)
                return bl_error_set(err, BL_EFORMAT, "%s: parameter '%s' declared twice", path,
                                    d->name);
        if (!isfinite(d->min) || !isfinite(d->max) || !isfinite(d->def) || d->min > d->max ||
            d->def < d->min || d->def > d->max)
            return bl_error_set(err, BL_EFORMAT,
                                "%s: parameter '%s': need finite min <= default <= max (got %g <= "
                                "%g <= %g)", path, d->name, d->min, d->def, d->max);
        if (!d->help || !*d->help)
            return bl_error_set(err, BL_EFORMAT, "%s: parameter '%s' has no help", path, d->name);
        if (d->flags & ~BETLAB_PARAM_RATE)
            return bl_error_set(err, BL_EFORMAT, "%s: parameter '%s': unknown flags 0x%x", path,
                                d->name, d->flags);
        if (d->flags & BETLAB_PARAM_RATE) {
            if (k->rate_param >= 0)
                return bl_error_set(err, BL_EFORMAT, "%s: more than one rate parameter", path);
            k->rate_param = (int)i;
        }
        bl_fault_param *p = &k->params[k->nparams];
        p->name = strdup(d->name);
        p->help = strdup(d->help);
        p->def = d->def;
        p->min = d->min;
        p->max = d->max;
        k->nparams++;
        if (!p->name || !p->help)
            return bl_error_set(err, BL_ENOMEM, "%s: out of memory", path);
    }
    k->help = strdup(info->help);
    if (!k->help)
        return bl_error_set(err, BL_ENOMEM, "%s: out of memory", path);
    return 0;
}

int bl_fault_plugin_load(const char *path, bl_fault_kind **out, bl_error *err)
{
    *out = NULL;
    bl_fault_kind *k = calloc(1, sizeof *k);
    bl_fault_plugin *p = calloc(1, sizeof *p);
    if (!k || !p) {
        free(k);
        free(p);
        return bl_error_set(err, BL_ENOMEM, "%s: out of memory", path);
    }
    k->type = KIND_PLUGIN;
    k->plugin = p;
    k->source = strdup(path);
    if (!k->source) {
        bl_fault_plugin_free(k);
        return bl_error_set(err, BL_ENOMEM, "%s: out of memory", path);
    }
    /* a bare name would search the library path: make it a path */
    char buf[4096];
    const char *open_path = path;
    if (!strchr(path, '/')) {
        snprintf(buf, sizeof buf, "./%s", path);
        open_path = buf;
    }
    p->dl = dlopen(open_path, RTLD_NOW | RTLD_LOCAL);
    if (!p->dl) {
        const char *e = dlerror();
        bl_error_set(err, BL_EIO, "%s: cannot load plugin: %s", path, e ? e : "dlopen failed");
        bl_fault_plugin_free(k);
        return BL_EIO;
    }
    void *sym = dlsym(p->dl, BETLAB_PLUGIN_ENTRY);
    if (!sym) {
        bl_error_set(err, BL_EFORMAT, "%s: not a betlab plugin: no '%s' function exported", path,
                     BETLAB_PLUGIN_ENTRY);
        bl_fault_plugin_free(k);
        return BL_EFORMAT;
    }
    betlab_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry); /* object -> function pointer, as POSIX allows */
    hctx h = { 0 };
    const betlab_plugin_info *info = NULL;
    int prc = entry(&host_api, &info);
    if (prc != 0) {
        bl_error_set(err, BL_EINVAL, "%s: plugin entry failed: %s", path,
                     h.has_error ? h.msg : "no message");
        bl_fault_plugin_free(k);
        return BL_EINVAL;
    }
    int rc = take_info(path, info, k, err);
    if (rc) {
        bl_fault_plugin_free(k);
        return rc;
    }
    p->info = info;
    if (info->init) {
        memset(&h, 0, sizeof h);
        prc = info->init(&host_api, &h, &p->state);
        if (prc != 0) {
            bl_error_set(err, BL_EINVAL, "%s: init of fault model '%s' failed: %s", path,
                         info->name, h.has_error ? h.msg : "no message");
            bl_fault_plugin_free(k);
            return BL_EINVAL;
        }
    }
    p->inited = 1;
    *out = k;
    return 0;
}

int bl_fault_plugin_check(const bl_fault_kind *k, const double *v, bl_error *err)
{
    const bl_fault_plugin *p = k->plugin;
    if (!p || !p->info->check)
        return 0;
    hctx h = { 0 };
    if (p->info->check(p->state, v, (uint32_t)k->nparams, &h) != 0)
        return bl_error_set(err, BL_EINVAL, "%s (%s): bad parameters: %s", k->name, k->source,
                            h.has_error ? h.msg : "rejected by the plugin");
    return 0;
}

int bl_fault_plugin_apply(const bl_fault_kind *k, const double *v, const fault_view *fv,
                          uint64_t seed, bl_error *err)
{
    const bl_fault_plugin *p = k->plugin;
    hctx h = { 0 };
    h.seed = seed;
    h.stream = bl_coupled_stream((uint32_t)fv->layer, fv->target);
    betlab_target_view view = {
        .struct_size = sizeof view,
        .target = fv->target == BL_FT_WEIGHTS ? BETLAB_TARGET_WEIGHTS : BETLAB_TARGET_THRESHOLDS,
        .words = fv->words,
        .rows = fv->rows,
        .cols = fv->cols,
        .words_per_row = fv->wpr,
        .segs_per_row = fv->segs,
        .seg_bits = fv->seg_bits,
        .seg_words = fv->seg_words,
        .layer_index = (uint32_t)fv->layer,
        .layer_name = fv->layer_name,
        .seed = seed,
        .params = v,
        .nparams = (uint32_t)k->nparams,
        .host_ctx = &h,
    };
    if (p->info->apply(p->state, &view) != 0)
        return bl_error_set(err, BL_EINVAL, "%s (%s): layer %s %s: %s", k->name, k->source,
                            fv->layer_name, bl_fault_target_name(fv->target),
                            h.has_error ? h.msg : "apply failed");
    return 0;
}

/* ---- plugins by name -------------------------------------------------------- */

int bl_plugin_search_path(const bl_settings *s, char *buf, size_t size)
{
    char shipped[PATH_MAX];
    int have_shipped = bl_resource_dir(s, "plugins", shipped, sizeof shipped) == 0;
    const char *user = s && s->plugin_path && *s->plugin_path ? s->plugin_path : NULL;
    int w = snprintf(buf, size, "%s%s./plugins%s%s", user ? user : "", user ? ":" : "",
                     have_shipped ? ":" : "", have_shipped ? shipped : "");
    return w >= 0 && (size_t)w < size ? 0 : BL_ERANGE;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int bl_plugin_resolve(const char *name, const char *search_path, char *out, size_t size,
                      bl_error *err)
{
    if (!name || !*name)
        return bl_error_set(err, BL_EINVAL, "empty plugin name");
    if (strchr(name, '/') || ends_with(name, ".so")) {
        if ((size_t)snprintf(out, size, "%s", name) >= size)
            return bl_error_set(err, BL_ERANGE, "%s: plugin path too long", name);
        return 0;
    }
    char looked[2048] = "";
    size_t nl = 0;
    for (const char *p = search_path ? search_path : ""; *p;) {
        size_t len = strcspn(p, ":");
        if (len > 0 && len < PATH_MAX) {
            char cand[PATH_MAX + 300];
            snprintf(cand, sizeof cand, "%.*s/%s.so", (int)len, p, name);
            if (access(cand, R_OK) == 0) {
                if ((size_t)snprintf(out, size, "%s", cand) >= size)
                    return bl_error_set(err, BL_ERANGE, "%s: plugin path too long", cand);
                return 0;
            }
            if (nl < sizeof looked)
                nl += (size_t)snprintf(looked + nl, sizeof looked - nl, "%s%.*s", nl ? ", " : "",
                                       (int)len, p);
        }
        p += len + (p[len] == ':');
    }
    return bl_error_set(err, BL_ENOTFOUND,
                        "plugin '%s': no %s.so in %s (give a path to the .so, or add its folder "
                        "to BETLAB_PLUGIN_PATH)",
                        name, name, nl ? looked : "an empty search path");
}

int bl_fault_registry_load_named(bl_fault_registry *reg, const char *name, const bl_settings *s,
                                 bl_error *err)
{
    char search[8192], path[PATH_MAX + 300];
    int rc = bl_plugin_search_path(s, search, sizeof search);
    if (rc)
        return bl_error_set(err, rc, "plugin search path too long");
    if ((rc = bl_plugin_resolve(name, search, path, sizeof path, err)))
        return rc;
    return bl_fault_registry_load_plugin(reg, path, err);
}
