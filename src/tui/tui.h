/* tui.h - the workbench: state (plain structs), panels, jobs, screen.
 *
 * Model, then draw (DESIGN.md): bl_tui_state holds everything a panel
 * shows; panels read it and write into a bl_grid; the screen diffs that
 * grid against the last one drawn.  The state changes only in the UI
 * thread: through betlab.ui Lua calls (l_ui.c) for user actions, and by
 * collecting finished job results (tui_jobs.c). */
#ifndef BL_TUI_TUI_H
#define BL_TUI_TUI_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "base/settings.h"
#include "bnn/engine.h"
#include "bnn/model.h"
#include "data/dataset.h"
#include "fault/fault.h"
#include "tui/grid.h"
#include "tui/layout.h"

#define TUI_MAX_LAYERS 16
#define TUI_CURVE_MAX 24
#define TUI_HIST_BINS 64
#define TUI_TOPK 16
#define TUI_SCROLL 400
#define TUI_BER_MIN 1e-5
#define TUI_BER_MAX 0.5

typedef struct tui_layer {
    char name[BL_NAME_MAX];
    int index;            /* model layer index */
    uint64_t bits;        /* stored weight bits */
    double ber;
} tui_layer;

typedef struct tui_curve {
    int n;
    double ber[TUI_CURVE_MAX], acc[TUI_CURVE_MAX], lo[TUI_CURVE_MAX], hi[TUI_CURVE_MAX];
    int reps;
    int stale;            /* settings changed, a new curve is coming   */
    char fault[128];
} tui_curve;

typedef struct tui_acc {
    int valid;
    double acc, lo, hi;
    int reps;
    double ms;            /* keypress (request) -> result              */
    double eval_s;        /* one evaluation                            */
    double pin_acc, pin_lo, pin_hi;
    int pin_valid;
    uint64_t changed;     /* weight bits changed (first map)           */
    int stale;            /* settings changed, the new value is coming */
    int method;           /* bl_ci_method of lo/hi (study/evaluate.h)  */
} tui_acc;

typedef struct tui_margins {
    int valid;
    char layer[BL_NAME_MAX];
    double ber;
    int nbins;
    double bin_width;
    double clean[TUI_HIST_BINS], faulty[TUI_HIST_BINS]; /* fractions    */
    double clean_mean, faulty_mean;
    double analytic;      /* NAN when unsupported                       */
    double measured, mlo, mhi;
    double expect_flips;  /* n * p weight flips per neuron              */
    uint32_t fan_in;
    char note[96];
} tui_margins;

typedef struct tui_importance {
    int valid;
    char layer[BL_NAME_MAX];
    int n, top[TUI_TOPK];
    double val[TUI_TOPK];
    double mean, max, variance, seconds;
} tui_importance;

/* The cluster view (panel_cluster.c): exemplar clustering of the first
 * images of the workbench's dataset on the CPU and, for the timing
 * comparison, on an OpenCL device. */
#define TUI_CL_K 64
#define TUI_CL_IMGS 12
#define TUI_CL_PIX 1024   /* up to 32x32 pixels per exemplar image */

typedef struct tui_cluster_req {
    int k, n;             /* exemplars; images used (first n rows)           */
    char optimizer[32];
    char device[64];      /* "auto" (cpu + first OpenCL device), "cpu", or a
                             device string compared against the CPU          */
    char precision[8];
    uint64_t seed;
} tui_cluster_req;

typedef struct tui_cluster {
    int view;             /* the cluster panel replaces the right-hand panels */
    int valid;            /* CPU result present                               */
    tui_cluster_req req;  /* settings of the shown (or running) run           */
    size_t n, d;
    int k;                /* exemplars chosen                                 */
    double f[TUI_CL_K];   /* f after each addition                            */
    uint32_t ex[TUI_CL_K];
    uint64_t evals;
    double seconds;
    char cpu_name[96];
    int dev_state;        /* 0 none/not asked, 1 running, 2 done, 3 failed    */
    double dev_seconds, dev_f;
    uint64_t dev_evals;
    char dev_name[96];    /* device, or why there is none                     */
    int ih, iw, nimg;     /* exemplar images (grey, 0..1)                     */
    float img[TUI_CL_IMGS][TUI_CL_PIX];
} tui_cluster;

