/* campaign_internal.h - what campaign.c (plan, records, runner) and
 * campaign_merge.c (merge, outputs, status) share. */
#ifndef BL_STUDY_CAMPAIGN_INTERNAL_H
#define BL_STUDY_CAMPAIGN_INTERNAL_H

#include "study/campaign.h"

#define BL_CAMPAIGN_FORMAT "betlab-campaign-1"
#define BL_CAMPAIGN_JSON "campaign.json"

/* The shape of a campaign: enough to expand its units (a plan has it from
 * the description, merge from campaign.json). */
typedef struct bl_campaign_shape {
    size_t nmodels, nfaults;
    const size_t *nbers;      /* per fault */
    int reps, reps_per_unit;
    int stopping;             /* ci_width > 0 */
    unsigned record;
} bl_campaign_shape;

int bl_campaign_expand(const bl_campaign_shape *s, bl_campaign_unit **units, size_t *n,
                       bl_error *err);

/* One parsed record line. */
typedef struct bl_campaign_rec {
    uint32_t unit;
    bl_campaign_unit_kind kind;
    uint32_t model, fault, ber;
    int rep0, nrep;
    uint64_t images, clean, changed;
    uint64_t *correct;        /* nrep */
    int nlayers;
    char (*names)[32];
    double *flip, *analytic;  /* eval: per layer (flips recorded) or NULL */
    double *mean;             /* margins: per layer */
    double (*below)[BL_MARGIN_NK];
    double seconds;
} bl_campaign_rec;

void bl_campaign_rec_clear(bl_campaign_rec *r);

/* A shard file's valid part: its header and every record line whose CRC
 * matches, up to the first line that does not (torn). */
typedef struct bl_campaign_file {
    char hash[17], version[32];
    int have_header, shard, nshards;
    size_t shard_units, total_units;
    size_t nrecs;
    bl_campaign_rec *recs;
    size_t valid_bytes;
    int torn;
} bl_campaign_file;

/* Read path (a missing file is an empty one).  Records of another campaign
 * hash or version are an error naming both. */
int bl_campaign_file_read(const char *path, bl_campaign_file *f, bl_error *err);
void bl_campaign_file_clear(bl_campaign_file *f);

#endif
