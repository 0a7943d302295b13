/* optimizers.h - helpers around bl_cluster_run (optimizers.c). */
#ifndef BL_CLUSTER_OPTIMIZERS_H
#define BL_CLUSTER_OPTIMIZERS_H

#include <stddef.h>

#include "cluster/cluster.h"

/* Minima slots a backend needs for bl_cluster_run with these options
 * (greedy family: 1; sieves: one per live threshold plus the empty set). */
int bl_cluster_slots_needed(const bl_cluster_opts *opts);

#endif
