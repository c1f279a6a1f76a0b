/* Losses with their gradients, and argmax / accuracy (lscc_train.h). The
 * arrays are a batch's head outputs (small), so the loops are serial: the
 * sums are in double, in element order, whatever the thread count.
 *
 * The file includes itself once per element type (T, S) for the loops; the
 * entry points are in the #ifndef T part. */
#ifndef T
#include <math.h>
#include <stdint.h>

#include "lscc_rt.h"

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, S)

#define T float
#define S f32
#include "loss.c"
#undef T
#undef S
#define T double
#define S f64
#include "loss.c"
#undef T
#undef S

static int check_dtype(const char *where, lscc_dtype dtype, lscc_rt_error *err) {
    if (dtype != LSCC_F32 && dtype != LSCC_F64)
        return lscc_rt_fail(err, LSCC_RT_E_ARG, "%s: element type %d is not LSCC_F32 (4) or LSCC_F64 (8)", where,
                            (int)dtype);
    return LSCC_RT_OK;
}

static int check_rows(const char *where, lscc_dtype dtype, int64_t n, int64_t c, const void *logits,
                      lscc_rt_error *err) {
    int rc = check_dtype(where, dtype, err);
    if (rc) return rc;
    if (n < 1 || c < 1 || (uint64_t)n > SIZE_MAX / 8 / (uint64_t)c)
        return lscc_rt_fail(err, LSCC_RT_E_ARG, "%s: bad batch %lld x classes %lld (each must be >= 1)", where,
                            (long long)n, (long long)c);
    if (!logits) return lscc_rt_fail(err, LSCC_RT_E_ARG, "%s: logits is NULL", where);
    return LSCC_RT_OK;
}

int lscc_loss_cross_entropy(lscc_dtype dtype, int64_t n, int64_t c, const void *logits, const int64_t *labels,
                            double *loss, void *grad, lscc_rt_error *err) {
    const char *where = "lscc_loss_cross_entropy";
    int rc = check_rows(where, dtype, n, c, logits, err);
    if (rc) return rc;
    if (!labels || !loss) return lscc_rt_fail(err, LSCC_RT_E_ARG, "%s: labels or loss is NULL", where);
    for (int64_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= c)
            return lscc_rt_fail(err, LSCC_RT_E_ARG, "%s: label %lld of row %lld is not a class in [0, %lld)", where,
                                (long long)labels[i], (long long)i, (long long)c);
    *loss = dtype == LSCC_F32 ? cross_entropy_f32((size_t)n, (size_t)c, logits, labels, grad)
                              : cross_entropy_f64((size_t)n, (size_t)c, logits, labels, grad);
    return LSCC_RT_OK;
}

int lscc_loss_bce_logits(lscc_dtype dtype, size_t count, const void *logits, const void *targets, double *loss,
                         void *grad, lscc_rt_error *err) {
    const char *where = "lscc_loss_bce_logits";
    int rc = check_dtype(where, dtype, err);
    if (rc) return rc;
    if (!count) return lscc_rt_fail(err, LSCC_RT_E_ARG, "%s: no elements", where);
    if (!logits || !targets || !loss)
        return lscc_rt_fail(err, LSCC_RT_E_ARG, "%s: logits, targets or loss is NULL", where);
    *loss = dtype == LSCC_F32 ? bce_f32(count, logits, targets, grad) : bce_f64(count, logits, targets, grad);
    return LSCC_RT_OK;
}

int lscc_loss_mse(lscc_dtype dtype, size_t count, const void *pred, const void *target, double *loss, void *grad,
                  lscc_rt_error *err) {
    const char *where = "lscc_loss_mse";
    int rc = check_dtype(where, dtype, err);
    if (rc) return rc;
    if (!count) return lscc_rt_fail(err, LSCC_RT_E_ARG, "%s: no elements", where);
    if (!pred || !target || !loss) return lscc_rt_fail(err, LSCC_RT_E_ARG, "%s: pred, target or loss is NULL", where);
    *loss = dtype == LSCC_F32 ? mse_f32(count, pred, target, grad) : mse_f64(count, pred, target, grad);
    return LSCC_RT_OK;
}

