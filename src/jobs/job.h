/* job.h - background jobs: a thread, progress, cancellation, a result.
 *
 * DESIGN.md "Long work never blocks the UI".  A job runs one function on its
 * own thread.  The function reports progress (a fraction in [0, 1] and a
 * short message) and polls for cancellation between units of work (a sweep
 * checks between fault maps); the front end reads progress at any time,
 * asks for cancellation, and finally waits for the result.
 *
 *     bl_job *j;  bl_job_start("sweep", fn, arg, free_arg, &j, &err);
 *     while (bl_job_state(j) == BL_JOB_RUNNING) { bl_job_progress(j, msg, n); ... }
 *     bl_job_wait(j, &err);            // joins; returns the function's code
 *     void *r = bl_job_take_result(j); // caller owns it now
 *     bl_job_free(j);                  // cancels and joins if still running
 *
 * bl_job_run_sync runs the same function in the calling thread (batch use):
 * identical results, progress delivered through the optional callback.
 * Every accessor is thread-safe (a mutex; the cancel flag is atomic).
 *
 * Listeners (bl_job_start_ex): notify(ctx, job, event) runs on the job's
 * thread after the event's data is published: PROGRESS after the fraction
 * and message are stored, PARTIAL after an intermediate result is stored,
 * DONE after the final state (result or error) is stored.  So a listener
 * that wakes a UI can never be missed: when the UI looks, the state it was
 * woken for is already visible (bl_job_state_now != RUNNING after DONE).
 * After DONE the job function has returned; bl_job_wait does not block
 * beyond the thread's exit. */
#ifndef BL_JOBS_JOB_H
#define BL_JOBS_JOB_H

#include <stddef.h>

#include "base/error.h"

typedef enum bl_job_state {
    BL_JOB_RUNNING = 0,
    BL_JOB_DONE = 1,      /* function returned 0                      */
    BL_JOB_FAILED = 2,    /* function returned an error               */
    BL_JOB_CANCELED = 3,  /* function returned BL_ECANCELED           */
} bl_job_state;

typedef struct bl_job bl_job;

/* The work.  Returns 0 or a BL_E* code (BL_ECANCELED when it stopped on a
 * cancellation request), fills err on failure, and hands its result over
 * with bl_job_set_result.  `arg` is the start argument. */
typedef int (*bl_job_fn)(bl_job *job, void *arg, bl_error *err);

/* Start fn(job, arg) on a new thread.  free_arg (may be NULL) is called on
 * arg when the job is freed.  kind is a short label ("sweep"). */
int bl_job_start(const char *kind, bl_job_fn fn, void *arg, void (*free_arg)(void *),
                 bl_job **out, bl_error *err);

typedef enum bl_job_event {
    BL_JOB_EV_PROGRESS = 1,
    BL_JOB_EV_PARTIAL = 2,
    BL_JOB_EV_DONE = 3,
} bl_job_event;
typedef void (*bl_job_notify_fn)(void *ctx, bl_job *job, bl_job_event ev);

/* bl_job_start with a listener (may be NULL); the listener is set before
 * the thread starts, so no event is lost. */
int bl_job_start_ex(const char *kind, bl_job_fn fn, void *arg, void (*free_arg)(void *),
                    bl_job_notify_fn notify, void *notify_ctx, bl_job **out, bl_error *err);

/* Synchronous run in the calling thread, with progress (may be NULL)
 * called on every report.  The job object passed to fn is a temporary one;
 * its result is moved to *result (may be NULL: result freed). */
typedef void (*bl_job_progress_fn)(void *ctx, double fraction, const char *msg);
int bl_job_run_sync(const char *kind, bl_job_fn fn, void *arg, bl_job_progress_fn progress,
                    void *progress_ctx, void **result, bl_error *err);

/* --- inside the job function --- */
void bl_job_report(bl_job *job, double fraction, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int bl_job_cancel_requested(const bl_job *job);
/* Hand over the result (freed with free_result unless taken). */
void bl_job_set_result(bl_job *job, void *result, void (*free_result)(void *));
/* Publish an intermediate result (replaces an untaken one, which is freed),
 * then notify PARTIAL.  The workbench shows the first fault map at once. */
void bl_job_set_partial(bl_job *job, void *partial, void (*free_partial)(void *));

/* --- from any thread --- */
const char *bl_job_kind(const bl_job *job);
bl_job_state bl_job_state_now(bl_job *job);
/* Fraction done in [0, 1]; copies the last message into msg (n bytes, may be 0). */
double bl_job_progress(bl_job *job, char *msg, size_t n);
double bl_job_elapsed(bl_job *job);  /* seconds since start (until finish) */
void bl_job_cancel(bl_job *job);
/* Join the thread (idempotent); returns the function's code and copies its
 * error into err. */
int bl_job_wait(bl_job *job, bl_error *err);
/* Result after a successful wait (NULL otherwise); ownership passes to the
 * caller.  A second call returns NULL. */
void *bl_job_take_result(bl_job *job);
/* The newest intermediate result, or NULL; ownership passes to the caller. */
void *bl_job_take_partial(bl_job *job);
/* Copy of the error of a finished job (code 0 while running or done). */
bl_error bl_job_error(bl_job *job);
/* Cancel (if running), join, free the result if not taken, free arg. */
void bl_job_free(bl_job *job);

#endif
