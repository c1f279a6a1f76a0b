/* Tile memory of a lowered program as the runtime will lay it out
 * (runtime/arena_layout.h, the same code): for lscc --memory and --explain. */
#include <stdlib.h>

#include "arena_layout.h"
#include "lower.h"

int lscc_prog_tile_bytes(const lscc_prog *g, int64_t batch, int esize, int64_t *infer, int64_t *train) {
    const lscc_graph *ir = g->p->m->g;
    int nt = g->nt, nr = 0;
    lscc_rt_tensor *tt = calloc((size_t)nt + 1, sizeof *tt);
    int64_t *size = calloc((size_t)nt + 1, sizeof *size), *hw = calloc(2 * (size_t)nt + 1, sizeof *hw);
    int64_t *off = calloc(3 * (size_t)nt + 1, sizeof *off);
    for (int i = 0; i < g->nop; i++)
        for (int k = 0; g->op[i].bb && k < g->op[i].nin; k++) nr += g->t[g->op[i].in[k]].bb;
    lscc_rt_rule *rules = calloc((size_t)nr + 1, sizeof *rules);
    int st = -1;
    if (!tt || !size || !hw || !off || !rules) goto done;
    for (int t = 0; t < nt; t++) {
        const lscc_ltensor *l = &g->t[t];
        tt[t] = (lscc_rt_tensor){NULL, l->bb, l->grad, l->c, {l->side[0], l->side[1]}, {l->live[0], l->live[1]},
                                 {l->glive[0], l->glive[1]}, l->alias, l->galias};
        hw[2 * t] = l->side[0];
        hw[2 * t + 1] = l->side[1];
        size[t] = l->bb ? l->c * l->side[0] * l->side[1] : 0;
    }
    nr = 0;
    for (int i = 0; i < g->nop; i++) {
        const lscc_lop *o = &g->op[i];
        const lscc_node *n = &ir->nodes[o->node];
        for (int k = 0; o->bb && k < o->nin; k++)
            if (g->t[o->in[k]].bb)
                rules[nr++] = (lscc_rt_rule){o->out, o->in[k], {n->win[0].k, n->win[1].k}, {n->win[0].s, n->win[1].s},
                                             {n->win[0].d, n->win[1].d}, {n->win[0].p0, n->win[1].p0},
                                             !lscc_lop_reads_views(o)};
    }
    int64_t in, tr, scratch = 4 * lscc_arena_scratch(nr, rules, tt, hw);
    if (lscc_arena_layout(nt, tt, size, off, &in, &tr)) goto done;
    *infer = (in + scratch) * batch * esize;
    *train = ((tr > in ? tr : in) + scratch) * batch * esize;
    st = 0;
done:
    free(tt);
    free(size);
    free(hw);
    free(off);
    free(rules);
    return st;
}
