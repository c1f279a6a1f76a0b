/* Exact streaming, forward: the plan's tiles run by the reference executor
 * (compiler/exec) with the CPU kernels, stitched, equal PyTorch's backbone
 * on the whole image in float64 (max|a-b| / max|b| <= 1e-10), for image
 * sizes that divide by nothing, batch 1 and 2, and tile sizes from one tile
 * holding the whole image to dozens of tiles. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec/stream_ref.h"
#include "support.h"

typedef struct {
    const char *name;
    int64_t n, h, w;
    int split; /* the many-tile run cuts the split tensor into about split x split tiles */
} stream_case;

/* Sizes keep the sanitizer build fast: a tile recomputes its whole halo, and
 * resnet18's receptive field (435) covers most of a small image. */
static const stream_case cases[] = {
    {"syn_stride3_dil", 1, 517, 389, 6}, {"syn_depthwise", 2, 131, 97, 6}, {"syn_pads", 1, 203, 151, 6},
    {"syn_concat", 2, 119, 87, 6},       {"syn_residual_f64", 1, 157, 141, 6}, {"vgg11_features", 1, 190, 173, 4},
    {"resnet18_f64", 1, 161, 135, 3},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

START_TEST(stitched_tiles_equal_the_whole_image) {
    const stream_case *c = &cases[_i];
    char dir[] = "/tmp/lscc_stream_XXXXXX", args[4][32], script[4096], path[4200];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(script, sizeof script, "%s/run_backbone.py", env_or_skip("LSCC_TEST_PY"));
    snprintf(args[0], 32, "%lld", (long long)c->n);
    snprintf(args[1], 32, "%lld", (long long)c->h);
    snprintf(args[2], 32, "%lld", (long long)c->w);
    snprintf(args[3], 32, "%d", 11 + _i);
    char *argv[] = {(char *)env_or_skip("LSCC_PYTHON"), script, (char *)c->name, args[0], args[1], args[2], args[3],
                    dir, NULL};
    char *out;
    ck_assert_msg(run_capture(argv, &out) == 0, "%s", out);
    free(out);
    size_t nimg, nref;
    snprintf(path, sizeof path, "%s/image.bin", dir);
    double *image = read_f64_file(path, 0, &nimg);
    unlink(path);
    snprintf(path, sizeof path, "%s/backbone.bin", dir);
    double *ref = read_f64_file(path, 0, &nref);
    unlink(path);
    rmdir(dir);
    ck_assert_uint_eq(nimg, (size_t)(c->n * 3 * c->h * c->w));
    double *y = malloc(sizeof(double) * nref);
    ck_assert_ptr_nonnull(y);
    /* from one tile for the whole image down to many small ones */
    int64_t tiles_seen[3] = {0, 0, 0}, tile_sizes[3] = {1 << 20, 0, 0};
    lscc_options opt = {NULL, 1 << 20, c->h, c->w, c->n, 0, 0};
    lscc_diag d;
    lscc_diag_init(&d);
    lscc_model *m = NULL;
    ck_assert_msg(lscc_model_load(model_path(c->name, ".onnx"), &opt, &m, &d) == LSCC_OK, "%s", d.text);
    for (int k = 0; k < 3; k++) {
        lscc_plan *p = NULL;
        if (k > 0) { /* about split x split tiles, then about 2 x 2 */
            lscc_plan *q = NULL;
            ck_assert_int_eq(lscc_plan_build(m, &opt, &q, &d), LSCC_OK);
            const lscc_tensor *ty = &m->g->tensors[m->split.tensor];
            const lscc_region *rx = &q->reg[m->g->image];
            int div = k == 1 ? c->split : 2;
            for (int a = 0; a < 2; a++) {
                int64_t size = lscc_plan_dim(q, ty, 2 + a, c->n, c->h, c->w), t = (size + div - 1) / div;
                int64_t need = (t - 1) * rx->S[a] + rx->hi[a] - rx->lo[a];
                if (need > tile_sizes[k]) tile_sizes[k] = need;
            }
            lscc_plan_free(q);
        }
        lscc_options o = opt;
        o.tile = tile_sizes[k];
        ck_assert_msg(lscc_plan_build(m, &o, &p, &d) == LSCC_OK, "%s", d.text);
        const lscc_tensor *ty = &m->g->tensors[m->split.tensor];
        int64_t hy = lscc_plan_dim(p, ty, 2, c->n, c->h, c->w), wy = lscc_plan_dim(p, ty, 3, c->n, c->h, c->w);
        tiles_seen[k] = ((hy + p->out_tile[0] - 1) / p->out_tile[0]) * ((wy + p->out_tile[1] - 1) / p->out_tile[1]);
        ck_assert_uint_eq(nref, (size_t)(c->n * lscc_plan_dim(p, ty, 1, c->n, c->h, c->w) * hy * wy));
        char why[256];
        memset(y, 0, sizeof(double) * nref);
        ck_assert_msg(lscc_stream_forward_f64(p, c->n, c->h, c->w, image, y, why, sizeof why) == 0, "%s", why);
        double err = max_rel_err(y, ref, nref);
        ck_assert_msg(err <= 1e-10, "%s %lldx%lldx%lld, tile %lld (%lld tiles of %lldx%lld): relative error %g",
                      c->name, (long long)c->n, (long long)c->h, (long long)c->w, (long long)tile_sizes[k],
                      (long long)tiles_seen[k], (long long)p->out_tile[0], (long long)p->out_tile[1], err);
        lscc_plan_free(p);
    }
    ck_assert_int_eq(tiles_seen[0], 1);
    ck_assert_int_ge(tiles_seen[1], 9);
    ck_assert_int_gt(tiles_seen[2], 1);
    lscc_model_free(m);
    lscc_diag_free(&d);
    free(y);
    free(image);
    free(ref);
}
END_TEST

static void add_tests(TCase *tc) { tcase_add_loop_test(tc, stitched_tiles_equal_the_whole_image, 0, NCASES); }

int main(void) { return run_suite("stream", add_tests, 900); }
