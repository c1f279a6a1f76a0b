/* Conv2d through oneDNN (contract and design in lscc_dnnl.h).
 *
 * A cache entry is a short program: steps (reorders into oneDNN's layouts,
 * the convolution, reorders back), each a primitive with its arguments, over
 * memory objects created once. A memory object is bound to one of the call's
 * pointers (slot >= 0, plus the view's byte offset), to the arena's tensor
 * part (SLOT_ARENA) or to its scratchpad part (SLOT_PAD, shared by the steps,
 * which run one after the other); a call sets the handles and runs the steps. */
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include "lscc_dnnl.h"

enum { FWD, BWD_DATA, BWD_WEIGHT };
enum { KEY_LEN = 20, NMEM = 16, NSTEP = 6, NARG = 6, ALIGN = 64 };
enum { IN, OUT, ACC, ACC_C }; /* argument roles: read, overwritten, accumulated (by a reorder, by C code) */
enum { SLOT_ARENA = -1, SLOT_PAD = -2 };

_Static_assert(sizeof(lscc_win2d) == 18 * sizeof(int), "lscc_win2d is the first 18 ints of a key");

typedef struct step {
    dnnl_primitive_t prim;
    int nargs;
    dnnl_exec_arg_t args[NARG];
} step;

typedef struct entry {
    int key[KEY_LEN];
    unsigned long long used;
    dnnl_primitive_desc_t hint; /* forward pd of a backward primitive, kept alive for it */
    int nmem, nstep;
    dnnl_memory_t mem[NMEM];
    int slot[NMEM];
    size_t off[NMEM];
    step st[NSTEP];
    size_t pad_off, need; /* arena: scratchpad offset, total bytes */
    size_t db_off;        /* arena: oneDNN's bias gradient, added to db after the steps */
} entry;

struct lscc_dnnl {
    dnnl_engine_t eng;
    dnnl_stream_t strm;
    entry *ent[LSCC_DNNL_CACHE];
    int nent, plain, nhwc;
    unsigned long long tick;
    void *arena;
    size_t arena_size;
};

/* While an entry is built: the arena bytes of reordered tensors so far, the
 * largest scratchpad, and the reorders that follow the convolution. */
typedef struct build {
    lscc_dnnl *c;
    entry *e;
    size_t cur, pad;
    int npost;
    step post[NSTEP];
} build;

#define CK(call)                                                                                                       \
    do {                                                                                                               \
        if ((call) != dnnl_success) goto fail;                                                                         \
    } while (0)

static size_t up(size_t v) { return (v + ALIGN - 1) / ALIGN * ALIGN; }

int lscc_dnnl_create(lscc_dnnl **out) {
    lscc_dnnl *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c) return 1;
    if (dnnl_engine_create(&c->eng, dnnl_cpu, 0) != dnnl_success) {
        free(c);
        return 1;
    }
    if (dnnl_stream_create(&c->strm, c->eng, dnnl_stream_default_flags) != dnnl_success) {
        dnnl_engine_destroy(c->eng);
        free(c);
        return 1;
    }
    *out = c;
    return 0;
}

static void entry_free(entry *e) {
    if (!e) return;
    for (int i = 0; i < e->nstep; i++) dnnl_primitive_destroy(e->st[i].prim);
    for (int i = 0; i < e->nmem; i++) dnnl_memory_destroy(e->mem[i]);
    if (e->hint) dnnl_primitive_desc_destroy(e->hint);
    free(e);
}

static void clear(lscc_dnnl *c) {
    for (int i = 0; i < c->nent; i++) entry_free(c->ent[i]);
    c->nent = 0;
}

void lscc_dnnl_set_plain(lscc_dnnl *c, int plain) {
    clear(c);
    c->plain = plain;
}

void lscc_dnnl_set_nhwc(lscc_dnnl *c, int nhwc) {
    clear(c);
    c->nhwc = nhwc;
}

void lscc_dnnl_destroy(lscc_dnnl *c) {
    if (!c) return;
    for (int i = 0; i < c->nent; i++) entry_free(c->ent[i]);
    dnnl_stream_destroy(c->strm);
    dnnl_engine_destroy(c->eng);
    free(c->arena);
    free(c);
}

