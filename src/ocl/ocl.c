/* ocl.c - OpenCL discovery, selection, errors and cached program builds. */
#include "ocl/ocl.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/file.h"
#include "base/paths.h"

/* ---- error names --------------------------------------------------------- */

#define E(x) { x, #x }
static const struct { cl_int code; const char *name; } cl_errors[] = {
    E(CL_SUCCESS), E(CL_DEVICE_NOT_FOUND), E(CL_DEVICE_NOT_AVAILABLE), E(CL_COMPILER_NOT_AVAILABLE),
    E(CL_MEM_OBJECT_ALLOCATION_FAILURE), E(CL_OUT_OF_RESOURCES), E(CL_OUT_OF_HOST_MEMORY),
    E(CL_PROFILING_INFO_NOT_AVAILABLE), E(CL_MEM_COPY_OVERLAP), E(CL_IMAGE_FORMAT_MISMATCH),
    E(CL_IMAGE_FORMAT_NOT_SUPPORTED), E(CL_BUILD_PROGRAM_FAILURE), E(CL_MAP_FAILURE),
    E(CL_MISALIGNED_SUB_BUFFER_OFFSET), E(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST),
    E(CL_COMPILE_PROGRAM_FAILURE), E(CL_LINKER_NOT_AVAILABLE), E(CL_LINK_PROGRAM_FAILURE),
    E(CL_DEVICE_PARTITION_FAILED), E(CL_KERNEL_ARG_INFO_NOT_AVAILABLE),
    E(CL_INVALID_VALUE), E(CL_INVALID_DEVICE_TYPE), E(CL_INVALID_PLATFORM), E(CL_INVALID_DEVICE),
    E(CL_INVALID_CONTEXT), E(CL_INVALID_QUEUE_PROPERTIES), E(CL_INVALID_COMMAND_QUEUE),
    E(CL_INVALID_HOST_PTR), E(CL_INVALID_MEM_OBJECT), E(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR),
    E(CL_INVALID_IMAGE_SIZE), E(CL_INVALID_SAMPLER), E(CL_INVALID_BINARY),
    E(CL_INVALID_BUILD_OPTIONS), E(CL_INVALID_PROGRAM), E(CL_INVALID_PROGRAM_EXECUTABLE),
    E(CL_INVALID_KERNEL_NAME), E(CL_INVALID_KERNEL_DEFINITION), E(CL_INVALID_KERNEL),
    E(CL_INVALID_ARG_INDEX), E(CL_INVALID_ARG_VALUE), E(CL_INVALID_ARG_SIZE),
    E(CL_INVALID_KERNEL_ARGS), E(CL_INVALID_WORK_DIMENSION), E(CL_INVALID_WORK_GROUP_SIZE),
    E(CL_INVALID_WORK_ITEM_SIZE), E(CL_INVALID_GLOBAL_OFFSET), E(CL_INVALID_EVENT_WAIT_LIST),
    E(CL_INVALID_EVENT), E(CL_INVALID_OPERATION), E(CL_INVALID_GL_OBJECT),
    E(CL_INVALID_BUFFER_SIZE), E(CL_INVALID_MIP_LEVEL), E(CL_INVALID_GLOBAL_WORK_SIZE),
    E(CL_INVALID_PROPERTY), E(CL_INVALID_IMAGE_DESCRIPTOR), E(CL_INVALID_COMPILER_OPTIONS),
    E(CL_INVALID_LINKER_OPTIONS), E(CL_INVALID_DEVICE_PARTITION_COUNT),
    E(CL_INVALID_PIPE_SIZE), E(CL_INVALID_DEVICE_QUEUE), E(CL_INVALID_SPEC_ID),
    E(CL_MAX_SIZE_RESTRICTION_EXCEEDED),
    /* common extension codes */
    { -1000, "CL_INVALID_GL_SHAREGROUP_REFERENCE_KHR" }, { -1001, "CL_PLATFORM_NOT_FOUND_KHR" },
    { -1002, "CL_INVALID_D3D10_DEVICE_KHR" }, { -1003, "CL_INVALID_D3D10_RESOURCE_KHR" },
    { -1004, "CL_D3D10_RESOURCE_ALREADY_ACQUIRED_KHR" }, { -1005, "CL_D3D10_RESOURCE_NOT_ACQUIRED_KHR" },
    { -1057, "CL_DEVICE_PARTITION_FAILED_EXT" }, { -1058, "CL_INVALID_PARTITION_COUNT_EXT" },
    { -1059, "CL_INVALID_PARTITION_NAME_EXT" }, { -1093, "CL_INVALID_EGL_OBJECT_KHR" },
    { -1092, "CL_EGL_RESOURCE_NOT_ACQUIRED_KHR" }, { -1094, "CL_INVALID_ACCELERATOR_INTEL" },
    { -1095, "CL_INVALID_ACCELERATOR_TYPE_INTEL" }, { -1096, "CL_INVALID_ACCELERATOR_DESCRIPTOR_INTEL" },
    { -1097, "CL_ACCELERATOR_TYPE_NOT_SUPPORTED_INTEL" }, { -1098, "CL_INVALID_VA_API_MEDIA_ADAPTER_INTEL" },
    { -1099, "CL_INVALID_VA_API_MEDIA_SURFACE_INTEL" }, { -1100, "CL_VA_API_MEDIA_SURFACE_ALREADY_ACQUIRED_INTEL" },
    { -1101, "CL_VA_API_MEDIA_SURFACE_NOT_ACQUIRED_INTEL" }, { -1138, "CL_INVALID_COMMAND_BUFFER_KHR" },
    { -1139, "CL_INVALID_SYNC_POINT_WAIT_LIST_KHR" }, { -1140, "CL_INCOMPATIBLE_COMMAND_QUEUE_KHR" },
};
#undef E

