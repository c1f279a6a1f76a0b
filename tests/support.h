/* Shared helpers for the Check suites: the test model zoo and its
 * expectations (written by python/export_models.py from PyTorch and ONNX's own
 * shape inference), and running commands. */
#ifndef LSCC_TEST_SUPPORT_H
#define LSCC_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/* Environment set by CTest: LSCC_TEST_MODELS (exported models),
 * LSCC_TEST_BAD (malformed models), LSCC_PYTHON, LSCC_TEST_PY (scripts),
 * LSCC_BIN (the lscc executable). */
const char *env_or_skip(const char *name);

/* Path of a file in the models directory. */
const char *model_path(const char *name, const char *ext);

typedef struct expect_line {
    char kind[16];     /* split, reject, shape */
    char name[512];    /* tensor or node name */
    char extra[512];   /* third field of other records (fused: reference file) */
    int64_t n, h, w;   /* shape: the image size */
    int rank;
    int64_t dims[8];
} expect_line;

/* Reads NAME.expect; returns the number of lines (malloc'ed array in *out). */
int read_expect(const char *name, expect_line **out);

/* Reads a file of float64 values; want > 0 asserts exactly that many.
 * Returns a malloc'ed array, its length in *n (n may be NULL). */
double *read_f64_file(const char *path, size_t want, size_t *n);

/* max|a - b| / max|b| (max|a - b| when b is all zero). */
double max_rel_err(const double *a, const double *b, size_t n);

/* Error of a kernel output against PyTorch's ref: plain when pre is NULL; for
 * accumulating (backward) kernels run twice on a buffer that held pre,
 * against pre + 2 * ref. */
double accum_rel_err(const double *got, const double *ref, const double *pre, size_t n);

/* Runs a Check suite made of one test case; returns the process exit code. */
#include <check.h>
int run_suite(const char *name, void (*add)(TCase *), int timeout);

/* Runs argv (NULL terminated) with stdout and stderr captured into one
 * malloc'ed string; returns the exit status (128 + signal if killed). */
int run_capture(char *const argv[], char **output);
/* run_capture that must exit 0 (else the test fails, printing the output);
 * returns the output, to free. what names the command in the message. */
char *run_ok(char *const argv[], const char *what);

/* A whole file, malloc'ed with a NUL after it (*n bytes; the test fails when
 * it cannot be read), and its opposite. */
unsigned char *read_whole_file(const char *path, size_t *n);
void write_whole_file(const char *path, const void *data, size_t n);

/* Removes a test's work directory and everything in it, after the test
 * passed (a failed one keeps its files to look at), unless LSCC_KEEP_WORK is
 * set: the suite's models and generated builds would otherwise add up to
 * gigabytes on the machine that runs it. */
void remove_work_dir(const char *path);

#endif