/* Outputs 0..on-1 with stride s, offset -pad and kernel extent ext read
 * positions [-pad, (on - 1) * s - pad + ext); their part inside [0, n) is the
 * view [*v0, *v1), and *pl, *pr are oneDNN's (nonnegative) pads around it.
 * With `wide`, up to s - 1 positions past the last one read join the view:
 * oneDNN's output size rounds down, so it stays on, and a view that then
 * reaches the buffer's end is the buffer itself, with no copy into a dense
 * tensor (a 1x1 stride-2 convolution reads all but the last row and column).
 * Forward only: oneDNN 2.6's jit_1x1 backward weights crashes on such a
 * strided 1x1 geometry (ih = 2 oh). */
static void view(int n, int on, int s, int pad, int ext, int wide, int *v0, int *v1, dnnl_dim_t *pl, dnnl_dim_t *pr) {
    const int lo = -pad, hi = (on - 1) * s - pad + ext, far = wide ? hi + s - 1 : hi;
    *v0 = lo > 0 ? lo : 0;
    *v1 = hi >= n ? n : far < n ? far : n;
    *pl = *v0 - lo;
    *pr = hi > *v1 ? hi - *v1 : 0;
}

/* Index of a new memory object of b->e (md, no data yet), or -1. */
static int new_mem(build *b, const dnnl_memory_desc_t *md, int slot, size_t off) {
    entry *e = b->e;
    if (e->nmem == NMEM || dnnl_memory_create(&e->mem[e->nmem], md, b->c->eng, DNNL_MEMORY_NONE) != dnnl_success)
        return -1;
    e->slot[e->nmem] = slot;
    e->off[e->nmem] = off;
    return e->nmem++;
}

/* Gives step s the scratchpad that pd asks for (user mode). */
static int add_pad(build *b, step *s, const_dnnl_primitive_desc_t pd) {
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (!md) return -1;
    const size_t n = dnnl_memory_desc_get_size(md);
    if (!n) return 0;
    const int m = new_mem(b, md, SLOT_PAD, 0);
    if (m < 0) return -1;
    if (n > b->pad) b->pad = n;
    s->args[s->nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, b->e->mem[m]};
    return 0;
}

/* Step s = reorder of memory `from` into memory `to`; sum: to += from. */
static int add_reorder(build *b, step *s, int from, int to, int sum) {
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    const dnnl_memory_desc_t *fmd, *tmd;
    int r = -1;
    s->prim = NULL;
    s->nargs = 0;
    CK(dnnl_memory_get_memory_desc(b->e->mem[from], &fmd));
    CK(dnnl_memory_get_memory_desc(b->e->mem[to], &tmd));
    CK(dnnl_primitive_attr_create(&attr));
    CK(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
    if (sum) {
        CK(dnnl_post_ops_create(&po));
        CK(dnnl_post_ops_append_sum(po, 1.0f));
        CK(dnnl_primitive_attr_set_post_ops(attr, po));
    }
    CK(dnnl_reorder_primitive_desc_create(&pd, fmd, b->c->eng, tmd, b->c->eng, attr));
    s->args[s->nargs++] = (dnnl_exec_arg_t){DNNL_ARG_FROM, b->e->mem[from]};
    s->args[s->nargs++] = (dnnl_exec_arg_t){DNNL_ARG_TO, b->e->mem[to]};
    if (add_pad(b, s, pd)) goto fail;
    CK(dnnl_primitive_create(&s->prim, pd));
    r = 0;
fail:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return r;
}

/* Gives the convolution step `conv` (descriptor pd) its argument `arg`: the
 * caller's buffer `slot` (layout user, at byte offset off) directly when pd
 * wants that layout and the role allows it, else a tensor in the arena with a
 * reorder before (IN) or after (OUT; ACC: with sum) the convolution. ACC_C:
 * a tensor in the arena in the caller's layout, which C code adds to the
 * caller's buffer after the steps (the bias gradient: so that the last step is
 * the only one that changes the caller's data). */
static int connect(build *b, step *conv, const_dnnl_primitive_desc_t pd, int arg, const dnnl_memory_desc_t *user,
                   int slot, size_t off, int role) {
    entry *e = b->e;
    const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg);
    if (!want) return -1;
    if (role == ACC_C) {
        const int m = dnnl_memory_desc_equal(want, user) ? new_mem(b, want, SLOT_ARENA, b->cur) : -1;
        if (m < 0) return -1;
        e->db_off = b->cur;
        b->cur = up(b->cur + dnnl_memory_desc_get_size(want));
        conv->args[conv->nargs++] = (dnnl_exec_arg_t){arg, e->mem[m]};
        return 0;
    }
    const int u = new_mem(b, user, slot, off);
    if (u < 0) return -1;
    int m = u;
    if (role == ACC || !dnnl_memory_desc_equal(want, user)) {
        if ((m = new_mem(b, want, SLOT_ARENA, b->cur)) < 0) return -1;
        b->cur = up(b->cur + dnnl_memory_desc_get_size(want));
        if (role == IN) {
            if (e->nstep == NSTEP - 1 || add_reorder(b, &e->st[e->nstep], u, m, 0)) return -1;
            e->nstep++;
        } else {
            if (b->npost == NSTEP || add_reorder(b, &b->post[b->npost], m, u, role == ACC)) return -1;
            b->npost++;
        }
    }
    conv->args[conv->nargs++] = (dnnl_exec_arg_t){arg, e->mem[m]};
    return 0;
}

