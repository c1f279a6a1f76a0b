/* The .npy reader and writer (runtime/npy.c) against NumPy.
 *
 * - Every valid file of make_npy_cases.py (numpy.save, write_array 2.0/3.0,
 *   hand-made headers NumPy accepts) reads to the dtype, shape and values
 *   NumPy wrote (bit for bit, NaN as NaN), with lscc_npy_read and
 *   lscc_npy_read_f64.
 * - Every invalid one is refused with a message naming the file and
 *   containing the expected reason, and leaves the output zeroed.
 * - Fuzz-ish: every proper prefix of each valid file is refused cleanly, and
 *   random byte changes in its header give success (a consistent array) or a
 *   clean error; under the sanitizers this also checks no read goes astray.
 * - Round trip: what lscc_npy_write writes (the valid cases read back, and
 *   arrays of ranks 0 to 8 and empty ones made here) loads in numpy.load to
 *   the same values and is byte-identical to numpy.save's file (checked by
 *   make_npy_cases.py check, run from here).
 * - Write failures (missing directory, a directory in the way, bad arguments)
 *   give an error and leave no file behind; overwriting replaces the file.
 * - Reading through a FIFO (no file size known up front): a 2.4 MB array
 *   arrives whole, and a header claiming 1 TiB with 100 bytes behind it is
 *   refused as truncated without allocating the claimed size. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lscc_npy.h"
#include "support.h"

typedef struct ncase {
    int ok;
    char name[128];
    lscc_npy_dtype dt;
    int rank;
    int64_t dims[LSCC_NPY_MAXRANK];
    char text[256]; /* bad: expected part of the message */
} ncase;

static ncase cases[160];
static int ncases, nok, nbad;
static int okidx[160], badidx[160];
static const char *dir;

static char *path_of(const char *name, const char *ext) {
    static char buf[4][4096];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s%s", dir, name, ext);
    return buf[k];
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    unsigned char *b = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            b = realloc(b, cap = cap ? 2 * cap : 4096);
            ck_assert_ptr_nonnull(b);
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (!got) break;
    }
    fclose(f);
    *len = n;
    return b;
}

static void spit(const char *path, const void *b, size_t len) {
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(len ? fwrite(b, 1, len, f) : 0, len);
    ck_assert_int_eq(fclose(f), 0);
}

static double value_at(const lscc_npy *a, size_t i) {
    switch (a->dtype) {
    case LSCC_NPY_U8: return ((const unsigned char *)a->data)[i];
    case LSCC_NPY_F32: return ((const float *)a->data)[i];
    default: return ((const double *)a->data)[i];
    }
}

static int same_value(double a, double b) { return (isnan(a) && isnan(b)) || (a == b && !signbit(a) == !signbit(b)); }

static const char *dt_name(lscc_npy_dtype dt) { return dt == LSCC_NPY_U8 ? "u8" : dt == LSCC_NPY_F32 ? "f32" : "f64"; }

/* Checks a against case k's shape and the values in its .bin. */
static void check_array(const ncase *k, const lscc_npy *a, lscc_npy_dtype want_dt) {
    ck_assert_msg(a->dtype == want_dt, "%s: dtype %d, expected %d", k->name, a->dtype, want_dt);
    ck_assert_int_eq(a->rank, k->rank);
    size_t count = 1;
    for (int i = 0; i < k->rank; i++) {
        ck_assert_msg(a->dims[i] == k->dims[i], "%s: dim %d is %lld, expected %lld", k->name, i,
                      (long long)a->dims[i], (long long)k->dims[i]);
        count *= (size_t)k->dims[i];
    }
    ck_assert_uint_eq(a->count, count);
    ck_assert_ptr_nonnull(a->data);
    double *want = read_f64_file(path_of(k->name, ".bin"), 0, &count);
    ck_assert_uint_eq(count, a->count);
    for (size_t i = 0; i < count; i++)
        ck_assert_msg(same_value(value_at(a, i), want[i]), "%s: element %zu is %.17g, expected %.17g", k->name, i,
                      value_at(a, i), want[i]);
    free(want);
}

