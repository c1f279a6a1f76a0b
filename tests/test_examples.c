/* The example programs (examples/train, examples/saliency), end to end as
 * scripts/train.sh runs them, kept small so they cannot rot unnoticed:
 *   - examples/train/export_resnet18.py writes the 2-class ResNet-18, lscc
 *     compiles it (no "shared tensor" warning: the export keeps BatchNorm, so
 *     no parameters are tied), and CMake builds both examples against this
 *     build tree's runtime with -Wall -Wextra -Werror -pedantic;
 *   - train writes a 256 x 256 TIFF data set (4 training, 2 held-out
 *     images), trains 4 steps and saves weights that differ from the initial
 *     ones; a bad invocation is refused with exit 2 and its usage line;
 *   - saliency maps a held-out image with the trained weights to a
 *     256 x 256 one-channel TIFF that the runtime's TIFF source reads back
 *     and that is not all zero;
 *   - lscc export writes the trained model back to ONNX.
 * Everything runs under the sanitizers in a sanitized build (the examples
 * link the instrumented runtime, whose interface instruments them too). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lscc_image.h"
#include "support.h"

enum { SIZE = 256, WEIGHTS_HEADER = 48 };

static char work[1024], src[1024], lscc[1024], onnx[1200], gen[1200], data[1200], trained[1200], train_bin[1300],
    sal_bin[1300];

static void no_sanitizer_report(const char *out, const char *what) {
    ck_assert_msg(!strstr(out, "Sanitizer") && !strstr(out, "runtime error"), "%s: sanitizer report:\n%s", what, out);
}

static void has(const char *out, const char *needle, const char *what) {
    ck_assert_msg(strstr(out, needle) != NULL, "%s: no \"%s\" in its output:\n%s", what, needle, out);
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Exports and compiles the model and builds both examples, once. */
static void build_all(void) {
    const char *py = env_or_skip("LSCC_PYTHON"), *bin = env_or_skip("LSCC_BIN");
    const char *source = env_or_skip("LSCC_SOURCE_DIR"), *build = env_or_skip("LSCC_BUILD_DIR");
    const char *cmake = getenv("LSCC_CMAKE") ? getenv("LSCC_CMAKE") : "/usr/bin/cmake";
    const char *w = getenv("LSCC_TEST_WORK");
    snprintf(work, sizeof work, "%s", w ? w : "/tmp/lscc_examples");
    snprintf(src, sizeof src, "%s", source);
    snprintf(lscc, sizeof lscc, "%s", bin);
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", work, work);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(onnx, sizeof onnx, "%s/resnet18_2cls.onnx", work);
    snprintf(gen, sizeof gen, "%s/gen", work);
    snprintf(data, sizeof data, "%s/data", work);
    snprintf(trained, sizeof trained, "%s/trained.weights", work);

    char script[1200];
    snprintf(script, sizeof script, "%s/examples/train/export_resnet18.py", src);
    char *ex[] = {(char *)py, script, onnx, "0", NULL};
    free(run_ok(ex, "export_resnet18.py"));
    ck_assert_msg(exists(onnx), "export_resnet18.py wrote no %s", onnx);

    char *lc[] = {lscc, onnx, "--tile", "1440", "--name", "resnet18", "-o", gen, NULL};
    char *out = run_ok(lc, "lscc resnet18_2cls.onnx");
    ck_assert_msg(!strstr(out, "shared tensor"), "lscc warns of shared parameters on the exported ResNet-18 "
                  "(BatchNorm should be kept in the export):\n%s", out);
    free(out);

    char dgen[1300], ddir[1300];
    snprintf(dgen, sizeof dgen, "-DLSCC_GEN_DIR=%s", gen);
    snprintf(ddir, sizeof ddir, "-Dlscc_DIR=%s", build);
    static const char *const examples[] = {"train", "saliency"};
    for (int k = 0; k < 2; k++) {
        char esrc[1200], ebld[1200], what[200];
        snprintf(esrc, sizeof esrc, "%s/examples/%s", src, examples[k]);
        snprintf(ebld, sizeof ebld, "%s/build_%s", work, examples[k]);
        char *cfg[] = {(char *)cmake, "-S", esrc, "-B", ebld, dgen, ddir, "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                       "-DCMAKE_C_FLAGS=-Wall -Wextra -Werror -pedantic", NULL};
        snprintf(what, sizeof what, "cmake configure of examples/%s", examples[k]);
        free(run_ok(cfg, what));
        char *b[] = {(char *)cmake, "--build", ebld, "-j2", NULL};
        snprintf(what, sizeof what, "build of examples/%s (-Wall -Wextra -Werror -pedantic)", examples[k]);
        free(run_ok(b, what));
    }
    snprintf(train_bin, sizeof train_bin, "%s/build_train/train", work);
    snprintf(sal_bin, sizeof sal_bin, "%s/build_saliency/saliency", work);
    ck_assert_msg(exists(train_bin) && exists(sal_bin), "the examples' executables were not built");
}

START_TEST(bad_invocations_are_refused) {
    char *out;
    char *t1[] = {train_bin, "--data", data, "--size", "10", NULL};
    int rc = run_capture(t1, &out);
    ck_assert_msg(rc == 2 && strstr(out, "usage:"), "train --size 10: exit %d (want 2 and a usage line):\n%s", rc, out);
    no_sanitizer_report(out, "train --size 10");
    free(out);
    char *t2[] = {train_bin, "--size", "256", NULL}; /* no --data */
    rc = run_capture(t2, &out);
    ck_assert_msg(rc == 2 && strstr(out, "usage:"), "train without --data: exit %d (want 2 and a usage line):\n%s", rc,
                  out);
    free(out);
    char *s1[] = {sal_bin, "--no-progress", NULL}; /* no --image */
    rc = run_capture(s1, &out);
    ck_assert_msg(rc == 2 && strstr(out, "usage:"), "saliency without --image: exit %d (want 2 and a usage line):\n%s",
                  rc, out);
    free(out);
    struct stat st;
    ck_assert_msg(stat(data, &st) != 0, "a refused train invocation created %s", data);
}
END_TEST

START_TEST(train_writes_data_trains_and_saves) {
    char *tr[] = {train_bin, "--data", data, "--size", "256", "--train", "4", "--test", "2", "--steps", "4",
                  "--save", trained, NULL};
    char *out = run_ok(tr, "train");
    printf("%s", out);
    no_sanitizer_report(out, "train");
    has(out, "held-out before training", "train");
    has(out, "step    4  loss", "train");
    has(out, "held-out after 4 steps", "train");
    has(out, "trained weights:", "train");
    free(out);
    static const char *const files[] = {"train_000.tif", "train_003.tif", "test_001.tif", "test_001.tif.txt"};
    for (int k = 0; k < 4; k++) {
        char p[1300];
        snprintf(p, sizeof p, "%s/%s", data, files[k]);
        ck_assert_msg(exists(p), "train wrote no %s", p);
    }
    char init[1300];
    snprintf(init, sizeof init, "%s/resnet18.weights", gen);
    size_t n0, n1;
    unsigned char *w0 = read_whole_file(init, &n0), *w1 = read_whole_file(trained, &n1);
    ck_assert_msg(n0 == n1, "the trained weights file has %zu bytes, the initial one %zu", n1, n0);
    ck_assert_uint_gt(n0, WEIGHTS_HEADER);
    ck_assert_msg(memcmp(w0 + WEIGHTS_HEADER, w1 + WEIGHTS_HEADER, n0 - WEIGHTS_HEADER) != 0,
                  "training left every weight as it was");
    free(w0);
    free(w1);
}
END_TEST

START_TEST(saliency_maps_a_held_out_image) {
    ck_assert_msg(exists(trained), "no %s (train failed)", trained);
    char image[1300], map[1300];
    snprintf(image, sizeof image, "%s/test_001.tif", data);
    snprintf(map, sizeof map, "%s/sal.tif", work);
    char *sa[] = {sal_bin, "--image", image, "--weights", trained, "--class", "1", "--out", map, "--no-progress",
                  NULL};
    char *out = run_ok(sa, "saliency");
    printf("%s", out);
    no_sanitizer_report(out, "saliency");
    has(out, "patches cover", "saliency");
    has(out, "wrote", "saliency");
    free(out);

    lscc_image img;
    lscc_rt_error err = {0, ""};
    int rc = lscc_image_open_tiff(&img, map, NULL, NULL, &err);
    ck_assert_msg(rc == 0, "cannot open the saliency map %s: %s", map, err.msg);
    ck_assert_int_eq(img.n, 1);
    ck_assert_int_eq(img.c, 1);
    ck_assert_int_eq(img.h, SIZE);
    ck_assert_int_eq(img.w, SIZE);
    float *v = malloc(sizeof *v * SIZE * SIZE);
    ck_assert_ptr_nonnull(v);
    rc = img.read(&img, 0, SIZE, 0, SIZE, LSCC_F32, v, &err);
    ck_assert_msg(rc == 0, "reading the saliency map: %s", err.msg);
    float mx = 0;
    for (int i = 0; i < SIZE * SIZE; i++) mx = v[i] > mx ? v[i] : mx;
    ck_assert_msg(mx > 0, "the saliency map is all zero");
    free(v);
    lscc_image_close(&img);
}
END_TEST

START_TEST(lscc_export_writes_the_trained_model) {
    ck_assert_msg(exists(trained), "no %s (train failed)", trained);
    char out_onnx[1300];
    snprintf(out_onnx, sizeof out_onnx, "%s/trained.onnx", work);
    char *ex[] = {lscc, "export", onnx, "--weights", trained, "-o", out_onnx, NULL};
    char *out = run_ok(ex, "lscc export --weights trained.weights");
    no_sanitizer_report(out, "lscc export");
    free(out);
    ck_assert_msg(exists(out_onnx), "lscc export wrote no %s", out_onnx);
}
END_TEST

static void add(TCase *tc) {
    tcase_add_unchecked_fixture(tc, build_all, NULL);
    /* in this order: saliency and export use the weights train saves */
    tcase_add_test(tc, bad_invocations_are_refused);
    tcase_add_test(tc, train_writes_data_trains_and_saves);
    tcase_add_test(tc, saliency_maps_a_held_out_image);
    tcase_add_test(tc, lscc_export_writes_the_trained_model);
}

int main(void) { return run_suite("examples", add, 600); }
