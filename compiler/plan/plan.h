/* The streaming plan: region analysis (DESIGN.md section 2) over the backbone
 * for a fixed tile size, and the compiler front end that produces it.
 *
 * Regions are kept in closed form. For an output tile covering rows [a, b) of
 * the split tensor Y, every backbone tensor t needs rows
 *     [a*S_t + lo_t, (b-1)*S_t + hi_t)      (before clipping to [0, size))
 * where S_t is t's cumulative stride relative to Y. So the halo above a tile
 * is -lo_t, below it hi_t - S_t, and the receptive field of one output
 * position on t is hi_t - lo_t. Interior tiles all have the same region
 * sizes, which is what lets generated code use compile-time shapes. */
#ifndef LSCC_PLAN_H
#define LSCC_PLAN_H

#include <stdio.h>

#include "../ir/ir.h"
#include "../passes/passes.h"

typedef struct lscc_options {
    const char *split;    /* --split tensor name, NULL = automatic */
    int64_t tile;         /* --tile: largest input region side (rows), in image pixels */
    int64_t image_h, image_w; /* --image, 0 = not given */
    int64_t batch;        /* N for byte counts (default 1) */
    int train_bn_affine;  /* keep BatchNorm unfolded, gamma and beta trainable */
    int64_t tile_w;       /* --tile HxW: largest input region width; 0 = tile (square) */
} lscc_options;

/* Per tensor, per spatial axis (0 = H, 1 = W). */
typedef struct lscc_region {
    int valid;            /* tensor is in the backbone */
    int dim[2];           /* which dim of the tensor is H / W */
    int64_t S[2], lo[2], hi[2];
} lscc_region;

typedef struct lscc_model {
    lscc_graph *g;
    lscc_split split;
    int nfolded_bn;
    char *path;
} lscc_model;

typedef struct lscc_plan {
    lscc_model *m;
    lscc_options opt;
    lscc_region *reg;     /* [g->ntensors] */
    int64_t out_tile[2];  /* output tile rows x cols at the split tensor */
    int64_t in_tile[2];   /* interior image region of one tile */
    int64_t rf[2];        /* receptive field on the image of one output position */
    int64_t min_tile;     /* smallest --tile that admits a 1x1 output tile */
    int64_t bytes_infer;  /* per interior tile, batch opt.batch, float32 */
    int64_t bytes_train;
    int64_t bytes_params; /* weights (grads are as many again when training) */
    int esize;            /* bytes per activation element (4: float32) */
} lscc_plan;

/* Load -> infer shapes -> fold BN -> locality -> split. */
lscc_status lscc_model_load(const char *path, const lscc_options *opt, lscc_model **out, lscc_diag *d);
void lscc_model_free(lscc_model *m);

/* Region analysis for opt->tile. Fails (UNSUPPORTED) when the tile is smaller
 * than the receptive field, saying which tile would work. */
lscc_status lscc_plan_build(lscc_model *m, const lscc_options *opt, lscc_plan **out, lscc_diag *d);
void lscc_plan_free(lscc_plan *p);

/* The tile as the user writes it: "N" or "HxW". */
void lscc_tile_str(const lscc_options *opt, char *buf, size_t n);

/* Exact (clipped) regions for the output box rows [y0,y1) x cols [x0,x1) of
 * Y, for a concrete image size: box[t*4 + {0,1,2,3}] = ylo, yhi, xlo, xhi of
 * every backbone tensor t (unused entries -1). Returns 0, or -1 on bad
 * arguments (box outside Y, sizes that do not evaluate). */
int lscc_plan_regions(const lscc_plan *p, int64_t n, int64_t h, int64_t w, int64_t y0, int64_t y1, int64_t x0,
                      int64_t x1, int64_t *box);

/* Concrete size of tensor t's dim i for an image size; -1 if unknown. */
int64_t lscc_plan_dim(const lscc_plan *p, const lscc_tensor *t, int i, int64_t n, int64_t h, int64_t w);

/* Side (axis 0: rows, 1: cols) and bytes of tensor t's interior region. */
int64_t lscc_plan_region_side(const lscc_plan *p, int t, int axis);
int64_t lscc_plan_region_bytes(const lscc_plan *p, int t);

/* The plan as a readable table, and as JSON. */
void lscc_plan_explain(const lscc_plan *p, FILE *f);
void lscc_plan_explain_json(const lscc_plan *p, FILE *f);

#endif