static int is_zeroed(const lscc_npy *a) {
    static const lscc_npy zero;
    return !memcmp(a, &zero, sizeof zero);
}

/* A refusal: nonzero, and a message "<path>: <reason>" with a reason. */
static void assert_clean_error(int rc, const char *path, const char *msg) {
    ck_assert_int_ne(rc, 0);
    size_t n = strlen(path);
    ck_assert_msg(!strncmp(msg, path, n) && msg[n] == ':' && strlen(msg) > n + 3, "bad message '%s' for %s", msg,
                  path);
}

START_TEST(reads_valid_files) {
    const ncase *k = &cases[okidx[_i]];
    char msg[512];
    lscc_npy a;
    int rc = lscc_npy_read(path_of(k->name, ".npy"), &a, msg, sizeof msg);
    ck_assert_msg(rc == 0, "%s: %s", k->name, msg);
    check_array(k, &a, k->dt);
    lscc_npy_free(&a);
    ck_assert(is_zeroed(&a));
    rc = lscc_npy_read_f64(path_of(k->name, ".npy"), &a, msg, sizeof msg);
    ck_assert_msg(rc == 0, "%s: %s", k->name, msg);
    check_array(k, &a, LSCC_NPY_F64);
    lscc_npy_free(&a);
}
END_TEST

START_TEST(refuses_invalid_files) {
    const ncase *k = &cases[badidx[_i]];
    const char *path = path_of(k->name, ".npy");
    char msg[512];
    lscc_npy a;
    for (int f64 = 0; f64 < 2; f64++) {
        memset(msg, 0, sizeof msg);
        int rc = f64 ? lscc_npy_read_f64(path, &a, msg, sizeof msg) : lscc_npy_read(path, &a, msg, sizeof msg);
        ck_assert_msg(rc != 0, "%s was accepted", k->name);
        assert_clean_error(rc, path, msg);
        ck_assert_msg(strstr(msg, k->text) != NULL, "%s: message '%s' lacks '%s'", k->name, msg, k->text);
        ck_assert(is_zeroed(&a));
    }
    printf("%-22s %s\n", k->name, msg + strlen(dir) + 1);
}
END_TEST

START_TEST(truncations_and_header_flips) {
    const ncase *k = &cases[okidx[_i]];
    size_t len;
    unsigned char *b = slurp(path_of(k->name, ".npy"), &len);
    ck_assert_uint_ge(len, 10);
    const size_t hend = b[6] == 1 ? 10 + (size_t)(b[8] | b[9] << 8)
                                  : 12 + (size_t)(b[8] | b[9] << 8 | b[10] << 16 | (size_t)b[11] << 24);
    ck_assert_uint_le(hend, len);
    const char *path = path_of(k->name, ".fuzz");
    char msg[512];
    lscc_npy a;
    for (size_t n = 0; n < len; n++) {
        spit(path, b, n);
        msg[0] = 0;
        int rc = lscc_npy_read(path, &a, msg, sizeof msg);
        ck_assert_msg(rc != 0, "%s cut to %zu of %zu bytes was accepted", k->name, n, len);
        assert_clean_error(rc, path, msg);
        ck_assert(is_zeroed(&a));
    }
    static const unsigned char tokens[] = {'(', ')', ',', '-', '9', '0', ' ', 0, '\'', '"', '{', '}', ':', 'L', 0xff};
    unsigned seed = 77u + (unsigned)_i;
    int accepted = 0;
    for (int t = 0; t < 400; t++) {
        const size_t at = (size_t)rand_r(&seed) % hend;
        const unsigned char old = b[at];
        b[at] = rand_r(&seed) % 2 ? tokens[rand_r(&seed) % sizeof tokens] : (unsigned char)rand_r(&seed);
        spit(path, b, len);
        b[at] = old;
        msg[0] = 0;
        int rc = lscc_npy_read(path, &a, msg, sizeof msg);
        if (rc) {
            assert_clean_error(rc, path, msg);
            ck_assert(is_zeroed(&a));
            continue;
        }
        accepted++;
        size_t count = 1;
        ck_assert(a.rank >= 0 && a.rank <= LSCC_NPY_MAXRANK);
        for (int i = 0; i < a.rank; i++) count *= (size_t)a.dims[i];
        ck_assert_uint_eq(count, a.count);
        ck_assert_ptr_nonnull(a.data);
        double sum = 0; /* touch every element: the sanitizers check the buffer is that long */
        for (size_t i = 0; i < a.count; i++) sum += value_at(&a, i);
        (void)sum;
        lscc_npy_free(&a);
    }
    unlink(path);
    free(b);
    printf("%-22s %zu truncations refused, %d of 400 header changes accepted\n", k->name, len, accepted);
}
END_TEST

