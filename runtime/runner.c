/* The generic `<model>_run` program: try generated code without writing C.
 *   <model>_run --input x.npy [--grad-output g.npy [--sgd LR]] [--tile-progress]
 *               [--weights FILE] [--save-weights FILE] --out DIR */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lscc_npy.h"
#include "lscc_rt.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int show_progress(void *user, const char *phase, int64_t done, int64_t total) {
    (void)user;
    fprintf(stderr, "\r%s: tile %lld / %lld", phase, (long long)done, (long long)total);
    if (done == total) fputc('\n', stderr);
    return 0;
}

static int usage(const char *prog) {
    fprintf(stderr, "usage: %s --input x.npy [--grad-output g.npy [--sgd LR]] [--tile-progress] [--weights FILE]\n"
            "       [--save-weights FILE] --out DIR\n"
            "  x.npy: N x C x H x W, float32, float64 or uint8 (pixel values, not scaled)\n"
            "  g.npy: dL/d(model output), the output's shape\n"
            "  writes DIR/output.npy and DIR/backbone.npy; with a gradient also DIR/input_grad.npy,\n"
            "  DIR/grad/<k>.npy per parameter and DIR/params.json (k -> ONNX initializer name)\n"
            "  --sgd LR: after the backward pass, one plain SGD step p -= LR * dL/dp on every parameter\n"
            "  --save-weights FILE: then the weights (trained or not) as a .weights file (lscc export\n"
            "  turns it into ONNX)\n", prog);
    return 2;
}

static int mkdir_p(const char *d) { return mkdir(d, 0777) && errno != EEXIST ? -1 : 0; }

static int save(const char *dir, const char *name, int esize, int rank, const int64_t *dims, const void *data) {
    char path[4096 + 64], msg[512];
    if (snprintf(path, sizeof path, "%.4095s/%.63s", dir, name) >= (int)sizeof path) return 5;
    if (lscc_npy_write(path, esize == 4 ? LSCC_NPY_F32 : LSCC_NPY_F64, rank, dims, data, msg, sizeof msg)) {
        fprintf(stderr, "error: %s\n", msg);
        return 5;
    }
    return 0;
}

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

/* One SGD step on every parameter: p -= lr * grad, in the model's element
 * type (through host copies for parameters in device memory). */
static int sgd_step(lscc_rt *rt, double lr) {
    size_t es = (size_t)rt->m->esize;
    for (size_t k = 0; k < rt->nparams; k++) {
        const lscc_param *p = &rt->params[k];
        void *v = p->value, *g = p->grad, *hv = NULL, *hg = NULL;
        if (p->on_device) {
            hv = malloc(p->count * es + 1);
            hg = malloc(p->count * es + 1);
            int st = !hv || !hg ? 6 : lscc_rt_fetch(rt, hv, p->value, p->count * es);
            if (!st) st = lscc_rt_fetch(rt, hg, p->grad, p->count * es);
            if (st) {
                free(hv);
                free(hg);
                fprintf(stderr, "error: %s\n", st == 6 ? "out of memory" : rt->err.msg);
                return st;
            }
            v = hv;
            g = hg;
        }
        for (size_t i = 0; i < p->count; i++)
            if (es == 8) ((double *)v)[i] -= lr * ((const double *)g)[i];
            else ((float *)v)[i] = (float)((double)((float *)v)[i] - lr * (double)((const float *)g)[i]);
        if (p->on_device) {
            rt->dev->copy(rt->devctx, p->value, hv, p->count * es, 1);
            int st = rt->dev->status(rt->devctx, &rt->err);
            free(hv);
            free(hg);
            if (st) {
                fprintf(stderr, "error: %s\n", rt->err.msg);
                return st;
            }
        }
    }
    return 0;
}

