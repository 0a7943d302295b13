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

/* The context of the plugin call in progress on this thread.  The entry
 * point has no host_ctx (the ABI lets it pass NULL), so host->error(NULL,
 * ...) goes to the call being served instead of being dropped: the
 * plugin's own message is what the user sees. */
static _Thread_local hctx *current_call;

/* Call a plugin function with h as the current context. */
#define CALL_PLUGIN(h, expr)                                                                  \
    do {                                                                                      \
        hctx *saved_ = current_call;                                                          \
        current_call = (h);                                                                   \
        expr;                                                                                 \
        current_call = saved_;                                                                \
    } while (0)

static void h_error(void *c, const char *fmt, ...)
{
    hctx *h = c ? c : current_call;
    if (!h)
        return;
    if (!fmt)
        fmt = "(error without a message)";
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
    if (!s || !*s || strnlen(s, BL_NAME_MAX) >= BL_NAME_MAX)
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

/* ---- checking what a plugin hands over ------------------------------------ */

/* Bounds on what a plugin may declare: its structs may grow with minor
 * versions, but not beyond sizes no real header will reach; strings are
 * read with a bound (a missing terminator cannot make the host run off). */
#define PLUGIN_STRUCT_MAX 4096   /* struct_size and param_size, bytes */
#define PLUGIN_HELP_MAX 256      /* help lines, bytes                 */

/* A help line: non-empty, < PLUGIN_HELP_MAX bytes, valid UTF-8 without
 * control characters (C0, DEL, C1): it is printed to terminals. */
static const char *help_problem(const char *s)
{
    if (!s)
        return "missing";
    size_t n = strnlen(s, PLUGIN_HELP_MAX);
    if (n == 0)
        return "empty";
    if (n >= PLUGIN_HELP_MAX)
        return "too long (at most 255 bytes)";
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        if (c < 0x20 || c == 0x7f)
            return "has a control character";
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
        if (!len || i + len > n)
            return "is not valid UTF-8";
        uint32_t cp = c & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return "is not valid UTF-8";
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return "is not valid UTF-8";
        if (cp >= 0x80 && cp <= 0x9f)
            return "has a control character";
        i += len;
    }
    return NULL;
}

/* One parameter declaration (index i, at d); names[] holds the names of
 * those before it. */
static int check_param(const char *path, uint32_t i, const betlab_param_decl *d,
                       uint32_t param_size, const char *const *names, int *rate, bl_error *err)
{
    if (d->struct_size < END_OF(betlab_param_decl, help) || d->struct_size > param_size)
        return bl_error_set(err, BL_EFORMAT,
                            "%s: parameter %u: struct_size %u outside %zu..%u (param_size)", path,
                            i, d->struct_size, END_OF(betlab_param_decl, help), param_size);
    if (!valid_ident(d->name, 0))
        return bl_error_set(err, BL_EFORMAT,
                            "%s: parameter %u: bad name (want [A-Za-z][A-Za-z0-9_]*, < %d chars)",
                            path, i, BL_NAME_MAX);
    for (uint32_t j = 0; j < i; j++)
        if (strcmp(names[j], d->name) == 0)
            return bl_error_set(err, BL_EFORMAT, "%s: parameter '%s' declared twice", path,
                                d->name);
    if (!isfinite(d->min) || !isfinite(d->max) || !isfinite(d->def) || d->min > d->max ||
        d->def < d->min || d->def > d->max)
        return bl_error_set(err, BL_EFORMAT,
                            "%s: parameter '%s': need finite min <= default <= max (got %g <= "
                            "%g <= %g)", path, d->name, d->min, d->def, d->max);
    const char *hp = help_problem(d->help);
    if (hp)
        return bl_error_set(err, BL_EFORMAT, "%s: parameter '%s': help line %s", path, d->name,
                            hp);
    if (d->flags & ~BETLAB_PARAM_RATE)
        return bl_error_set(err, BL_EFORMAT, "%s: parameter '%s': unknown flags 0x%x", path,
                            d->name, d->flags);
    if (d->flags & BETLAB_PARAM_RATE) {
        if (*rate >= 0)
            return bl_error_set(err, BL_EFORMAT, "%s: more than one rate parameter ('%s', '%s')",
                                path, names[*rate], d->name);
        *rate = (int)i;
    }
    return 0;
}

