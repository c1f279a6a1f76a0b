/* The lscc command line: documented options and exit codes, malformed
 * models (truncated, not ONNX, cyclic, unknown ops, absurd dims) rejected with
 * a message and the documented code, never a crash or a sanitizer report. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ir/diag.h"
#include "support.h"

static int lscc(char **out, const char *a1, const char *a2, const char *a3, const char *a4, const char *a5) {
    char *argv[8] = {(char *)env_or_skip("LSCC_BIN"), (char *)a1, (char *)a2, (char *)a3, (char *)a4, (char *)a5, NULL};
    return run_capture(argv, out);
}

static void assert_clean(const char *out) {
    ck_assert_msg(strstr(out, "Sanitizer") == NULL && strstr(out, "runtime error") == NULL, "sanitizer report:\n%s",
                  out);
}

START_TEST(help_documents_every_option_and_exit_code) {
    char *out;
    ck_assert_int_eq(lscc(&out, "--help", NULL, NULL, NULL, NULL), 0);
    const char *must[] = {"--tile", "-o, --output", "--explain", "--explain=json", "--split", "--image", "--batch",
                          "--version", "--memory", "--inference", "--target", "--precision", "--name",
                          "--train-bn-affine", "exit codes"};
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
        ck_assert_msg(strstr(out, must[i]) != NULL, "--help does not mention %s", must[i]);
    for (int code = LSCC_E_INTERNAL; code <= LSCC_E_NOMEM; code++) {
        char line[16];
        snprintf(line, sizeof line, "\n  %d  ", code);
        ck_assert_msg(strstr(out, line) != NULL, "--help does not document exit code %d", code);
    }
    free(out);
    ck_assert_int_eq(lscc(&out, "--version", NULL, NULL, NULL, NULL), 0);
    ck_assert_msg(strncmp(out, "lscc ", 5) == 0, "%s", out);
    free(out);
}
END_TEST

START_TEST(usage_errors) {
    char *out;
    ck_assert_int_eq(lscc(&out, NULL, NULL, NULL, NULL, NULL), LSCC_E_USAGE);
    free(out);
    ck_assert_int_eq(lscc(&out, model_path("resnet18", ".onnx"), "--frobnicate", NULL, NULL, NULL), LSCC_E_USAGE);
    ck_assert_ptr_nonnull(strstr(out, "--frobnicate"));
    free(out);
    ck_assert_int_eq(lscc(&out, model_path("resnet18", ".onnx"), "--tile", "-3", NULL, NULL), LSCC_E_USAGE);
    free(out);
    ck_assert_int_eq(lscc(&out, model_path("resnet18", ".onnx"), "--tile", "600x", NULL, NULL), LSCC_E_USAGE);
    free(out);
    ck_assert_int_eq(lscc(&out, model_path("resnet18", ".onnx"), "--tile", "0x900", NULL, NULL), LSCC_E_USAGE);
    free(out);
    ck_assert_int_eq(lscc(&out, model_path("resnet18", ".onnx"), "--image", "12by7", NULL, NULL), LSCC_E_USAGE);
    free(out);
    ck_assert_int_eq(lscc(&out, model_path("resnet18", ".onnx"), "--split", "no such tensor", NULL, NULL),
                     LSCC_E_USAGE);
    ck_assert_ptr_nonnull(strstr(out, "no such tensor"));
    free(out);
    ck_assert_int_eq(lscc(&out, "/nonexistent/model.onnx", NULL, NULL, NULL, NULL), LSCC_E_IO);
    free(out);
}
END_TEST

START_TEST(tile_smaller_than_receptive_field) {
    char *out;
    ck_assert_int_eq(lscc(&out, model_path("resnet18", ".onnx"), "--tile", "64", NULL, NULL), LSCC_E_UNSUPPORTED);
    ck_assert_msg(strstr(out, "receptive field") && strstr(out, "use --tile"), "%s", out);
    assert_clean(out);
    free(out);
}
END_TEST

/* --tile HxW: rows and columns of the output tile each from their own limit
 * (resnet18: receptive field 435, stride 32, so (limit - 435) / 32 + 1);
 * a side under the receptive field names the side and the smallest tile. */