int lscc_argmax(lscc_dtype dtype, int64_t n, int64_t c, const void *logits, int64_t *out, lscc_rt_error *err) {
    int rc = check_rows("lscc_argmax", dtype, n, c, logits, err);
    if (rc) return rc;
    if (!out) return lscc_rt_fail(err, LSCC_RT_E_ARG, "lscc_argmax: out is NULL");
    for (int64_t i = 0; i < n; i++)
        out[i] = dtype == LSCC_F32 ? argmax_row_f32((size_t)c, (const float *)logits + (size_t)i * (size_t)c)
                                   : argmax_row_f64((size_t)c, (const double *)logits + (size_t)i * (size_t)c);
    return LSCC_RT_OK;
}

int lscc_accuracy(lscc_dtype dtype, int64_t n, int64_t c, const void *logits, const int64_t *labels,
                  int64_t *correct, lscc_rt_error *err) {
    int rc = check_rows("lscc_accuracy", dtype, n, c, logits, err);
    if (rc) return rc;
    if (!labels || !correct) return lscc_rt_fail(err, LSCC_RT_E_ARG, "lscc_accuracy: labels or correct is NULL");
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t a = dtype == LSCC_F32 ? argmax_row_f32((size_t)c, (const float *)logits + (size_t)i * (size_t)c)
                                      : argmax_row_f64((size_t)c, (const double *)logits + (size_t)i * (size_t)c);
        k += a == labels[i];
    }
    *correct = k;
    return LSCC_RT_OK;
}

#else /* per-type loops: T, S */

/* Each row: m = max, s = sum exp(x - m), loss term log(s) + m - x[y]; the
 * gradient is written after the row has been read (in place is fine). */
static double FN(cross_entropy)(size_t n, size_t c, const void *logits, const int64_t *labels, void *grad) {
    const T *x = logits;
    T *dx = grad;
    double sum = 0, inv_n = 1.0 / (double)n;
    for (size_t i = 0; i < n; i++) {
        const T *r = x + i * c;
        double m = (double)r[0];
        for (size_t j = 1; j < c; j++) m = fmax(m, (double)r[j]);
        double s = 0;
        for (size_t j = 0; j < c; j++) s += exp((double)r[j] - m);
        size_t y = (size_t)labels[i];
        double lse = m + log(s);
        sum += lse - (double)r[y];
        if (!dx) continue;
        T *d = dx + i * c;
        for (size_t j = 0; j < c; j++) d[j] = (T)((exp((double)r[j] - m) / s - (j == y)) * inv_n);
    }
    return sum * inv_n;
}

static double FN(bce)(size_t count, const void *logits, const void *targets, void *grad) {
    const T *x = logits, *t = targets;
    T *dx = grad;
    double sum = 0, inv = 1.0 / (double)count;
    for (size_t i = 0; i < count; i++) {
        double v = (double)x[i], y = (double)t[i];
        double z = exp(-fabs(v)); /* in (0, 1]: no overflow */
        sum += fmax(v, 0.0) - v * y + log1p(z);
        if (dx) {
            double sig = v >= 0 ? 1.0 / (1.0 + z) : z / (1.0 + z);
            dx[i] = (T)((sig - y) * inv);
        }
    }
    return sum * inv;
}

static double FN(mse)(size_t count, const void *pred, const void *target, void *grad) {
    const T *x = pred, *t = target;
    T *dx = grad;
    double sum = 0, inv = 1.0 / (double)count;
    for (size_t i = 0; i < count; i++) {
        double d = (double)x[i] - (double)t[i];
        sum += d * d;
        if (dx) dx[i] = (T)(2.0 * d * inv);
    }
    return sum * inv;
}

static int64_t FN(argmax_row)(size_t c, const T *r) {
    size_t best = 0;
    for (size_t j = 0; j < c; j++) {
        if (isnan(r[j])) return (int64_t)j;
        if (r[j] > r[best]) best = j;
    }
    return (int64_t)best;
}

#endif
