/* cluster_job.h - exemplar clustering (src/cluster) of a dataset's first n
 * images as a background job: the workbench's cluster view and Lua's
 * bl.job.cluster.
 *
 * The job takes the features of the first n rows (bl_cluster_features),
 * runs the optimizer on the CPU backend and then, when a device is asked
 * for, the same run on that device, for the timing comparison:
 *     device "cpu"      the CPU run only;
 *     device "auto"     the CPU run, then the first OpenCL device if any
 *                       (a missing device is a device failure, not an error
 *                       of the job);
 *     other strings     the CPU run, then that device (bl_cluster_backend_new
 *                       device strings: "opencl", "opencl:P:D", "reference"...).
 * With device_only set (and a device other than "cpu"/"auto") only the
 * device run is made and its failure fails the job: how Lua's
 * bl.job.cluster matches the blocking bl.cluster.exemplar.
 *
 * As soon as the CPU run is done its part is published as a partial result
 * (a bl_cluster_job_result with dev.state RUNNING or NONE, taken with
 * bl_job_take_partial), so a UI can draw it while the device runs.
 * Progress: "cluster: features", then the optimizer's fraction (the CPU run
 * the first half when a device follows).  Cancellation: through the
 * optimizer's on_progress return value, and between the runs; a cancelled
 * job ends with BL_ECANCELED, never with a truncated result.  The result
 * (bl_cluster_job_result *) is data only: features, the runs' results and
 * device names, the device's error message when it failed. */
#ifndef BL_JOBS_CLUSTER_JOB_H
#define BL_JOBS_CLUSTER_JOB_H

#include "base/settings.h"
#include "cluster/cluster.h"
#include "data/dataset.h"
#include "jobs/eval_job.h"

typedef struct bl_cluster_job_cfg {
    const bl_dataset *data;      /* borrowed: must outlive the job unless in opts->own */
    size_t n;                    /* first n rows (0: all)                              */
    size_t k;                    /* exemplars, 1..n                                    */
    bl_optimizer optimizer;
    bl_precision precision;
    uint64_t seed;
    const char *device;          /* "cpu" (NULL), "auto" or a device string (copied)   */
    int device_only;             /* skip the CPU run (see above)                       */
    int threads;                 /* CPU backend threads (<= 0: all CPUs)               */
    const bl_settings *settings; /* OpenCL settings (may be NULL); must outlive the job */
} bl_cluster_job_cfg;

typedef enum bl_cluster_run_state {
    BL_CLUSTER_RUN_NONE = 0,     /* not asked for                  */
    BL_CLUSTER_RUN_RUNNING = 1,  /* in a partial result: still to come */
    BL_CLUSTER_RUN_DONE = 2,
    BL_CLUSTER_RUN_FAILED = 3,   /* err says why                   */
} bl_cluster_run_state;

typedef struct bl_cluster_job_run {
    bl_cluster_run_state state;
    char device[128];            /* the backend's device name (DONE)          */
    bl_cluster_result r;         /* DONE: exemplars, f, f_trace, evaluations  */
    bl_error err;                /* FAILED                                     */
} bl_cluster_job_run;

typedef struct bl_cluster_job_result {
    double *x;                   /* the features, n x d (row-major)  */
    size_t n, d;
    bl_optimizer optimizer;
    bl_precision precision;
    bl_cluster_job_run cpu;      /* NONE with device_only            */
    bl_cluster_job_run dev;      /* NONE for device "cpu"            */
} bl_cluster_job_result;

/* Checks the configuration (k >= 1, optimizer, precision, data present). */
int bl_cluster_job_check(const bl_cluster_job_cfg *cfg, bl_error *err);
int bl_cluster_job_start(const bl_cluster_job_cfg *cfg, const bl_job_opts *opts, bl_job **out,
                         bl_error *err);
/* The same work in the calling thread; progress may be NULL. */
int bl_cluster_job_run_sync(const bl_cluster_job_cfg *cfg, bl_job_progress_fn progress,
                            void *ctx, bl_cluster_job_result **out, bl_error *err);
void bl_cluster_job_result_free(bl_cluster_job_result *r);

#endif