/* Writes a with lscc_npy_write into dir/written/NAME.npy, its values as
 * float64 into NAME.bin and a manifest line, for make_npy_cases.py check. */
static void write_for_numpy(FILE *manifest, const char *name, const lscc_npy *a) {
    char path[4096], msg[512];
    snprintf(path, sizeof path, "%s/written/%s.npy", dir, name);
    int rc = lscc_npy_write(path, a->dtype, a->rank, a->dims, a->data, msg, sizeof msg);
    ck_assert_msg(rc == 0, "%s", msg);
    double *v = malloc(sizeof *v * (a->count ? a->count : 1));
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < a->count; i++) v[i] = value_at(a, i);
    snprintf(path, sizeof path, "%s/written/%s.bin", dir, name);
    spit(path, v, sizeof *v * a->count);
    free(v);
    fprintf(manifest, "%s %s %d", name, dt_name(a->dtype), a->rank);
    for (int i = 0; i < a->rank; i++) fprintf(manifest, " %lld", (long long)a->dims[i]);
    fprintf(manifest, "\n");
}

START_TEST(numpy_loads_what_we_write) {
    char path[4096], msg[512];
    snprintf(path, sizeof path, "%s/written", dir);
    ck_assert(mkdir(path, 0777) == 0 || errno == EEXIST);
    snprintf(path, sizeof path, "%s/written/written", dir);
    FILE *manifest = fopen(path, "w");
    ck_assert_ptr_nonnull(manifest);
    int n = 0;
    for (int i = 0; i < nok; i++) { /* every valid case, read and written back */
        const ncase *k = &cases[okidx[i]];
        lscc_npy a;
        ck_assert_msg(lscc_npy_read(path_of(k->name, ".npy"), &a, msg, sizeof msg) == 0, "%s", msg);
        write_for_numpy(manifest, k->name, &a);
        lscc_npy_free(&a);
        n++;
    }
    unsigned seed = 4242;
    for (int rank = 0; rank <= LSCC_NPY_MAXRANK; rank++) /* made here: every rank, each dtype */
        for (int dt = 0; dt < 3; dt++) {
            lscc_npy a = {.dtype = (lscc_npy_dtype)dt, .rank = rank, .count = 1};
            for (int i = 0; i < rank; i++) a.count *= (size_t)(a.dims[i] = 1 + rand_r(&seed) % 3);
            a.data = malloc(lscc_npy_esize(a.dtype) * a.count);
            ck_assert_ptr_nonnull(a.data);
            for (size_t e = 0; e < a.count; e++) {
                double v = (2.0 * rand_r(&seed) / RAND_MAX - 1) * pow(10, rand_r(&seed) % 20 - 10);
                if (e == 1) v = -0.0;
                if (e == 2) v = dt == 2 ? NAN : INFINITY;
                if (a.dtype == LSCC_NPY_U8) ((unsigned char *)a.data)[e] = (unsigned char)(rand_r(&seed) % 256);
                else if (a.dtype == LSCC_NPY_F32) ((float *)a.data)[e] = (float)v;
                else ((double *)a.data)[e] = v;
            }
            char name[64];
            snprintf(name, sizeof name, "made_r%d_%s", rank, dt_name(a.dtype));
            write_for_numpy(manifest, name, &a);
            lscc_npy_free(&a);
            n++;
        }
    static const int64_t empty[][3] = {{12345678, 0, 1}, {0, 1099511627776, 7}, {3, 0, 0}};
    for (int i = 0; i < 3; i++) { /* empty arrays with long dims: the header's spare spaces */
        lscc_npy a = {.dtype = LSCC_NPY_F32, .rank = 3, .dims = {empty[i][0], empty[i][1], empty[i][2]}};
        char name[64];
        snprintf(name, sizeof name, "made_empty_%d", i);
        write_for_numpy(manifest, name, &a);
        n++;
    }
    ck_assert_int_eq(fclose(manifest), 0);
    snprintf(path, sizeof path, "%s/written", dir);
    char *argv[] = {(char *)env_or_skip("LSCC_PYTHON"), (char *)env_or_skip("LSCC_TEST_NPY_SCRIPT"), "check", path,
                    NULL};
    char *out = NULL;
    int rc = run_capture(argv, &out);
    printf("%d files: %s", n, out);
    ck_assert_msg(rc == 0, "numpy check failed (%d): %s", rc, out);
    free(out);
}
END_TEST

