/* --explain: the plan as a table for people and as JSON for tools. */
#include <stdlib.h>
#include <string.h>

#include "plan.h"

static double mb(int64_t b) { return (double)b / (1024.0 * 1024.0); }

/* The image, then every backbone node's outputs that have a region, in
 * execution order (malloc'ed; NULL with *n = 0 on OOM). */
static int *backbone_order(const lscc_plan *p, int *n) {
    const lscc_graph *g = p->m->g;
    int *order = malloc(sizeof(int) * ((size_t)g->ntensors + 1));
    *n = 0;
    if (!order) return NULL;
    order[(*n)++] = g->image;
    for (int i = 0; i < g->nnodes; i++) {
        if (!p->m->split.in_backbone[i]) continue;
        for (int o = 0; o < g->nodes[i].noutputs; o++) {
            int t = g->nodes[i].outputs[o];
            if (t >= 0 && p->reg[t].valid) order[(*n)++] = t;
        }
    }
    return order;
}

static const char *producer_op(const lscc_graph *g, const lscc_tensor *t) {
    return t->producer >= 0 ? g->nodes[t->producer].op_type : t->kind == LSCC_T_INPUT ? "input" : "const";
}

/* Tiles along each axis for the --image size (0 when not given). */
static void tile_grid(const lscc_plan *p, int64_t out[4]) {
    memset(out, 0, sizeof(int64_t) * 4);
    if (p->opt.image_h <= 0 || p->opt.image_w <= 0) return;
    const lscc_graph *g = p->m->g;
    int y = p->m->split.tensor;
    for (int a = 0; a < 2; a++) {
        out[2 + a] = lscc_plan_dim(p, &g->tensors[y], p->reg[y].dim[a], p->opt.batch, p->opt.image_h, p->opt.image_w);
        out[a] = out[2 + a] > 0 ? (out[2 + a] + p->out_tile[a] - 1) / p->out_tile[a] : 0;
    }
}

static int head_nodes(const lscc_plan *p) {
    int n = 0;
    for (int i = 0; i < p->m->g->nnodes; i++) n += !p->m->split.in_backbone[i];
    return n;
}