START_TEST(rectangular_tiles) {
    char *out;
    ck_assert_int_eq(lscc(&out, model_path("resnet18", ".onnx"), "--tile", "1427x2451", "--explain", NULL), 0);
    ck_assert_msg(strstr(out, "--tile 1427x2451 -> output tile 32 x 64 of the split tensor, input region 1427 x 2451"),
                  "%s", out);
    free(out);
    ck_assert_int_eq(lscc(&out, model_path("resnet18", ".onnx"), "--tile", "2451x1427", "--explain", NULL), 0);
    ck_assert_msg(strstr(out, "output tile 64 x 32 of the split tensor, input region 2451 x 1427"), "%s", out);
    free(out);
    ck_assert_int_eq(lscc(&out, model_path("resnet18", ".onnx"), "--tile", "4096x300", NULL, NULL), LSCC_E_UNSUPPORTED);
    ck_assert_msg(strstr(out, "--tile 4096x300 is smaller than the receptive field") && strstr(out, "use --tile 435"),
                  "%s", out);
    assert_clean(out);
    free(out);
}
END_TEST

/* The training arena of --tile N as --explain prints it, in MB. */
static double training_mb(const char *tile) {
    char *out;
    ck_assert_int_eq(lscc(&out, model_path("resnet18", ".onnx"), "--tile", tile, "--explain", NULL), 0);
    const char *p = strstr(out, "training peak ");
    ck_assert_msg(p != NULL, "--explain prints no arena:\n%s", out);
    double mb = atof(p + 14);
    free(out);
    return mb;
}

/* --memory picks the largest tile whose training arena fits: that tile's
 * arena is within the budget and the next tile's is not; --inference gives a
 * larger tile for the same budget; a budget under the receptive field's
 * arena is refused. */
START_TEST(memory_picks_the_largest_tile_that_fits) {
    char *out;
    ck_assert_int_eq(lscc(&out, model_path("resnet18", ".onnx"), "--memory", "700M", NULL, NULL), 0);
    const char *p = strstr(out, "--tile ");
    ck_assert_msg(p != NULL, "%s", out);
    long tile = atol(p + 7);
    free(out);
    char t0[32], t1[32];
    snprintf(t0, sizeof t0, "%ld", tile);
    snprintf(t1, sizeof t1, "%ld", tile + 1);
    double m0 = training_mb(t0), m1 = training_mb(t1);
    ck_assert_msg(m0 <= 700.0 && m1 > 700.0, "--memory 700M chose --tile %ld: %.1f MB; --tile %ld: %.1f MB", tile, m0,
                  tile + 1, m1);
    ck_assert_int_eq(lscc(&out, model_path("resnet18", ".onnx"), "--memory", "700M", "--inference", NULL), 0);
    p = strstr(out, "--tile ");
    ck_assert_msg(p != NULL && atol(p + 7) > tile, "--inference did not give a larger tile:\n%s", out);
    free(out);
    ck_assert_int_eq(lscc(&out, model_path("resnet18", ".onnx"), "--memory", "1M", NULL, NULL), LSCC_E_UNSUPPORTED);
    ck_assert_msg(strstr(out, "receptive field") != NULL, "%s", out);
    free(out);
    ck_assert_int_eq(lscc(&out, model_path("resnet18", ".onnx"), "--memory", "lots", NULL, NULL), LSCC_E_USAGE);
    free(out);
}
END_TEST

START_TEST(explain_json_is_json_and_names_the_split) {
    char dir[] = "/tmp/lscc_cli_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char *out;
    ck_assert_int_eq(lscc(&out, model_path("resnet50", ".onnx"), "--tile=2048", "--image=8192x8192", "-o", dir), 0);
    assert_clean(out);
    free(out);
    char json[4200], txt[4200], code[9000];
    snprintf(json, sizeof json, "%s/plan.json", dir);
    snprintf(txt, sizeof txt, "%s/plan.txt", dir);
    ck_assert_int_eq(access(txt, R_OK), 0);
    /* an independent parser reads the file and checks its fields */
    snprintf(code, sizeof code,
             "import json,sys; p=json.load(open(sys.argv[1])); "
             "assert p['split']['tensor']=='/layer4/layer4.2/relu_2/Relu_output_0', p['split']; "
             "assert p['input_tile'][0]<=2048 and p['input_tile'][1]<=2048, p['input_tile']; "
             "assert p['image_size']['split_h']==256 and p['image_size']['tile_count']>1, p['image_size']; "
             "assert any(t['op']=='Conv' for t in p['tensors']); assert p['head'][0]['op']=='GlobalAveragePool', p['head']; "
             "print('ok')");
    char *argv[] = {(char *)env_or_skip("LSCC_PYTHON"), "-c", code, json, NULL};
    int rc = run_capture(argv, &out);
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    unlink(json);
    unlink(txt);
    rmdir(dir);
    ck_assert_int_eq(lscc(&out, model_path("vgg11_features", ".onnx"), "--explain", NULL, NULL, NULL), 0);
    ck_assert_msg(strstr(out, "halo") && strstr(out, "stride") && strstr(out, "MB"), "%s", out);
    free(out);
}
END_TEST

