/* clock.h - the monotonic wall clock every timing in betlab uses
 * (evaluation and job timings, benchmarks). */
#ifndef BL_BASE_CLOCK_H
#define BL_BASE_CLOCK_H

#include <time.h>

/* Seconds on CLOCK_MONOTONIC (only differences are meaningful). */
static inline double bl_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