const char *bl_ocl_strerror(cl_int code)
{
    for (size_t i = 0; i < sizeof cl_errors / sizeof *cl_errors; ++i)
        if (cl_errors[i].code == code) return cl_errors[i].name;
    static _Thread_local char buf[48];
    snprintf(buf, sizeof buf, "CL_UNKNOWN_ERROR(%d)", (int)code);
    return buf;
}

int bl_ocl_error(bl_error *err, cl_int code, const char *what)
{
    int bl = (code == CL_OUT_OF_HOST_MEMORY || code == CL_MEM_OBJECT_ALLOCATION_FAILURE ||
              code == CL_OUT_OF_RESOURCES) ? BL_ENOMEM : BL_EIO;
    return bl_error_set(err, bl, "%s: %s (%d)", what, bl_ocl_strerror(code), (int)code);
}

/* ---- discovery --------------------------------------------------------------- */

static void dev_str(cl_device_id d, cl_device_info p, char *buf, size_t n)
{
    buf[0] = 0;
    if (clGetDeviceInfo(d, p, n, buf, NULL) != CL_SUCCESS) buf[0] = 0;
    buf[n - 1] = 0;
    /* trim trailing blanks (some drivers pad names) */
    size_t l = strlen(buf);
    while (l && isspace((unsigned char)buf[l - 1])) buf[--l] = 0;
}

static void plat_str(cl_platform_id p, cl_platform_info what, char *buf, size_t n)
{
    buf[0] = 0;
    if (clGetPlatformInfo(p, what, n, buf, NULL) != CL_SUCCESS) buf[0] = 0;
    buf[n - 1] = 0;
}

static int has_ext(cl_device_id d, const char *ext)
{
    size_t sz = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &sz) != CL_SUCCESS || !sz) return 0;
    char *s = malloc(sz + 1);
    if (!s) return 0;
    int found = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, sz, s, NULL) == CL_SUCCESS) {
        s[sz] = 0;
        size_t el = strlen(ext);
        for (char *t = strstr(s, ext); t; t = strstr(t + 1, ext))
            if ((t == s || t[-1] == ' ') && (t[el] == 0 || t[el] == ' ')) { found = 1; break; }
    }
    free(s);
    return found;
}

