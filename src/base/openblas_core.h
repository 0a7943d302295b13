/* openblas_core.h - make OpenBLAS use the kernels this CPU can run.
 *
 * OpenBLAS 0.3.21 (Debian 12) does not recognise recent Xeons and falls
 * back to its SSE3 "Prescott" kernels, about 7x slower for sgemm.  It picks
 * its kernels when the library loads, from OPENBLAS_CORETYPE, so the only
 * remedy is to set that variable and re-execute the program.  Used by
 * `betlab train` and by the benchmarks that time OpenBLAS. */
#ifndef BL_BASE_OPENBLAS_CORE_H
#define BL_BASE_OPENBLAS_CORE_H

/* When OPENBLAS_CORETYPE is unset, OpenBLAS chose Prescott and the CPU has
 * AVX2 (Haswell kernels) or AVX-512 (SkylakeX kernels): set it and execv
 * /proc/self/exe with argv0 (if non-NULL) followed by argv[0..argc-1].
 * Returns only when there is nothing to do or the exec failed (the program
 * then goes on with the slow kernels).  An explicit OPENBLAS_CORETYPE is
 * always respected. */
void bl_openblas_fix_coretype(const char *argv0, int argc, char **argv);

#endif
