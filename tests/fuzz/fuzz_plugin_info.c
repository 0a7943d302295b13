/* fuzz_plugin_info.c - the plugin info validation (bl_plugin_info_check)
 * under arbitrary info structs, without dlopen.  The bytes give every
 * number of the struct and of up to 17 parameter declarations, and the
 * strings; pointers point at exactly sized copies, so a check that reads
 * past what struct_size, param_size or a terminator allows is a sanitizer
 * error.  An accepted struct must be one the host can use: names and help
 * lines terminated and bounded, ranges ordered and finite.
 *
 * Layout: u32 struct_size, abi_major, abi_minor, nparams, param_size;
 * u8 switches (1 name NULL, 2 help NULL, 4 apply NULL, 8 params NULL,
 * 16 params misaligned); name and help as NUL-terminated strings; then per
 * declaration u32 struct_size, flags; f64 def, min, max; name; help. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/betlab_plugin.h"
#include "fault/fault_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct rd {
    const uint8_t *p;
    size_t n;
} rd;

static uint32_t u32(rd *r)
{
    uint32_t v = 0;
    size_t k = r->n < 4 ? r->n : 4;
    memcpy(&v, r->p, k);
    r->p += k;
    r->n -= k;
    return v;
}

static double f64(rd *r)
{
    double v = 0;
    size_t k = r->n < 8 ? r->n : 8;
    memcpy(&v, r->p, k);
    r->p += k;
    r->n -= k;
    return v;
}

/* A malloc'ed copy of the next string (exactly its length + 1). */
static char *str(rd *r)
{
    size_t len = strnlen((const char *)r->p, r->n);
    char *s = malloc(len + 1);
    if (!s)
        abort();
    memcpy(s, r->p, len);
    s[len] = 0;
    size_t k = len < r->n ? len + 1 : len;
    r->p += k;
    r->n -= k;
    return s;
}

static int apply_nop(void *s, const betlab_target_view *v)
{
    (void)s;
    (void)v;
    return 0;
}

#define MAXP 17

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    rd r = { data, size };
    betlab_plugin_info *info = malloc(sizeof *info);
    if (!info)
        abort();
    memset(info, 0, sizeof *info);
    info->struct_size = u32(&r);
    info->abi_major = u32(&r);
    info->abi_minor = u32(&r);
    info->nparams = u32(&r);
    info->param_size = u32(&r);
    uint8_t sw = r.n ? *r.p : 0;
    if (r.n) {
        r.p++;
        r.n--;
    }
    char *name = str(&r), *help = str(&r);
    info->name = sw & 1 ? NULL : name;
    info->help = sw & 2 ? NULL : help;
    info->apply = sw & 4 ? NULL : apply_nop;

    /* the declarations at stride param_size, in a buffer of exactly
     * nparams * param_size bytes when that is small; otherwise a small
     * buffer the check must not read (it has to reject the size first) */
    uint32_t np = info->nparams < MAXP ? info->nparams : MAXP;
    size_t want = (size_t)np * info->param_size;
    size_t bytes = want <= 65536 ? want : 64;
    size_t off = sw & 16 ? 4 : 0;
    unsigned char *buf = calloc(1, bytes + off + 1);
    char *pnames[MAXP] = { 0 }, *phelps[MAXP] = { 0 };
    if (!buf)
        abort();
    for (uint32_t i = 0; i < np; i++) {
        betlab_param_decl d;
        d.struct_size = u32(&r);
        d.flags = u32(&r);
        d.def = f64(&r);
        d.min = f64(&r);
        d.max = f64(&r);
        pnames[i] = str(&r);
        phelps[i] = str(&r);
        d.name = pnames[i];
        d.help = phelps[i];
        if (want <= 65536 && info->param_size >= sizeof d)
            memcpy(buf + off + (size_t)i * info->param_size, &d, sizeof d);
    }
    info->params = sw & 8 ? NULL : (const betlab_param_decl *)(buf + off);

    bl_error err;
    if (bl_plugin_info_check("fuzz.so", info, &err) == 0) {
        /* what the host will rely on */
        if (!info->apply || strlen(info->name) >= 32 || !*info->help ||
            info->nparams > 16)
            abort();
        for (uint32_t i = 0; i < info->nparams; i++) {
            const betlab_param_decl *d =
                (const betlab_param_decl *)((const char *)info->params +
                                            (size_t)i * info->param_size);
            if (!isfinite(d->min) || !isfinite(d->max) || !(d->min <= d->def) ||
                !(d->def <= d->max) || strlen(d->name) >= 32 || !*d->help)
                abort();
        }
    }
    for (uint32_t i = 0; i < np; i++) {
        free(pnames[i]);
        free(phelps[i]);
    }
    free(buf);
    free(name);
    free(help);
    free(info);
    return 0;
}
