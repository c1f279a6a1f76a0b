/* Receptive fields and halos against an independent measurement: PyTorch's
 * gradient of one backbone output position with respect to the image is
 * nonzero exactly inside the window lscc reports (python/measure_rf.py).
 * Several positions per model, corners and borders included, on image sizes
 * that divide by nothing. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/plan.h"
#include "support.h"

typedef struct {
    const char *name;
    int64_t h, w;
} rf_case;

static const rf_case cases[] = {
    {"syn_stride3_dil", 517, 389}, {"syn_depthwise", 517, 389}, {"syn_pads", 517, 389},
    {"syn_residual", 517, 389},    {"syn_concat", 517, 389},    {"syn_shuffle", 517, 389},
    {"syn_flatten_view", 517, 389}, {"syn_layernorm", 517, 389}, {"vgg11_features", 301, 259},
    {"resnet18", 301, 259},        {"resnet50", 261, 229},      {"mobilenet_v2", 261, 229},
    {"densenet121", 261, 229},     {"convnext_tiny", 261, 229},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

START_TEST(gradient_support_is_the_reported_window) {
    const rf_case *c = &cases[_i];
    lscc_options opt = {NULL, 1 << 20, c->h, c->w, 1, 0, 0};
    lscc_diag d;
    lscc_diag_init(&d);
    lscc_model *m = NULL;
    lscc_plan *p = NULL;
    ck_assert_msg(lscc_model_load(model_path(c->name, ".onnx"), &opt, &m, &d) == LSCC_OK, "%s", d.text);
    ck_assert_msg(lscc_plan_build(m, &opt, &p, &d) == LSCC_OK, "%s", d.text);
    const lscc_graph *g = m->g;
    int y = m->split.tensor;
    int64_t hy = lscc_plan_dim(p, &g->tensors[y], p->reg[y].dim[0], 1, c->h, c->w);
    int64_t wy = lscc_plan_dim(p, &g->tensors[y], p->reg[y].dim[1], 1, c->h, c->w);
    ck_assert(hy > 0 && wy > 0);
    int64_t pos[][2] = {{0, 0}, {hy - 1, wy - 1}, {hy / 2, wy / 2}, {0, wy - 1}, {hy - 1, 0}, {hy / 3, 1 % wy}};
    int npos = 6;
    char hs[32], ws[32], ps[6][48];
    snprintf(hs, sizeof hs, "%lld", (long long)c->h);
    snprintf(ws, sizeof ws, "%lld", (long long)c->w);
    char script[4096];
    snprintf(script, sizeof script, "%s/measure_rf.py", env_or_skip("LSCC_TEST_PY"));
    char *argv[16] = {(char *)env_or_skip("LSCC_PYTHON"), script, (char *)c->name, hs, ws};
    for (int k = 0; k < npos; k++) {
        snprintf(ps[k], sizeof ps[k], "%lld,%lld", (long long)pos[k][0], (long long)pos[k][1]);
        argv[5 + k] = ps[k];
    }
    argv[5 + npos] = NULL;
    char *out;
    int rc = run_capture(argv, &out);
    ck_assert_msg(rc == 0, "measure_rf.py failed (%d):\n%s", rc, out);
    int64_t *box = malloc(sizeof(int64_t) * 4 * (size_t)g->ntensors);
    ck_assert_ptr_nonnull(box);
    int seen = 0;
    for (char *line = out; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        long long v[6];
        if (sscanf(line, "%lld %lld %lld %lld %lld %lld", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) continue;
        ck_assert_int_eq(lscc_plan_regions(p, 1, c->h, c->w, v[0], v[0] + 1, v[1], v[1] + 1, box), 0);
        const int64_t *bx = &box[g->image * 4];
        ck_assert_msg(bx[0] == v[2] && bx[1] == v[3] && bx[2] == v[4] && bx[3] == v[5],
                      "%s %lldx%lld, output (%lld,%lld): lscc window rows [%lld,%lld) cols [%lld,%lld), PyTorch "
                      "gradient support rows [%lld,%lld) cols [%lld,%lld)", c->name, (long long)c->h,
                      (long long)c->w, v[0], v[1], (long long)bx[0], (long long)bx[1], (long long)bx[2],
                      (long long)bx[3], v[2], v[3], v[4], v[5]);
        /* away from the borders the closed form (halo, stride) is the exact window */
        const lscc_region *r = &p->reg[g->image];
        int64_t lo0 = v[0] * r->S[0] + r->lo[0], hi0 = v[0] * r->S[0] + r->hi[0];
        int64_t lo1 = v[1] * r->S[1] + r->lo[1], hi1 = v[1] * r->S[1] + r->hi[1];
        if (lo0 >= 0 && hi0 <= c->h) {
            ck_assert_int_eq(bx[0], lo0);
            ck_assert_int_eq(bx[1], hi0);
        }
        if (lo1 >= 0 && hi1 <= c->w) {
            ck_assert_int_eq(bx[2], lo1);
            ck_assert_int_eq(bx[3], hi1);
        }
        seen++;
    }
    ck_assert_msg(seen == npos, "%s: measure_rf.py answered %d of %d positions:\n%s", c->name, seen, npos, out);
    free(box);
    free(out);
    lscc_plan_free(p);
    lscc_model_free(m);
    lscc_diag_free(&d);
}
END_TEST

static void add_tests(TCase *tc) {
    tcase_add_loop_test(tc, gradient_support_is_the_reported_window, 0, NCASES);
}

int main(void) { return run_suite("receptive_fields", add_tests, 900); }
