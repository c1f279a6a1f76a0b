/* The weights file written by lscc next to the generated code: every
 * constant and parameter of the model, in the model's element type. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_impl.h"

static uint64_t rd64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static uint64_t fnv1a(const unsigned char *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

int lscc_rt_load_weights(lscc_rt *rt, const char *path) {
    const lscc_rt_model *m = rt->m;
    size_t es = (size_t)m->esize, n = m->weights_count;
    if (!path) return lscc_rt_fail(&rt->err, LSCC_RT_E_ARG, "%s: no weights file given", m->name);
    FILE *f = fopen(path, "rb");
    if (!f) return lscc_rt_fail(&rt->err, LSCC_RT_E_IO, "%s: cannot open weights file '%s'", m->name, path);
    unsigned char h[32];
    /* read on the host, then moved to the backend's memory (a device copy for GPU code) */
    void *hw = calloc(n ? n : 1, es);
    rt->grads = rt->dev->alloc(rt->devctx, (n ? n : 1) * es);
    int st = 0;
    if (!hw || !rt->grads) st = lscc_rt_fail(&rt->err, LSCC_RT_E_NOMEM, "%s: out of memory", m->name);
    else if (fread(h, 1, sizeof h, f) != sizeof h || memcmp(h, LSCC_WEIGHTS_MAGIC, 8))
        st = lscc_rt_fail(&rt->err, LSCC_RT_E_INVALID, "%s: '%s' is not an lscc weights file", m->name, path);
    else if ((uint32_t)(h[8] | h[9] << 8 | h[10] << 16 | (uint32_t)h[11] << 24) != LSCC_WEIGHTS_VERSION ||
             (h[12] | h[13] << 8) != m->esize || rd64(h + 16) != n)
        st = lscc_rt_fail(&rt->err, LSCC_RT_E_INVALID, "%s: weights file '%s' was written for another model or "
                          "precision (regenerate the code and the weights together)", m->name, path);
    else if (fread(hw, es, n, f) != n)
        st = lscc_rt_fail(&rt->err, LSCC_RT_E_INVALID, "%s: weights file '%s' is truncated", m->name, path);
    else if (fnv1a(hw, n * es) != rd64(h + 24) || rd64(h + 24) != m->weights_checksum)
        st = lscc_rt_fail(&rt->err, LSCC_RT_E_INVALID, "%s: weights file '%s' is corrupt or belongs to other "
                          "generated code (checksum mismatch)", m->name, path);
    fclose(f);
    if (!st && rt->dev->host) {
        rt->weights = hw;
        hw = NULL;
    } else if (!st) {
        rt->weights = rt->dev->alloc(rt->devctx, (n ? n : 1) * es);
        if (!rt->weights) st = lscc_rt_fail(&rt->err, LSCC_RT_E_NOMEM, "%s: cannot allocate %.1f MB of weights on "
                                             "the %s", m->name, (double)(n * es) / 1e6, rt->dev->name);
        else {
            rt->dev->copy(rt->devctx, rt->weights, hw, n * es, 1);
            st = rt->dev->status(rt->devctx, &rt->err); /* the copy is done before hw is freed */
        }
    }
    free(hw);
    if (st) return st;
    size_t np = 0;
    for (int k = 0; k < m->nbuffers; k++) np += m->buffers[k].trainable != 0;
    rt->params = calloc(np ? np : 1, sizeof *rt->params);
    if (!rt->params) return lscc_rt_fail(&rt->err, LSCC_RT_E_NOMEM, "%s: out of memory", m->name);
    for (int k = 0; k < m->nbuffers; k++) {
        const lscc_rt_buffer *b = &m->buffers[k];
        if (!b->trainable) continue;
        lscc_param *p = &rt->params[rt->nparams++];
        p->name = b->name;
        p->folded_bn = b->folded_bn;
        p->rank = b->rank;
        memcpy(p->dims, b->dims, sizeof p->dims);
        p->count = b->count;
        p->value = lscc_rt_buf(rt, k);
        p->grad = lscc_rt_bufgrad(rt, k);
        p->on_device = !rt->dev->host;
    }
    return 0;
}