typedef struct bl_tui_state {
    char model_name[128], data_name[128], pin_name[128];
    size_t images;
    double macs_per_image;
    int nlayers;
    tui_layer layers[TUI_MAX_LAYERS];
    int sel;              /* 0..nlayers-1 a layer, nlayers: all layers, nlayers+1: fault kind */
    double global_ber;
    char fault_kind[96];  /* spec without rates, e.g. "bitflip", "asym:ratio=10" */
    char spec_text[1024]; /* canonical spec of the current settings */
    uint64_t seed;
    tui_acc acc;
    double clean_acc;
    int clean_valid;      /* clean_acc computed (not a placeholder)    */
    tui_curve curve, pin_curve;
    tui_margins margins;
    tui_importance imp;
    tui_cluster cl;
    /* UI */
    int focus;            /* PANEL_LAYERS, PANEL_ACCURACY, ... PANEL_CONSOLE */
    int help;             /* help overlay shown */
    int confirm_quit;
    int recording;
    int ascii, color, mouse, demo;
    char status[256];     /* last message (error or info) */
    int status_err;
    char jobs_text[128];  /* running jobs and progress */
    char note[160];       /* startup note (model fallback) */
    int edit_active;      /* typed-value editor */
    char edit_buf[32];
} bl_tui_state;

/* state.c: pure state transitions */
double tui_ber_step(double ber, int steps, int coarse);
double tui_ber_nice(double ber);
double tui_ber_frac(double ber);           /* slider position 0..1 */
double tui_ber_from_frac(double f);
int tui_state_find_layer(const bl_tui_state *s, const char *name);
/* current BER shown as "the" BER: the selected layer's, else the largest */
double tui_state_current_ber(const bl_tui_state *s);
void tui_state_set_ber(bl_tui_state *s, int layer, double ber); /* layer -1: all */
/* Fault spec text for the current settings (rule per layer with ber > 0). */
int tui_state_spec(const bl_tui_state *s, const bl_fault_registry *reg, char *out, size_t n,
                   bl_error *err);
void tui_fmt_ber(double ber, char *buf, size_t n);

/* --- the application --- */
typedef struct bl_tui_jobs bl_tui_jobs;
typedef struct bl_exec bl_exec;

typedef struct tui_line {
    char *text;
    int style;
} tui_line;

typedef struct bl_tui {
    bl_tui_state s;
    bl_model *model, *pin;
    bl_dataset *data;
    bl_inputs *inputs, *pin_inputs, *small_inputs, *small_pin;
    bl_fault_registry *reg;
    bl_tui_jobs *jobs;
    bl_exec *exec;
    int wake[2];          /* self-pipe: jobs write a byte when done   */
    /* console scrollback */
    tui_line lines[TUI_SCROLL];
    int nlines, first;    /* ring */
    int scroll;           /* lines scrolled back */
    char partial[512];    /* sink text not yet ended by a newline */
    size_t npartial;
    char *chunk;          /* multi-line console input so far */
    int quit;
    /* demo */
    char **demo_lines;
    int demo_n, demo_pos;
    /* drawing */
    bl_layout layout;
    bl_grid grid;
    int rl_ready;
    double last_key_t;    /* time of the last slider key (latency) */
    int limit;
    const char *trace;                /* from bl_tui_opts */
    const bl_settings *settings;      /* from bl_tui_opts (models, data, OpenCL) */
    struct tui_cluster_job *cl_job;   /* panel_cluster.c; NULL when none */
} bl_tui;

/* Mouse buttons as panels see them (screen.c decodes the terminal's). */
enum { TUI_MOUSE_LEFT = 1, TUI_MOUSE_WHEEL_UP = 4, TUI_MOUSE_WHEEL_DOWN = 5 };

/* Panels: a struct of function pointers each (htop's Panel is the model).
 * keys.c hands a key to the focused panel first, then tries the global
 * keys; a mouse event goes to the panel under the pointer.  Handlers
 * return 1 when they used the event; NULL handlers use nothing. */
typedef struct bl_panel {
    const char *name;
    void (*draw)(bl_tui *t, bl_grid *g, bl_rect r, int focused);
    /* is_char: key is a character, else a curses KEY_* code */
    int (*key)(bl_tui *t, int key, int is_char);
    const char *help;                 /* one line for the status bar */
    /* (x, y): screen cell; r: the panel's rectangle; button: TUI_MOUSE_* */
    int (*mouse)(bl_tui *t, bl_rect r, int x, int y, int button);
} bl_panel;

extern const bl_panel tui_panel_header, tui_panel_layers, tui_panel_accuracy,
    tui_panel_margins, tui_panel_importance, tui_panel_console, tui_panel_status,
    tui_panel_cluster;
const bl_panel *tui_panel(int id);
/* Title bar of a panel (row r.y); returns the rect below it. */
bl_rect tui_panel_title(bl_grid *g, bl_rect r, const char *title, int focused);

/* panel_layers.c: slider columns of a body rectangle (below the title) */
void tui_layers_slider_span(bl_rect r, int *x0, int *w);
/* The layers panel's body (below its title) and the first row shown. */
bl_rect tui_layers_body(bl_rect r);
int tui_layers_first_row(const bl_tui_state *s, bl_rect body);