/* flag: bit 0 bias (forward, backward weights), bit 1 ReLU after the
 * forward (a oneDNN post-op). */
static entry *build_entry(lscc_dnnl *c, const int *key, const lscc_win2d *p, int op, int flag) {
    const int bias = flag & 1, relu = flag >> 1 & 1;
    entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    memcpy(e->key, key, sizeof e->key);
    build b = {.c = c, .e = e};
    step conv = {0};
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    int r0, r1, c0, c1, ok = 0;
    dnnl_dims_t pl, pr;
    view(p->h, p->oh, p->sh, p->pt, (p->kh - 1) * p->dh + 1, op == FWD, &r0, &r1, &pl[0], &pr[0]);
    view(p->w, p->ow, p->sw, p->pl, (p->kw - 1) * p->dw + 1, op == FWD, &c0, &c1, &pl[1], &pr[1]);
    const int g = p->groups, wn = g > 1 ? 5 : 4;
    const dnnl_dims_t xd = {p->n, p->c, r1 - r0, c1 - c0}, yd = {p->n, p->oc, p->oh, p->ow}, bd = {p->oc};
    const dnnl_dim_t hw = (dnnl_dim_t)p->h * p->w;
    const dnnl_dims_t xs_nchw = {p->c * hw, hw, p->w, 1}, xs_nhwc = {p->c * hw, 1, (dnnl_dim_t)p->w * p->c, p->c};
    const dnnl_dims_t wd5 = {g, p->oc / g, p->c / g, p->kh, p->kw}, st = {p->sh, p->sw}, dl = {p->dh - 1, p->dw - 1};
    const dnnl_dim_t *wd = g > 1 ? wd5 : wd5 + 1;
    const dnnl_format_tag_t wt = g > 1 ? dnnl_goihw : dnnl_oihw;
    const size_t xoff = ((size_t)r0 * p->w + (size_t)c0) * (c->nhwc ? (size_t)p->c : 1) * sizeof(float);
    const dnnl_format_tag_t act = c->nhwc ? dnnl_nhwc : dnnl_nchw;
    dnnl_memory_desc_t ux, uy, uw, ub, ax, ay, aw;
    CK(dnnl_memory_desc_init_by_strides(&ux, 4, xd, dnnl_f32, c->nhwc ? xs_nhwc : xs_nchw));
    CK(dnnl_memory_desc_init_by_tag(&uy, 4, yd, dnnl_f32, act));
    CK(dnnl_memory_desc_init_by_tag(&uw, wn, wd, dnnl_f32, wt));
    CK(dnnl_memory_desc_init_by_tag(&ub, 1, bd, dnnl_f32, dnnl_x));
    CK(dnnl_memory_desc_init_by_tag(&ax, 4, xd, dnnl_f32, c->plain || c->nhwc ? act : dnnl_format_tag_any));
    CK(dnnl_memory_desc_init_by_tag(&ay, 4, yd, dnnl_f32, c->plain || c->nhwc ? act : dnnl_format_tag_any));
    CK(dnnl_memory_desc_init_by_tag(&aw, wn, wd, dnnl_f32, c->plain ? wt : dnnl_format_tag_any));
    CK(dnnl_primitive_attr_create(&attr));
    CK(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
    if (relu) {
        CK(dnnl_post_ops_create(&po));
        CK(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f));
        CK(dnnl_primitive_attr_set_post_ops(attr, po));
    }
    dnnl_convolution_desc_t fd, bwd;
    CK(dnnl_dilated_convolution_forward_desc_init(&fd, op == FWD ? dnnl_forward_inference : dnnl_forward_training,
                                                  dnnl_convolution_direct, &ax, &aw, bias ? &ub : NULL, &ay, st, dl, pl,
                                                  pr));
    if (op == FWD) {
        CK(dnnl_primitive_desc_create(&pd, &fd, attr, c->eng, NULL));
        if (connect(&b, &conv, pd, DNNL_ARG_SRC, &ux, 0, xoff, IN) ||
            connect(&b, &conv, pd, DNNL_ARG_WEIGHTS, &uw, 1, 0, IN) ||
            (bias && connect(&b, &conv, pd, DNNL_ARG_BIAS, &ub, 2, 0, IN)) ||
            connect(&b, &conv, pd, DNNL_ARG_DST, &uy, 3, 0, OUT))
            goto fail;
    } else {
        CK(dnnl_primitive_desc_create(&e->hint, &fd, NULL, c->eng, NULL));
        if (op == BWD_DATA) {
            CK(dnnl_dilated_convolution_backward_data_desc_init(&bwd, dnnl_convolution_direct, &ax, &aw, &ay, st, dl,
                                                                pl, pr));
            CK(dnnl_primitive_desc_create(&pd, &bwd, attr, c->eng, e->hint));
            if (connect(&b, &conv, pd, DNNL_ARG_DIFF_DST, &uy, 0, 0, IN) ||
                connect(&b, &conv, pd, DNNL_ARG_WEIGHTS, &uw, 1, 0, IN) ||
                connect(&b, &conv, pd, DNNL_ARG_DIFF_SRC, &ux, 2, xoff, ACC))
                goto fail;
        } else {
            CK(dnnl_dilated_convolution_backward_weights_desc_init(&bwd, dnnl_convolution_direct, &ax, &aw,
                                                                   bias ? &ub : NULL, &ay, st, dl, pl, pr));
            CK(dnnl_primitive_desc_create(&pd, &bwd, attr, c->eng, e->hint));
            if (connect(&b, &conv, pd, DNNL_ARG_SRC, &ux, 0, xoff, IN) ||
                connect(&b, &conv, pd, DNNL_ARG_DIFF_DST, &uy, 1, 0, IN) ||
                connect(&b, &conv, pd, DNNL_ARG_DIFF_WEIGHTS, &uw, 2, 0, ACC) ||
                (bias && connect(&b, &conv, pd, DNNL_ARG_DIFF_BIAS, &ub, 3, 0, ACC_C)))
                goto fail;
        }
    }
    if (add_pad(&b, &conv, pd) || e->nstep + 1 + b.npost > NSTEP) goto fail;
    CK(dnnl_primitive_create(&conv.prim, pd));
    e->st[e->nstep++] = conv;
    conv.prim = NULL;
    for (int i = 0; i < b.npost; i++) e->st[e->nstep++] = b.post[i];
    b.npost = 0;
    e->pad_off = up(b.cur);
    e->need = e->pad_off + b.pad;
    ok = 1;
fail:
    if (conv.prim) dnnl_primitive_destroy(conv.prim);
    for (int i = 0; i < b.npost; i++) dnnl_primitive_destroy(b.post[i].prim);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (!ok) entry_free(e);
    return ok ? e : NULL;
}

