/* Training helpers: optimizers over a generated model's parameter list and
 * losses with their gradients. Generated code gives the parameters
 * (NAME_params) and their gradients (NAME_backward accumulates into them);
 * a training loop is then, in the model's element type T:
 *
 *     size_t np;
 *     lscc_param *p = net_params(ctx, &np);
 *     lscc_optim_hparams hp;
 *     lscc_optim_defaults(LSCC_OPTIM_ADAMW, &hp);
 *     hp.lr = 3e-4;
 *     lscc_optim *opt;
 *     if (lscc_optim_create(&opt, LSCC_OPTIM_ADAMW, &hp, p, np, LSCC_F32, &err)) ...
 *     for each batch:
 *         lscc_optim_zero_grad(opt);                  (or net_zero_grad)
 *         net_forward(ctx, &x, logits);
 *         lscc_loss_cross_entropy(LSCC_F32, n, c, logits, labels, &loss, dlogits, &err);
 *         net_backward(ctx, &x, dlogits, NULL);
 *         lscc_optim_step(opt, &err);                 (refuses NaN/Inf gradients)
 *     lscc_optim_destroy(opt);
 *
 * Every call returns an LSCC_RT_* status and, on failure, fills err (which
 * may be NULL). Nothing prints, nothing is global; an optimizer is used by
 * one thread at a time and runs its loops on OpenMP threads itself. The
 * results do not depend on the number of threads: every element is computed
 * by one thread in one fixed order. */
#ifndef LSCC_TRAIN_H
#define LSCC_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "lscc_rt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Optimizers
 * ------------------------------------------------------------------------ */

typedef enum lscc_optim_kind {
    /* torch.optim.SGD: with weight decay wd, momentum mu, dampening tau, per
     * element  d = g + wd * p;  if mu != 0: b = d on the first step, else
     * b = mu * b + (1 - tau) * d,  then d = nesterov ? d + mu * b : b;
     * p = p - lr * d. */
    LSCC_OPTIM_SGD = 1,
    /* torch.optim.AdamW (decoupled weight decay, bias correction, eps added
     * after the square root), per element at step t = 1, 2, ...:
     * p = p * (1 - lr * wd);  m = b1 * m + (1 - b1) * g;
     * v = b2 * v + (1 - b2) * g * g;  (amsgrad: vmax = max(vmax, v), used for v)
     * p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). */
    LSCC_OPTIM_ADAMW = 2
} lscc_optim_kind;

/* Hyper-parameters; lscc_optim_defaults fills torch's defaults. Fields that
 * the kind does not use are ignored. They are checked as torch checks them:
 * every value finite, lr, weight_decay, momentum, dampening, eps >= 0,
 * 0 <= beta1, beta2 < 1, and nesterov only with momentum > 0 and
 * dampening == 0. */
typedef struct lscc_optim_hparams {
    double lr;           /* SGD default 0.01 (torch 1.13 has none), AdamW 1e-3 */
    double weight_decay; /* SGD: L2 added to the gradient (default 0); AdamW: decoupled (default 0.01) */
    double momentum;     /* SGD (default 0) */
    double dampening;    /* SGD (default 0) */
    int nesterov;        /* SGD (default 0) */
    double beta1, beta2; /* AdamW (default 0.9, 0.999) */
    double eps;          /* AdamW (default 1e-8) */
    int amsgrad;         /* AdamW (default 0) */
    /* 1: lscc_optim_step skips its check that every gradient is finite (see
     * there). The check reads every gradient once more before the update:
     * over ResNet-18's 11.7M float parameters on 2 threads it took about
     * 12 ms, against 36 ms for an SGD-momentum step and 53 ms for an AdamW
     * step without it (bench/optim_step.c); default 0 (checked). */
    int no_finite_check;
} lscc_optim_hparams;

typedef struct lscc_optim lscc_optim;

void lscc_optim_defaults(lscc_optim_kind kind, lscc_optim_hparams *hp);

