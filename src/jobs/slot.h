/* slot.h - "the newest request supersedes": one job at a time per slot, for
 * interactive front ends (a slider move while the last value is still being
 * evaluated).
 *
 *     bl_slot s;  bl_slot_init(&s, notify, ctx);
 *     bl_slot_post(&s, start_fn, req, free_req, &err);  // per user action
 *     ... notify fires (any thread) -> the UI thread calls:
 *     void *res; bl_error e;
 *     switch (bl_slot_collect(&s, &res, &e)) { case BL_SLOT_RESULT: ... }
 *
 * Posting while a job runs cancels it and parks the request (replacing an
 * older parked one, which is freed unstarted); when the cancelled job has
 * stopped, bl_slot_collect starts the parked request and reports the old
 * job as superseded.  At most one job of a slot runs, so jobs of one slot
 * may share state (an engine, a cache) without locks.  All slot functions
 * are called from one (the UI) thread; only notify runs on job threads. */
#ifndef BL_JOBS_SLOT_H
#define BL_JOBS_SLOT_H

#include "jobs/job.h"

/* Start a job for req; on success the job owns req (frees it with the
 * job), on failure the slot frees it. */
typedef int (*bl_slot_start_fn)(void *req, bl_job_notify_fn notify, void *ctx, bl_job **out,
                                bl_error *err);

typedef struct bl_slot {
    bl_job *job;                 /* running, or finished and not collected */
    void *pending;               /* parked request (newest)                */
    void (*free_pending)(void *);
    bl_slot_start_fn start_pending;
    bl_job_notify_fn notify;
    void *notify_ctx;
} bl_slot;

typedef enum bl_slot_status {
    BL_SLOT_IDLE = 0,        /* no job                                    */
    BL_SLOT_RUNNING = 1,     /* a job runs (maybe a newly started one)     */
    BL_SLOT_RESULT = 2,      /* the newest job finished: *result is its    */
    BL_SLOT_ERROR = 3,       /* the newest job failed: *err says why       */
    BL_SLOT_CANCELED = 4,    /* the newest job was cancelled (bl_slot_cancel) */
} bl_slot_status;

void bl_slot_init(bl_slot *s, bl_job_notify_fn notify, void *ctx);
int bl_slot_post(bl_slot *s, bl_slot_start_fn start, void *req, void (*free_req)(void *),
                 bl_error *err);
/* Collect a finished job (starting a parked request; a superseded job's
 * result is dropped).  *result (caller owns it) is set for RESULT only. */
bl_slot_status bl_slot_collect(bl_slot *s, void **result, bl_error *err);
/* Newest intermediate result of the running job that is not superseded. */
void *bl_slot_take_partial(bl_slot *s);
int bl_slot_busy(const bl_slot *s);     /* a job runs or a request is parked */
bl_job *bl_slot_job(const bl_slot *s);  /* for progress; NULL when none      */
void bl_slot_cancel(bl_slot *s);        /* cancel the job, drop the parked one */
void bl_slot_free(bl_slot *s);          /* cancel, join, free everything     */

#endif