static const betlab_param_decl *param_at(const betlab_plugin_info *info, uint32_t i)
{
    return (const betlab_param_decl *)((const char *)info->params + (size_t)i * info->param_size);
}

/* Every field of a plugin's info struct against the ABI and sane bounds,
 * before anything is copied or called; the message names the file and the
 * field.  No field is read before struct_size says it exists. */
int bl_plugin_info_check(const char *path, const betlab_plugin_info *info, bl_error *err)
{
    if (!info)
        return bl_error_set(err, BL_EFORMAT, "%s: plugin entry returned no info", path);
    if ((uintptr_t)info % _Alignof(betlab_plugin_info))
        return bl_error_set(err, BL_EFORMAT, "%s: betlab_plugin_info is misaligned", path);
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
    if (info->struct_size > PLUGIN_STRUCT_MAX)
        return bl_error_set(err, BL_EFORMAT,
                            "%s: betlab_plugin_info.struct_size %u is beyond any ABI %d.x "
                            "(at most %d)", path, info->struct_size, BETLAB_PLUGIN_ABI_MAJOR,
                            PLUGIN_STRUCT_MAX);
    if (!valid_ident(info->name, 1))
        return bl_error_set(err, BL_EFORMAT,
                            "%s: bad fault model name (want [a-z][a-z0-9_]*, < %d chars)", path,
                            BL_NAME_MAX);
    const char *hp = help_problem(info->help);
    if (hp)
        return bl_error_set(err, BL_EFORMAT, "%s: fault model '%s': help line %s", path,
                            info->name, hp);
    if (!info->apply)
        return bl_error_set(err, BL_EFORMAT, "%s: fault model '%s' has no apply function", path,
                            info->name);
    if (info->nparams > BL_FAULT_MAX_PARAMS)
        return bl_error_set(err, BL_EFORMAT, "%s: nparams: %u parameters declared, at most %d",
                            path, info->nparams, BL_FAULT_MAX_PARAMS);
    if (info->nparams == 0)
        return 0;
    if (!info->params)
        return bl_error_set(err, BL_EFORMAT, "%s: nparams is %u but params is NULL", path,
                            info->nparams);
    if (info->param_size < END_OF(betlab_param_decl, help) ||
        info->param_size > PLUGIN_STRUCT_MAX ||
        info->param_size % _Alignof(betlab_param_decl) ||
        (uintptr_t)info->params % _Alignof(betlab_param_decl))
        return bl_error_set(err, BL_EFORMAT,
                            "%s: param_size %u: want a multiple of %zu in %zu..%d (ABI %d.0 "
                            "requires %zu), params aligned", path, info->param_size,
                            _Alignof(betlab_param_decl), END_OF(betlab_param_decl, help),
                            PLUGIN_STRUCT_MAX, BETLAB_PLUGIN_ABI_MAJOR,
                            END_OF(betlab_param_decl, help));
    const char *names[BL_FAULT_MAX_PARAMS];
    int rate = -1;
    for (uint32_t i = 0; i < info->nparams; i++) {
        const betlab_param_decl *d = param_at(info, i);
        int rc = check_param(path, i, d, info->param_size, names, &rate, err);
        if (rc)
            return rc;
        names[i] = d->name;
    }
    return 0;
}

/* Check the info and declarations; copy them into k. */
static int take_info(const char *path, const betlab_plugin_info *info, bl_fault_kind *k,
                     bl_error *err)
{
    int rc = bl_plugin_info_check(path, info, err);
    if (rc)
        return rc;
    snprintf(k->name, sizeof k->name, "%s", info->name);
    k->rate_param = -1;
    for (uint32_t i = 0; i < info->nparams; i++) {
        const betlab_param_decl *d = param_at(info, i);
        if (d->flags & BETLAB_PARAM_RATE)
            k->rate_param = (int)i;
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
    int prc;
    CALL_PLUGIN(&h, prc = entry(&host_api, &info));
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
        CALL_PLUGIN(&h, prc = info->init(&host_api, &h, &p->state));
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
    int prc;
    CALL_PLUGIN(&h, prc = p->info->check(p->state, v, (uint32_t)k->nparams, &h));
    if (prc != 0)
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
    int prc;
    CALL_PLUGIN(&h, prc = p->info->apply(p->state, &view));
    if (prc != 0)
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
