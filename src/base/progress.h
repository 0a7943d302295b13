/* progress.h - the progress hook shared by long core calls (evaluator,
 * metrics, ...): a function pointer (fraction in [0, 1], one-line message)
 * and its context; bl_progress_say formats the message only when someone
 * listens. */
#ifndef BL_BASE_PROGRESS_H
#define BL_BASE_PROGRESS_H

typedef void (*bl_progress_fn)(void *ctx, double fraction, const char *msg);

void bl_progress_say(bl_progress_fn fn, void *ctx, double fraction, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
