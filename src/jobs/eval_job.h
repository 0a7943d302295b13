/* eval_job.h - the evaluator (study/evaluate.h) as a background job: the
 * eval and sweep jobs of every front end.
 *
 * The configuration is copied (BER list, spec text).  The model, inputs,
 * registry, map, engine and cache it points to must outlive the job and stay
 * unmodified while it runs, unless handed to the job in `own` (then they are
 * freed with it: how Lua's bl.job gives a job its own model copy).
 * Progress: fraction of fault maps planned, message "BER x: repetition r".
 * After every map a bl_eval_partial is published (bl_job_take_partial), so a
 * UI can show the first map's accuracy before the others are done.
 * Cancellation is checked between fault maps.  The result
 * (bl_evaluate_result *) is taken with bl_job_take_result and freed with
 * bl_evaluate_result_free. */
#ifndef BL_JOBS_EVAL_JOB_H
#define BL_JOBS_EVAL_JOB_H

#include <stdatomic.h>

#include "jobs/job.h"
#include "study/evaluate.h"

/* Resources a job owns and frees when it is freed (in order). */
#define BL_JOB_OWN_MAX 6
typedef struct bl_job_own {
    void *p[BL_JOB_OWN_MAX];
    void (*free[BL_JOB_OWN_MAX])(void *);
} bl_job_own;

typedef struct bl_job_opts {
    const char *kind;              /* label: "eval", "sweep" ...            */
    bl_job_notify_fn notify;       /* listener (may be NULL)                */
    void *notify_ctx;
    /* Background manners: between fault maps the job naps while
     * *pause_while is non-zero (at most ~0.2 s per check), so an
     * interactive job gets the cores; on_start runs first on the job's
     * thread (the workbench lowers that thread's priority there). */
    const atomic_int *pause_while;
    void (*on_start)(void);
    bl_job_own own;
} bl_job_opts;

/* The state after one map: what a UI shows while the rest runs. */
typedef struct bl_eval_partial {
    size_t row, nrows;
    double ber, accuracy, ci_low, ci_high;
    bl_ci_method ci_method;
    int reps;
    uint64_t changed_bits;
    double clean_accuracy;
} bl_eval_partial;

int bl_eval_job_start(const bl_evaluate_cfg *cfg, const bl_job_opts *opts, bl_job **out,
                      bl_error *err);
/* The same work in the calling thread (batch use); progress may be NULL. */
int bl_eval_job_run_sync(const bl_evaluate_cfg *cfg, bl_job_progress_fn progress, void *ctx,
                         bl_evaluate_result **out, bl_error *err);

/* Helpers for other job kinds. */
void bl_job_own_free(bl_job_own *own);
/* Nap while *flag (may be NULL) is set and the job is not cancelled. */
void bl_job_pause_while(bl_job *job, const atomic_int *flag);

#endif
