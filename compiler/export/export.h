/* `lscc export`: trained weights back into the ONNX model.
 *
 * Generated code saves its weights as a .weights file (runtime/
 * weights_format.h). Export re-runs load, passes and lowering on the ONNX
 * file the code was generated from, so it has the same buffer table; checks
 * the file's header against it (magic, version, element size, count, layout
 * checksum, and the checksum of the ONNX file); and writes a copy of the
 * ONNX model whose initializers hold the trained values, each in its own
 * data type (float32 initializers get float32 values from a float64 file).
 *
 * BatchNorm folded into a Conv (the default lowering) is trained in its
 * folded form, so the export holds that form: the Conv gets the trained
 * weight and a bias (a new initializer when it had none), and the
 * BatchNormalization node is removed (the Conv writes its output). With
 * --train-bn-affine the BatchNormalization stays with trained gamma and beta.
 *
 * An initializer that the generated code reads in some places and the ONNX
 * graph reads in others too (an Identity alias in a node that lscc folded at
 * compile time, a BatchNorm parameter shared with a folded bias, a weight
 * shared with a folded Conv) keeps its original value for those other
 * readers; the readers that the trained buffer belongs to get a new
 * initializer. A trainable buffer that cannot be traced to the initializers
 * it came from, or a frozen one whose value changed, is an error that lists
 * every such buffer: no file is written then. */
#ifndef LSCC_EXPORT_H
#define LSCC_EXPORT_H

#include "../plan/plan.h"

typedef struct lscc_export_options {
    const char *model;    /* the ONNX file the code was generated from */
    const char *weights;  /* trained .weights file */
    const char *output;   /* written as OUTPUT.partial, renamed at the end */
    int esize;            /* --precision: 4 or 8; 0 = take the weights file's */
    int force;            /* accept weights saved from another ONNX file (same layout) */
    lscc_options opt;     /* split, tile, train_bn_affine: as for code generation */
} lscc_export_options;

typedef struct lscc_export_report {
    int updated;          /* initializers whose values changed */
    int added;            /* new initializers (folded biases, unshared copies) */
    int bn_removed;       /* BatchNormalization nodes folded into their Conv */
    int model_mismatch;   /* --force took weights of another ONNX file */
    int esize;            /* element size of the weights file */
} lscc_export_report;

lscc_status lscc_export_onnx(const lscc_export_options *o, lscc_export_report *r, lscc_diag *d);

#endif