/* An optimizer over params[0 .. nparams) (typically NAME_params' array), whose
 * values and gradients are of element type dtype (LSCC_F32 or LSCC_F64: the
 * model's element size, 4 or 8). The array is copied, but value and grad are
 * kept as pointers: the optimizer must not outlive the context that owns
 * them. All state is allocated here (SGD with momentum: one buffer per
 * parameter; AdamW: two, three with amsgrad), zeroed, in the parameters'
 * element type as torch keeps it: float state for a float model halves the
 * memory and the traffic of a step, which is bound by memory, and keeps
 * float training close to torch's float training. Each element's update is
 * computed in double from the stored values and rounded once when stored.
 * Parameters with on_device = 1 (GPU code) give LSCC_RT_E_UNSUPPORTED: the
 * GPU update kernels are not written yet. *out is NULL on failure. */
int lscc_optim_create(lscc_optim **out, lscc_optim_kind kind, const lscc_optim_hparams *hp, const lscc_param *params,
                      size_t nparams, lscc_dtype dtype, lscc_rt_error *err);

/* One update of every parameter from its gradient. Unless no_finite_check,
 * it first checks that every gradient element is finite; if one is not
 * (NaN, +-Inf) it returns LSCC_RT_E_INVALID naming the parameter and element
 * and changes nothing: weights, optimizer state and step count are as before,
 * so the next step with good gradients continues as if this one had not been
 * called. The gradients are not zeroed. */
int lscc_optim_step(lscc_optim *o, lscc_rt_error *err);

/* Sets the learning rate of the following steps (schedules): finite, >= 0. */
int lscc_optim_set_lr(lscc_optim *o, double lr, lscc_rt_error *err);
double lscc_optim_get_lr(const lscc_optim *o);

/* Successful steps so far. */
int64_t lscc_optim_steps(const lscc_optim *o);

/* Sets every parameter's gradient to zero (as NAME_zero_grad does). */
void lscc_optim_zero_grad(lscc_optim *o);

/* Frees the state; NULL is allowed. The parameters are left as they are. */
void lscc_optim_destroy(lscc_optim *o);

/* ------------------------------------------------------------------------
 * Losses
 *
 * Each computes the loss value in double (written to *loss) and, when
 * grad is not NULL, dL/d(input) into grad: an array of the inputs' element
 * type dtype (LSCC_F32 or LSCC_F64) and length. grad may be the input array
 * itself (in place). Float inputs are computed in double and rounded once.
 * Non-finite inputs give non-finite results, as in torch.
 * ------------------------------------------------------------------------ */

/* Softmax cross-entropy (torch.nn.functional.cross_entropy, mean over the
 * batch): logits n x c (row-major), labels[i] in [0, c) (else
 * LSCC_RT_E_ARG and nothing written). loss = mean_i (logsumexp(x_i) - x_i[y_i]),
 * grad = (softmax(x_i) - onehot(y_i)) / n. Stable for any finite logits. */
int lscc_loss_cross_entropy(lscc_dtype dtype, int64_t n, int64_t c, const void *logits, const int64_t *labels,
                            double *loss, void *grad, lscc_rt_error *err);

/* Binary cross-entropy on logits (binary_cross_entropy_with_logits, mean
 * over the count elements), targets of the same type (soft targets allowed):
 * loss = mean(max(x, 0) - x * t + log1p(exp(-|x|))), grad = (sigmoid(x) - t) / count. */
int lscc_loss_bce_logits(lscc_dtype dtype, size_t count, const void *logits, const void *targets, double *loss,
                         void *grad, lscc_rt_error *err);

/* Mean squared error (mse_loss, mean): loss = mean((x - t)^2), grad = 2 (x - t) / count. */
int lscc_loss_mse(lscc_dtype dtype, size_t count, const void *pred, const void *target, double *loss, void *grad,
                  lscc_rt_error *err);

/* Index of each row's largest logit (logits n x c, c >= 1) into out[0 .. n):
 * the first one on ties; a NaN counts as larger than anything (torch.argmax). */
int lscc_argmax(lscc_dtype dtype, int64_t n, int64_t c, const void *logits, int64_t *out, lscc_rt_error *err);

/* How many of the n rows have their argmax equal to their label, in *correct
 * (accuracy = *correct / n). Labels out of [0, c) count as wrong. */
int lscc_accuracy(lscc_dtype dtype, int64_t n, int64_t c, const void *logits, const int64_t *labels,
                  int64_t *correct, lscc_rt_error *err);

#ifdef __cplusplus
}
#endif
#endif
