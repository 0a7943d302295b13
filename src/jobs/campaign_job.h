/* campaign_job.h - a BER campaign (study/campaign.h) as a background job.
 *
 * The configuration is copied (BER list, spec text); the model, inputs,
 * registry and engine it points to must outlive the job and stay
 * unmodified while it runs.  Progress: fraction of fault maps planned,
 * message "BER x: repetition r".  Cancellation is checked between fault
 * maps.  The result (bl_campaign_result *) is taken with
 * bl_job_take_result and freed with bl_campaign_result_free. */
#ifndef BL_JOBS_CAMPAIGN_JOB_H
#define BL_JOBS_CAMPAIGN_JOB_H

#include "jobs/job.h"
#include "study/campaign.h"

int bl_campaign_job_start(const bl_campaign_cfg *cfg, bl_job **out, bl_error *err);
/* The same work in the calling thread (batch use); progress may be NULL. */
int bl_campaign_run_sync(const bl_campaign_cfg *cfg, bl_job_progress_fn progress, void *ctx,
                         bl_campaign_result **out, bl_error *err);

#endif
