/* The compiler's intermediate representation: a graph of nodes and tensors
 * loaded from ONNX, annotated by the passes with symbolic shapes, small
 * known values (shape arithmetic), spatial axis tags and locality.
 *
 * Everything is addressed by index (int) into the graph's arrays so passes can
 * grow the arrays without invalidating references. */
#ifndef LSCC_IR_H
#define LSCC_IR_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "sym.h"

#define LSCC_MAX_RANK 8
/* Tensors up to this many elements carry their values symbolically (shape
 * computation subgraphs); larger constants only carry raw bytes. */
#define LSCC_MAX_VALS 64

/* Element types: the ONNX TensorProto.DataType numbering. */
enum {
    LSCC_DT_UNDEF = 0, LSCC_DT_F32 = 1, LSCC_DT_U8 = 2, LSCC_DT_I8 = 3, LSCC_DT_U16 = 4,
    LSCC_DT_I16 = 5, LSCC_DT_I32 = 6, LSCC_DT_I64 = 7, LSCC_DT_STRING = 8, LSCC_DT_BOOL = 9,
    LSCC_DT_F16 = 10, LSCC_DT_F64 = 11, LSCC_DT_U32 = 12, LSCC_DT_U64 = 13, LSCC_DT_BF16 = 16
};
size_t lscc_dtype_size(int dt);   /* 0 for unknown/string */
const char *lscc_dtype_name(int dt);
int lscc_dtype_is_float(int dt);

/* Spatial axis tags: what a tensor dimension means for streaming. */
enum { LSCC_AX_OTHER = 0, LSCC_AX_H = 1, LSCC_AX_W = 2 };

typedef enum lscc_tensor_kind {
    LSCC_T_ACT = 0,  /* produced by a node */
    LSCC_T_INPUT,    /* graph input fed at run time */
    LSCC_T_CONST     /* initializer, Constant node, or folded value */
} lscc_tensor_kind;

typedef struct lscc_tensor {
    char *name;
    lscc_tensor_kind kind;
    int dtype;
    int rank;                       /* -1 while unknown */
    lscc_sym dims[LSCC_MAX_RANK];
    int producer;                   /* node index, -1 for inputs/constants */
    int nconsumers;                 /* filled by lscc_graph_link */
    int *consumers;                 /* node indices (a node reading twice appears twice) */

    /* Raw constant data (initializers): row-major, dtype elements. */
    const void *data;
    size_t nbytes;
    void *owned;                    /* heap block to free, if data is ours */

    /* Known values of small tensors, one lscc_sym per element, symbolic in
       the free dims: shape arithmetic is folded through these. */
    int nvals;                      /* 0 when not known */
    lscc_sym *vals;

    /* Pass annotations */
    int image_dep;                  /* depends on the image input */
    signed char axes[LSCC_MAX_RANK];/* LSCC_AX_* per dim */
    int global_dep;                 /* depends on a global (non-local) op's result */
    int initializer;                /* an ONNX initializer (a weight), not a Constant node */
    int transpose_of;               /* 1 + the 2-D initializer this folded constant transposes, else 0
                                       (Linear weights exported as Transpose(W): gradients belong to W) */
} lscc_tensor;

typedef enum lscc_attr_type {
    LSCC_A_NONE = 0, LSCC_A_FLOAT = 1, LSCC_A_INT = 2, LSCC_A_STRING = 3, LSCC_A_TENSOR = 4,
    LSCC_A_GRAPH = 5, LSCC_A_FLOATS = 6, LSCC_A_INTS = 7, LSCC_A_STRINGS = 8
} lscc_attr_type;

typedef struct lscc_attr {
    char *name;
    lscc_attr_type type;
    int64_t i;
    double f;
    char *s;          /* NUL terminated copy */
    int n;            /* count for INTS / FLOATS */
    int64_t *ints;
    double *floats;
    int tensor;       /* tensor index for TENSOR attributes, else -1 */
} lscc_attr;

/* Locality of a node, as decided by the locality pass. */
typedef enum lscc_locality {
    LSCC_LOC_NONE = 0,     /* not image dependent (weights, shape arithmetic) */
    LSCC_LOC_LOCAL,        /* each output position reads a bounded input window */
    LSCC_LOC_GLOBAL,       /* mixes spatial positions without bound */
    LSCC_LOC_UNSUPPORTED   /* lscc cannot stream this op (reason in why) */
} lscc_locality;

