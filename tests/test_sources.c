/* Every image source feeds the kernels the same bits (issue 6): lscc
 * generates a small model (syn_residual, float32, 67 x 53 image in many
 * tiles); sources/sources.c, built against it, streams one random uint8
 * image from an in-memory array (planar, interleaved), raw files (planar,
 * interleaved, at an offset), TIFF (tiled LZW, striped separate planes) and
 * a callback behind the normalizing wrapper, all with ImageNet
 * normalization, and compares the model output, the input gradient and
 * every parameter gradient with the planar in-memory source's, bit for bit
 * (and that one changed pixel changes the output). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

START_TEST(every_source_gives_the_same_bits) {
    const char *lscc = env_or_skip("LSCC_BIN"), *src = env_or_skip("LSCC_SOURCE_DIR"),
               *bdir = env_or_skip("LSCC_BUILD_DIR");
    const char *cmake = getenv("LSCC_CMAKE") ? getenv("LSCC_CMAKE") : "/usr/bin/cmake";
    const char *w = getenv("LSCC_TEST_WORK");
    char work[1024], cmd[2200], gen[1200], bld[1200], hsrc[1200], dgen[1300], dlscc[1300], exe[1300], wts[1300];
    snprintf(work, sizeof work, "%s", w ? w : "/tmp/lscc_sources");
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", work, work);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(gen, sizeof gen, "%s/gen", work);
    snprintf(bld, sizeof bld, "%s/build", work);
    snprintf(hsrc, sizeof hsrc, "%s/tests/sources", src);
    snprintf(dgen, sizeof dgen, "-DGEN_NET=%s", gen);
    snprintf(dlscc, sizeof dlscc, "-Dlscc_DIR=%s", bdir);
    char *gen_argv[] = {(char *)lscc, (char *)model_path("syn_residual", ".onnx"), "--tile", "24", "--precision",
                        "f32", "--name", "net", "-o", gen, NULL};
    free(run_ok(gen_argv, "lscc syn_residual"));
    char *cfg[] = {(char *)cmake, "-S", hsrc, "-B", bld, dgen, dlscc, "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                   "-DCMAKE_C_FLAGS=-Wall -Wextra -Werror -pedantic", NULL};
    free(run_ok(cfg, "cmake configure of sources.c and the generated code"));
    char *b[] = {(char *)cmake, "--build", bld, NULL};
    free(run_ok(b, "build of sources.c and the generated code"));
    snprintf(exe, sizeof exe, "%s/sources", bld);
    snprintf(wts, sizeof wts, "%s/net.weights", gen);
    char *r[] = {exe, work, wts, "67", "53", NULL};
    char *out = run_ok(r, "sources (a source whose bits differ)");
    ck_assert_msg(!strstr(out, "Sanitizer") && !strstr(out, "runtime error"), "sanitizer report:\n%s", out);
    int equal = 0;
    for (const char *p = out; (p = strstr(p, "parameter gradients bit-equal")); p++) equal++;
    ck_assert_msg(equal == 6, "expected 6 sources bit-equal to the in-memory one:\n%s", out);
    ck_assert_msg(strstr(out, "one changed pixel changes the output") != NULL, "%s", out);
    free(out);
}
END_TEST

static void add(TCase *tc) { tcase_add_test(tc, every_source_gives_the_same_bits); }

int main(void) { return run_suite("sources", add, 600); }
