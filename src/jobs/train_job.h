/* train_job.h - bit-flip training (bnn/train.h) as a job: Lua's
 * bl.job.train and `betlab train` (synchronously).
 *
 * The job runs bl_trainer_run on a trainer it borrows or owns (own_trainer:
 * freed with the job).  Progress: fraction of all minibatches of all epochs
 * (a resumed trainer starts part-way), message "epoch e/E: step s/S, loss
 * L".  After every epoch its bl_epoch_stats (a malloc'ed copy) is published
 * as a partial result.  Cancellation goes through the trainer's callback:
 * the trainer stops after the current minibatch, consistent and resumable
 * (bl_trainer_run continues it, bl_trainer_save_checkpoint saves it); the
 * job ends with BL_ECANCELED.  An optional callback `cb` (e.g. the CLI's
 * progress bar and Ctrl-C flag) sees every report on the job's thread and
 * stops the run by returning nonzero, also as BL_ECANCELED.
 *
 * Result: the exported model (bl_trainer_export; bl_model *, freed with
 * bl_model_free; metadata test_accuracy from the last epoch's test
 * accuracy when there is test data, and name when given), or NULL with
 * no_export. */
#ifndef BL_JOBS_TRAIN_JOB_H
#define BL_JOBS_TRAIN_JOB_H

#include "bnn/train.h"
#include "jobs/eval_job.h"

typedef struct bl_train_job_cfg {
    bl_trainer *trainer;     /* borrowed (must outlive the job) unless own_trainer */
    int own_trainer;         /* the job frees it (on a failed start it stays yours) */
    int no_export;           /* result NULL: the caller exports (or not) itself     */
    const char *name;        /* metadata "name" of the exported model (copied; NULL) */
    bl_train_cb cb;          /* optional, on the job's thread; nonzero stops        */
    void *cb_ctx;
} bl_train_job_cfg;

int bl_train_job_start(const bl_train_job_cfg *cfg, const bl_job_opts *opts, bl_job **out,
                       bl_error *err);
/* The same work in the calling thread; *model (may be NULL: freed) gets
 * the result.  progress may be NULL. */
int bl_train_job_run_sync(const bl_train_job_cfg *cfg, bl_job_progress_fn progress, void *ctx,
                          bl_model **model, bl_error *err);

#endif
