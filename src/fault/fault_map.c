/* fault_map.c - fault maps as files (.bfm).
 *
 * Layout (little-endian; betlab-faults fragment of the man pages):
 *   0   8  magic "BLFMAP\0\1"
 *   8   2  major (1)           10  2  minor (0)
 *   12  4  number of entries   16  8  file size in bytes
 *   24     entries, each:
 *          32  layer name, NUL-terminated, NUL-padded
 *           4  target (0 weights, 1 thresholds)
 *           4  reserved, 0
 *           8  nbits: size of the target's bit stream (weights: rows *
 *              words_per_row * 64; thresholds: 32 * channels)
 *           8  count of changed bits (>= 1)
 *           8  reserved, 0
 *           8 * count  bit positions, strictly increasing, < nbits
 *   end-4 4  CRC32 (zlib) of every byte before it.
 * Readers accept any minor of major 1 (fields are never reinterpreted). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/file.h"
#include "base/mem.h"
#include "fault/fault.h"
#include "fault/fault_internal.h"

#define BFM_MAGIC "BLFMAP\0\1"
#define BFM_MAJOR 1
#define BFM_MINOR 0
#define BFM_HDR 24
#define BFM_ENT 64
#define BFM_MAX_ENTRIES 65536u

typedef struct map_entry {
    char name[BL_NAME_MAX];
    uint32_t target;
    uint64_t nbits, count;
    uint64_t *pos;
} map_entry;

struct bl_fault_map {
    uint32_t n;
    map_entry *e;
};

void bl_fault_map_free(bl_fault_map *map)
{
    if (!map)
        return;
    for (uint32_t i = 0; i < map->n; i++)
        free(map->e[i].pos);
    free(map->e);
    free(map);
}

uint64_t bl_fault_map_bits(const bl_fault_map *map)
{
    uint64_t s = 0;
    for (uint32_t i = 0; map && i < map->n; i++)
        s += map->e[i].count;
    return s;
}

static uint32_t crc(const uint8_t *p, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (n) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

static int is_weight_layer(const bl_layer *l)
{
    return l->kind == BL_LAYER_DENSE || l->kind == BL_LAYER_CONV3;
}

static uint64_t target_nbits(const bl_layer *l, uint32_t t)
{
    return t == BL_FT_WEIGHTS ? (uint64_t)l->rows * l->words_per_row * 64 : 32ull * l->out.c;
}

/* ---- diff --------------------------------------------------------------- */

static int add_entry(bl_fault_map *m, const bl_layer *l, uint32_t t, const uint64_t *a,
                     const uint64_t *b, size_t nw, bl_error *err)
{
    uint64_t cnt = 0;
    for (size_t i = 0; i < nw; i++)
        cnt += (uint64_t)__builtin_popcountll(a[i] ^ b[i]);
    if (!cnt)
        return 0;
    map_entry *ne = realloc(m->e, (m->n + 1) * sizeof *ne);
    if (!ne)
        return bl_error_set(err, BL_ENOMEM, "out of memory diffing models");
    m->e = ne;
    map_entry *e = &m->e[m->n];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", l->name);
    e->target = t;
    e->nbits = (uint64_t)nw * 64;
    if (t == BL_FT_THRESHOLDS)
        e->nbits = 32ull * l->out.c;
    e->pos = malloc(cnt * sizeof *e->pos);
    if (!e->pos)
        return bl_error_set(err, BL_ENOMEM, "out of memory diffing models");
    m->n++;
    for (size_t i = 0; i < nw; i++) {
        uint64_t d = a[i] ^ b[i];
        while (d) {
            e->pos[e->count++] = (uint64_t)i * 64 + (uint64_t)__builtin_ctzll(d);
            d &= d - 1;
        }
    }
    return 0;
}

static void pack_tau(const bl_layer *l, uint64_t *w)
{
    uint32_t C = l->out.c;
    memset(w, 0, ((C + 1) / 2) * 8);
    for (uint32_t c = 0; c < C; c++)
        w[c / 2] |= (uint64_t)(uint32_t)l->tau[c] << (32 * (c & 1));
}

