/* Emitted names: hostile ONNX names (quotes, comment ends, backslashes,
 * newlines, #define, C keywords, non-ASCII, 10 000 characters, names that
 * sanitize alike) give distinct valid identifiers, and a generated C file
 * that uses them compiles with -Wall -Wextra -Werror -pedantic and prints the
 * original names back byte for byte. A whole model renamed this way computes
 * bit for bit what the plain one does: test_harden.c. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emit/names.h"
#include "support.h"

static char long_name[10001];

static const char *hostile[] = {
    "conv1.weight", "conv1-weight", "conv1/weight", "conv1 weight", "\"quoted\"", "ends */ comment /* opens",
    "back\\slash\\", "new\nline\r\n", "#define x 1", "int", "_Bool", "main", "__reserved", "_Upper", "9starts_digit",
    "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac", "?\?=trigraph?\?/", "", "...", "\t", long_name, "x", "X", "x_", "_x",
};
#define NH ((int)(sizeof hostile / sizeof hostile[0]))

static int valid_ident(const char *s) {
    if (!s[0] || strlen(s) > LSCC_NAME_MAX || (s[0] >= '0' && s[0] <= '9') || s[0] == '_' || strstr(s, "__"))
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return 0;
    return 1;
}

START_TEST(identifiers_are_valid_distinct_and_stable) {
    memset(long_name, 'a', sizeof long_name - 1);
    const char *models[] = {"resnet18", "", "int", "3d-net", "a\"b*/c"};
    for (int m = 0; m < 5; m++) {
        lscc_names *s = lscc_names_new(models[m]);
        ck_assert_ptr_nonnull(s);
        ck_assert_msg(valid_ident(lscc_names_prefix(s)), "prefix '%s'", lscc_names_prefix(s));
        const char *ids[2 * NH];
        for (int i = 0; i < NH; i++) {
            ids[i] = lscc_names_get(s, "w", hostile[i]);
            ids[NH + i] = lscc_names_get(s, "t", hostile[i]);
        }
        for (int i = 0; i < 2 * NH; i++) {
            ck_assert_msg(valid_ident(ids[i]), "'%s' is not a valid identifier", ids[i]);
            ck_assert_msg(strncmp(ids[i], lscc_names_prefix(s), strlen(lscc_names_prefix(s))) == 0, "%s", ids[i]);
            for (int j = 0; j < i; j++) ck_assert_msg(strcmp(ids[i], ids[j]) != 0, "clash: %s", ids[i]);
        }
        for (int i = 0; i < NH; i++) ck_assert_ptr_eq(lscc_names_get(s, "w", hostile[i]), ids[i]);
        lscc_names_free(s);
    }
}
END_TEST

/* Message literals of any length stay within what -pedantic accepts. */
START_TEST(long_literals_are_cut_for_messages) {
    memset(long_name, 'a', sizeof long_name - 1);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    lscc_c_string(f, long_name);
    fclose(f);
    ck_assert_uint_eq(len, LSCC_C_STRING_MAX + 2); /* quotes around exactly the maximum */
    ck_assert_ptr_nonnull(strstr(buf, "...\""));
    free(buf);
}
END_TEST

START_TEST(generated_code_compiles_and_round_trips) {
    memset(long_name, 'a', sizeof long_name - 1);
    char dir[] = "/tmp/lscc_names_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char src[600], exe[600];
    snprintf(src, sizeof src, "%s/gen.c", dir);
    snprintf(exe, sizeof exe, "%s/gen", dir);
    FILE *f = fopen(src, "w");
    ck_assert_ptr_nonnull(f);
    lscc_names *s = lscc_names_new("a\"b*/c");
    fprintf(f, "#include <stdio.h>\n");
    for (int i = 0; i < NH; i++) {
        fprintf(f, "/* ");
        lscc_c_comment(f, hostile[i]);
        fprintf(f, " */\n");
        lscc_c_string_array(f, lscc_names_get(s, "name", hostile[i]), hostile[i]);
    }
    fprintf(f, "int main(void) {\n");
    for (int i = 0; i < NH; i++)
        fprintf(f, "    fputs(%s, stdout), fputc(0, stdout);\n", lscc_names_get(s, "name", hostile[i]));
    fprintf(f, "    return 0;\n}\n");
    fclose(f);
    lscc_names_free(s);
    char *out;
    char *cc[] = {"/usr/bin/cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-o", exe, src, NULL};
    ck_assert_msg(run_capture(cc, &out) == 0, "generated code does not compile:\n%.2000s", out);
    free(out);
    char *run[] = {exe, NULL};
    ck_assert_int_eq(run_capture(run, &out), 0);
    /* compare NUL-separated output with the originals (run_capture merged
       the streams; nothing writes to stderr) */
    const char *p = out;
    for (int i = 0; i < NH; i++) {
        ck_assert_msg(strcmp(p, hostile[i]) == 0, "name %d came back as '%.60s'", i, p);
        p += strlen(p) + 1;
    }
    free(out);
    unlink(src);
    unlink(exe);
    rmdir(dir);
}
END_TEST

static void add_tests(TCase *tc) {
    tcase_add_test(tc, identifiers_are_valid_distinct_and_stable);
    tcase_add_test(tc, generated_code_compiles_and_round_trips);
    tcase_add_test(tc, long_literals_are_cut_for_messages);
}

int main(void) { return run_suite("names", add_tests, 120); }
