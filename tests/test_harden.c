/* Hardening of generated code (issue 7), on one small model (syn_residual:
 * BatchNorm folded, residual adds, stride 2, a pooled head; 2 x 3 x 67 x 53
 * image, 9 x 7 tiles): lscc generates it as "net" (float64 and float32) and
 * from its hostile-names twin (python/make_hostile.py) as "hostile"; CMake
 * builds both with the failure-path harness harden/harden.c. Checked:
 *   - hostile names: the twin's code computes bit for bit what the plain
 *     code computes (forward, input and parameter gradients), names every
 *     parameter byte for byte, and matches onnxruntime on the hostile model;
 *   - the weights file: each kind of bad file is refused by create with its
 *     message; changed weights saved by net_save_weights load back exactly;
 *   - sizes: absurd batch / image sizes are refused by create with a code
 *     and a message, without overflow or a huge allocation attempt; every
 *     allocation failing in turn gives NOMEM;
 *   - a failed backward or forward leaves the gradients as they were. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "support.h"

static char work[1024], harden[1300], weights[1300];

/* Generates and builds everything once, before the tests. */
static void build_all(void) {
    const char *py = env_or_skip("LSCC_PYTHON"), *pydir = env_or_skip("LSCC_TEST_PY"), *lscc = env_or_skip("LSCC_BIN");
    const char *cmake = getenv("LSCC_CMAKE") ? getenv("LSCC_CMAKE") : "/usr/bin/cmake";
    const char *w = getenv("LSCC_TEST_WORK");
    snprintf(work, sizeof work, "%s", w ? w : "/tmp/lscc_harden");
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", work, work);
    ck_assert_int_eq(system(cmd), 0);
    char script[1200], onnx[1200], gen[1200], gen32[1200], hos[1200], hgen[1200], honnx[1200], src[1200],
        bld[1200], dnet[1300], dhos[1300];
    snprintf(script, sizeof script, "%s/equiv_ref.py", pydir);
    char *ref[] = {(char *)py, script, "syn_residual", work, "--batch", "2", "--height", "67", "--width", "53",
                   "--seed", "3", NULL};
    free(run_ok(ref, "equiv_ref.py syn_residual"));
    snprintf(onnx, sizeof onnx, "%s/model.onnx", work);
    snprintf(gen, sizeof gen, "%s/gen", work);
    snprintf(gen32, sizeof gen32, "%s/gen32", work);
    snprintf(hos, sizeof hos, "%s/hos", work);
    snprintf(hgen, sizeof hgen, "%s/hos/gen", work);
    snprintf(honnx, sizeof honnx, "%s/hos/hostile.onnx", work);
    char *l64[] = {(char *)lscc, onnx, "--tile", "24", "-o", gen, "--precision", "f64", "--name", "net", NULL};
    free(run_ok(l64, "lscc (float64)"));
    char *l32[] = {(char *)lscc, onnx, "--tile", "24", "-o", gen32, "--precision", "f32", "--name", "net", NULL};
    free(run_ok(l32, "lscc (float32)"));
    snprintf(script, sizeof script, "%s/make_hostile.py", pydir);
    char *mh[] = {(char *)py, script, onnx, hos, NULL};
    free(run_ok(mh, "make_hostile.py"));
    char *lh[] = {(char *)lscc, honnx, "--tile", "24", "-o", hgen, "--precision", "f64", "--name", "hostile", NULL};
    free(run_ok(lh, "lscc (hostile names)"));
    snprintf(src, sizeof src, "%s/../harden", pydir);
    snprintf(bld, sizeof bld, "%s/build", work);
    snprintf(dnet, sizeof dnet, "-DGEN_NET=%s", gen);
    snprintf(dhos, sizeof dhos, "-DGEN_HOSTILE=%s", hgen);
    char *cfg[] = {(char *)cmake, "-S", src, "-B", bld, dnet, dhos, "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                   "-DCMAKE_C_FLAGS=-Wall -Wextra -Werror -pedantic", NULL};
    free(run_ok(cfg, "cmake configure of the harness and the generated code"));
    char *b[] = {(char *)cmake, "--build", bld, NULL};
    free(run_ok(b, "build of the harness and the generated code (-Wall -Wextra -Werror -pedantic)"));
    snprintf(harden, sizeof harden, "%s/harden", bld);
    snprintf(weights, sizeof weights, "%s/net.weights", gen);
}

/* Runs harden with args; returns its exit code, output in *out. */
static int harden_run(char **out, const char *mode, const char *n, const char *h, const char *w, const char *file,
                      const char *extra) {
    char *argv[] = {harden, (char *)mode, (char *)n, (char *)h, (char *)w, (char *)file, (char *)extra, NULL};
    return run_capture(argv, out);
}

static void no_sanitizer_report(const char *out, const char *what) {
    ck_assert_msg(!strstr(out, "Sanitizer") && !strstr(out, "runtime error"), "%s: sanitizer report:\n%s", what, out);
}

static int same_file(const char *a, const char *b) {
    size_t na, nb;
    unsigned char *x = read_whole_file(a, &na), *y = read_whole_file(b, &nb);
    int same = na == nb && !memcmp(x, y, na);
    free(x);
    free(y);
    return same;
}

START_TEST(hostile_names_compute_the_same_result) {
    char runner[1300], x[1200], g[1200], out_net[1200], out_hos[1200], a[1400], b[1400];
    snprintf(x, sizeof x, "%s/x.npy", work);
    snprintf(g, sizeof g, "%s/g.npy", work);
    snprintf(out_net, sizeof out_net, "%s/out_net", work);
    snprintf(out_hos, sizeof out_hos, "%s/out_hostile", work);
    snprintf(runner, sizeof runner, "%s/build/net/net_run", work);
    char *rn[] = {runner, "--input", x, "--grad-output", g, "--out", out_net, NULL};
    free(run_ok(rn, "net_run"));
    char hrunner[1300];
    snprintf(hrunner, sizeof hrunner, "%s/build/hostile/hostile_run", work);
    char *rh[] = {hrunner, "--input", x, "--grad-output", g, "--out", out_hos, NULL};
    free(run_ok(rh, "hostile_run"));
    const char *files[] = {"output.npy", "backbone.npy", "input_grad.npy"};
    for (int k = 0; k < 3; k++) {
        snprintf(a, sizeof a, "%s/%s", out_net, files[k]);
        snprintf(b, sizeof b, "%s/%s", out_hos, files[k]);
        ck_assert_msg(same_file(a, b), "%s differs between the plain and the hostile-names model", files[k]);
    }
    int np = 0;
    for (;; np++) {
        struct stat st;
        snprintf(a, sizeof a, "%s/grad/%d.npy", out_net, np);
        snprintf(b, sizeof b, "%s/grad/%d.npy", out_hos, np);
        int ha = stat(a, &st) == 0, hb = stat(b, &st) == 0;
        ck_assert_msg(ha == hb, "parameter %d: a gradient from one model only", np);
        if (!ha) break;
        ck_assert_msg(same_file(a, b), "the gradient of parameter %d differs between the plain and hostile model", np);
    }
    ck_assert_int_eq(np, 14);
    char hos[1200], script[1200];
    snprintf(hos, sizeof hos, "%s/hos", work);
    snprintf(script, sizeof script, "%s/make_hostile.py", env_or_skip("LSCC_TEST_PY"));
    char *chk[] = {(char *)env_or_skip("LSCC_PYTHON"), script, "--check", hos, out_hos, NULL};
    free(run_ok(chk, "make_hostile.py --check (parameter names, onnxruntime)"));
    printf("hostile names: output, input gradient and %d parameter gradients bit for bit equal to the plain model's\n",
           np);
}
END_TEST

typedef struct bad_weights {
    const char *name;
    int code;
    const char *needle;
} bad_weights;

START_TEST(weights_file_refusals_and_round_trip) {
    size_t n;
    unsigned char *d = read_whole_file(weights, &n);
    ck_assert_uint_gt(n, 1100);
    char path[1300], *out;
    static const bad_weights cases[] = {
        {"not_weights", 3, "is not an lscc weights file"}, {"empty", 3, "is not an lscc weights file"},
        {"version_1", 3, "format version 1"},              {"version_3", 3, "format version 3"},
        {"short_header", 3, "truncated in its header"},    {"short_data", 3, "its data ends before"},
        {"trailing_byte", 3, "has data after its end"},    {"flipped_bit", 3, "corrupt (data checksum"},
        {"other_count", 3, "another model"},               {"float32_file", 3, "holds float32 values"},
        {"other_model_same_count", 3, "layout checksum"},  {"missing", 5, "cannot open"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *c = cases[k].name;
        snprintf(path, sizeof path, "%s/%s.weights", work, c);
        unsigned char *v = malloc(n + 1);
        ck_assert_ptr_nonnull(v);
        memcpy(v, d, n);
        if (!strcmp(c, "not_weights")) write_whole_file(path, "a text file, not weights\n", 25);
        else if (!strcmp(c, "empty")) write_whole_file(path, "", 0);
        else if (!strcmp(c, "version_1") || !strcmp(c, "version_3")) {
            v[8] = c[8] == '1' ? 1 : 3;
            write_whole_file(path, v, n);
        } else if (!strcmp(c, "short_header")) write_whole_file(path, v, 30);
        else if (!strcmp(c, "short_data")) write_whole_file(path, v, n - 8);
        else if (!strcmp(c, "trailing_byte")) write_whole_file(path, v, n + 1);
        else if (!strcmp(c, "flipped_bit")) {
            v[48 + 1000] ^= 0x10;
            write_whole_file(path, v, n);
        } else if (!strcmp(c, "other_count")) {
            v[16] ^= 1; /* the element count */
            write_whole_file(path, v, n);
        } else if (!strcmp(c, "float32_file")) snprintf(path, sizeof path, "%s/gen32/net.weights", work);
        else if (!strcmp(c, "other_model_same_count")) snprintf(path, sizeof path, "%s/hos/gen/hostile.weights", work);
        free(v);
        int rc = harden_run(&out, "create", "2", "67", "53", path, NULL);
        ck_assert_msg(rc == cases[k].code && strstr(out, cases[k].needle), "%s: exit %d (want %d naming '%s'):\n%s",
                      c, rc, cases[k].code, cases[k].needle, out);
        no_sanitizer_report(out, c);
        free(out);
    }
    /* the hostile twin's weights have the same count as net's: only the
       layout checksum tells them apart */
    size_t nh;
    snprintf(path, sizeof path, "%s/hos/gen/hostile.weights", work);
    unsigned char *h = read_whole_file(path, &nh);
    ck_assert_uint_eq(nh, n);
    ck_assert_msg(!memcmp(h + 16, d + 16, 8), "the twin's element count differs");
    free(h);
    free(d);
    /* changed weights saved and loaded back */
    snprintf(path, sizeof path, "%s/saved.weights", work);
    int rc = harden_run(&out, "save", "2", "67", "53", weights, path);
    ck_assert_msg(rc == 0, "save round trip: exit %d\n%s", rc, out);
    no_sanitizer_report(out, "save");
    free(out);
    rc = harden_run(&out, "create", "1", "40", "40", path, NULL);
    ck_assert_msg(rc == 0, "the saved weights do not load: %s", out);
    free(out);
}
END_TEST

typedef struct size_case {
    const char *n, *h, *w;
    int code;
    const char *needle;
} size_case;

START_TEST(absurd_sizes_and_failed_allocations) {
    static const size_case cases[] = {
        {"0", "67", "53", 2, ">= 1"},
        {"1", "0", "53", 2, ">= 1"},
        {"1", "67", "-5", 2, ">= 1"},
        {"1048577", "67", "53", 4, "beyond the supported size"},
        {"1", "4000000000", "4000000000", 4, "beyond the supported size"},
        /* within the limits per axis, products that overflow 64 bits */
        {"1048576", "2147483648", "2147483648", 4, "too large"},
        {"1", "2147483648", "2147483648", 4, "too large"},
        /* no overflow, more than any machine (2^47 bytes) */
        {"1", "3000000", "3000000", 4, "too large"},
        /* fits the limits, not the machine: refused without trying */
        {"1048576", "67", "53", 6, "tile arena"},
        {"1", "1048576", "1048576", 6, "backbone output"},
        {"1", "1", "1", 0, "ok"},
    };
    char *out;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const size_case *c = &cases[k];
        int rc = harden_run(&out, "create", c->n, c->h, c->w, weights, NULL);
        ck_assert_msg(rc == c->code && strstr(out, c->needle),
                      "create %s x %s x %s: exit %d (want %d naming '%s'):\n%s", c->n, c->h, c->w, rc, c->code,
                      c->needle, out);
        no_sanitizer_report(out, "create");
        free(out);
    }
    int rc = harden_run(&out, "faults", "2", "67", "53", weights, NULL);
    ck_assert_msg(rc == 0, "allocation failures: exit %d\n%s", rc, out);
    no_sanitizer_report(out, "faults");
    printf("%s", out);
    free(out);
}
END_TEST

START_TEST(failed_training_steps_change_nothing) {
    char *out;
    int rc = harden_run(&out, "txn", "2", "67", "53", weights, NULL);
    ck_assert_msg(rc == 0, "transactions: exit %d\n%s", rc, out);
    no_sanitizer_report(out, "txn");
    printf("%s", out);
    free(out);
}
END_TEST

static void add(TCase *tc) {
    tcase_add_unchecked_fixture(tc, build_all, NULL);
    tcase_add_test(tc, hostile_names_compute_the_same_result);
    tcase_add_test(tc, weights_file_refusals_and_round_trip);
    tcase_add_test(tc, absurd_sizes_and_failed_allocations);
    tcase_add_test(tc, failed_training_steps_change_nothing);
}

int main(void) { return run_suite("harden", add, 600); }
