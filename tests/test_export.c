/* `lscc export` (issue 6): trained weights back into ONNX, checked by
 * onnxruntime. For each case, python/export_cases.py exports a PyTorch model;
 * lscc generates code, CMake builds it, its runner takes one SGD step on a
 * random image and output gradient (--grad-output --sgd --save-weights);
 * `lscc export` writes the trained and the untrained weights into ONNX, and
 * export_cases.py check runs both in onnxruntime on another image against
 * the generated code's outputs with the same weights (max|a-b|/max|b| <=
 * 1e-5, training must move the output by >= 1e-3), the untrained export
 * also against the original model, and checks which BatchNorms are left;
 * a copy of the model with external data exports (inlined) to the same model.
 * Then every refusal: weights of another model or ONNX file, truncated or
 * corrupt weights, the wrong --train-bn-affine or --precision, frozen
 * buffers changed, missing files; each with a message, the right exit code,
 * and no output file (an existing one is left as it was). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "support.h"
#include "weights_format.h"

typedef struct ex_case {
    const char *model;   /* export_cases.py case */
    const char *prec;    /* f32 | f64 */
    int tile;
    int train_bn;        /* --train-bn-affine */
    const char *lr;      /* SGD learning rate */
    const char *bn_left; /* BatchNormalization nodes the exports keep (export_cases.py check) */
} ex_case;

static const ex_case cases[] = {
    /* BatchNorm folded: the export has Conv with bias, no BatchNormalization */
    {"resnet18", "f32", 4096, 0, "1e-4", "0"},
    /* gamma and beta trained, BatchNormalization kept; float64 code, float32 model */
    {"resnet18", "f64", 4096, 1, "1e-4", "all"},
    /* Identity-aliased initializers shared by biases, BatchNorm statistics and
       a folded BatchNorm; a Conv without bias gets one; tiles of 8 x 8 */
    {"shared", "f64", 40, 0, "0.05", "1"},
    {"shared", "f64", 40, 1, "0.05", "all"},
    /* Linear weights read through Transpose(W) */
    {"layernorm", "f64", 30, 0, "0.05", "none"},
};

static const char *work_root(void) {
    const char *b = getenv("LSCC_TEST_WORK");
    return b ? b : "/tmp/lscc_export";
}

static void case_dir(const ex_case *c, char *out, size_t n) {
    snprintf(out, n, "%.800s/%s_%s%s", work_root(), c->model, c->prec, c->train_bn ? "_bn" : "");
}

