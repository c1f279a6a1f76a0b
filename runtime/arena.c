/* The tile arena: one allocation per context, laid out from the lifetimes
 * the compiler planned and the largest region each tensor takes for this
 * image size (a region never exceeds the interior tile's, nor the tensor).
 * Inference reuses memory by liveness; training keeps every activation of
 * the tile for the backward sweep and shares gradient memory by liveness. */
#include <stdlib.h>
#include <string.h>

#include "arena_layout.h"
#include "rt_impl.h"

int lscc_rt_arena(lscc_rt *rt) {
    const lscc_rt_model *m = rt->m;
    int nt = m->ntensors;
    size_t es = (size_t)m->esize;
    int64_t *size = calloc((size_t)nt + 1, sizeof *size), *hw = calloc(2 * (size_t)nt + 1, sizeof *hw);
    rt->off = calloc((size_t)nt * 3 + 1, sizeof *rt->off);
    if (!size || !hw || !rt->off) {
        free(size);
        free(hw);
        return lscc_rt_fail(&rt->err, LSCC_RT_E_NOMEM, "%s: out of memory", m->name);
    }
    for (int t = 0; t < nt; t++) {
        const lscc_rt_tensor *d = &m->tensors[t];
        if (!d->bb) continue;
        int64_t h = rt->dims[t * LSCC_RT_MAXRANK + 2], w = rt->dims[t * LSCC_RT_MAXRANK + 3];
        hw[2 * t] = d->side[0] < h ? d->side[0] : h;
        hw[2 * t + 1] = d->side[1] < w ? d->side[1] : w;
        size[t] = d->c * hw[2 * t] * hw[2 * t + 1];
    }
    int64_t biggest = lscc_arena_scratch(m->nrules, m->rules, m->tensors, hw);
    free(hw);
    int64_t infer, train;
    int lst = lscc_arena_layout(nt, m->tensors, size, rt->off, &infer, &train);
    free(size);
    if (lst) return lscc_rt_fail(&rt->err, LSCC_RT_E_NOMEM, "%s: out of memory", m->name);
    /* per batch item the layout is bounded by the tile, but a large batch
       times a large tile could still wrap: checked in double first */
    int64_t per = train > infer && !rt->opt.inference ? train : infer;
    if (((double)per + 4 * (double)biggest) * (double)rt->n * (double)es > (double)LSCC_RT_MAX_BYTES)
        return lscc_rt_fail(&rt->err, LSCC_RT_E_UNSUPPORTED, "%s: the tile arena for batch %lld would take %.0f TB "
                            "(use a smaller batch or generate the code with a smaller --tile)", m->name,
                            (long long)rt->n, ((double)per + 4 * (double)biggest) * (double)rt->n * (double)es / 1e12);
    size_t total = (size_t)per * (size_t)rt->n;
    rt->arena_bytes = (total + 4 * (size_t)biggest * (size_t)rt->n) * es;
    rt->arena = rt->dev->alloc(rt->devctx, (total ? total : 1) * es);
    rt->scratch_cap = (size_t)biggest * (size_t)rt->n + 1;
    for (int k = 0; k < 4; k++) rt->scratch[k] = rt->dev->alloc(rt->devctx, rt->scratch_cap * es);
    if (!rt->arena || !rt->scratch[0] || !rt->scratch[1] || !rt->scratch[2] || !rt->scratch[3])
        return lscc_rt_fail(&rt->err, LSCC_RT_E_NOMEM, "%s: cannot allocate the %.1f MB tile arena", m->name,
                            (double)rt->arena_bytes / 1e6);
    /* Host memory is committed here, page by page, rather than by the first
       tile that reaches it: the context's memory is then what create
       reported, the same for every image size (a small image's border tiles
       would otherwise touch only part of it and a later, larger one more),
       and a machine that cannot hold it fails now, not hours into a run. */
    if (rt->dev->host) {
        memset(rt->arena, 0, (total ? total : 1) * es);
        for (int k = 0; k < 4; k++) memset(rt->scratch[k], 0, rt->scratch_cap * es);
    }
    return 0;
}