static int count_prefixed(const char *d, const char *prefix) {
    DIR *h = opendir(d);
    ck_assert_ptr_nonnull(h);
    int n = 0;
    for (struct dirent *e; (e = readdir(h));) n += !strncmp(e->d_name, prefix, strlen(prefix));
    closedir(h);
    return n;
}

START_TEST(write_and_read_errors) {
    char path[4096], msg[512];
    const double v[6] = {1, 2, 3, 4, 5, 6};
    const int64_t d23[2] = {2, 3};
    snprintf(path, sizeof path, "%s/no/such/dir/x.npy", dir);
    int rc = lscc_npy_write(path, LSCC_NPY_F64, 2, d23, v, msg, sizeof msg);
    assert_clean_error(rc, path, msg);
    ck_assert_ptr_nonnull(strstr(msg, "cannot create"));

    snprintf(path, sizeof path, "%s/a_directory", dir); /* the rename fails: nothing may be left */
    ck_assert(mkdir(path, 0777) == 0 || errno == EEXIST);
    rc = lscc_npy_write(path, LSCC_NPY_F64, 2, d23, v, msg, sizeof msg);
    assert_clean_error(rc, path, msg);
    ck_assert_int_eq(count_prefixed(dir, "a_directory.tmp"), 0);
    lscc_npy a;
    rc = lscc_npy_read(path, &a, msg, sizeof msg);
    assert_clean_error(rc, path, msg);
    ck_assert_ptr_nonnull(strstr(msg, "is a directory"));

    snprintf(path, sizeof path, "%s/no_such_file.npy", dir);
    rc = lscc_npy_read(path, &a, msg, sizeof msg);
    assert_clean_error(rc, path, msg);
    ck_assert_ptr_nonnull(strstr(msg, "cannot open"));
    ck_assert(is_zeroed(&a));
    ck_assert_int_ne(lscc_npy_read(path, NULL, msg, sizeof msg), 0);
    ck_assert_int_ne(lscc_npy_read(NULL, &a, msg, sizeof msg), 0);
    ck_assert_int_ne(lscc_npy_read(path, &a, NULL, 0), 0); /* no message wanted */
    rc = lscc_npy_read(path, &a, msg, 6); /* a short message buffer is cut, terminated */
    ck_assert_int_ne(rc, 0);
    ck_assert_uint_eq(strlen(msg), 5);

    snprintf(path, sizeof path, "%s/bad_args.npy", dir);
    const int64_t neg[2] = {2, -3}, huge[2] = {2, (int64_t)1 << 41}, big[3] = {1 << 20, 1 << 20, 2};
    const int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    ck_assert_int_ne(lscc_npy_write(path, LSCC_NPY_F64, 2, neg, v, msg, sizeof msg), 0);
    ck_assert_ptr_nonnull(strstr(msg, "bad dimension -3"));
    ck_assert_int_ne(lscc_npy_write(path, LSCC_NPY_F64, 2, huge, v, msg, sizeof msg), 0);
    ck_assert_int_ne(lscc_npy_write(path, LSCC_NPY_F64, 3, big, v, msg, sizeof msg), 0);
    ck_assert_ptr_nonnull(strstr(msg, "too many elements"));
    ck_assert_int_ne(lscc_npy_write(path, LSCC_NPY_F64, 9, nine, v, msg, sizeof msg), 0);
    ck_assert_int_ne(lscc_npy_write(path, LSCC_NPY_F64, -1, d23, v, msg, sizeof msg), 0);
    ck_assert_int_ne(lscc_npy_write(path, LSCC_NPY_F64, 2, NULL, v, msg, sizeof msg), 0);
    ck_assert_int_ne(lscc_npy_write(path, LSCC_NPY_F64, 2, d23, NULL, msg, sizeof msg), 0);
    ck_assert_int_ne(lscc_npy_write(path, (lscc_npy_dtype)7, 2, d23, v, msg, sizeof msg), 0);
    ck_assert_int_ne(lscc_npy_write(NULL, LSCC_NPY_F64, 2, d23, v, NULL, 0), 0);
    ck_assert_int_eq(access(path, F_OK), -1);
    ck_assert_int_eq(count_prefixed(dir, "bad_args.npy"), 0);

    const int64_t d0[2] = {4, 0}; /* no elements: data may be NULL */
    ck_assert_int_eq(lscc_npy_write(path, LSCC_NPY_U8, 2, d0, NULL, msg, sizeof msg), 0);
    ck_assert_int_eq(lscc_npy_read(path, &a, msg, sizeof msg), 0);
    ck_assert(a.rank == 2 && a.dims[0] == 4 && a.dims[1] == 0 && a.count == 0 && a.dtype == LSCC_NPY_U8);
    lscc_npy_free(&a);
    const int64_t d6[1] = {6}; /* overwriting replaces the file */
    ck_assert_int_eq(lscc_npy_write(path, LSCC_NPY_F64, 1, d6, v, msg, sizeof msg), 0);
    ck_assert_int_eq(lscc_npy_read(path, &a, msg, sizeof msg), 0);
    ck_assert(a.rank == 1 && a.count == 6 && ((double *)a.data)[5] == 6);
    lscc_npy_free(&a);
    ck_assert_int_eq(lscc_npy_write(path, LSCC_NPY_F64, 0, NULL, v + 2, msg, sizeof msg), 0); /* rank 0 */
    ck_assert_int_eq(lscc_npy_read_f64(path, &a, msg, sizeof msg), 0);
    ck_assert(a.rank == 0 && a.count == 1 && ((double *)a.data)[0] == 3);
    lscc_npy_free(&a);
    ck_assert_int_eq(count_prefixed(dir, "bad_args.npy.tmp"), 0);
    unlink(path);
}
END_TEST