/* Absurd sizes on the command line (issue 7): an image, tile or batch
 * beyond what lscc handles is a usage error that names the value; the
 * largest image the runtime takes (2^31 x 2^31) with a small tile plans
 * 2^56 tiles (4 x 4 output tiles of syn_residual) without overflowing. Never a crash or a sanitizer report. */
START_TEST(absurd_sizes_are_refused_cleanly) {
    static const char *bad[][2] = {{"--image", "4000000000x4000000000"}, {"--image", "0x10"},
                                   {"--image", "10x-5"}, {"--image", "99999999999999999999x8"},
                                   {"--tile", "3000000000"}, {"--tile", "0"},
                                   {"--batch", "100000000000"}, {"--batch", "0"}};
    char *out;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = lscc(&out, model_path("syn_residual", ".onnx"), bad[i][0], bad[i][1], "--explain", NULL);
        ck_assert_msg(rc == LSCC_E_USAGE, "%s %s: exit %d\n%s", bad[i][0], bad[i][1], rc, out);
        ck_assert_msg(strstr(out, bad[i][1]) != NULL, "%s %s: the message does not name the value:\n%s", bad[i][0],
                      bad[i][1], out);
        assert_clean(out);
        free(out);
    }
    char *argv[] = {(char *)env_or_skip("LSCC_BIN"), (char *)model_path("syn_residual", ".onnx"), "--image",
                    "2147483648x2147483648", "--tile", "24", "--explain", NULL};
    int rc = run_capture(argv, &out);
    ck_assert_msg(rc == 0 && strstr(out, "= 72057594037927936 tiles"), "exit %d\n%s", rc, out);
    assert_clean(out);
    free(out);
}
END_TEST

/* The malformed models of python/make_malformed.py, with the category it
 * expects for each. */
START_TEST(malformed_models_fail_cleanly) {
    char list[4096];
    snprintf(list, sizeof list, "%s/malformed.list", env_or_skip("LSCC_TEST_BAD"));
    FILE *f = fopen(list, "r");
    ck_assert_msg(f != NULL, "cannot read %s", list);
    char line[512];
    int cases = 0;
    while (fgets(line, sizeof line, f)) {
        char name[256], cat[64], path[4500];
        if (sscanf(line, "%255s %63s", name, cat) != 2) continue;
        snprintf(path, sizeof path, "%s/%s.onnx", env_or_skip("LSCC_TEST_BAD"), name);
        char *out;
        int rc = lscc(&out, path, "--explain", NULL, NULL, NULL);
        int want = strcmp(cat, "invalid") == 0 ? LSCC_E_INVALID : LSCC_E_UNSUPPORTED;
        ck_assert_msg(rc == want, "%s: exit %d, expected %d (%s):\n%s", name, rc, want, cat, out);
        ck_assert_msg(strstr(out, "error: ") != NULL, "%s: no error message:\n%s", name, out);
        assert_clean(out);
        if (strcmp(name, "unknown_op") == 0)
            ck_assert_msg(strstr(out, "'foo_1'") && strstr(out, "'foo_2'") && strstr(out, "FooBar"),
                          "every unknown node must be named:\n%s", out);
        if (strcmp(name, "cyclic") == 0) ck_assert_msg(strstr(out, "cycle") != NULL, "%s", out);
        free(out);
        cases++;
    }
    fclose(f);
    ck_assert_int_ge(cases, 10);
}
END_TEST