/* panel_cluster.c: the cluster view and its background job */
void tui_cluster_request(bl_tui *t, const tui_cluster_req *req); /* open the view, run */
void tui_cluster_close(bl_tui *t);      /* leave the view, cancel the run          */
int tui_cluster_collect(bl_tui *t);     /* results into s.cl; 1 changed           */
int tui_cluster_running(const bl_tui *t);
double tui_cluster_progress(bl_tui *t); /* 0..1 while running                      */
void tui_cluster_free(bl_tui *t);       /* cancel, join, free (at exit)            */
/* An h x w grey image (values 0..1, row-major) drawn in braille at (x, y):
 * `step` image pixels per dot in each direction (1: full size, 28x28 ->
 * 14x7 cells), a dot is set when the mean of its step x step pixels
 * exceeds thr; ASCII mode draws ' ', '.', ':', '#' by dots set per cell.
 * Clipped to the grid.  Returns the cells used as w | h << 16. */
int tui_braille_image(bl_grid *g, int x, int y, const float *img, int h, int w, int step,
                      double thr, int ascii, int style);
/* layout.c: in the cluster view one rectangle (in r[PANEL_ACCURACY])
 * replaces the right-hand panels, or the layers panel in one column. */
void bl_layout_cluster(bl_layout *L);

/* help.c */
void tui_help_draw(bl_tui *t, bl_grid *g);
typedef struct tui_keyhelp { const char *keys, *what; } tui_keyhelp;
extern const tui_keyhelp tui_keys_help[];

/* keys.c: global keys and dispatch to the panels; actions become Lua calls */
int tui_key(bl_tui *t, int key, int is_char);
/* A decoded mouse event at screen cell (x, y): focus follows a click, the
 * panel under the pointer gets it; 1 used. */
int tui_mouse(bl_tui *t, int x, int y, int button);
/* Run a Lua action: echo it into the console, run it, report errors. */
int tui_action(bl_tui *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tui_status(bl_tui *t, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* panel_console.c: scrollback + readline */
void tui_console_add(bl_tui *t, int style, const char *text);
void tui_console_sink(void *ctx, int stream, const char *text, size_t len);
int tui_console_init(bl_tui *t);
void tui_console_done(bl_tui *t);
void tui_console_feed(bl_tui *t, int key, int is_char);
int tui_console_cursor(bl_tui *t, int *x, int *y);

/* tui_jobs.c */
int tui_jobs_new(bl_tui *t, bl_tui_jobs **out, bl_error *err);
void tui_jobs_free(bl_tui_jobs *j);
void tui_jobs_settings_changed(bl_tui *t);  /* re-evaluate (newest wins) */
void tui_jobs_layer_changed(bl_tui *t);     /* margins + importance     */
void tui_jobs_sweep(bl_tui *t);             /* restart the curve sweep  */
int tui_jobs_collect(bl_tui *t);            /* results into the state; 1 changed */
int tui_jobs_running(bl_tui *t);
int tui_jobs_settled(bl_tui *t);            /* nothing running or waiting */
void tui_jobs_pin_changed(bl_tui *t, bl_model *old, bl_inputs *old_in);
void tui_jobs_wake(int fd);

/* l_ui.c */
void tui_lua_open(bl_tui *t);
void tui_lua_close(bl_tui *t);
int tui_lua_recording(bl_tui *t);

/* screen.c */
int tui_screen_init(bl_tui *t);
void tui_screen_done(void);
void tui_screen_flush(bl_tui *t, bl_grid *next, int full);
int tui_screen_size(int *w, int *h);
/* The pending curses mouse event as (x, y, TUI_MOUSE_*); 0 when none. */
int tui_screen_mouse(int *x, int *y, int *button);
int tui_signal_pending(void);     /* SIGHUP/SIGTERM received */
int tui_interrupt_pending(void);  /* SIGINT (Ctrl-C) since the last call */
void tui_draw(bl_tui *t);          /* whole frame into t->grid, then flush */
int tui_save_screen(bl_tui *t, const char *path);

/* app.c: the workbench as a whole.  The front end (cli/cmd_tui.c) fills
 * the options, environment included (NO_COLOR -> no_color,
 * BETLAB_TUI_TRACE -> trace, the bl_settings it read). */
typedef struct bl_tui_opts {
    const char *model, *data, *session, *demo;
    int no_color, ascii, no_mouse, no_init, limit;
    uint64_t seed;
    const char *trace;               /* append latencies (ms) here; NULL: off  */
    const bl_settings *settings;     /* the front end's (models, data, OpenCL); NULL: none */
} bl_tui_opts;
/* Runs the workbench until the user quits or a signal ends it: 0, the
 * signal number (SIGHUP, SIGTERM: the caller exits 128 + it), or -1 with err
 * set when it could not start (no terminal, model, data ...). */
int bl_tui_main(const bl_tui_opts *o, bl_error *err);

/* Lower the calling (background job) thread's CPU priority. */
void tui_job_lower_priority(void);

#endif