static void fill_info(bl_ocl_device_info *di, int pi, int dj, cl_platform_id p, cl_device_id d)
{
    memset(di, 0, sizeof *di);
    di->platform = pi;
    di->index = dj;
    di->platform_id = p;
    di->id = d;
    plat_str(p, CL_PLATFORM_NAME, di->platform_name, sizeof di->platform_name);
    plat_str(p, CL_PLATFORM_VENDOR, di->platform_vendor, sizeof di->platform_vendor);
    plat_str(p, CL_PLATFORM_VERSION, di->platform_version, sizeof di->platform_version);
    dev_str(d, CL_DEVICE_NAME, di->name, sizeof di->name);
    dev_str(d, CL_DEVICE_VENDOR, di->vendor, sizeof di->vendor);
    dev_str(d, CL_DEVICE_VERSION, di->version, sizeof di->version);
    dev_str(d, CL_DRIVER_VERSION, di->driver, sizeof di->driver);
    cl_uint cu = 0;
    cl_ulong gm = 0, lm = 0, ma = 0;
    size_t wg = 0;
    cl_device_fp_config fp64 = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof di->type, &di->type, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL);
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof gm, &gm, NULL);
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof lm, &lm, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof ma, &ma, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
    clGetDeviceInfo(d, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof fp64, &fp64, NULL);
    di->compute_units = cu;
    di->global_mem = gm;
    di->local_mem = lm;
    di->max_alloc = ma;
    di->max_wg = wg;
    di->fp64 = fp64 != 0 || has_ext(d, "cl_khr_fp64");
    di->fp16 = has_ext(d, "cl_khr_fp16");
}