/* Code generation for every zoo model that has a valid split, as exported by
 * export_models.py (constant folding on: ConvNeXt's Linear weights arrive
 * as [C, K] constants), both precisions, --train-bn-affine on the model that
 * keeps its BatchNorm nodes; the models without a split are refused with 4
 * and name the offending op. */
START_TEST(generates_code_for_every_streamable_zoo_model) {
    static const char *ok[] = {"resnet18", "resnet50", "mobilenet_v2", "densenet121", "convnext_tiny",
                               "vgg11_features", "syn_stride3_dil", "syn_depthwise", "syn_pads", "syn_residual",
                               "syn_concat", "syn_shuffle", "syn_shuffle_op11", "syn_flatten_view", "syn_layernorm",
                               "syn_layernorm_op17", "resnet18_op11", "resnet18_op17", "resnet18_bn"};
    char dir[] = "/tmp/lscc_cli_emit_XXXXXX", *out;
    ck_assert_ptr_nonnull(mkdtemp(dir));
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        const char *prec = i % 2 ? "f64" : "f32";
        char *argv[] = {(char *)env_or_skip("LSCC_BIN"), (char *)model_path(ok[i], ".onnx"), "-o", dir, "--precision",
                        (char *)prec, "--tile", "4096", NULL};
        int rc = run_capture(argv, &out);
        ck_assert_msg(rc == 0 && strstr(out, "wrote"), "%s (%s): exit %d\n%s", ok[i], prec, rc, out);
        assert_clean(out);
        free(out);
    }
    int rc = lscc(&out, model_path("resnet18_bn", ".onnx"), "-o", dir, "--train-bn-affine", NULL);
    ck_assert_msg(strstr(out, "wrote"), "%s", out);
    ck_assert_msg(rc == 0, "resnet18_bn --train-bn-affine: exit %d\n%s", rc, out);
    free(out);
    static const char *refused[] = {"efficientnet_b0", "syn_se_late"};
    for (size_t i = 0; i < 2; i++) {
        rc = lscc(&out, model_path(refused[i], ".onnx"), "-o", dir, NULL, NULL);
        ck_assert_msg(rc == LSCC_E_UNSUPPORTED && (strstr(out, "GlobalAveragePool") || strstr(out, "ReduceMean")),
                      "%s: exit %d\n%s", refused[i], rc, out);
        assert_clean(out);
        free(out);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* A trainable initializer read by several ops is trained as one tensor:
 * PyTorch's export of a freshly initialized ResNet-18 merges the equal
 * folded biases of its convolutions into Identity aliases of a few
 * initializers, which lscc must point out; the BatchNorm-preserving export
 * (distinct random statistics) has none. */
START_TEST(shared_parameters_are_reported) {
    char dir[] = "/tmp/lscc_cli_shared_XXXXXX", *out;
    ck_assert_ptr_nonnull(mkdtemp(dir));
    int rc = lscc(&out, model_path("resnet18", ".onnx"), "-o", dir, "--tile", "1024");
    ck_assert_msg(rc == 0 && strstr(out, "trained as one shared tensor") && strstr(out, "TrainingMode.PRESERVE"),
                  "resnet18: exit %d\n%s", rc, out);
    free(out);
    rc = lscc(&out, model_path("resnet18_bn", ".onnx"), "-o", dir, "--tile", "1024");
    ck_assert_msg(rc == 0 && strstr(out, "wrote") && !strstr(out, "shared tensor"), "resnet18_bn: exit %d\n%s", rc,
                  out);
    free(out);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static void add_tests(TCase *tc) {
    tcase_add_test(tc, shared_parameters_are_reported);
    tcase_add_test(tc, generates_code_for_every_streamable_zoo_model);
    tcase_add_test(tc, help_documents_every_option_and_exit_code);
    tcase_add_test(tc, usage_errors);
    tcase_add_test(tc, memory_picks_the_largest_tile_that_fits);
    tcase_add_test(tc, tile_smaller_than_receptive_field);
    tcase_add_test(tc, rectangular_tiles);
    tcase_add_test(tc, explain_json_is_json_and_names_the_split);
    tcase_add_test(tc, malformed_models_fail_cleanly);
    tcase_add_test(tc, absurd_sizes_are_refused_cleanly);
}

int main(void) { return run_suite("cli", add_tests, 300); }
