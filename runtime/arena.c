/* The tile arena: one allocation per context, laid out from the lifetimes
 * the compiler planned and the largest region each tensor takes for this
 * image size (a region never exceeds the interior tile's, nor the tensor).
 * Inference reuses memory by liveness; training keeps every activation of
 * the tile for the backward sweep and shares gradient memory by liveness. */
#include <stdlib.h>
#include <string.h>

#include "rt_impl.h"

typedef struct span {
    int64_t start, end, size, off;
} span;

/* First fit in tensor order: the lowest offset that overlaps no placed span
 * whose lifetime meets this one's. Returns the end of the highest span. */
static int64_t place(span *s, int n, int64_t base) {
    int64_t top = base;
    for (int i = 0; i < n; i++) {
        if (s[i].size <= 0) continue;
        int64_t off = base;
        for (int moved = 1; moved;) {
            moved = 0;
            for (int j = 0; j < i; j++) {
                if (s[j].size <= 0 || s[j].end < s[i].start || s[i].end < s[j].start) continue;
                if (off < s[j].off + s[j].size && s[j].off < off + s[i].size) {
                    off = s[j].off + s[j].size;
                    moved = 1;
                }
            }
        }
        s[i].off = off;
        if (off + s[i].size > top) top = off + s[i].size;
    }
    return top;
}

int lscc_rt_arena(lscc_rt *rt) {
    const lscc_rt_model *m = rt->m;
    int nt = m->ntensors;
    size_t es = (size_t)m->esize;
    span *s = calloc((size_t)nt + 1, sizeof *s);
    rt->off = calloc((size_t)nt * 3 + 1, sizeof *rt->off);
    if (!s || !rt->off) {
        free(s);
        return lscc_rt_fail(&rt->err, LSCC_RT_E_NOMEM, "%s: out of memory", m->name);
    }
    int64_t acts = 0;
    for (int t = 0; t < nt; t++) {
        const lscc_rt_tensor *d = &m->tensors[t];
        if (!d->bb) continue;
        int64_t h = rt->dims[t * LSCC_RT_MAXRANK + 2], w = rt->dims[t * LSCC_RT_MAXRANK + 3];
        s[t].size = d->c * (d->side[0] < h ? d->side[0] : h) * (d->side[1] < w ? d->side[1] : w);
        s[t].start = d->live[0];
        s[t].end = d->live[1];
    }
    /* Scratch holds an input cut to a pointwise op's smaller output region
       (lscc_rt_view): only where a tensor's region exceeds its pointwise
       consumer's (residual inputs), the consumer's region times the input's
       channels. */
    int64_t biggest = 0;
    for (int r = 0; r < m->nrules; r++) {
        const lscc_rt_rule *u = &m->rules[r];
        if (u->k[0] != 1 || u->k[1] != 1 || u->s[0] != 1 || u->s[1] != 1 || u->p0[0] || u->p0[1]) continue;
        const lscc_rt_tensor *ti = &m->tensors[u->in], *to = &m->tensors[u->out];
        if (ti->side[0] == to->side[0] && ti->side[1] == to->side[1]) continue;
        int64_t h = rt->dims[u->out * LSCC_RT_MAXRANK + 2], w = rt->dims[u->out * LSCC_RT_MAXRANK + 3];
        int64_t need = ti->c * (to->side[0] < h ? to->side[0] : h) * (to->side[1] < w ? to->side[1] : w);
        if (need > biggest) biggest = need;
    }
    int64_t infer = place(s, nt, 0);
    for (int t = 0; t < nt; t++) {
        rt->off[3 * t] = s[t].size > 0 ? s[t].off : -1;
        rt->off[3 * t + 1] = s[t].size > 0 ? acts : -1;
        acts += s[t].size;
    }
    for (int t = 0; t < nt; t++) {
        const lscc_rt_tensor *d = &m->tensors[t];
        if (!d->grad) s[t].size = 0;
        s[t].start = d->glive[0];
        s[t].end = d->glive[1];
        s[t].off = 0;
    }
    int64_t train = place(s, nt, acts);
    for (int t = 0; t < nt; t++) rt->off[3 * t + 2] = s[t].size > 0 ? s[t].off : -1;
    free(s);
    size_t total = (size_t)(train > infer ? train : infer) * (size_t)rt->n;
    rt->arena_bytes = (total + 4 * (size_t)biggest * (size_t)rt->n) * es;
    rt->arena = rt->dev->alloc(rt->devctx, (total ? total : 1) * es);
    rt->scratch_cap = (size_t)biggest * (size_t)rt->n + 1;
    for (int k = 0; k < 4; k++) rt->scratch[k] = rt->dev->alloc(rt->devctx, rt->scratch_cap * es);
    if (!rt->arena || !rt->scratch[0] || !rt->scratch[1] || !rt->scratch[2] || !rt->scratch[3])
        return lscc_rt_fail(&rt->err, LSCC_RT_E_NOMEM, "%s: cannot allocate the %.1f MB tile arena", m->name,
                            (double)rt->arena_bytes / 1e6);
    return 0;
}