int bl_ocl_list(bl_ocl_device_info **out, size_t *count, bl_error *err)
{
    *out = NULL;
    *count = 0;
    cl_uint np = 0;
    cl_int rc = clGetPlatformIDs(0, NULL, &np);
    if (rc == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || np == 0) return 0;
    if (rc != CL_SUCCESS) return bl_ocl_error(err, rc, "clGetPlatformIDs");
    cl_platform_id *ps = calloc(np, sizeof *ps);
    if (!ps) return bl_error_set(err, BL_ENOMEM, "out of memory");
    rc = clGetPlatformIDs(np, ps, NULL);
    if (rc != CL_SUCCESS) { free(ps); return bl_ocl_error(err, rc, "clGetPlatformIDs"); }
    bl_ocl_device_info *all = NULL;
    size_t n = 0;
    for (cl_uint i = 0; i < np; ++i) {
        cl_uint nd = 0;
        if (clGetDeviceIDs(ps[i], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || nd == 0) continue;
        cl_device_id *ds = calloc(nd, sizeof *ds);
        bl_ocl_device_info *grown = realloc(all, (n + nd) * sizeof *all);
        if (!ds || !grown) {
            free(ds); free(grown ? grown : all); free(ps);
            return bl_error_set(err, BL_ENOMEM, "out of memory");
        }
        all = grown;
        if (clGetDeviceIDs(ps[i], CL_DEVICE_TYPE_ALL, nd, ds, NULL) == CL_SUCCESS)
            for (cl_uint j = 0; j < nd; ++j) fill_info(&all[n++], (int)i, (int)j, ps[i], ds[j]);
        free(ds);
    }
    free(ps);
    *out = all;
    *count = n;
    return 0;
}

static int ci_contains(const char *hay, const char *needle)
{
    size_t hn = strlen(hay), nn = strlen(needle);
    if (nn == 0) return 0;
    for (size_t i = 0; i + nn <= hn; ++i) {
        size_t k = 0;
        while (k < nn && tolower((unsigned char)hay[i + k]) == tolower((unsigned char)needle[k])) ++k;
        if (k == nn) return 1;
    }
    return 0;
}

static int parse_uint(const char *s, const char *end, int *v)
{
    if (s == end) return 0;
    long x = 0;
    for (const char *p = s; p < end; ++p) {
        if (!isdigit((unsigned char)*p)) return 0;
        x = x * 10 + (*p - '0');
        if (x > 1000000) return 0;
    }
    *v = (int)x;
    return 1;
}

int bl_ocl_select(const char *spec, bl_ocl_device_info *out, bl_error *err)
{
    if (!spec) spec = "opencl";
    if (strncmp(spec, "opencl", 6) != 0 || (spec[6] != 0 && spec[6] != ':'))
        return bl_error_set(err, BL_EINVAL,
                            "bad device string '%s' (expected opencl, opencl:P:D or opencl:NAME)", spec);
    const char *rest = spec[6] ? spec + 7 : NULL;
    if (rest && !*rest)
        return bl_error_set(err, BL_EINVAL, "bad device string '%s': empty name after 'opencl:'", spec);
    bl_ocl_device_info *all;
    size_t n;
    int rc = bl_ocl_list(&all, &n, err);
    if (rc) return bl_error_prefix(err, "device '%s'", spec);
    if (n == 0)
        return bl_error_set(err, BL_ENOTFOUND, "device '%s': no OpenCL platform or device found "
                            "(is an ICD such as pocl-opencl-icd installed?)", spec);
    int found = -1, P = -1, D = 0;
    if (!rest) {
        found = 0;
    } else {
        const char *colon = strchr(rest, ':');
        int numeric = colon ? parse_uint(rest, colon, &P) && parse_uint(colon + 1, colon + strlen(colon), &D)
                            : parse_uint(rest, rest + strlen(rest), &P);
        if (numeric) {
            for (size_t i = 0; i < n; ++i)
                if (all[i].platform == P && all[i].index == D) { found = (int)i; break; }
            if (found < 0) {
                free(all);
                return bl_error_set(err, BL_ENOTFOUND,
                                    "device '%s': no OpenCL platform %d device %d (see `betlab devices`)",
                                    spec, P, D);
            }
        } else if (colon && isdigit((unsigned char)rest[0])) {
            free(all);
            return bl_error_set(err, BL_EINVAL, "bad device string '%s' (expected opencl:P:D with numbers)", spec);
        } else {
            for (size_t i = 0; i < n && found < 0; ++i)
                if (ci_contains(all[i].name, rest) || ci_contains(all[i].vendor, rest) ||
                    ci_contains(all[i].platform_name, rest) || ci_contains(all[i].platform_vendor, rest))
                    found = (int)i;
            if (found < 0) {
                char names[256] = "";
                for (size_t i = 0; i < n; ++i) {
                    size_t l = strlen(names);
                    snprintf(names + l, sizeof names - l, "%s%s", i ? ", " : "", all[i].name);
                }
                free(all);
                return bl_error_set(err, BL_ENOTFOUND, "device '%s': no OpenCL device matches '%s' (have: %s)",
                                    spec, rest, names);
            }
        }
    }
    *out = all[found];
    free(all);
    return 0;
}

int bl_ocl_open(const char *spec, const bl_settings *s, bl_ocl **out, bl_error *err)
{
    *out = NULL;
    bl_ocl *o = calloc(1, sizeof *o);
    if (!o) return bl_error_set(err, BL_ENOMEM, "out of memory");
    int rc = bl_ocl_select(spec, &o->info, err);
    if (rc) { free(o); return rc; }
    if (s && s->home && *s->home && !(o->home = strdup(s->home))) {
        free(o);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    if (s && s->ocl_cache && *s->ocl_cache && !(o->cache_dir = strdup(s->ocl_cache))) {
        free(o->home);
        free(o);
        return bl_error_set(err, BL_ENOMEM, "out of memory");
    }
    cl_int ce;
    cl_context_properties props[] = { CL_CONTEXT_PLATFORM, (cl_context_properties)o->info.platform_id, 0 };
    o->ctx = clCreateContext(props, 1, &o->info.id, NULL, NULL, &ce);
    if (!o->ctx) { bl_ocl_close(o); return bl_ocl_error(err, ce, "clCreateContext"); }
    cl_queue_properties qp[] = { CL_QUEUE_PROPERTIES, CL_QUEUE_PROFILING_ENABLE, 0 };
    o->queue = clCreateCommandQueueWithProperties(o->ctx, o->info.id, qp, &ce);
    if (!o->queue) {
        /* OpenCL 1.2 platforms */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        o->queue = clCreateCommandQueue(o->ctx, o->info.id, CL_QUEUE_PROFILING_ENABLE, &ce);
#pragma GCC diagnostic pop
    }
    if (!o->queue) {
        bl_ocl_close(o);
        return bl_ocl_error(err, ce, "clCreateCommandQueue");
    }
    *out = o;
    return 0;
}

void bl_ocl_close(bl_ocl *o)
{
    if (!o) return;
    if (o->queue) { clFinish(o->queue); clReleaseCommandQueue(o->queue); }
    if (o->ctx) clReleaseContext(o->ctx);
    free(o->home);
    free(o->cache_dir);
    free(o);
}

/* ---- program builds with a binary cache ------------------------------------- */

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; ++i) { h ^= s[i]; h *= 0x100000001b3ull; }
    return h;
}
#define FNV0 0xcbf29ce484222325ull

