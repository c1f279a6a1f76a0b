/* The tile arena's layout, shared by the runtime (which lays out each
 * context for its image) and the compiler (lscc --memory and --explain use
 * the same numbers). Header-only: a pure function of the tensor table. */
#ifndef LSCC_ARENA_LAYOUT_H
#define LSCC_ARENA_LAYOUT_H

#include <stdint.h>
#include <stdlib.h>

#include "lscc_rt.h"

typedef struct lscc_arena_span {
    int64_t start, end, size, off;
} lscc_arena_span;

/* First fit in tensor order: the lowest offset at or above base that
 * overlaps no placed span whose lifetime meets this one's. Returns the end
 * of the highest span. */
static inline int64_t lscc_arena_place(lscc_arena_span *s, int n, int64_t base) {
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

/* Offsets of the backbone tensors, in elements per batch item, given each
 * one's region size[t] (elements): off[3t] in the inference layout (memory
 * reused by liveness), off[3t + 1] in the training layout (every
 * activation kept, one after the other), off[3t + 2] its gradient (placed
 * above the activations, reused by gradient liveness); -1 where none.
 * In-place tensors (alias >= 0) share their alias's offsets, and in-place
 * gradients (galias >= 0) their galias's gradient offset. *infer and
 * *train are the two layouts' sizes. Returns 0, or -1 out of memory. */
static inline int lscc_arena_layout(int nt, const lscc_rt_tensor *tt, const int64_t *size, int64_t *off,
                                    int64_t *infer, int64_t *train) {
    lscc_arena_span *s = (lscc_arena_span *)calloc((size_t)nt + 1, sizeof *s);
    if (!s) return -1;
    for (int t = 0; t < nt; t++) {
        if (!tt[t].bb || tt[t].alias >= 0) continue; /* in place: the alias's buffer */
        s[t].size = size[t];
        s[t].start = tt[t].live[0];
        s[t].end = tt[t].live[1];
    }
    int64_t acts = 0;
    *infer = lscc_arena_place(s, nt, 0);
    for (int t = 0; t < nt; t++) {
        off[3 * t] = s[t].size > 0 ? s[t].off : -1;
        off[3 * t + 1] = s[t].size > 0 ? acts : -1;
        acts += s[t].size;
    }
    for (int t = 0; t < nt; t++) {
        int a = tt[t].alias;
        if (tt[t].bb && a >= 0) {
            off[3 * t] = off[3 * a];
            off[3 * t + 1] = off[3 * a + 1];
        }
        s[t].size = tt[t].bb && tt[t].grad && tt[t].galias < 0 ? size[t] : 0;
        s[t].start = tt[t].glive[0];
        s[t].end = tt[t].glive[1];
        s[t].off = 0;
    }
    *train = lscc_arena_place(s, nt, acts);
    for (int t = 0; t < nt; t++) off[3 * t + 2] = s[t].size > 0 ? s[t].off : -1;
    for (int t = 0; t < nt; t++)
        if (tt[t].bb && tt[t].grad && tt[t].galias >= 0) off[3 * t + 2] = off[3 * tt[t].galias + 2];
    free(s);
    return 0;
}

/* Elements per batch item of one scratch slot: an input cut to a
 * pointwise op's smaller output region (lscc_rt_view), needed only where an
 * op reads the input through views (rule.direct == 0) and the input's
 * region exceeds the op's: the op's region times the input's channels.
 * hw[2t], hw[2t + 1]: tensor t's region rows and columns (the interior
 * tile's, clipped to the image). */
static inline int64_t lscc_arena_scratch(int nrules, const lscc_rt_rule *rules, const lscc_rt_tensor *tt,
                                         const int64_t *hw) {
    int64_t biggest = 0;
    for (int r = 0; r < nrules; r++) {
        const lscc_rt_rule *u = &rules[r];
        if (u->direct) continue; /* windows, block moves: no scratch */
        const lscc_rt_tensor *ti = &tt[u->in], *to = &tt[u->out];
        if (ti->side[0] == to->side[0] && ti->side[1] == to->side[1]) continue;
        int64_t need = ti->c * hw[2 * u->out] * hw[2 * u->out + 1];
        if (need > biggest) biggest = need;
    }
    return biggest;
}

#endif
