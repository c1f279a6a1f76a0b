#define _XOPEN_SOURCE 700 /* nftw */
#include "support.h"

#include <check.h>
#include <math.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *env_or_skip(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "%s is not set: run this test through ctest\n", name);
        exit(77);
    }
    return v;
}

const char *model_path(const char *name, const char *ext) {
    static char buf[4][4096];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s%s", env_or_skip("LSCC_TEST_MODELS"), name, ext);
    return buf[k];
}

int read_expect(const char *name, expect_line **out) {
    FILE *f = fopen(model_path(name, ".expect"), "r");
    ck_assert_msg(f != NULL, "cannot open %s", model_path(name, ".expect"));
    int n = 0, cap = 64;
    expect_line *v = malloc(sizeof *v * (size_t)cap);
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!line[0]) continue;
        if (n == cap) v = realloc(v, sizeof *v * (size_t)(cap *= 2));
        ck_assert_ptr_nonnull(v);
        expect_line *e = &v[n];
        memset(e, 0, sizeof *e);
        char *fields[8];
        int nf = 0;
        for (char *p = line, *tab; nf < 8; p = tab + 1) {
            fields[nf++] = p;
            if (!(tab = strchr(p, '\t'))) break;
            *tab = 0;
        }
        snprintf(e->kind, sizeof e->kind, "%.15s", fields[0]);
        if (strcmp(e->kind, "shape") == 0) {
            ck_assert_int_eq(nf, 6);
            e->n = atoll(fields[1]);
            e->h = atoll(fields[2]);
            e->w = atoll(fields[3]);
            snprintf(e->name, sizeof e->name, "%s", fields[4]);
            for (char *p = fields[5]; *p && e->rank < 8; e->rank++) {
                e->dims[e->rank] = strtoll(p, &p, 10);
                if (*p == ',') p++;
            }
        } else {
            ck_assert_int_ge(nf, 2);
            snprintf(e->name, sizeof e->name, "%s", fields[1]);
            if (nf > 2) snprintf(e->extra, sizeof e->extra, "%s", fields[2]);
        }
        n++;
    }
    fclose(f);
    *out = v;
    return n;
}

int run_capture(char *const argv[], char **output) {
    char tmpl[] = "/tmp/lscc_test_XXXXXX";
    int fd = mkstemp(tmpl);
    ck_assert_int_ge(fd, 0);
    unlink(tmpl);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    off_t len = lseek(fd, 0, SEEK_END);
    char *buf = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(pread(fd, buf, (size_t)len, 0), len);
    buf[len] = 0;
    close(fd);
    *output = buf;
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

int run_suite(const char *name, void (*add)(TCase *), int timeout) {
    Suite *s = suite_create(name);
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, timeout);
    add(tc);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

double *read_f64_file(const char *path, size_t want, size_t *n) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    size_t count = (size_t)len / sizeof(double);
    ck_assert_msg(len >= 0 && (size_t)len % sizeof(double) == 0, "%s: not a float64 file", path);
    ck_assert_msg(!want || count == want, "%s: %zu values, expected %zu", path, count, want);
    double *v = malloc(sizeof *v * (count ? count : 1));
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(fread(v, sizeof *v, count, f), count);
    fclose(f);
    if (n) *n = count;
    return v;
}

double max_rel_err(const double *a, const double *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num = fmax(num, fabs(a[i] - b[i]));
        den = fmax(den, fabs(b[i]));
    }
    return den > 0 ? num / den : num;
}

double accum_rel_err(const double *got, const double *ref, const double *pre, size_t n) {
    double *want = malloc(sizeof *want * (n ? n : 1));
    ck_assert_ptr_nonnull(want);
    for (size_t k = 0; k < n; k++) want[k] = pre ? pre[k] + 2 * ref[k] : ref[k];
    double e = max_rel_err(got, want, n);
    free(want);
    return e;
}

char *run_ok(char *const argv[], const char *what) {
    char *out = NULL;
    int rc = run_capture(argv, &out);
    if (rc != 0) fprintf(stderr, "%s failed (%d):\n%s\n", what, rc, out ? out : "");
    ck_assert_msg(rc == 0, "%s failed with %d", what, rc);
    return out;
}

unsigned char *read_whole_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    ck_assert_int_ge(len, 0);
    unsigned char *b = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    b[len] = 0;
    *n = (size_t)len;
    return b;
}

void write_whole_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path)) fprintf(stderr, "warning: cannot remove %s\n", path);
    return 0;
}

void remove_work_dir(const char *path) {
    const char *keep = getenv("LSCC_KEEP_WORK");
    if ((keep && *keep && strcmp(keep, "0")) || !path || !*path || !strcmp(path, "/")) return;
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