/* Reads bytes b through a FIFO (the reader cannot know the size up front). */
static int read_via_fifo(const unsigned char *b, size_t len, lscc_npy *a, char *msg, size_t msg_len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/fifo.%ld", dir, (long)getpid());
    unlink(path);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        FILE *f = fopen(path, "wb");
        _exit(!f || fwrite(b, 1, len, f) != len || fclose(f));
    }
    int rc = lscc_npy_read(path, a, msg, msg_len);
    int status;
    waitpid(pid, &status, 0);
    unlink(path);
    return rc;
}

START_TEST(reads_from_a_fifo) {
    char path[4096], msg[512];
    const int64_t dims[2] = {300, 1000};
    double *v = malloc(sizeof *v * 300000);
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < 300000; i++) v[i] = (double)i * 0.5 - 7;
    snprintf(path, sizeof path, "%s/big.npy", dir);
    ck_assert_int_eq(lscc_npy_write(path, LSCC_NPY_F64, 2, dims, v, msg, sizeof msg), 0);
    size_t len;
    unsigned char *b = slurp(path, &len);
    unlink(path);
    lscc_npy a;
    int rc = read_via_fifo(b, len, &a, msg, sizeof msg);
    ck_assert_msg(rc == 0, "%s", msg);
    ck_assert(a.rank == 2 && a.dims[0] == 300 && a.dims[1] == 1000 && a.count == 300000);
    ck_assert(!memcmp(a.data, v, sizeof *v * 300000));
    lscc_npy_free(&a);
    rc = read_via_fifo(b, len - 1, &a, msg, sizeof msg);
    ck_assert_ptr_nonnull(strstr(msg, "truncated data (2399999 of 2400000 bytes)"));
    unsigned char *more = realloc(b, len + 1); /* one byte too many */
    ck_assert_ptr_nonnull(more);
    b = more;
    b[len] = 0;
    rc = read_via_fifo(b, len + 1, &a, msg, sizeof msg);
    ck_assert_ptr_nonnull(strstr(msg, "trailing data"));
    /* A header claiming 2^37 doubles (1 TiB) with 100 bytes behind it. */
    const char *h = "{'descr': '<f8', 'fortran_order': False, 'shape': (137438953472,), }";
    len = 10 + 118;
    memcpy(b, "\x93NUMPY\x01\x00\x76\x00", 10);
    memset(b + 10, ' ', 118);
    memcpy(b + 10, h, strlen(h));
    b[len - 1] = '\n';
    memset(b + len, 1, 100);
    rc = read_via_fifo(b, len + 100, &a, msg, sizeof msg);
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(msg, "truncated data (100 of 1099511627776 bytes)") != NULL, "%s", msg);
    ck_assert(is_zeroed(&a));
    free(b);
    free(v);
}
END_TEST

