/* Front end on real exports: every model of the zoo loads, its sizes agree
 * with ONNX's shape inference and PyTorch at concrete image sizes, it splits
 * where the model's own structure says (the input of the head's pooling),
 * and models with squeeze-excite at high resolution are rejected with every
 * offending node named. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load/load.h"
#include "plan/plan.h"
#include "support.h"

static const char *accepted[] = {"resnet18", "resnet50", "mobilenet_v2", "densenet121", "convnext_tiny",
                                 "vgg11_features", "syn_stride3_dil", "syn_depthwise", "syn_pads", "syn_residual",
                                 "syn_concat", "syn_shuffle", "syn_flatten_view", "syn_layernorm",
                                 /* other opsets (LayerNormalization at 17, attribute axes at 11), external data */
                                 "resnet18_op11", "resnet18_op17", "syn_layernorm_op17", "syn_shuffle_op11",
                                 "resnet18_onefile", "resnet18_pertensor", "resnet18_bn"};
static const char *rejected[] = {"efficientnet_b0", "syn_se_late"};
#define COUNT(a) ((int)(sizeof a / sizeof a[0]))

static lscc_model *load(const char *name, const char *split, lscc_diag *d, lscc_status *st) {
    lscc_options opt = {split, 2048, 224, 224, 1, 0, 0};
    lscc_model *m = NULL;
    lscc_diag_init(d);
    *st = lscc_model_load(model_path(name, ".onnx"), &opt, &m, d);
    return m;
}

START_TEST(splits_at_the_head) {
    const char *name = accepted[_i];
    expect_line *e;
    int n = read_expect(name, &e), checked = 0;
    lscc_diag d;
    lscc_status st;
    lscc_model *m = load(name, NULL, &d, &st);
    ck_assert_msg(st == LSCC_OK, "%s: %s", name, d.text ? d.text : "?");
    for (int i = 0; i < n; i++) {
        if (strcmp(e[i].kind, "split") != 0) continue;
        ck_assert_str_eq(m->g->tensors[m->split.tensor].name, e[i].name);
        checked++;
    }
    ck_assert_int_eq(checked, 1);
    /* every streamed node is local; the split tensor still has H and W */
    for (int i = 0; i < m->g->nnodes; i++)
        if (m->split.in_backbone[i]) ck_assert_int_eq(m->g->nodes[i].loc, LSCC_LOC_LOCAL);
    ck_assert_int_gt(m->split.nbackbone, 0);
    lscc_model_free(m);
    lscc_diag_free(&d);
    free(e);
}
END_TEST

START_TEST(sizes_match_onnx_and_pytorch) {
    const char *name = _i < COUNT(accepted) ? accepted[_i] : rejected[_i - COUNT(accepted)];
    expect_line *e;
    int n = read_expect(name, &e), compared = 0, shapes = 0;
    lscc_diag d;
    lscc_status st;
    /* rejected models are analysed with a split before their first global op */
    lscc_options opt = {NULL, 2048, 0, 0, 1, 0, 0};
    lscc_model *m = NULL;
    lscc_diag_init(&d);
    st = lscc_model_load(model_path(name, ".onnx"), &opt, &m, &d);
    if (st == LSCC_E_UNSUPPORTED) {
        /* shapes are checked on the graph itself, split or not */
        lscc_diag_free(&d);
        lscc_diag_init(&d);
        lscc_graph *g = NULL;
        ck_assert_int_eq(lscc_load_onnx(model_path(name, ".onnx"), &g, &d), LSCC_OK);
        ck_assert_int_eq(lscc_infer_shapes(g, &d), LSCC_OK);
        lscc_model tmp = {g, {-1, 0, NULL, 0}, 0, NULL};
        m = malloc(sizeof *m);
        *m = tmp;
    }
    ck_assert_msg(m != NULL, "%s: %s", name, d.text ? d.text : "?");
    lscc_plan p = {0};
    p.m = m;
    int have_output = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(e[i].kind, "shape") != 0) continue;
        shapes++;
        int ti = lscc_graph_find(m->g, e[i].name);
        if (ti < 0) continue; /* folded away (BatchNorm, constants) */
        const lscc_tensor *t = &m->g->tensors[ti];
        if (t->rank < 0) continue;
        ck_assert_msg(t->rank == e[i].rank, "%s: '%s' rank %d, ONNX says %d", name, t->name, t->rank, e[i].rank);
        for (int k = 0; k < t->rank; k++) {
            int64_t v = lscc_plan_dim(&p, t, k, e[i].n, e[i].h, e[i].w);
            ck_assert_msg(v == e[i].dims[k], "%s at %lldx%lldx%lld: '%s' dim %d is %lld, reference says %lld", name,
                          (long long)e[i].n, (long long)e[i].h, (long long)e[i].w, t->name, k, (long long)v,
                          (long long)e[i].dims[k]);
        }
        if (strcmp(e[i].name, "output") == 0) have_output++;
        compared++;
    }
    ck_assert_msg(shapes > 0 && compared * 2 >= shapes, "%s: only %d of %d reference shapes compared", name, compared,
                  shapes);
    ck_assert_int_gt(have_output, 0);
    if (st == LSCC_E_UNSUPPORTED) {
        lscc_graph_free(m->g);
        free(m);
    } else {
        lscc_model_free(m);
    }
    lscc_diag_free(&d);
    free(e);
}
END_TEST

