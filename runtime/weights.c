/* The weights file (format: weights_format.h): loaded at create, saved on
 * request (trained weights), every constant and parameter of the model in
 * the model's element type. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_impl.h"
#include "weights_format.h"

static uint64_t layout_sum(const lscc_rt_model *m) {
    uint64_t h = lscc_wf_layout_begin(m->esize, m->weights_count);
    for (int k = 0; k < m->nbuffers; k++) {
        const lscc_rt_buffer *b = &m->buffers[k];
        h = lscc_wf_layout_add(h, b->name, b->rank, b->dims, b->offset, b->trainable);
    }
    return h;
}

/* Reads and checks the header and data of path into hw (n elements). */
static int read_file(lscc_rt *rt, const char *path, void *hw) {
    const lscc_rt_model *m = rt->m;
    size_t es = (size_t)m->esize, n = m->weights_count;
    FILE *f = fopen(path, "rb");
    if (!f) return lscc_rt_fail(&rt->err, LSCC_RT_E_IO, "%s: cannot open weights file '%s': %s", m->name, path,
                                strerror(errno));
    unsigned char h[LSCC_WF_HEADER];
    int st = 0;
    size_t got = fread(h, 1, sizeof h, f);
    uint32_t version = got >= 12 ? (uint32_t)lscc_wf_get64(h + 8) : 0;
    if (got < 12 || memcmp(h, LSCC_WF_MAGIC, 8))
        st = lscc_rt_fail(&rt->err, LSCC_RT_E_INVALID, "%s: '%s' is not an lscc weights file", m->name, path);
    else if (version != LSCC_WF_VERSION)
        st = lscc_rt_fail(&rt->err, LSCC_RT_E_INVALID, "%s: weights file '%s' has format version %u; this runtime "
                          "reads version %u (regenerate the code and the weights with this lscc)", m->name, path,
                          version, LSCC_WF_VERSION);
    else if (got != sizeof h)
        st = lscc_rt_fail(&rt->err, LSCC_RT_E_INVALID, "%s: weights file '%s' is truncated in its header (%zu of %d "
                          "bytes)", m->name, path, got, LSCC_WF_HEADER);
    else if ((lscc_wf_get64(h + 8) >> 32) != es)
        st = lscc_rt_fail(&rt->err, LSCC_RT_E_INVALID, "%s: weights file '%s' holds %s values; this code was generated "
                          "with --precision %s", m->name, path, (lscc_wf_get64(h + 8) >> 32) == 8 ? "float64" : "float32",
                          es == 8 ? "f64" : "f32");
    else if (lscc_wf_get64(h + 16) != n || lscc_wf_get64(h + 24) != layout_sum(m))
        st = lscc_rt_fail(&rt->err, LSCC_RT_E_INVALID, "%s: weights file '%s' was written for another model (%llu "
                          "values where this code has %zu%s): use the weights lscc wrote with this code, or ones saved "
                          "from it", m->name, path, (unsigned long long)lscc_wf_get64(h + 16), n,
                          lscc_wf_get64(h + 16) == n ? ", but other buffers: layout checksum mismatch" : "");
    else if (fread(hw, es, n, f) != n)
        st = lscc_rt_fail(&rt->err, LSCC_RT_E_INVALID, "%s: weights file '%s' is truncated: its data ends before "
                          "the %zu values the header announces", m->name, path, n);
    else if (fgetc(f) != EOF)
        st = lscc_rt_fail(&rt->err, LSCC_RT_E_INVALID, "%s: weights file '%s' has data after its end", m->name, path);
    else if (lscc_wf_fnv1a(LSCC_WF_FNV_INIT, hw, n * es) != lscc_wf_get64(h + 32))
        st = lscc_rt_fail(&rt->err, LSCC_RT_E_INVALID, "%s: weights file '%s' is corrupt (data checksum mismatch)",
                          m->name, path);
    fclose(f);
    return st;
}

int lscc_rt_load_weights(lscc_rt *rt, const char *path) {
    const lscc_rt_model *m = rt->m;
    size_t es = (size_t)m->esize, n = m->weights_count;
    if (!path) return lscc_rt_fail(&rt->err, LSCC_RT_E_ARG, "%s: no weights file given", m->name);
    /* read on the host, then moved to the backend's memory (a device copy for GPU code) */
    void *hw = calloc(n ? n : 1, es);
    rt->grads = rt->dev->alloc(rt->devctx, (n ? n : 1) * es);
    int st = 0;
    if (!hw || !rt->grads) st = lscc_rt_fail(&rt->err, LSCC_RT_E_NOMEM, "%s: out of memory", m->name);
    else st = read_file(rt, path, hw);
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

int lscc_rt_save_weights(lscc_rt *rt, const char *path) {
    if (!rt || !rt->weights) return LSCC_RT_E_ARG;
    const lscc_rt_model *m = rt->m;
    size_t es = (size_t)m->esize, n = m->weights_count;
    if (!path) return lscc_rt_fail(&rt->err, LSCC_RT_E_ARG, "%s: no weights file given", m->name);
    const void *data = rt->weights;
    void *hw = NULL;
    if (!rt->dev->host) {
        if (!(hw = malloc(n ? n * es : 1))) return lscc_rt_fail(&rt->err, LSCC_RT_E_NOMEM, "%s: out of memory", m->name);
        int st = lscc_rt_fetch(rt, hw, rt->weights, n * es);
        if (st) {
            free(hw);
            return st;
        }
        data = hw;
    }
    unsigned char h[LSCC_WF_HEADER];
    lscc_wf_header(h, m->esize, n, layout_sum(m), lscc_wf_fnv1a(LSCC_WF_FNV_INIT, data, n * es), m->model_checksum);
    /* written beside the target and renamed over it: a failure (full disk)
       leaves the previous file as it was */
    size_t len = strlen(path);
    char *tmp = malloc(len + 16);
    if (!tmp) {
        free(hw);
        return lscc_rt_fail(&rt->err, LSCC_RT_E_NOMEM, "%s: out of memory", m->name);
    }
    snprintf(tmp, len + 16, "%s.partial", path);
    FILE *f = fopen(tmp, "wb");
    int st = 0;
    if (!f) st = lscc_rt_fail(&rt->err, LSCC_RT_E_IO, "%s: cannot write '%s': %s", m->name, tmp, strerror(errno));
    else {
        int bad = fwrite(h, 1, sizeof h, f) != sizeof h || fwrite(data, es, n, f) != n;
        bad |= fflush(f) != 0;
        bad |= fclose(f) != 0;
        if (bad) st = lscc_rt_fail(&rt->err, LSCC_RT_E_IO, "%s: writing '%s' failed: %s", m->name, tmp, strerror(errno));
        else if (rename(tmp, path))
            st = lscc_rt_fail(&rt->err, LSCC_RT_E_IO, "%s: cannot rename '%s' to '%s': %s", m->name, tmp, path,
                              strerror(errno));
        if (st) remove(tmp);
    }
    free(tmp);
    free(hw);
    return st;
}
