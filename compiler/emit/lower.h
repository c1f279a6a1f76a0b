/* Lowering: the planned graph as the flat list of kernel-level ops that the
 * C emitter prints, with the weights file's buffers and the tile arena laid
 * out. Everything the generated code does is decided here; emit_c.c only
 * prints it. */
#ifndef LSCC_LOWER_H
#define LSCC_LOWER_H

#include "../plan/plan.h"

typedef enum lscc_lk {
    LK_CONV, LK_MAXPOOL, LK_AVGPOOL, LK_PAD, LK_CONCAT, LK_AFFINE, LK_UNARY, LK_BIN, LK_BINC,
    LK_COPY, LK_GAP, LK_GEMM, LK_MATMUL, LK_SOFTMAX, LK_LAYERNORM, LK_CHANPERM, LK_CHANMM
} lscc_lk;

typedef enum lscc_un {
    UN_RELU, UN_LEAKY, UN_CLIP, UN_SIGMOID, UN_TANH, UN_HSIGMOID, UN_HSWISH, UN_ERF
} lscc_un;

typedef struct lscc_lop {
    lscc_lk kind;
    int node;          /* IR node it comes from */
    int bb;            /* runs per tile */
    int nin;
    int *in;           /* lowered tensor indices */
    int out;
    int w, b;          /* buffer indices, -1 = none */
    int mean, invstd;  /* trainable BatchNorm: frozen statistics (buffers) */
    lscc_un un;
    char bop;          /* '+', '-', '*', '/' */
    double a0, a1;     /* alpha/beta, clip bounds, pad fill, eps, gemm alpha/beta */
    int flag;          /* count_include_pad; gemm transA | transB << 1 */
    int fused;         /* CPU code: Conv: a ReLU follows in its output (ReLU: its forward is the Conv's) */
    int direct;        /* backbone Add: the runtime's block moves read both inputs in their own regions (no views) */
    int64_t geo[13];   /* kh kw sh sw dh dw p0h p0w p1h p1w groups (conv, pools) */
    int64_t oc;
    int64_t bn, bc, bhw; /* BINC / affine / gemm-C broadcast: outer, channels, inner */
    int ax;              /* stored axis a constant broadcasts along / LayerNorm normalizes */
    int64_t m, k, n;     /* gemm / matmul sizes (head; constants known at compile time) */
    int *src;            /* LK_CHANPERM: output channel c reads input channel src[c] */
} lscc_lop;

typedef struct lscc_ltensor {
    int ir;            /* IR tensor */
    int bb;
    /* Streamed tensors are stored N x C x H x W whatever their ONNX layout:
       logical dim i is stored as dim perm[i] (channels-last tensors of
       ConvNeXt blocks are the same memory as their NCHW source). */
    signed char perm[4];
    int grad;          /* needs a gradient */
    int64_t c;         /* channels */
    int64_t side[2];   /* interior region */
    int64_t live[2];   /* forward: producer op .. last reader (image: -1) */
    int64_t glive[2];  /* gradient, in backward order: first writer .. producer */
    int alias;         /* the tensor whose buffer this one is computed in (in place), or -1 */
    int galias;        /* the tensor whose gradient buffer this one's gradient is (in-place ReLU / Clip backward), or -1 */
} lscc_ltensor;

typedef struct lscc_lbuf {
    int ir;            /* IR tensor holding the values, or -1 (derived) */
    char *name;        /* ONNX name (or derived) */
    const char *folded_bn;
    int trainable;
    int rank;
    int64_t dims[4];
    size_t count, offset;
    double *vals;      /* values in double */
    int readers;       /* ops that read it (trainable buffers read by several are trained as one tensor) */
} lscc_lbuf;

typedef struct lscc_prog {
    const lscc_plan *p;
    int nt, nop, nbuf;
    lscc_ltensor *t;
    lscc_lop *op;
    lscc_lbuf *buf;
    int *tmap;         /* IR tensor -> lowered tensor or -1 */
    int image, split, output;
    size_t weights_count;
} lscc_prog;

/* Lowers p's model; on ops that lscc cannot run fails with one diagnostic
 * listing every such node. */
lscc_status lscc_lower(const lscc_plan *p, int train_bn_affine, lscc_prog **out, lscc_diag *d);
/* Whether op o reads an input cut to its output's region through
 * lscc_rt_view / lscc_rt_gview (a scratch slot when the regions differ);
 * the rule table tells the runtime which inputs do (lscc_rt_rule.direct). */
int lscc_lop_reads_views(const lscc_lop *o);
void lscc_prog_free(lscc_prog *g);

typedef struct lscc_emit_options {
    const char *name;      /* model / prefix name */
    const char *outdir;
    int f64;               /* --precision f64 */
    int cpu, cuda;         /* --target: which of NAME.c and NAME.cu to write */
    const char *cmdline;   /* for provenance */
} lscc_emit_options;

/* Bytes of the tile arena the runtime lays out for an interior tile of
 * this program (scratch included), batch items of esize-byte elements:
 * forward only, and training (the context a training program creates).
 * Returns 0, or -1 out of memory. */
int lscc_prog_tile_bytes(const lscc_prog *g, int64_t batch, int esize, int64_t *infer, int64_t *train);

/* Writes <name>.h, <name>.c (target cpu) and / or <name>.cu (target cuda),
 * <name>.weights, <name>_run.c, CMakeLists.txt. */
lscc_status lscc_emit_c(const lscc_prog *g, const lscc_emit_options *o, lscc_diag *d);

#endif