/* The cached entry of (p, op, flag), built on a miss; NULL if oneDNN failed. */
static entry *lookup(lscc_dnnl *c, const lscc_win2d *p, int op, int flag) {
    int key[KEY_LEN];
    memcpy(key, p, sizeof *p);
    key[18] = op;
    key[19] = flag;
    for (int i = 0; i < c->nent; i++)
        if (!memcmp(c->ent[i]->key, key, sizeof key)) {
            c->ent[i]->used = ++c->tick;
            return c->ent[i];
        }
    entry *e = build_entry(c, key, p, op, flag);
    if (!e) return NULL;
    e->used = ++c->tick;
    if (c->nent < LSCC_DNNL_CACHE) return c->ent[c->nent++] = e;
    int old = 0;
    for (int i = 1; i < c->nent; i++)
        if (c->ent[i]->used < c->ent[old]->used) old = i;
    entry_free(c->ent[old]);
    return c->ent[old] = e;
}

/* Runs e on the call's pointers. */
static int run(lscc_dnnl *c, entry *e, void *const *ptr) {
    if (e->need > c->arena_size) {
        free(c->arena);
        c->arena_size = 0;
        if (!(c->arena = aligned_alloc(ALIGN, up(e->need)))) return 1;
        c->arena_size = up(e->need);
    }
    for (int i = 0; i < e->nmem; i++) {
        char *base = e->slot[i] >= 0 ? ptr[e->slot[i]] : (char *)c->arena + (e->slot[i] == SLOT_PAD ? e->pad_off : 0);
        CK(dnnl_memory_set_data_handle(e->mem[i], base + e->off[i]));
    }
    for (int i = 0; i < e->nstep; i++)
        CK(dnnl_primitive_execute(e->st[i].prim, c->strm, e->st[i].nargs, e->st[i].args));
    CK(dnnl_stream_wait(c->strm));
    return 0;
fail:
    return 1;
}

