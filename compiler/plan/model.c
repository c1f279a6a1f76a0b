/* The compiler front end: ONNX file -> analysed graph with its split. */
#include <stdlib.h>

#include "../load/load.h"
#include "plan.h"

lscc_status lscc_model_load(const char *path, const lscc_options *opt, lscc_model **out, lscc_diag *d) {
    *out = NULL;
    lscc_model *m = calloc(1, sizeof *m);
    if (!m) return lscc_error(d, LSCC_E_NOMEM, "out of memory");
    m->split.tensor = -1;
    m->path = lscc_strdup(path);
    lscc_status st = m->path ? LSCC_OK : lscc_error(d, LSCC_E_NOMEM, "out of memory");
    if (!st) st = lscc_load_onnx(path, &m->g, d);
    if (!st) st = lscc_infer_shapes(m->g, d);
    if (!st && !(opt && opt->train_bn_affine)) st = lscc_fold_batchnorm(m->g, &m->nfolded_bn, d);
    if (!st) st = lscc_locality_pass(m->g, d);
    if (!st) st = lscc_split_graph(m->g, opt ? opt->split : NULL, opt ? opt->image_h : 0, opt ? opt->image_w : 0,
                                   &m->split, d);
    if (st) {
        lscc_model_free(m);
        return st;
    }
    *out = m;
    return LSCC_OK;
}

void lscc_model_free(lscc_model *m) {
    if (!m) return;
    lscc_split_free(&m->split);
    lscc_graph_free(m->g);
    free(m->path);
    free(m);
}
