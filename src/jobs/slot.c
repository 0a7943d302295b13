/* slot.c - newest request supersedes (slot.h). */
#include "jobs/slot.h"

#include <stddef.h>

void bl_slot_init(bl_slot *s, bl_job_notify_fn notify, void *ctx)
{
    *s = (bl_slot){ 0 };
    s->notify = notify;
    s->notify_ctx = ctx;
}

static void drop_pending(bl_slot *s)
{
    if (s->pending && s->free_pending)
        s->free_pending(s->pending);
    s->pending = NULL;
    s->free_pending = NULL;
    s->start_pending = NULL;
}

static int start_now(bl_slot *s, bl_slot_start_fn start, void *req, void (*free_req)(void *),
                     bl_error *err)
{
    int rc = start(req, s->notify, s->notify_ctx, &s->job, err);
    if (rc) {
        s->job = NULL;
        if (free_req)
            free_req(req);
    }
    return rc;
}

int bl_slot_post(bl_slot *s, bl_slot_start_fn start, void *req, void (*free_req)(void *),
                 bl_error *err)
{
    if (!s->job)
        return start_now(s, start, req, free_req, err);
    drop_pending(s);
    s->pending = req;
    s->free_pending = free_req;
    s->start_pending = start;
    bl_job_cancel(s->job);
    return 0;
}

bl_slot_status bl_slot_collect(bl_slot *s, void **result, bl_error *err)
{
    if (result)
        *result = NULL;
    if (!s->job)
        return BL_SLOT_IDLE;
    if (bl_job_state_now(s->job) == BL_JOB_RUNNING)
        return BL_SLOT_RUNNING;
    bl_error e = { 0 };
    int rc = bl_job_wait(s->job, &e);
    if (s->pending) { /* superseded: its result is stale */
        bl_job_free(s->job);
        s->job = NULL;
        void *req = s->pending;
        void (*fr)(void *) = s->free_pending;
        bl_slot_start_fn st = s->start_pending;
        s->pending = NULL;
        s->free_pending = NULL;
        s->start_pending = NULL;
        if (start_now(s, st, req, fr, &e)) {
            if (err)
                *err = e;
            return BL_SLOT_ERROR;
        }
        return BL_SLOT_RUNNING;
    }
    bl_slot_status st = rc == 0 ? BL_SLOT_RESULT : rc == BL_ECANCELED ? BL_SLOT_CANCELED
                                                                       : BL_SLOT_ERROR;
    if (st == BL_SLOT_RESULT && result)
        *result = bl_job_take_result(s->job);
    if (st == BL_SLOT_ERROR && err)
        *err = e;
    bl_job_free(s->job);
    s->job = NULL;
    return st;
}

void *bl_slot_take_partial(bl_slot *s)
{
    if (!s->job || s->pending)
        return NULL;
    return bl_job_take_partial(s->job);
}

int bl_slot_busy(const bl_slot *s) { return s->job != NULL || s->pending != NULL; }

bl_job *bl_slot_job(const bl_slot *s) { return s->job; }

void bl_slot_cancel(bl_slot *s)
{
    drop_pending(s);
    if (s->job)
        bl_job_cancel(s->job);
}

void bl_slot_free(bl_slot *s)
{
    drop_pending(s);
    bl_job_free(s->job); /* cancels and joins */
    s->job = NULL;
}
