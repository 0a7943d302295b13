/* campaign_job.h - a campaign shard (study/campaign.h) as a job: the units
 * run on the job's thread (or the caller's, bl_campaign_job_run_sync) with
 * progress per unit.  Cancellation (bl_job_cancel, or the caller's hook in
 * the synchronous form: how the CLI turns SIGTERM/SIGHUP into a clean stop)
 * is checked between units only, so the unit in flight is finished and its
 * record written before the job returns BL_ECANCELED.  The plan and what it
 * points to must outlive the job.  Result: a bl_campaign_run_stats (free()). */
#ifndef BL_JOBS_CAMPAIGN_JOB_H
#define BL_JOBS_CAMPAIGN_JOB_H

#include "jobs/job.h"
#include "study/campaign.h"

int bl_campaign_job_start(const bl_campaign_plan *plan, const bl_campaign_run_opts *opts,
                          bl_job_notify_fn notify, void *notify_ctx, bl_job **out,
                          bl_error *err);

/* The same in the calling thread.  cancelled(ctx) (may be NULL) is polled
 * between units; stats (may be NULL) is filled whatever the outcome. */
int bl_campaign_job_run_sync(const bl_campaign_plan *plan, const bl_campaign_run_opts *opts,
                             bl_job_progress_fn progress, void *progress_ctx,
                             int (*cancelled)(void *ctx), void *cancel_ctx,
                             bl_campaign_run_stats *stats, bl_error *err);

#endif