/* The input window of a local op along one spatial axis (DESIGN.md section 2):
 * output [a, b) reads input [a*s - p0, (b-1)*s - p0 + d*(k-1) + 1). */
typedef struct lscc_window {
    int64_t k, s, d, p0, p1;
} lscc_window;

struct lscc_op_desc;

typedef struct lscc_node {
    char *name;
    char *op_type;
    char *domain;
    int ninputs, noutputs, nattrs;
    int *inputs;                   /* tensor indices; -1 for an omitted optional input */
    int *outputs;
    lscc_attr *attrs;
    const struct lscc_op_desc *desc; /* NULL when lscc does not know the op */
    int dead;                      /* removed by a pass */

    /* Locality pass results */
    lscc_locality loc;
    lscc_window win[2];            /* [0]: H, [1]: W; identity for pointwise ops */
    char why[160];                 /* why GLOBAL / UNSUPPORTED */
    char *folded_bn;               /* name of a BatchNormalization folded into this Conv */
} lscc_node;

typedef struct lscc_graph {
    char *name;
    char *producer;                /* "pytorch 1.13.0" */
    int64_t ir_version;
    int64_t opset;                 /* default domain */
    int ntensors, nnodes, ninputs, noutputs;
    int tcap, ncap;
    lscc_tensor *tensors;
    lscc_node *nodes;              /* topologically ordered after lscc_graph_link */
    int *inputs;                   /* graph inputs that are not initializers */
    int *outputs;
    lscc_symtab *syms;
    int image;                     /* the image input tensor, -1 if none */
    /* name -> tensor index */
    int *tmap;
    int tmap_cap;
    /* memory maps held for external data */
    int nmaps;
    struct lscc_map { void *addr; size_t len; } *maps;
} lscc_graph;

lscc_graph *lscc_graph_new(void);
void lscc_graph_free(lscc_graph *g);

/* Finds a tensor by name; -1 if absent. */
int lscc_graph_find(const lscc_graph *g, const char *name);
/* Finds or creates the tensor of that name; -1 on OOM. */
int lscc_graph_tensor(lscc_graph *g, const char *name);
/* Appends a node (name, op copied); returns its index or -1 on OOM. */
int lscc_graph_add_node(lscc_graph *g, const char *name, const char *op_type, const char *domain);

/* Computes producers and consumers, checks that every tensor is produced
 * once and that the graph is acyclic, and sorts nodes topologically. */
lscc_status lscc_graph_link(lscc_graph *g, lscc_diag *d);

/* Attribute lookup; NULL when absent. */
const lscc_attr *lscc_attr_find(const lscc_node *n, const char *name);
int64_t lscc_attr_int(const lscc_node *n, const char *name, int64_t def);
double lscc_attr_float(const lscc_node *n, const char *name, double def);
const char *lscc_attr_str(const lscc_node *n, const char *name, const char *def);
/* Integer list: count, or -1 when absent. */
int lscc_attr_ints(const lscc_node *n, const char *name, const int64_t **out);

/* Input/output tensor of a node, NULL when absent or omitted. */
lscc_tensor *lscc_in(lscc_graph *g, const lscc_node *n, int i);
lscc_tensor *lscc_out(lscc_graph *g, const lscc_node *n, int i);

/* Number of elements as a symbol (product of dims). */
lscc_sym lscc_tensor_numel(lscc_graph *g, const lscc_tensor *t);
/* Number of elements when every dim is constant; -1 otherwise or on overflow. */
int64_t lscc_tensor_numel_const(const lscc_graph *g, const lscc_tensor *t);

/* Reads element i of a tensor with raw data as double (any numeric dtype). */
int lscc_tensor_get(const lscc_tensor *t, size_t i, double *v);
/* Fills t->vals from raw data when small enough (done by the loader). */
lscc_status lscc_tensor_vals_from_data(lscc_graph *g, lscc_tensor *t);
/* Sets constant dims from an int64 list. */
void lscc_tensor_set_shape(lscc_graph *g, lscc_tensor *t, int rank, const int64_t *dims);

/* A copy of s (NULL on OOM). */
char *lscc_strdup(const char *s);
/* Formats a tensor's shape ("1x64xH/4xW/4") into buf. */
const char *lscc_shape_str(const lscc_graph *g, const lscc_tensor *t, char *buf, size_t n);

#endif