START_TEST(roundtrip) {
    const ex_case *c = &cases[_i];
    const char *py = env_or_skip("LSCC_PYTHON"), *pydir = env_or_skip("LSCC_TEST_PY"), *lscc = env_or_skip("LSCC_BIN");
    const char *cmake = getenv("LSCC_CMAKE") ? getenv("LSCC_CMAKE") : "/usr/bin/cmake";
    char w[1024], script[1200], onnx[1200], gen[1200], build[1300], runner[1400], tb[16], p[10][1300];
    case_dir(c, w, sizeof w);
    snprintf(script, sizeof script, "%s/export_cases.py", pydir);
    snprintf(onnx, sizeof onnx, "%s/model.onnx", w);
    snprintf(gen, sizeof gen, "%s/gen", w);
    snprintf(build, sizeof build, "%s/build", gen);
    snprintf(runner, sizeof runner, "%s/net_run", build);
    snprintf(tb, sizeof tb, "%d", c->tile);
    const char *files[10] = {"x.npy", "g.npy", "x2.npy", "trained.weights", "out_train", "out_trained",
                             "out_untrained", "exported.onnx", "untrained.onnx", "gen/net.weights"};
    for (int k = 0; k < 10; k++) snprintf(p[k], sizeof p[k], "%s/%s", w, files[k]);
    char *make_argv[] = {(char *)py, script, "make", (char *)c->model, w, NULL};
    free(run_ok(make_argv, "export_cases.py make"));
    char *bn = c->train_bn ? "--train-bn-affine" : NULL;
    char *gen_argv[] = {(char *)lscc, onnx, "--tile", tb, "-o", gen, "--precision", (char *)c->prec, "--name", "net",
                        bn, NULL};
    free(run_ok(gen_argv, "lscc"));
    char *cfg_argv[] = {(char *)cmake, "-S", gen, "-B", build, "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                        "-DCMAKE_C_FLAGS=-Wall -Wextra -Werror -pedantic", NULL};
    free(run_ok(cfg_argv, "cmake configure of the generated code"));
    char *bld_argv[] = {(char *)cmake, "--build", build, NULL};
    free(run_ok(bld_argv, "build of the generated code"));
    /* one SGD step on x with dL/dy = g, then both weights on x2 */
    char *train_argv[] = {runner, "--input", p[0], "--grad-output", p[1], "--sgd", (char *)c->lr, "--save-weights",
                          p[3], "--out", p[4], NULL};
    free(run_ok(train_argv, "net_run --sgd --save-weights"));
    char *tr_argv[] = {runner, "--input", p[2], "--weights", p[3], "--out", p[5], NULL};
    free(run_ok(tr_argv, "net_run with the trained weights"));
    char *un_argv[] = {runner, "--input", p[2], "--out", p[6], NULL};
    free(run_ok(un_argv, "net_run with lscc's weights"));
    char *ex_argv[] = {(char *)lscc, "export", onnx, "--weights", p[3], "-o", p[7], bn, NULL};
    free(run_ok(ex_argv, "lscc export (trained)"));
    char *ex0_argv[] = {(char *)lscc, "export", onnx, "--weights", p[9], "-o", p[8], bn, NULL};
    free(run_ok(ex0_argv, "lscc export (untrained)"));
    if (!strcmp(c->model, "shared") && !c->train_bn) { /* the same model with external data: inlined */
        char ext[1200], ext_out[1200];
        snprintf(ext, sizeof ext, "%s/external.onnx", w);
        snprintf(ext_out, sizeof ext_out, "%s/from_external.onnx", w);
        char *ext_argv[] = {(char *)lscc, "export", ext, "--weights", p[3], "-o", ext_out, "--force", NULL};
        free(run_ok(ext_argv, "lscc export of the model with external data"));
    }
    char *chk_argv[] = {(char *)py, script, "check", (char *)c->model, w, (char *)c->bn_left, NULL};
    char *out = NULL;
    int rc = run_capture(chk_argv, &out);
    printf("%s %s%s: %s", c->model, c->prec, c->train_bn ? " --train-bn-affine" : "", out ? out : "\n");
    fflush(stdout);
    ck_assert_msg(rc == 0, "export_cases.py check failed (%d):\n%s", rc, out ? out : "");
    free(out);
    if (_i > 2) remove_work_dir(w); /* cases 0 to 2 are the refusals' */
}
END_TEST

/* ---- refusals ---- */

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* argv fails with exit code want, a message holding every needle, the
 * existing output file out unchanged and no out.partial. */
static void refused(char *const argv[], const char *out, int want, const char *what, const char *n1, const char *n2) {
    write_whole_file(out, "keep", 4);
    char *msg = NULL, partial[1400];
    int rc = run_capture(argv, &msg);
    ck_assert_msg(rc == want, "%s: exit %d, want %d\n%s", what, rc, want, msg ? msg : "");
    ck_assert_msg(msg && strstr(msg, n1) && (!n2 || strstr(msg, n2)), "%s: no message naming '%s'%s%s:\n%s", what, n1,
                  n2 ? " and " : "", n2 ? n2 : "", msg ? msg : "");
    size_t n;
    char *kept = (char *)read_whole_file(out, &n);
    ck_assert_msg(n == 4 && !memcmp(kept, "keep", 4), "%s: the existing output file was changed", what);
    free(kept);
    snprintf(partial, sizeof partial, "%s.partial", out);
    ck_assert_msg(!exists(partial), "%s: %s left behind", what, partial);
    const char *e = strstr(msg, "error: ");
    e = e ? e : msg;
    printf("refused: %-42s exit %d: %.*s\n", what, rc, (int)(strchr(e, '\n') ? strchr(e, '\n') - e : 0), e);
    free(msg);
}

/* Rewrites the data checksum of a weights file image after editing its data. */
static void fix_checksum(unsigned char *w, size_t n) {
    lscc_wf_put64(w + 32, lscc_wf_fnv1a(LSCC_WF_FNV_INIT, w + LSCC_WF_HEADER, n - LSCC_WF_HEADER));
}

START_TEST(refusals) {
    const char *lscc = env_or_skip("LSCC_BIN");
    char d0[1024], d1[1024], d2[1024], m0[1100], rs0[1100], w0[1100], w1[1100], w2[1100], m2[1100], out[1100],
        bad[1100], force_out[1100];
    case_dir(&cases[0], d0, sizeof d0); /* resnet18 f32, folded */
    case_dir(&cases[1], d1, sizeof d1); /* resnet18 f64, --train-bn-affine */
    case_dir(&cases[2], d2, sizeof d2); /* shared f64, folded */
    snprintf(m0, sizeof m0, "%s/model.onnx", d0);
    snprintf(rs0, sizeof rs0, "%s/resaved.onnx", d0);
    snprintf(w0, sizeof w0, "%s/trained.weights", d0);
    snprintf(w1, sizeof w1, "%s/trained.weights", d1);
    snprintf(w2, sizeof w2, "%s/trained.weights", d2);
    snprintf(m2, sizeof m2, "%s/model.onnx", d2);
    snprintf(out, sizeof out, "%s/refused.onnx", d0);
    snprintf(bad, sizeof bad, "%s/bad.weights", d0);
    snprintf(force_out, sizeof force_out, "%s/forced.onnx", d0);
    char *L = (char *)lscc;

    char *a1[] = {L, "export", m0, "--weights", w2, "-o", out, NULL};
    refused(a1, out, 3, "weights of another model", "layout checksum", "another ONNX file");
    char *a2[] = {L, "export", rs0, "--weights", w0, "-o", out, NULL};
    refused(a2, out, 3, "another ONNX file, same layout", "another ONNX file", "--force");
    remove(force_out);
    char *a2f[] = {L, "export", rs0, "--weights", w0, "-o", force_out, "--force", NULL};
    char *msg = NULL;
    int rc = run_capture(a2f, &msg);
    ck_assert_msg(rc == 0 && exists(force_out), "--force: exit %d\n%s", rc, msg ? msg : "");
    free(msg);
    char *a3[] = {L, "export", m0, "--weights", w0, "-o", out, "--train-bn-affine", NULL};
    refused(a3, out, 3, "folded weights, --train-bn-affine given", "generated without --train-bn-affine",
            "drop --train-bn-affine");
    char *a4[] = {L, "export", m0, "--weights", w1, "-o", out, NULL};
    refused(a4, out, 3, "--train-bn-affine weights, option missing", "generated with --train-bn-affine",
            "pass --train-bn-affine");
    char *a5[] = {L, "export", m0, "--weights", w0, "-o", out, "--precision", "f64", NULL};
    refused(a5, out, 3, "float32 weights, --precision f64", "--precision f32", NULL);

    size_t n;
    unsigned char *wb = read_whole_file(w0, &n);
    write_whole_file(bad, wb, n - 1000);
    char *a6[] = {L, "export", m0, "--weights", bad, "-o", out, NULL};
    refused(a6, out, 3, "truncated weights", "truncated", NULL);
    write_whole_file(bad, wb, 30);
    refused(a6, out, 3, "truncated header", "truncated", NULL);
    wb[n - 5] ^= 0x10;
    write_whole_file(bad, wb, n);
    refused(a6, out, 3, "one flipped bit", "corrupt", NULL);
    free(wb);
    char *a7[] = {L, "export", m0, "--weights", m0, "-o", out, NULL};
    refused(a7, out, 3, "an ONNX file as weights", "not an lscc weights file", NULL);

    /* frozen buffers (a BatchNorm lscc could not fold: scale and shift) changed */
    wb = read_whole_file(w2, &n);
    for (size_t i = LSCC_WF_HEADER; i + 8 <= n; i += 8) {
        double v;
        memcpy(&v, wb + i, 8);
        v += 1;
        memcpy(wb + i, &v, 8);
    }
    fix_checksum(wb, n);
    write_whole_file(bad, wb, n);
    free(wb);
    char *a8[] = {L, "export", m2, "--weights", bad, "-o", out, NULL};
    refused(a8, out, 4, "frozen buffers changed", "::scale': frozen", "::shift': frozen");

    char *a9[] = {L, "export", "/nonexistent/model.onnx", "--weights", w0, "-o", out, NULL};
    refused(a9, out, 5, "missing model", "/nonexistent/model.onnx", NULL);
    char *a10[] = {L, "export", m0, "--weights", "/nonexistent/x.weights", "-o", out, NULL};
    refused(a10, out, 5, "missing weights", "/nonexistent/x.weights", NULL);
    char *a11[] = {L, "export", m0, "-o", out, NULL};
    refused(a11, out, 2, "no --weights", "--weights", NULL);
    char *a12[] = {L, "export", m0, "--weights", w0, "-o", "/nonexistent/dir/out.onnx", NULL};
    rc = run_capture(a12, &msg);
    ck_assert_msg(rc == 5 && strstr(msg, "cannot write"), "unwritable output: exit %d\n%s", rc, msg ? msg : "");
    ck_assert(!exists("/nonexistent/dir/out.onnx.partial"));
    free(msg);
    remove_work_dir(d0);
    remove_work_dir(d1);
    remove_work_dir(d2);
}
END_TEST

static void add(TCase *tc) {
    const char *only = getenv("LSCC_EXPORT_ONLY");
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++)
        if (!only || strstr(cases[i].model, only)) tcase_add_loop_test(tc, roundtrip, i, i + 1);
    if (!only) tcase_add_test(tc, refusals);
}

int main(void) { return run_suite("export", add, 900); }