int bl_fault_map_diff(const bl_model *clean, const bl_model *faulty, bl_fault_map **out,
                      bl_error *err)
{
    *out = NULL;
    if (!clean || !faulty || clean->nlayers != faulty->nlayers)
        return bl_error_set(err, BL_EINVAL, "fault map: models differ in architecture");
    bl_fault_map *m = calloc(1, sizeof *m);
    if (!m)
        return bl_error_set(err, BL_ENOMEM, "out of memory diffing models");
    int rc = 0;
    for (uint32_t i = 0; i < clean->nlayers && !rc; i++) {
        const bl_layer *a = &clean->layers[i], *b = &faulty->layers[i];
        if (a->kind != b->kind || a->rows != b->rows || a->words_per_row != b->words_per_row ||
            a->out.c != b->out.c || strcmp(a->name, b->name) != 0) {
            rc = bl_error_set(err, BL_EINVAL, "fault map: layer %s differs between the models",
                              a->name);
            break;
        }
        if (is_weight_layer(a)) {
            rc = add_entry(m, a, BL_FT_WEIGHTS, a->weights, b->weights,
                           (size_t)a->rows * a->words_per_row, err);
        } else if (a->kind == BL_LAYER_THRESH) {
            size_t nw = (a->out.c + 1) / 2;
            uint64_t *x = malloc((nw ? nw : 1) * 8), *y = malloc((nw ? nw : 1) * 8);
            if (!x || !y) {
                rc = bl_error_set(err, BL_ENOMEM, "out of memory diffing models");
            } else {
                pack_tau(a, x);
                pack_tau(b, y);
                rc = add_entry(m, a, BL_FT_THRESHOLDS, x, y, nw, err);
            }
            free(x);
            free(y);
        }
    }
    if (rc) {
        bl_fault_map_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* ---- apply ------------------------------------------------------------- */

int bl_fault_map_apply(const bl_fault_map *map, const bl_model *clean, bl_model *faulty,
                       bl_error *err)
{
    if (!map || !clean || !faulty)
        return bl_error_set(err, BL_EINVAL, "fault map apply: missing map or model");
    /* validate everything before touching faulty */
    for (uint32_t i = 0; i < map->n; i++) {
        const map_entry *e = &map->e[i];
        int li = bl_model_find_layer(clean, e->name);
        if (li < 0)
            return bl_error_set(err, BL_ENOTFOUND, "fault map: the model has no layer '%s'",
                                e->name);
        const bl_layer *l = &clean->layers[li];
        if (e->target == BL_FT_WEIGHTS ? !is_weight_layer(l) : l->kind != BL_LAYER_THRESH)
            return bl_error_set(err, BL_EINVAL, "fault map: layer '%s' (%s) has no %s", e->name,
                                bl_layer_kind_name(l->kind),
                                bl_fault_target_name((bl_fault_target)e->target));
        uint64_t nb = target_nbits(l, e->target);
        if (nb != e->nbits)
            return bl_error_set(err, BL_EINVAL,
                                "fault map: layer '%s' %s has %llu bits in the map, %llu in the "
                                "model", e->name, bl_fault_target_name((bl_fault_target)e->target),
                                (unsigned long long)e->nbits, (unsigned long long)nb);
        if (e->target == BL_FT_WEIGHTS) {
            uint64_t real[64];
            uint64_t *rm = l->words_per_row <= 64 ? real : malloc(l->words_per_row * 8);
            if (!rm)
                return bl_error_set(err, BL_ENOMEM, "out of memory");
            uint32_t segw = l->kind == BL_LAYER_CONV3 ? l->words_per_tap : l->words_per_row;
            uint32_t segb = l->kind == BL_LAYER_CONV3 ? l->in.c : l->cols;
            for (uint32_t k = 0; k < l->words_per_row; k++) {
                uint64_t lo = (uint64_t)(k % segw) * 64;
                rm[k] = segb >= lo + 64 ? ~(uint64_t)0
                        : segb <= lo    ? 0
                                        : (((uint64_t)1 << (segb - lo)) - 1);
            }
            int bad = -1;
            for (uint64_t k = 0; k < e->count && bad < 0; k++) {
                uint64_t w = e->pos[k] >> 6;
                if (!((rm[w % l->words_per_row] >> (e->pos[k] & 63)) & 1))
                    bad = (int)(k < 0x7fffffff ? k : 0x7fffffff);
            }
            if (rm != real)
                free(rm);
            if (bad >= 0)
                return bl_error_set(err, BL_EINVAL,
                                    "fault map: layer '%s': changed bit %llu is row padding",
                                    e->name, (unsigned long long)e->pos[bad]);
        }
    }
    int rc = bl_model_copy_params(faulty, clean, err);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < map->n; i++) {
        const map_entry *e = &map->e[i];
        bl_layer *l = &faulty->layers[bl_model_find_layer(faulty, e->name)];
        if (e->target == BL_FT_WEIGHTS) {
            for (uint64_t k = 0; k < e->count; k++)
                bl_bit_flip(l->weights, e->pos[k]);
        } else {
            for (uint64_t k = 0; k < e->count; k++)
                l->tau[e->pos[k] >> 5] =
                    (int32_t)((uint32_t)l->tau[e->pos[k] >> 5] ^ (1u << (e->pos[k] & 31)));
        }
    }
    return 0;
}

/* ---- files -------------------------------------------------------------- */

int bl_fault_map_serialize(const bl_fault_map *map, uint8_t **buf, size_t *size, bl_error *err)
{
    *buf = NULL;
    *size = 0;
    size_t n = BFM_HDR + 4;
    for (uint32_t i = 0; i < map->n; i++)
        n += BFM_ENT + map->e[i].count * 8;
    uint8_t *b = calloc(1, n);
    if (!b)
        return bl_error_set(err, BL_ENOMEM, "out of memory saving fault map");
    memcpy(b, BFM_MAGIC, 8);
    bl_wr16(b + 8, BFM_MAJOR);
    bl_wr16(b + 10, BFM_MINOR);
    bl_wr32(b + 12, map->n);
    bl_wr64(b + 16, n);
    size_t o = BFM_HDR;
    for (uint32_t i = 0; i < map->n; i++) {
        const map_entry *e = &map->e[i];
        memcpy(b + o, e->name, strnlen(e->name, BL_NAME_MAX - 1));
        bl_wr32(b + o + 32, e->target);
        bl_wr64(b + o + 40, e->nbits);
        bl_wr64(b + o + 48, e->count);
        /* 56..63 reserved */
        o += BFM_ENT;
        for (uint64_t k = 0; k < e->count; k++, o += 8)
            bl_wr64(b + o, e->pos[k]);
    }
    bl_wr32(b + o, crc(b, o));
    *buf = b;
    *size = n;
    return 0;
}

#define FERR(code, off, ...)                                                                  \
    do {                                                                                      \
        bl_error_set(err, code, __VA_ARGS__);                                                 \
        bl_error_prefix(err, "%s: offset %zu", what, (size_t)(off));                        \
        bl_fault_map_free(m);                                                                 \
        return code;                                                                          \
    } while (0)

int bl_fault_map_parse(const uint8_t *buf, size_t size, const char *what, bl_fault_map **out,
                       bl_error *err)
{
    *out = NULL;
    bl_fault_map *m = NULL;
    if (!what)
        what = "fault map";
    if (size < BFM_HDR + 4)
        FERR(BL_EFORMAT, size, "truncated: %zu bytes, a fault map has at least %d", size,
             BFM_HDR + 4);
    if (memcmp(buf, BFM_MAGIC, 8) != 0)
        FERR(BL_EFORMAT, 0, "not a betlab fault map (bad magic)");
    uint16_t major = bl_rd16(buf + 8), minor = bl_rd16(buf + 10);
    if (major != BFM_MAJOR)
        FERR(BL_EUNSUPPORTED, 8, "fault map version %u.%u, this betlab reads %d.x", major, minor,
             BFM_MAJOR);
    uint64_t fsize = bl_rd64(buf + 16);
    if (fsize != size)
        FERR(BL_EFORMAT, 16, "header says %llu bytes, file has %zu (truncated or padded)",
             (unsigned long long)fsize, size);
    uint32_t stored = bl_rd32(buf + size - 4), actual = crc(buf, size - 4);
    if (stored != actual)
        FERR(BL_ECHECKSUM, size - 4, "CRC mismatch (stored %08x, computed %08x)", stored, actual);
    uint32_t n = bl_rd32(buf + 12);
    if (n > BFM_MAX_ENTRIES || (size_t)n * BFM_ENT > size - BFM_HDR - 4)
        FERR(BL_EFORMAT, 12, "%u entries do not fit in %zu bytes", n, size);
    m = calloc(1, sizeof *m);
    if (!m)
        FERR(BL_ENOMEM, 0, "out of memory");
    m->e = calloc(n ? n : 1, sizeof *m->e);
    if (!m->e)
        FERR(BL_ENOMEM, 0, "out of memory");
    m->n = n; /* entries are zeroed: the free on failure sees every pos */
    size_t o = BFM_HDR, end = size - 4;
    for (uint32_t i = 0; i < n; i++) {
        if (end - o < BFM_ENT)
            FERR(BL_EFORMAT, o, "entry %u: truncated", i);
        map_entry *e = &m->e[i];
        const uint8_t *p = buf + o;
        size_t nl = strnlen((const char *)p, 32);
        if (nl == 0 || nl == 32)
            FERR(BL_EFORMAT, o, "entry %u: layer name empty or not NUL-terminated", i);
        for (size_t k = nl; k < 32; k++)
            if (p[k])
                FERR(BL_EFORMAT, o + k, "entry %u: garbage after the layer name", i);
        for (size_t k = 0; k < nl; k++)
            if (p[k] < 0x21 || p[k] > 0x7e)
                FERR(BL_EFORMAT, o + k, "entry %u: layer name has a non-printable byte", i);
        memcpy(e->name, p, nl);
        e->target = bl_rd32(p + 32);
        if (e->target > BL_FT_THRESHOLDS)
            FERR(BL_EFORMAT, o + 32, "entry %u (%s): target %u (0 weights, 1 thresholds)", i,
                 e->name, e->target);
        if (bl_rd32(p + 36) || bl_rd64(p + 56))
            FERR(BL_EFORMAT, o + 36, "entry %u (%s): reserved bytes not zero", i, e->name);
        for (uint32_t j = 0; j < i; j++)
            if (m->e[j].target == e->target && strcmp(m->e[j].name, e->name) == 0)
                FERR(BL_EFORMAT, o, "entry %u: %s %s appears twice", i, e->name,
                     bl_fault_target_name((bl_fault_target)e->target));
        e->nbits = bl_rd64(p + 40);
        e->count = bl_rd64(p + 48);
        if (e->nbits > ((uint64_t)1 << 40))
            FERR(BL_EFORMAT, o + 40, "entry %u (%s): %llu bits is implausibly large", i, e->name,
                 (unsigned long long)e->nbits);
        o += BFM_ENT;
        if (e->count == 0 || e->count > e->nbits || e->count > (end - o) / 8)
            FERR(BL_EFORMAT, o - 16, "entry %u (%s): %llu changed bits (of %llu) do not fit", i,
                 e->name, (unsigned long long)e->count, (unsigned long long)e->nbits);
        e->pos = malloc(e->count * 8);
        if (!e->pos)
            FERR(BL_ENOMEM, o, "out of memory");
        for (uint64_t k = 0; k < e->count; k++, o += 8) {
            uint64_t v = bl_rd64(buf + o);
            if (v >= e->nbits || (k && v <= e->pos[k - 1]))
                FERR(BL_EFORMAT, o, "entry %u (%s): bit %llu out of range or out of order", i,
                     e->name, (unsigned long long)v);
            e->pos[k] = v;
        }
    }
    if (o != end)
        FERR(BL_EFORMAT, o, "%zu unexpected bytes after the last entry", end - o);
    *out = m;
    return 0;
}

int bl_fault_map_save(const bl_fault_map *map, const char *path, bl_error *err)
{
    if (!map || !path)
        return bl_error_set(err, BL_EINVAL, "fault map save: no map or path");
    uint8_t *b;
    size_t n;
    int rc = bl_fault_map_serialize(map, &b, &n, err);
    if (rc)
        return rc;
    rc = bl_file_write_atomic(path, b, n, err);
    free(b);
    return rc;
}

int bl_fault_map_load(const char *path, bl_fault_map **out, bl_error *err)
{
    *out = NULL;
    uint8_t *b;
    size_t n;
    int rc = bl_file_read(path, (size_t)1 << 34, &b, &n, err);
    if (rc)
        return rc;
    rc = bl_fault_map_parse(b, n, path, out, err);
    free(b);
    return rc;
}

int bl_fault_map_from_spec(const bl_fault_registry *reg, const char *spec, const bl_model *m,
                           uint64_t seed, bl_fault_map **out, bl_error *err)
{
    *out = NULL;
    bl_fault_spec *sp = NULL;
    bl_model *faulty = NULL;
    int rc = bl_fault_spec_parse(reg, spec, m, &sp, err);
    if (!rc)
        rc = bl_model_clone(m, &faulty, err);
    if (!rc)
        rc = bl_fault_apply(sp, m, faulty, seed, NULL, err);
    if (!rc)
        rc = bl_fault_map_diff(m, faulty, out, err);
    bl_model_free(faulty);
    bl_fault_spec_free(sp);
    return rc;
}