int bl_ocl_cache_dir(const bl_settings *s, char *buf, size_t size)
{
    if (!s || !s->ocl_cache || !*s->ocl_cache) return BL_ENOTFOUND;
    if ((size_t)snprintf(buf, size, "%s", s->ocl_cache) >= size) return BL_ERANGE;
    return 0;
}

/* The full key text (stored in the entry and compared on load). */
static char *cache_key(const bl_ocl *o, const char *src, size_t src_len, const char *options)
{
    uint64_t hs = fnv1a(FNV0, src, src_len);
    size_t n = strlen(o->info.name) + strlen(o->info.driver) + strlen(o->info.platform_version) +
               strlen(o->info.version) + strlen(options) + 96;
    char *k = malloc(n);
    if (k) snprintf(k, n, "dev=%s\ndrv=%s\nplat=%s\nver=%s\nsrc=%016llx:%zu\nopt=%s\n", o->info.name,
                    o->info.driver, o->info.platform_version, o->info.version,
                    (unsigned long long)hs, src_len, options);
    return k;
}

int bl_ocl_cache_path(const bl_ocl *o, const char *src, size_t src_len, const char *options,
                      char *buf, size_t size)
{
    bl_settings s = { .ocl_cache = o->cache_dir };
    char dir[3000];
    if (bl_ocl_cache_dir(&s, dir, sizeof dir)) return BL_ENOTFOUND;
    char *k = cache_key(o, src, src_len, options);
    if (!k) return BL_ENOMEM;
    uint64_t h = fnv1a(FNV0, k, strlen(k));
    free(k);
    snprintf(buf, size, "%s/%016llx.bin", dir, (unsigned long long)h);
    return 0;
}

static int mkdir_p(const char *path)
{
    char tmp[3000];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; ++p)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) && errno != EEXIST) return -1;
            *p = '/';
        }
    if (mkdir(tmp, 0755) && errno != EEXIST) return -1;
    return 0;
}

/* Entry: "BLCLBIN1" | u32 keylen | key | u64 binlen | u64 fnv(bin) | bin */
static int cache_load(const char *path, const char *key, uint8_t **bin, size_t *binlen)
{
    uint8_t *data;
    size_t size;
    if (bl_file_read(path, (size_t)1 << 30, &data, &size, NULL)) return BL_ENOTFOUND;
    size_t kl = strlen(key);
    int bad = 1;
    if (size >= 12 && memcmp(data, "BLCLBIN1", 8) == 0) {
        uint32_t l;
        memcpy(&l, data + 8, 4);
        if (l == kl && size >= 12 + kl + 16 && memcmp(data + 12, key, kl) == 0) {
            uint64_t bl, h;
            memcpy(&bl, data + 12 + kl, 8);
            memcpy(&h, data + 20 + kl, 8);
            if (bl > 0 && bl == size - 28 - kl && fnv1a(FNV0, data + 28 + kl, bl) == h) {
                *bin = malloc(bl);
                if (*bin) {
                    memcpy(*bin, data + 28 + kl, bl);
                    *binlen = bl;
                    bad = 0;
                }
            }
        }
    }
    free(data);
    return bad ? BL_EFORMAT : 0;
}

static void cache_store(const char *path, const char *key, const uint8_t *bin, size_t binlen)
{
    char dir[3000];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) return;
    *slash = 0;
    if (mkdir_p(dir)) return;
    size_t kl = strlen(key), total = 28 + kl + binlen;
    uint8_t *buf = malloc(total);
    if (!buf) return;
    memcpy(buf, "BLCLBIN1", 8);
    uint32_t l = (uint32_t)kl;
    uint64_t bl = binlen, h = fnv1a(FNV0, bin, binlen);
    memcpy(buf + 8, &l, 4);
    memcpy(buf + 12, key, kl);
    memcpy(buf + 12 + kl, &bl, 8);
    memcpy(buf + 20 + kl, &h, 8);
    memcpy(buf + 28 + kl, bin, binlen);
    bl_file_write_atomic(path, buf, total, NULL);  /* best effort: a cache */
    free(buf);
}