/* Index of channel o, pixel k of batch item n in a tensor of oc channels
 * and ys pixels, in the context's activation layout. */
static size_t chan_at(const lscc_dnnl *c, int oc, size_t ys, int n, int o, size_t k) {
    return c->nhwc ? ((size_t)n * ys + k) * (size_t)oc + (size_t)o : ((size_t)n * (size_t)oc + (size_t)o) * ys + k;
}

/* -1: invalid geometry; 1: the outputs read no real input (or anything is
 * empty), nothing for oneDNN; 0: a job for oneDNN. */
static int trivial(const lscc_win2d *p) {
    if (p->sh < 1 || p->sw < 1 || p->dh < 1 || p->dw < 1 || p->groups < 1 || p->kh < 1 || p->kw < 1) return -1;
    if (p->n <= 0 || p->c <= 0 || p->oc <= 0 || p->oh <= 0 || p->ow <= 0) return 1;
    int r0, r1, c0, c1;
    dnnl_dim_t pl, pr;
    view(p->h, p->oh, p->sh, p->pt, (p->kh - 1) * p->dh + 1, 0, &r0, &r1, &pl, &pr);
    view(p->w, p->ow, p->sw, p->pl, (p->kw - 1) * p->dw + 1, 0, &c0, &c1, &pl, &pr);
    return r1 <= r0 || c1 <= c0;
}

int lscc_conv2d_fwd_relu_dnnl(lscc_dnnl *c, const lscc_win2d *p, const float *x, const float *w, const float *bias,
                              int relu, float *y) {
    const int t = trivial(p);
    if (t < 0) return 1;
    if (t) {
        const size_t ys = (size_t)(p->oh > 0 ? p->oh : 0) * (size_t)(p->ow > 0 ? p->ow : 0);
        for (int n = 0; n < p->n; n++)
            for (int o = 0; o < p->oc; o++) {
                const float v = bias ? bias[o] : 0;
                for (size_t k = 0; k < ys; k++) y[chan_at(c, p->oc, ys, n, o, k)] = relu && v < 0 ? 0 : v;
            }
        return 0;
    }
    entry *e = lookup(c, p, FWD, (bias != NULL) | (relu != 0) << 1);
    void *ptr[4] = {(void *)x, (void *)w, (void *)bias, y};
    return e ? run(c, e, ptr) : 1;
}

int lscc_conv2d_fwd_dnnl(lscc_dnnl *c, const lscc_win2d *p, const float *x, const float *w, const float *bias,
                         float *y) {
    return lscc_conv2d_fwd_relu_dnnl(c, p, x, w, bias, 0, y);
}

int lscc_conv2d_bwd_data_dnnl(lscc_dnnl *c, const lscc_win2d *p, const float *dy, const float *w, float *dx) {
    const int t = trivial(p);
    if (t) return t < 0;
    entry *e = lookup(c, p, BWD_DATA, 0);
    void *ptr[4] = {(void *)dy, (void *)w, dx, NULL};
    return e ? run(c, e, ptr) : 1;
}

int lscc_conv2d_bwd_weight_dnnl(lscc_dnnl *c, const lscc_win2d *p, const float *x, const float *dy, float *dw,
                                float *db) {
    const int t = trivial(p);
    if (t < 0) return 1;
    if (t) {
        const size_t ys = (size_t)(p->oh > 0 ? p->oh : 0) * (size_t)(p->ow > 0 ? p->ow : 0);
        for (int o = 0; o < p->oc && db; o++) {
            float s = 0;
            for (int n = 0; n < p->n; n++)
                for (size_t k = 0; k < ys; k++) s += dy[chan_at(c, p->oc, ys, n, o, k)];
            db[o] += s;
        }
        return 0;
    }
    entry *e = lookup(c, p, BWD_WEIGHT, db != NULL);
    void *ptr[4] = {(void *)x, (void *)dy, dw, NULL};
    if (!e || run(c, e, ptr)) return 1;
    const float *g = (const float *)((char *)c->arena + e->db_off);
    for (int o = 0; o < p->oc && db; o++) db[o] += g[o];
    return 0;
}
