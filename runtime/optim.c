/* Optimizers over a parameter list (lscc_train.h): SGD and AdamW as
 * torch.optim defines them. The work is cut into chunks of at most CHUNK
 * elements of one parameter, made at create; every loop runs over the chunks
 * on OpenMP threads, each element by one thread in one order, so results do
 * not depend on the thread count.
 *
 * The file includes itself once per element type (T, S) for the loops; the
 * rest is in the #ifndef T part. */
#ifndef T
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lscc_rt.h"

#define CHUNK 16384
#define LSCC_PRAGMA(x) _Pragma(#x)
/* Threads only when there is enough work to pay for waking them. */
#define PAR_CHUNKS(o) LSCC_PRAGMA(omp parallel for schedule(static) if ((o)->total > 2 * CHUNK))
/* The element loops are marked `omp simd` so that they vectorize at -O2 too
   (GCC's -O2 cost model would not); they are elementwise, so this changes
   no result. */

typedef struct chunk {
    size_t param, begin, end;
} chunk;

struct lscc_optim {
    lscc_optim_kind kind;
    lscc_optim_hparams hp;
    int esize;
    lscc_param *params;
    size_t nparams, total;
    chunk *chunks;
    size_t nchunks;
    /* per parameter, in the parameters' element type: SGD momentum buffer
       (s0); AdamW first and second moments (s0, s1), amsgrad's max (s2) */
    void **s0, **s1, **s2;
    int64_t t; /* successful steps */
};

/* The scalars of one step, the same for every element. */
typedef struct coef {
    double lr, wd, mu, damp1;     /* SGD: damp1 = 1 - dampening */
    int nesterov, first;          /* first: the momentum buffer starts as d */
    double decay, b1, b2, c1, c2; /* AdamW: decay = 1 - lr * wd, c1 = 1 - b1, c2 = 1 - b2 */
    double step_size, bc2_sqrt, eps;
    int amsgrad;
} coef;

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, S)

#define T float
#define S f32
#include "optim.c"
#undef T
#undef S
#define T double
#define S f64
#include "optim.c"
#undef T
#undef S

static int fin(double v) { return isfinite(v); }

static int check_hparams(lscc_optim_kind kind, const lscc_optim_hparams *hp, lscc_rt_error *err) {
    const char *where = "lscc_optim_create";
    if (!(fin(hp->lr) && hp->lr >= 0))
        return lscc_rt_fail(err, LSCC_RT_E_ARG, "%s: learning rate %g must be finite and >= 0", where, hp->lr);
    if (!(fin(hp->weight_decay) && hp->weight_decay >= 0))
        return lscc_rt_fail(err, LSCC_RT_E_ARG, "%s: weight_decay %g must be finite and >= 0", where,
                            hp->weight_decay);
    if (kind == LSCC_OPTIM_SGD) {
        if (!(fin(hp->momentum) && hp->momentum >= 0))
            return lscc_rt_fail(err, LSCC_RT_E_ARG, "%s: momentum %g must be finite and >= 0", where, hp->momentum);
        if (!(fin(hp->dampening) && hp->dampening >= 0))
            return lscc_rt_fail(err, LSCC_RT_E_ARG, "%s: dampening %g must be finite and >= 0", where,
                                hp->dampening);
        if (hp->nesterov && (hp->momentum <= 0 || hp->dampening != 0))
            return lscc_rt_fail(err, LSCC_RT_E_ARG, "%s: nesterov momentum needs momentum > 0 and dampening 0 "
                                "(momentum %g, dampening %g)", where, hp->momentum, hp->dampening);
    } else {
        if (!(fin(hp->beta1) && hp->beta1 >= 0 && hp->beta1 < 1) ||
            !(fin(hp->beta2) && hp->beta2 >= 0 && hp->beta2 < 1))
            return lscc_rt_fail(err, LSCC_RT_E_ARG, "%s: betas (%g, %g) must be in [0, 1)", where, hp->beta1,
                                hp->beta2);
        if (!(fin(hp->eps) && hp->eps >= 0))
            return lscc_rt_fail(err, LSCC_RT_E_ARG, "%s: eps %g must be finite and >= 0", where, hp->eps);
    }
    return LSCC_RT_OK;
}

void lscc_optim_defaults(lscc_optim_kind kind, lscc_optim_hparams *hp) {
    if (!hp) return;
    memset(hp, 0, sizeof *hp);
    if (kind == LSCC_OPTIM_ADAMW) {
        hp->lr = 1e-3;
        hp->weight_decay = 1e-2;
        hp->beta1 = 0.9;
        hp->beta2 = 0.999;
        hp->eps = 1e-8;
    } else {
        hp->lr = 1e-2;
    }
}