static int build_log_error(bl_ocl *o, cl_program prog, cl_int rc, const char *path, bl_error *err)
{
    size_t sz = 0;
    clGetProgramBuildInfo(prog, o->info.id, CL_PROGRAM_BUILD_LOG, 0, NULL, &sz);
    char *log = malloc(sz + 1);
    if (log) {
        log[0] = 0;
        clGetProgramBuildInfo(prog, o->info.id, CL_PROGRAM_BUILD_LOG, sz, log, NULL);
        log[sz] = 0;
        /* one line per the bl_error convention: fold newlines */
        for (char *p = log; *p; ++p) if (*p == '\n' || *p == '\r') *p = ' ';
    }
    int r = bl_error_set(err, BL_EFORMAT, "building %s for %s: %s (%d); build log: %s", path,
                         o->info.name, bl_ocl_strerror(rc), (int)rc, log && *log ? log : "(empty)");
    free(log);
    return r;
}

int bl_ocl_build(bl_ocl *o, const char *path, const char *options, cl_program *out,
                 int *cache_state, bl_error *err)
{
    *out = NULL;
    if (cache_state) *cache_state = BL_OCL_CACHE_OFF;
    if (!options) options = "";
    char full[3000];
    if (path[0] == '/') {
        snprintf(full, sizeof full, "%s", path);
    } else {
        char dir[2048];
        bl_settings s = { .home = o->home };
        if (bl_resource_dir(&s, "kernels", dir, sizeof dir))
            return bl_error_set(err, BL_ENOTFOUND, "kernel %s: no kernels/ folder found next to the "
                                "executable or in the install prefix (set BETLAB_HOME)", path);
        snprintf(full, sizeof full, "%s/%s", dir, path);
    }
    uint8_t *src;
    size_t src_len;
    int rc = bl_file_read(full, (size_t)16 << 20, &src, &src_len, err);
    if (rc) return bl_error_prefix(err, "kernel source");

    char cpath[3100];
    char *key = cache_key(o, (const char *)src, src_len, options);
    int have_cache = key && bl_ocl_cache_path(o, (const char *)src, src_len, options, cpath, sizeof cpath) == 0;
    cl_int ce;
    cl_program prog = NULL;
    if (have_cache) {
        uint8_t *bin = NULL;
        size_t binlen = 0;
        int lr = cache_load(cpath, key, &bin, &binlen);
        if (cache_state) *cache_state = lr == 0 ? BL_OCL_CACHE_HIT : lr == BL_EFORMAT ? BL_OCL_CACHE_CORRUPT
                                                                                     : BL_OCL_CACHE_MISS;
        if (lr == 0) {
            const unsigned char *bp = bin;
            cl_int bs = CL_SUCCESS;
            prog = clCreateProgramWithBinary(o->ctx, 1, &o->info.id, &binlen, &bp, &bs, &ce);
            if (prog && (ce != CL_SUCCESS || bs != CL_SUCCESS ||
                         clBuildProgram(prog, 1, &o->info.id, options, NULL, NULL) != CL_SUCCESS)) {
                clReleaseProgram(prog);
                prog = NULL;
            }
            if (!prog && cache_state) *cache_state = BL_OCL_CACHE_CORRUPT;
            free(bin);
        }
    }
    if (!prog) {
        const char *s = (const char *)src;
        prog = clCreateProgramWithSource(o->ctx, 1, &s, &src_len, &ce);
        if (!prog) { free(src); free(key); return bl_ocl_error(err, ce, "clCreateProgramWithSource"); }
        ce = clBuildProgram(prog, 1, &o->info.id, options, NULL, NULL);
        if (ce != CL_SUCCESS) {
            rc = build_log_error(o, prog, ce, full, err);
            clReleaseProgram(prog);
            free(src);
            free(key);
            return rc;
        }
        if (have_cache) {
            size_t binlen = 0;
            if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof binlen, &binlen, NULL) == CL_SUCCESS &&
                binlen > 0) {
                unsigned char *bin = malloc(binlen);
                if (bin && clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) == CL_SUCCESS)
                    cache_store(cpath, key, bin, binlen);
                free(bin);
            }
        }
    }
    free(src);
    free(key);
    *out = prog;
    return 0;
}