int lscc_run_main(int argc, char **argv, const lscc_rt_model *m, const char *weights) {
    const char *in = NULL, *gout = NULL, *out = NULL, *save_w = NULL;
    int prog = 0, sgd = 0;
    double lr = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--input") && i + 1 < argc) in = argv[++i];
        else if (!strcmp(argv[i], "--save-weights") && i + 1 < argc) save_w = argv[++i];
        else if (!strcmp(argv[i], "--sgd") && i + 1 < argc) {
            char *end;
            errno = 0;
            lr = strtod(argv[++i], &end);
            if (errno || end == argv[i] || *end || !(lr == lr)) {
                fprintf(stderr, "error: --sgd wants a learning rate, not '%s'\n", argv[i]);
                return usage(argv[0]);
            }
            sgd = 1;
        }
        else if (!strcmp(argv[i], "--grad-output") && i + 1 < argc) gout = argv[++i];
        else if (!strcmp(argv[i], "--weights") && i + 1 < argc) weights = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--tile-progress")) prog = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(argv[0]);
            return 0;
        } else {
            fprintf(stderr, "error: unknown or incomplete argument '%s'\n", argv[i]);
            return usage(argv[0]);
        }
    }
    if (!in || !out) return usage(argv[0]);
    if (sgd && !gout) {
        fprintf(stderr, "error: --sgd needs --grad-output (the step follows the backward pass)\n");
        return usage(argv[0]);
    }
    char msg[512];
    lscc_npy x = {0}, g = {0};
    if (lscc_npy_read(in, &x, msg, sizeof msg)) {
        fprintf(stderr, "error: %s\n", msg);
        return 3;
    }
    int rc = 0;
    lscc_rt rt;
    memset(&rt, 0, sizeof rt);
    void *dx = NULL;
    if (x.rank != 4) {
        fprintf(stderr, "error: %s: the input must be N x C x H x W (rank 4), not rank %d\n", in, x.rank);
        rc = 3;
        goto done;
    }
    lscc_rt_options opt = {x.dims[0], x.dims[2], x.dims[3], prog ? show_progress : NULL, NULL, 0};
    if ((rc = lscc_rt_init(&rt, m, &opt, weights))) {
        fprintf(stderr, "error: %s\n", rt.err.msg);
        goto done;
    }
    if (x.dims[1] != m->image_c) {
        fprintf(stderr, "error: %s: %lld channels; the model takes %lld\n", in, (long long)x.dims[1],
                (long long)m->image_c);
        rc = 3;
        goto done;
    }
    lscc_image img;
    lscc_image_memory(&img, x.data, x.dtype == LSCC_NPY_U8 ? LSCC_U8 : x.dtype == LSCC_NPY_F32 ? LSCC_F32 : LSCC_F64,
                      x.dims[0], x.dims[1], x.dims[2], x.dims[3]);
    int64_t od[LSCC_RT_MAXRANK], yd[LSCC_RT_MAXRANK], xd[LSCC_RT_MAXRANK];
    int orank = lscc_rt_shape(&rt, m->output, od), yrank = lscc_rt_shape(&rt, m->split, yd);
    int xrank = lscc_rt_shape(&rt, m->image, xd);
    size_t es = (size_t)m->esize, on = lscc_rt_numel(&rt, m->output);
    void *o = calloc(on, es);
    if (!o) {
        fprintf(stderr, "error: out of memory\n");
        rc = 6;
        goto done;
    }
    if (mkdir_p(out)) {
        fprintf(stderr, "error: cannot create '%s': %s\n", out, strerror(errno));
        rc = 5;
        free(o);
        goto done;
    }
    double t0 = now();
    if ((rc = lscc_rt_forward(&rt, &img, o))) {
        fprintf(stderr, "error: %s\n", rt.err.msg);
        free(o);
        goto done;
    }
    double t1 = now();
    printf("%s: forward %.3f s (%lld x %lld tiles of %lld x %lld at the split tensor; tiles %s)\n", m->name, t1 - t0,
           (long long)((yd[2] + m->out_tile[0] - 1) / m->out_tile[0]),
           (long long)((yd[3] + m->out_tile[1] - 1) / m->out_tile[1]), (long long)m->out_tile[0],
           (long long)m->out_tile[1], rt.nhwc ? "channels-last" : "channels-first");
    rc = save(out, "output.npy", m->esize, orank, od, o);
    if (!rc) {
        /* y itself: stitched by a second sweep when forward pooled it (gap) */
        void *yh = malloc(lscc_rt_numel(&rt, m->split) * es);
        rc = !yh ? 6 : m->gap >= 0 ? lscc_rt_stream_forward(&rt, &img, yh)
                                   : lscc_rt_fetch(&rt, yh, rt.y, lscc_rt_numel(&rt, m->split) * es);
        if (rc) fprintf(stderr, "error: %s\n", rt.err.msg);
        if (!rc) rc = save(out, "backbone.npy", m->esize, yrank, yd, yh);
        free(yh);
    }
    free(o);
    if (rc) goto done;
    if (!gout) {
        if (save_w && (rc = lscc_rt_save_weights(&rt, save_w))) fprintf(stderr, "error: %s\n", rt.err.msg);
        goto done;
    }
    if (lscc_npy_read_f64(gout, &g, msg, sizeof msg)) {
        fprintf(stderr, "error: %s\n", msg);
        rc = 3;
        goto done;
    }
    int ok = g.rank == orank;
    for (int i = 0; ok && i < orank; i++) ok = g.dims[i] == od[i];
    if (!ok) {
        fprintf(stderr, "error: %s: the gradient must have the model output's shape (", gout);
        for (int i = 0; i < orank; i++) fprintf(stderr, "%s%lld", i ? " x " : "", (long long)od[i]);
        fprintf(stderr, ")\n");
        rc = 3;
        goto done;
    }
    if (es == 4) /* the model's element type */
        for (size_t i = 0; i < on; i++) ((float *)g.data)[i] = (float)((double *)g.data)[i];
    dx = calloc(lscc_rt_numel(&rt, m->image), es);
    if (!dx) {
        fprintf(stderr, "error: out of memory\n");
        rc = 6;
        goto done;
    }
    lscc_rt_zero_grad(&rt);
    t0 = now();
    if ((rc = lscc_rt_backward(&rt, &img, g.data, dx))) {
        fprintf(stderr, "error: %s\n", rt.err.msg);
        goto done;
    }
    printf("%s: backward %.3f s\n", m->name, now() - t0);
    char gdir[4096];
    snprintf(gdir, sizeof gdir, "%s/grad", out);
    if ((rc = save(out, "input_grad.npy", m->esize, xrank, xd, dx))) goto done;
    if (mkdir_p(gdir)) {
        fprintf(stderr, "error: cannot create '%s': %s\n", gdir, strerror(errno));
        rc = 5;
        goto done;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/params.json", out);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "error: cannot write '%s'\n", path);
        rc = 5;
        goto done;
    }
    fprintf(f, "{\n");
    for (size_t k = 0; k < rt.nparams && !rc; k++) {
        const lscc_param *p = &rt.params[k];
        char name[64];
        snprintf(name, sizeof name, "%zu.npy", k);
        void *gh = malloc(p->count * es + 1);
        rc = !gh ? 6 : lscc_rt_fetch(&rt, gh, p->grad, p->count * es);
        if (!rc) rc = save(gdir, name, m->esize, p->rank, p->dims, gh);
        free(gh);
        fprintf(f, "  \"%zu\": {\"name\": ", k);
        json_string(f, p->name);
        fprintf(f, ", \"folded_bn\": ");
        if (p->folded_bn) json_string(f, p->folded_bn);
        else fprintf(f, "null");
        fprintf(f, "}%s\n", k + 1 < rt.nparams ? "," : "");
    }
    fprintf(f, "}\n");
    if (fclose(f) && !rc) {
        fprintf(stderr, "error: cannot write '%s'\n", path);
        rc = 5;
    }
    if (!rc && sgd) {
        rc = sgd_step(&rt, lr);
        if (!rc) printf("%s: SGD step, learning rate %g, on %zu parameters\n", m->name, lr, rt.nparams);
    }
    if (!rc && save_w && (rc = lscc_rt_save_weights(&rt, save_w))) fprintf(stderr, "error: %s\n", rt.err.msg);
done:
    free(dx);
    lscc_npy_free(&x);
    lscc_npy_free(&g);
    lscc_rt_free(&rt);
    return rc;
}