void lscc_optim_destroy(lscc_optim *o) {
    if (!o) return;
    for (size_t i = 0; i < o->nparams; i++) {
        if (o->s0) free(o->s0[i]);
        if (o->s1) free(o->s1[i]);
        if (o->s2) free(o->s2[i]);
    }
    free(o->s0);
    free(o->s1);
    free(o->s2);
    free(o->chunks);
    free(o->params);
    free(o);
}

/* n zeroed state buffers, one per parameter of count elements each. */
static void **state(const lscc_optim *o, int *ok) {
    void **s = calloc(o->nparams, sizeof *s);
    if (!s) {
        *ok = 0;
        return NULL;
    }
    for (size_t i = 0; i < o->nparams; i++) {
        s[i] = calloc(o->params[i].count ? o->params[i].count : 1, (size_t)o->esize);
        if (!s[i]) *ok = 0;
    }
    return s;
}

int lscc_optim_create(lscc_optim **out, lscc_optim_kind kind, const lscc_optim_hparams *hp, const lscc_param *params,
                      size_t nparams, lscc_dtype dtype, lscc_rt_error *err) {
    const char *where = "lscc_optim_create";
    if (!out) return lscc_rt_fail(err, LSCC_RT_E_ARG, "%s: out is NULL", where);
    *out = NULL;
    if (kind != LSCC_OPTIM_SGD && kind != LSCC_OPTIM_ADAMW)
        return lscc_rt_fail(err, LSCC_RT_E_ARG, "%s: unknown optimizer kind %d", where, (int)kind);
    if (!hp || !params) return lscc_rt_fail(err, LSCC_RT_E_ARG, "%s: hparams or params is NULL", where);
    if (!nparams) return lscc_rt_fail(err, LSCC_RT_E_ARG, "%s: the parameter list is empty", where);
    if (dtype != LSCC_F32 && dtype != LSCC_F64)
        return lscc_rt_fail(err, LSCC_RT_E_ARG, "%s: element type %d is not LSCC_F32 (4) or LSCC_F64 (8)", where,
                            (int)dtype);
    int rc = check_hparams(kind, hp, err);
    if (rc) return rc;
    size_t total = 0;
    for (size_t i = 0; i < nparams; i++) {
        const lscc_param *p = &params[i];
        const char *name = p->name ? p->name : "(unnamed)";
        if (p->on_device)
            return lscc_rt_fail(err, LSCC_RT_E_UNSUPPORTED, "%s: parameter %zu '%s' is in GPU memory; the "
                                "optimizers run on the host only for now (copy the parameters to the host, or use "
                                "CPU code)", where, i, name);
        if (p->count && (!p->value || !p->grad))
            return lscc_rt_fail(err, LSCC_RT_E_ARG, "%s: parameter %zu '%s' has no value or gradient", where, i,
                                name);
        if (p->count > SIZE_MAX / 8 - total)
            return lscc_rt_fail(err, LSCC_RT_E_ARG, "%s: parameter %zu '%s': too many elements", where, i, name);
        total += p->count;
    }
    lscc_optim *o = calloc(1, sizeof *o);
    if (!o) return lscc_rt_fail(err, LSCC_RT_E_NOMEM, "%s: out of memory", where);
    o->kind = kind;
    o->hp = *hp;
    o->hp.nesterov = hp->nesterov != 0;
    o->hp.amsgrad = hp->amsgrad != 0;
    o->esize = (int)dtype;
    o->nparams = nparams;
    o->total = total;
    int ok = 1;
    o->params = malloc(nparams * sizeof *o->params);
    if (o->params) memcpy(o->params, params, nparams * sizeof *o->params);
    else ok = 0;
    size_t nch = 0;
    for (size_t i = 0; i < nparams; i++) nch += (params[i].count + CHUNK - 1) / CHUNK;
    o->chunks = malloc((nch ? nch : 1) * sizeof *o->chunks);
    if (o->chunks) {
        for (size_t i = 0; i < nparams; i++)
            for (size_t b = 0; b < params[i].count; b += CHUNK)
                o->chunks[o->nchunks++] = (chunk){i, b, params[i].count - b < CHUNK ? params[i].count : b + CHUNK};
    } else {
        ok = 0;
    }
    if (ok && (kind == LSCC_OPTIM_ADAMW || hp->momentum != 0)) o->s0 = state(o, &ok);
    if (ok && kind == LSCC_OPTIM_ADAMW) o->s1 = state(o, &ok);
    if (ok && kind == LSCC_OPTIM_ADAMW && hp->amsgrad) o->s2 = state(o, &ok);
    if (!ok) {
        lscc_optim_destroy(o);
        return lscc_rt_fail(err, LSCC_RT_E_NOMEM, "%s: out of memory for the state of %zu elements", where, total);
    }
    *out = o;
    return LSCC_RT_OK;
}