void lscc_plan_explain(const lscc_plan *p, FILE *f) {
    const lscc_graph *g = p->m->g;
    const lscc_tensor *x = &g->tensors[g->image], *y = &g->tensors[p->m->split.tensor];
    const lscc_region *rx = &p->reg[g->image];
    char sx[256], sy[256];
    fprintf(f, "lscc plan for %s (%s, opset %lld)\n", p->m->path, g->producer, (long long)g->opset);
    fprintf(f, "  image:    '%s' %s\n", x->name, lscc_shape_str(g, x, sx, sizeof sx));
    fprintf(f, "  split at: '%s' %s (%s)\n", y->name, lscc_shape_str(g, y, sy, sizeof sy),
            p->m->split.auto_chosen ? "automatic: last tensor before the global ops" : "--split");
    fprintf(f, "  backbone: %d nodes streamed tile by tile (%d BatchNorm folded); head: %d nodes run whole\n",
            p->m->split.nbackbone, p->m->nfolded_bn, head_nodes(p));
    char tb[48];
    lscc_tile_str(&p->opt, tb, sizeof tb);
    fprintf(f, "  tile:     --tile %s -> output tile %lld x %lld of the split tensor, input region %lld x %lld\n",
            tb, (long long)p->out_tile[0], (long long)p->out_tile[1], (long long)p->in_tile[0],
            (long long)p->in_tile[1]);
    fprintf(f, "  receptive field %lld x %lld, stride %lld x %lld, smallest usable --tile %lld\n", (long long)p->rf[0],
            (long long)p->rf[1], (long long)rx->S[0], (long long)rx->S[1], (long long)p->min_tile);
    double own = (double)(p->out_tile[0] * rx->S[0]) * (double)(p->out_tile[1] * rx->S[1]);
    fprintf(f, "  halo overhead (interior tile): %.2fx the pixels it owns\n",
            (double)p->in_tile[0] * (double)p->in_tile[1] / own);
    fprintf(f, "  per tile (batch %lld, float32, every tensor stored): inference peak %.1f MB, training %.1f MB; "
               "weights %.1f MB\n",
            (long long)p->opt.batch, mb(p->bytes_infer), mb(p->bytes_train), mb(p->bytes_params));
    int64_t grid[4];
    tile_grid(p, grid);
    if (grid[0])
        fprintf(f, "  image %lld x %lld: split tensor %lld x %lld -> %lld x %lld = %.0f tiles\n",
                (long long)p->opt.image_h, (long long)p->opt.image_w, (long long)grid[2], (long long)grid[3],
                (long long)grid[0], (long long)grid[1], (double)grid[0] * (double)grid[1]); /* no overflow on absurd sizes */
    else
        fprintf(f, "  (give --image HxW for the tile count of an image)\n");
    fprintf(f, "\n  %-44s %-18s %-40s %-11s %-17s %-7s %-9s %8s\n", "tensor", "op", "shape", "region",
            "halo t,b / l,r", "stride", "RF", "MB");
    int nt, *order = backbone_order(p, &nt);
    for (int k = 0; k < nt; k++) {
        {
            int ti = order[k];
            const lscc_tensor *t = &g->tensors[ti];
            const lscc_region *r = &p->reg[ti];
            char name[48], shape[128], reg[48], halo[96], st[48], rf[48];
            size_t len = strlen(t->name);
            if (len > 44) snprintf(name, sizeof name, "...%s", t->name + len - 41);
            else snprintf(name, sizeof name, "%s", t->name);
            lscc_shape_str(g, t, shape, sizeof shape);
            snprintf(reg, sizeof reg, "%lldx%lld", (long long)lscc_plan_region_side(p, ti, 0), (long long)lscc_plan_region_side(p, ti, 1));
            snprintf(halo, sizeof halo, "%lld,%lld / %lld,%lld", (long long)-r->lo[0], (long long)(r->hi[0] - r->S[0]),
                     (long long)-r->lo[1], (long long)(r->hi[1] - r->S[1]));
            snprintf(st, sizeof st, "%lldx%lld", (long long)r->S[0], (long long)r->S[1]);
            snprintf(rf, sizeof rf, "%lldx%lld", (long long)(r->hi[0] - r->lo[0]), (long long)(r->hi[1] - r->lo[1]));
            fprintf(f, "  %-44s %-18s %-40s %-11s %-17s %-7s %-9s %8.2f\n", name, producer_op(g, t), shape, reg, halo,
                    st, rf, mb(lscc_plan_region_bytes(p, ti)));
        }
    }
    free(order);
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static void json_shape(FILE *f, const lscc_graph *g, const lscc_tensor *t) {
    fputc('[', f);
    for (int i = 0; i < t->rank; i++) {
        char b[256];
        double v;
        if (i) fputc(',', f);
        if (lscc_sym_get_const(g->syms, t->dims[i], &v)) fprintf(f, "%.0f", v);
        else {
            lscc_sym_print(g->syms, t->dims[i], b, sizeof b);
            json_str(f, b);
        }
    }
    fputc(']', f);
}

void lscc_plan_explain_json(const lscc_plan *p, FILE *f) {
    const lscc_graph *g = p->m->g;
    const lscc_tensor *y = &g->tensors[p->m->split.tensor];
    const lscc_region *rx = &p->reg[g->image];
    fprintf(f, "{\n  \"model\": ");
    json_str(f, p->m->path);
    fprintf(f, ",\n  \"producer\": ");
    json_str(f, g->producer);
    fprintf(f, ",\n  \"opset\": %lld,\n  \"image\": ", (long long)g->opset);
    json_str(f, g->tensors[g->image].name);
    fprintf(f, ",\n  \"split\": {\"tensor\": ");
    json_str(f, y->name);
    fprintf(f, ", \"automatic\": %s, \"shape\": ", p->m->split.auto_chosen ? "true" : "false");
    json_shape(f, g, y);
    fprintf(f, "},\n  \"backbone_nodes\": %d,\n  \"head_nodes\": %d,\n  \"batchnorm_folded\": %d,\n",
            p->m->split.nbackbone, head_nodes(p), p->m->nfolded_bn);
    fprintf(f, "  \"tile\": %lld,\n  \"tile_cols\": %lld,\n  \"output_tile\": [%lld, %lld],\n  \"input_tile\": [%lld, %lld],\n",
            (long long)p->opt.tile, (long long)(p->opt.tile_w > 0 ? p->opt.tile_w : p->opt.tile), (long long)p->out_tile[0], (long long)p->out_tile[1], (long long)p->in_tile[0],
            (long long)p->in_tile[1]);
    fprintf(f, "  \"receptive_field\": [%lld, %lld],\n  \"stride\": [%lld, %lld],\n  \"min_tile\": %lld,\n",
            (long long)p->rf[0], (long long)p->rf[1], (long long)rx->S[0], (long long)rx->S[1],
            (long long)p->min_tile);
    fprintf(f, "  \"bytes\": {\"batch\": %lld, \"inference_per_tile\": %lld, \"training_per_tile\": %lld, "
            "\"params\": %lld},\n", (long long)p->opt.batch, (long long)p->bytes_infer, (long long)p->bytes_train,
            (long long)p->bytes_params);
    int64_t grid[4];
    tile_grid(p, grid);
    if (grid[0])
        fprintf(f, "  \"image_size\": {\"h\": %lld, \"w\": %lld, \"split_h\": %lld, \"split_w\": %lld, "
                "\"tiles\": [%lld, %lld], \"tile_count\": %.0f},\n", (long long)p->opt.image_h,
                (long long)p->opt.image_w, (long long)grid[2], (long long)grid[3], (long long)grid[0],
                (long long)grid[1], (double)grid[0] * (double)grid[1]);
    fprintf(f, "  \"tensors\": [");
    int first = 1;
    int nt, *order = backbone_order(p, &nt);
    for (int k = 0; k < nt; k++) {
        {
            int ti = order[k];
            const lscc_tensor *t = &g->tensors[ti];
            const lscc_region *r = &p->reg[ti];
            fprintf(f, "%s\n    {\"name\": ", first ? "" : ",");
            first = 0;
            json_str(f, t->name);
            fprintf(f, ", \"op\": ");
            json_str(f, producer_op(g, t));
            fprintf(f, ", \"shape\": ");
            json_shape(f, g, t);
            fprintf(f, ", \"region\": [%lld, %lld], \"halo\": [%lld, %lld, %lld, %lld], \"stride\": [%lld, %lld], "
                    "\"rf\": [%lld, %lld], \"bytes\": %lld}", (long long)lscc_plan_region_side(p, ti, 0),
                    (long long)lscc_plan_region_side(p, ti, 1), (long long)-r->lo[0], (long long)(r->hi[0] - r->S[0]),
                    (long long)-r->lo[1], (long long)(r->hi[1] - r->S[1]), (long long)r->S[0], (long long)r->S[1],
                    (long long)(r->hi[0] - r->lo[0]), (long long)(r->hi[1] - r->lo[1]),
                    (long long)lscc_plan_region_bytes(p, ti));
        }
    }
    free(order);
    fprintf(f, "\n  ],\n  \"head\": [");
    first = 1;
    for (int i = 0; i < g->nnodes; i++) {
        if (p->m->split.in_backbone[i]) continue;
        fprintf(f, "%s\n    {\"name\": ", first ? "" : ",");
        first = 0;
        json_str(f, g->nodes[i].name);
        fprintf(f, ", \"op\": ");
        json_str(f, g->nodes[i].op_type);
        fprintf(f, "}");
    }
    fprintf(f, "\n  ]\n}\n");
}