static void add_tests(TCase *tc) {
    tcase_add_loop_test(tc, reads_valid_files, 0, nok);
    tcase_add_loop_test(tc, refuses_invalid_files, 0, nbad);
    tcase_add_loop_test(tc, truncations_and_header_flips, 0, nok);
    tcase_add_test(tc, numpy_loads_what_we_write);
    tcase_add_test(tc, write_and_read_errors);
    tcase_add_test(tc, reads_from_a_fifo);
}

int main(void) {
    dir = env_or_skip("LSCC_TEST_NPY");
    char path[4096], line[1024];
    snprintf(path, sizeof path, "%s/index", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return 1;
    }
    while (ncases < (int)(sizeof cases / sizeof cases[0]) && fgets(line, sizeof line, f)) {
        ncase *k = &cases[ncases];
        memset(k, 0, sizeof *k);
        char kind[8], dt[8];
        int used = 0;
        line[strcspn(line, "\n")] = 0;
        if (sscanf(line, "%7s %127s %n", kind, k->name, &used) != 2) continue;
        if (!strcmp(kind, "bad")) {
            snprintf(k->text, sizeof k->text, "%s", line + used);
            badidx[nbad++] = ncases++;
            continue;
        }
        char *p = line + used;
        if (sscanf(p, "%7s %d %n", dt, &k->rank, &used) != 2 || k->rank < 0 || k->rank > LSCC_NPY_MAXRANK) {
            fprintf(stderr, "%s: bad line '%s'\n", path, line);
            return 1;
        }
        k->ok = 1;
        k->dt = !strcmp(dt, "u8") ? LSCC_NPY_U8 : !strcmp(dt, "f32") ? LSCC_NPY_F32 : LSCC_NPY_F64;
        p += used;
        for (int i = 0; i < k->rank; i++) k->dims[i] = strtoll(p, &p, 10);
        okidx[nok++] = ncases++;
    }
    fclose(f);
    if (nok < 30 || nbad < 40) {
        fprintf(stderr, "%s: %d valid and %d invalid cases, expected at least 30 and 40\n", path, nok, nbad);
        return 1;
    }
    return run_suite("npy", add_tests, 300);
}