/* The first non-finite gradient element, for the message: 1 if found. */
static int find_bad(const lscc_optim *o, size_t *pi, size_t *ei, double *v) {
    for (size_t i = 0; i < o->nparams; i++)
        for (size_t e = 0; e < o->params[i].count; e++) {
            double g = o->esize == 4 ? (double)((const float *)o->params[i].grad)[e]
                                     : ((const double *)o->params[i].grad)[e];
            if (!isfinite(g)) {
                *pi = i, *ei = e, *v = g;
                return 1;
            }
        }
    return 0;
}

int lscc_optim_step(lscc_optim *o, lscc_rt_error *err) {
    if (!o) return lscc_rt_fail(err, LSCC_RT_E_ARG, "lscc_optim_step: optimizer is NULL");
    if (!o->hp.no_finite_check) {
        int bad = o->esize == 4 ? nonfinite_f32(o) : nonfinite_f64(o);
        size_t pi, ei;
        double v;
        if (bad && find_bad(o, &pi, &ei, &v)) {
            const lscc_param *p = &o->params[pi];
            return lscc_rt_fail(err, LSCC_RT_E_INVALID, "lscc_optim_step: the gradient of parameter %zu '%s' is "
                                "%s at element %zu (of %zu); nothing was changed", pi,
                                p->name ? p->name : "(unnamed)", isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf", ei,
                                p->count);
        }
    }
    const lscc_optim_hparams *hp = &o->hp;
    coef k;
    memset(&k, 0, sizeof k);
    k.lr = hp->lr;
    k.wd = hp->weight_decay;
    if (o->kind == LSCC_OPTIM_SGD) {
        k.mu = hp->momentum;
        k.damp1 = 1.0 - hp->dampening;
        k.nesterov = hp->nesterov;
        k.first = o->t == 0;
    } else {
        double t = (double)(o->t + 1);
        k.decay = 1.0 - hp->lr * hp->weight_decay;
        k.b1 = hp->beta1, k.b2 = hp->beta2;
        k.c1 = 1.0 - hp->beta1, k.c2 = 1.0 - hp->beta2;
        k.step_size = hp->lr / (1.0 - pow(hp->beta1, t));
        k.bc2_sqrt = sqrt(1.0 - pow(hp->beta2, t));
        k.eps = hp->eps;
        k.amsgrad = hp->amsgrad;
    }
    if (o->esize == 4) o->kind == LSCC_OPTIM_SGD ? sgd_f32(o, &k) : adamw_f32(o, &k);
    else o->kind == LSCC_OPTIM_SGD ? sgd_f64(o, &k) : adamw_f64(o, &k);
    o->t++;
    return LSCC_RT_OK;
}

int lscc_optim_set_lr(lscc_optim *o, double lr, lscc_rt_error *err) {
    if (!o) return lscc_rt_fail(err, LSCC_RT_E_ARG, "lscc_optim_set_lr: optimizer is NULL");
    if (!(isfinite(lr) && lr >= 0))
        return lscc_rt_fail(err, LSCC_RT_E_ARG, "lscc_optim_set_lr: learning rate %g must be finite and >= 0", lr);
    o->hp.lr = lr;
    return LSCC_RT_OK;
}

double lscc_optim_get_lr(const lscc_optim *o) { return o ? o->hp.lr : 0.0; }

int64_t lscc_optim_steps(const lscc_optim *o) { return o ? o->t : 0; }

void lscc_optim_zero_grad(lscc_optim *o) {
    if (!o) return;
    PAR_CHUNKS(o)
    for (size_t c = 0; c < o->nchunks; c++) {
        const chunk *ch = &o->chunks[c];
        memset((char *)o->params[ch->param].grad + ch->begin * (size_t)o->esize, 0,
               (ch->end - ch->begin) * (size_t)o->esize);
    }
}

#else /* per-type loops: T, S */

/* 1 if a gradient element is NaN or +-Inf: a test that vectorizes, over
 * every element (no early exit). */
