/* metrics_job.h - the metrics call (study/metrics_report.h) as a job.
 * The configuration's strings are copied; model, inputs, registry and
 * engine must outlive the job unless handed over in opts->own.  Result:
 * bl_metrics_result * (bl_metrics_result_free). */
#ifndef BL_JOBS_METRICS_JOB_H
#define BL_JOBS_METRICS_JOB_H

#include "jobs/eval_job.h"
#include "study/metrics_report.h"

int bl_metrics_job_start(const bl_metrics_cfg *cfg, const bl_job_opts *opts, bl_job **out,
                         bl_error *err);

#endif
