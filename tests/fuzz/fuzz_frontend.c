/* libFuzzer harness for the front end: bytes -> loader -> shape inference
 * -> BatchNorm folding -> locality -> split -> region plan -> exact regions
 * -> explain -> lowering (the kernel-level program, weights layout and
 * arena that the C emitter prints, with and without trained BatchNorm).
 * Any crash, sanitizer report, leak or hang is a bug: malformed models
 * must come back as an error code. */
#include <stdint.h>
#include <stdio.h>

#include "emit/lower.h"
#include "load/load.h"
#include "plan/plan.h"

static void plan_and_explain(lscc_model *m) {
    lscc_options opt = {NULL, 1024, 300, 257, 1, 0, 0};
    lscc_plan *p = NULL;
    lscc_diag d;
    lscc_diag_init(&d);
    if (lscc_plan_build(m, &opt, &p, &d) == LSCC_OK) {
        int64_t box[4 * 4096];
        if (m->g->ntensors <= 4096) lscc_plan_regions(p, 1, 300, 257, 0, 1, 0, 1, box);
        FILE *null = fopen("/dev/null", "w");
        if (null) {
            lscc_plan_explain(p, null);
            lscc_plan_explain_json(p, null);
            fclose(null);
        }
        for (int bn = 0; bn < 2; bn++) {
            lscc_prog *g = NULL;
            if (lscc_lower(p, bn, &g, &d) == LSCC_OK) lscc_prog_free(g);
        }
        lscc_plan_free(p);
    }
    lscc_diag_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lscc_diag d;
    lscc_diag_init(&d);
    lscc_graph *g = NULL;
    if (lscc_load_onnx_memory(data, size, NULL, &g, &d) == LSCC_OK) {
        lscc_model m = {g, {-1, 0, NULL, 0}, 0, "<fuzz>"};
        if (lscc_infer_shapes(g, &d) == LSCC_OK && lscc_fold_batchnorm(g, &m.nfolded_bn, &d) == LSCC_OK &&
            lscc_locality_pass(g, &d) == LSCC_OK && lscc_split_graph(g, NULL, 300, 257, &m.split, &d) == LSCC_OK) {
            plan_and_explain(&m);
            lscc_split_free(&m.split);
        }
        lscc_graph_free(g);
    }
    lscc_diag_free(&d);
    return 0;
}