static int FN(nonfinite)(const lscc_optim *o) {
    int bad = 0;
    LSCC_PRAGMA(omp parallel for schedule(static) reduction(| : bad) if (o->total > 2 * CHUNK))
    for (size_t c = 0; c < o->nchunks; c++) {
        const chunk *ch = &o->chunks[c];
        const size_t e0 = ch->begin, e1 = ch->end; /* locals: the stores cannot change them */
        const T *g = (const T *)o->params[ch->param].grad;
        /* g - g is +0 when g is finite and NaN when it is NaN or +-Inf, so
           the sum is 0 or NaN in any order (not under -ffast-math) */
        T z = 0;
        LSCC_PRAGMA(omp simd reduction(+ : z))
        for (size_t e = e0; e < e1; e++) z += g[e] - g[e];
        bad |= z != z;
    }
    return bad;
}

static void FN(sgd)(lscc_optim *o, const coef *k) {
    /* the scalars in locals: stores through p may alias *k as far as the
       compiler knows, which would keep it from vectorizing */
    const double lr = k->lr, wd = k->wd, mu = k->mu, damp1 = k->damp1;
    const int nesterov = k->nesterov, first = k->first;
    PAR_CHUNKS(o)
    for (size_t c = 0; c < o->nchunks; c++) {
        const chunk *ch = &o->chunks[c];
        const size_t e0 = ch->begin, e1 = ch->end; /* locals: the stores cannot change them */
        T *restrict p = (T *)o->params[ch->param].value;
        const T *restrict g = (const T *)o->params[ch->param].grad;
        if (mu == 0) {
            LSCC_PRAGMA(omp simd)
            for (size_t e = e0; e < e1; e++)
                p[e] = (T)((double)p[e] - lr * ((double)g[e] + wd * (double)p[e]));
            continue;
        }
        /* the buffer starts as d: it is zero before the first step, so
           keep * b + take * d gives d exactly, without a branch */
        const double keep = first ? 0.0 : mu, take = first ? 1.0 : damp1;
        T *restrict b = (T *)o->s0[ch->param];
        if (nesterov) {
            LSCC_PRAGMA(omp simd)
            for (size_t e = e0; e < e1; e++) {
                double d = (double)g[e] + wd * (double)p[e];
                T bn = (T)(keep * (double)b[e] + take * d);
                b[e] = bn;
                p[e] = (T)((double)p[e] - lr * (d + mu * (double)bn));
            }
            continue;
        }
        LSCC_PRAGMA(omp simd)
        for (size_t e = e0; e < e1; e++) {
            double d = (double)g[e] + wd * (double)p[e];
            T bn = (T)(keep * (double)b[e] + take * d);
            b[e] = bn;
            p[e] = (T)((double)p[e] - lr * (double)bn);
        }
    }
}

static void FN(adamw)(lscc_optim *o, const coef *k) {
    const double b1 = k->b1, b2 = k->b2, c1 = k->c1, c2 = k->c2, decay = k->decay;
    const double step_size = k->step_size, bc2_sqrt = k->bc2_sqrt, eps = k->eps;
    const int amsgrad = k->amsgrad;
    PAR_CHUNKS(o)
    for (size_t c = 0; c < o->nchunks; c++) {
        const chunk *ch = &o->chunks[c];
        const size_t e0 = ch->begin, e1 = ch->end; /* locals: the stores cannot change them */
        T *restrict p = (T *)o->params[ch->param].value;
        const T *restrict g = (const T *)o->params[ch->param].grad;
        T *restrict m = (T *)o->s0[ch->param], *restrict v = (T *)o->s1[ch->param];
        if (amsgrad) {
            T *restrict vmax = (T *)o->s2[ch->param];
            LSCC_PRAGMA(omp simd)
            for (size_t e = e0; e < e1; e++) {
                double ge = (double)g[e];
                T mn = (T)(b1 * (double)m[e] + c1 * ge);
                T vn = (T)(b2 * (double)v[e] + c2 * ge * ge);
                T vx = vn > vmax[e] ? vn : vmax[e];
                m[e] = mn, v[e] = vn, vmax[e] = vx;
                double denom = sqrt((double)vx) / bc2_sqrt + eps;
                p[e] = (T)((double)p[e] * decay - step_size * (double)mn / denom);
            }
            continue;
        }
        LSCC_PRAGMA(omp simd)
        for (size_t e = e0; e < e1; e++) {
            double ge = (double)g[e];
            T mn = (T)(b1 * (double)m[e] + c1 * ge);
            T vn = (T)(b2 * (double)v[e] + c2 * ge * ge);
            m[e] = mn, v[e] = vn;
            double denom = sqrt((double)vn) / bc2_sqrt + eps;
            p[e] = (T)((double)p[e] * decay - step_size * (double)mn / denom);
        }
    }
}

#endif