START_TEST(rejects_every_global_block) {
    const char *name = rejected[_i];
    expect_line *e;
    int n = read_expect(name, &e), expected = 0;
    lscc_diag d;
    lscc_status st;
    lscc_model *m = load(name, NULL, &d, &st);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(st, LSCC_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(d.text);
    for (int i = 0; i < n; i++) {
        if (strcmp(e[i].kind, "reject") != 0) continue;
        char quoted[600];
        snprintf(quoted, sizeof quoted, "node '%s' (", e[i].name);
        ck_assert_msg(strstr(d.text, quoted) != NULL, "%s: diagnostic does not name %s:\n%s", name, e[i].name, d.text);
        expected++;
    }
    ck_assert_int_gt(expected, 0);
    int listed = 0;
    for (const char *p = d.text; (p = strstr(p, "\n  node '")); p++) listed++;
    ck_assert_msg(listed == expected, "%s: %d nodes listed, %d expected:\n%s", name, listed, expected, d.text);
    ck_assert_msg(strstr(d.text, "--split") != NULL, "no way out offered:\n%s", d.text);
    /* the suggested split works */
    const char *sug = strstr(d.text, "--split '");
    ck_assert_ptr_nonnull(sug);
    char split[512];
    sug += strlen("--split '");
    snprintf(split, sizeof split, "%.*s", (int)strcspn(sug, "'"), sug);
    lscc_diag d2;
    m = load(name, split, &d2, &st);
    ck_assert_msg(st == LSCC_OK, "suggested --split '%s' fails: %s", split, d2.text ? d2.text : "");
    ck_assert_str_eq(m->g->tensors[m->split.tensor].name, split);
    lscc_model_free(m);
    lscc_diag_free(&d2);
    lscc_diag_free(&d);
    free(e);
}
END_TEST

/* Frozen BatchNorm folded into the Conv before it equals PyTorch's own fusion
 * (torch.nn.utils.fusion), with random statistics and per-node epsilons. */
static float *read_floats(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    float *v = malloc((size_t)len);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(fread(v, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len / sizeof(float);
    return v;
}

static double max_rel_diff(const lscc_tensor *t, const float *ref, size_t n) {
    double err = 0, scale = 0, v;
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(lscc_tensor_get(t, i, &v), 0);
        if (fabs(v - ref[i]) > err) err = fabs(v - ref[i]);
        if (fabs(ref[i]) > scale) scale = fabs(ref[i]);
    }
    return err / scale;
}

START_TEST(batchnorm_folds_like_pytorch) {
    expect_line *e;
    int n = read_expect("resnet18_bn", &e), fused = 0;
    lscc_diag d;
    lscc_status st;
    lscc_model *m = load("resnet18_bn", NULL, &d, &st);
    ck_assert_msg(st == LSCC_OK, "%s", d.text ? d.text : "");
    for (int i = 0; i < m->g->nnodes; i++) ck_assert_str_ne(m->g->nodes[i].op_type, "BatchNormalization");
    for (int i = 0; i < n; i++) {
        if (strcmp(e[i].kind, "fused") != 0) continue;
        int wi = lscc_graph_find(m->g, e[i].name);
        ck_assert_msg(wi >= 0, "conv weight '%s' not found", e[i].name);
        const lscc_tensor *w = &m->g->tensors[wi];
        ck_assert_int_eq(w->nconsumers, 1);
        const lscc_node *conv = &m->g->nodes[w->consumers[0]];
        ck_assert_str_eq(conv->op_type, "Conv");
        ck_assert_ptr_nonnull(conv->folded_bn);
        const lscc_tensor *b = lscc_in(m->g, conv, 2);
        ck_assert_ptr_nonnull(b);
        size_t nref, nw = (size_t)lscc_tensor_numel_const(m->g, w), nb = (size_t)lscc_tensor_numel_const(m->g, b);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", env_or_skip("LSCC_TEST_MODELS"), e[i].extra);
        float *ref = read_floats(path, &nref);
        ck_assert_uint_eq(nref, nw + nb);
        double ew = max_rel_diff(w, ref, nw), eb = max_rel_diff(b, ref + nw, nb);
        ck_assert_msg(ew <= 1e-5 && eb <= 1e-5, "%s: folded weights differ from PyTorch's by %g, bias by %g",
                      e[i].name, ew, eb);
        free(ref);
        fused++;
    }
    ck_assert_int_eq(m->nfolded_bn, fused);
    ck_assert_int_eq(fused, 20);
    lscc_model_free(m);
    lscc_diag_free(&d);
    free(e);
}
END_TEST

/* --split: an earlier tensor on every path works and streams less; a tensor
 * that a residual connection bypasses is refused with the reason. */
START_TEST(user_split_is_checked) {
    lscc_diag d;
    lscc_status st;
    lscc_model *full = load("resnet18", NULL, &d, &st);
    ck_assert_int_eq(st, LSCC_OK);
    lscc_diag_free(&d);
    lscc_model *m = load("resnet18", "/layer3/layer3.1/relu_1/Relu_output_0", &d, &st);
    ck_assert_msg(st == LSCC_OK, "%s", d.text ? d.text : "");
    ck_assert_int_eq(m->split.auto_chosen, 0);
    ck_assert_int_lt(m->split.nbackbone, full->split.nbackbone);
    ck_assert_int_gt(m->split.nbackbone, 0);
    lscc_model_free(m);
    lscc_diag_free(&d);
    m = load("resnet18", "/layer4/layer4.1/relu/Relu_output_0", &d, &st);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(st, LSCC_E_UNSUPPORTED);
    ck_assert_msg(strstr(d.text, "bypasses the split") && strstr(d.text, "/layer4/layer4.1/Add"), "%s", d.text);
    lscc_diag_free(&d);
    lscc_model_free(full);
}
END_TEST

/* The output tile is the largest whose exact image region (walked node by
 * node, not from the closed form) fits in --tile, for every tile size. */
START_TEST(tile_is_the_largest_that_fits) {
    const char *name = _i == 0 ? "resnet18" : "syn_stride3_dil";
    for (int64_t tile = 200; tile <= 5000; tile += 397) {
        lscc_options opt = {NULL, tile, 20000, 30000, 1, 0, 0};
        lscc_diag d;
        lscc_diag_init(&d);
        lscc_model *m = NULL;
        lscc_plan *p = NULL;
        ck_assert_int_eq(lscc_model_load(model_path(name, ".onnx"), &opt, &m, &d), LSCC_OK);
        lscc_status st = lscc_plan_build(m, &opt, &p, &d);
        if (st == LSCC_E_UNSUPPORTED) { /* below the receptive field: the message says so */
            ck_assert_ptr_nonnull(strstr(d.text, "receptive field"));
            lscc_model_free(m);
            lscc_diag_free(&d);
            continue;
        }
        ck_assert_int_eq(st, LSCC_OK);
        const lscc_graph *g = m->g;
        int64_t *box = malloc(sizeof(int64_t) * 4 * (size_t)g->ntensors);
        ck_assert_ptr_nonnull(box);
        for (int grow = 0; grow < 2; grow++) { /* an interior tile, then one output larger */
            int64_t th = p->out_tile[0] + grow, tw = p->out_tile[1] + grow, y0 = 3 * th, x0 = 5 * tw;
            ck_assert_int_eq(lscc_plan_regions(p, 1, 20000, 30000, y0, y0 + th, x0, x0 + tw, box), 0);
            int64_t worst = 0;
            for (int t = 0; t < g->ntensors; t++) {
                if (box[t * 4] < 0) continue;
                int64_t h = box[t * 4 + 1] - box[t * 4], w = box[t * 4 + 3] - box[t * 4 + 2];
                if (h > worst) worst = h;
                if (w > worst && !grow) worst = w;
                if (!grow) {
                    ck_assert_int_eq(h, lscc_plan_region_side(p, t, 0));
                    ck_assert_int_eq(w, lscc_plan_region_side(p, t, 1));
                }
            }
            const int64_t *bx = &box[g->image * 4];
            if (!grow) ck_assert_msg(worst <= tile, "%s tile %lld: a region of %lld", name, (long long)tile,
                                     (long long)worst);
            else ck_assert_msg(bx[1] - bx[0] > tile || bx[3] - bx[2] > tile, "%s tile %lld: a larger tile fits",
                               name, (long long)tile);
        }
        free(box);
        lscc_plan_free(p);
        lscc_model_free(m);
        lscc_diag_free(&d);
    }
}
END_TEST

static void add_tests(TCase *tc) {
    tcase_add_test(tc, user_split_is_checked);
    tcase_add_loop_test(tc, tile_is_the_largest_that_fits, 0, 2);
    tcase_add_loop_test(tc, splits_at_the_head, 0, COUNT(accepted));
    tcase_add_loop_test(tc, sizes_match_onnx_and_pytorch, 0, COUNT(accepted) + COUNT(rejected));
    tcase_add_loop_test(tc, rejects_every_global_block, 0, COUNT(rejected));
    tcase_add_test(tc, batchnorm_folds_like_pytorch);
}

int main(void) { return run_suite("models", add_tests, 600); }
