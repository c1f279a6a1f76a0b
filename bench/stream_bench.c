/* One measurement of the code lscc generated for a model, for
 * bench/cpu_bench.py (and, built with LSCC_BENCH_CUDA, bench/gpu_bench.py):
 * a training step (streamed forward + head, softmax
 * cross-entropy against class 0, head backward + streamed backward with
 * every tile recomputed, SGD update) or inference (streamed forward + head)
 * on a synthetic uint8 RGB image of SIZE x SIZE pixels.
 *
 *   stream_bench --size S --mode train|infer [--batch 1] [--repeat 1]
 *                [--lr 0.01] [--weights FILE] [--progress] [--no-sgd]
 *
 * The image is never in memory: the lscc_image read callback makes every
 * pixel from its coordinates (bench_pixel below; cpu_bench.py makes the
 * same uint8 values with NumPy for PyTorch) and normalizes it with
 * ImageNet's mean and std as the tile is read, as examples/train_resnet18
 * does. Results go to stdout as "key value" lines; progress (--progress)
 * to stderr. Peak RSS is VmHWM (see peak_mb).
 *
 * Built per model by bench/CMakeLists.txt with LSCC_BENCH_MODEL=<name>.
 *
 * GPU (cmake -DLSCC_BENCH_CUDA=ON: the model's NAME_cuda library, code
 * generated with lscc --target cuda). The runtime's forward and backward
 * return only after the GPU has finished (it waits for the device at the
 * end of every sweep and head pass), so the host clock times GPU work.
 * Parameters and gradients are GPU memory (lscc_param.on_device), which the
 * host must not touch: the SGD update is done as fetch / modify / upload
 * (lscc_rt_fetch, the host loop, the backend's host-to-device copy), so the
 * next step trains the updated weights as on the CPU; that round trip is
 * the bench's, not lscc's (on the GPU it would be one axpy per parameter),
 * so it is timed apart (sgd_s) and left out of backward_s and total_s.
 * --no-sgd skips it. Extra lines: gpu (the device), gpu_mem_mb (device
 * memory in use after the step minus what was in use before the context was
 * created, cudaMemGetInfo: lscc's buffers, cuDNN/cuBLAS workspaces and
 * handles, not the CUDA context itself), gpu_peak_mb (the same, highest of
 * the samples taken at every tile and after every step), gpu_total_mb and
 * image_s (host seconds per step spent making pixels in the image callback,
 * which here runs on all OpenMP threads; it overlaps the GPU's work). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include LSCC_BENCH_HEADER

#ifdef LSCC_BENCH_CUDA
#include <cuda_runtime_api.h>
#endif

#define BENCH_CAT2(a, b) a##_##b
#define BENCH_CAT(a, b) BENCH_CAT2(a, b)
#define API(f) BENCH_CAT(LSCC_BENCH_MODEL, f)

typedef API(ctx) bench_ctx;
typedef API(real) bench_real;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Peak RSS of this process image: VmHWM, the high-water mark of this
 * address space. Not getrusage's ru_maxrss, which Linux carries across
 * execve: a child of a large process (the Python driver) would report its
 * parent's RSS at fork time when that is higher. */
static double peak_mb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kb = atof(line + 6);
    if (f) fclose(f);
    if (kb < 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        kb = (double)ru.ru_maxrss; /* KB on Linux */
    }
    return kb / 1024.0;
}

/* The synthetic slide, channel p (= batch item * 3 + color) at row y,
 * column x: a smooth field per channel plus 7 bits of hashed noise, 0..254.
 * Keep in step with synth_image() in cpu_bench.py. */
static inline uint32_t bench_mix32(uint32_t h) {
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    h *= 0x846ca68bu;
    h ^= h >> 16;
    return h;
}

static inline unsigned bench_pixel(uint32_t p, uint32_t y, uint32_t x) {
    uint32_t c = p % 3u;
    uint32_t field = ((x * (7u + c) + y * (3u + 2u * c)) >> 6) & 127u;
    uint32_t noise = bench_mix32(x * 0x9e3779b1u ^ y * 0x85ebca77u ^ p * 0xc2b2ae3du) >> 25;
    return field + noise;
}

#ifndef LSCC_BENCH_CUDA
static int read_synthetic(const lscc_image *img, int64_t y0, int64_t y1, int64_t x0, int64_t x1, lscc_dtype want,
                          void *dst, lscc_rt_error *err) {
    static const double mean[3] = {0.485, 0.456, 0.406}, sd[3] = {0.229, 0.224, 0.225};
    if (want != LSCC_F32 && want != LSCC_F64) return lscc_rt_fail(err, LSCC_RT_E_ARG, "unsupported element type");
    size_t k = 0;
    for (int64_t p = 0; p < img->n * img->c; p++)
        for (int64_t r = y0; r < y1; r++)
            for (int64_t q = x0; q < x1; q++, k++) {
                double v = ((double)bench_pixel((uint32_t)p, (uint32_t)r, (uint32_t)q) / 255.0 - mean[p % 3]) /
                           sd[p % 3];
                if (want == LSCC_F32) ((float *)dst)[k] = (float)v;
                else ((double *)dst)[k] = v;
            }
    return 0;
}
#else
/* The same pixels, made by all the host's OpenMP threads: on the GPU the
 * host making a tile's pixels (while the GPU runs the previous tile) would
 * otherwise be what a step waits for. image_s: host time spent in here. */
static double image_s;

static int read_synthetic(const lscc_image *img, int64_t y0, int64_t y1, int64_t x0, int64_t x1, lscc_dtype want,
                          void *dst, lscc_rt_error *err) {
    static const double mean[3] = {0.485, 0.456, 0.406}, sd[3] = {0.229, 0.224, 0.225};
    if (want != LSCC_F32 && want != LSCC_F64) return lscc_rt_fail(err, LSCC_RT_E_ARG, "unsupported element type");
    double t = now();
    const int64_t planes = img->n * img->c, rows = y1 - y0, cols = x1 - x0;
#pragma omp parallel for schedule(static)
    for (int64_t pr = 0; pr < planes * rows; pr++) {
        const int64_t p = pr / rows, r = y0 + pr % rows;
        size_t k = (size_t)pr * (size_t)cols;
        for (int64_t q = x0; q < x1; q++, k++) {
            double v = ((double)bench_pixel((uint32_t)p, (uint32_t)r, (uint32_t)q) / 255.0 - mean[p % 3]) / sd[p % 3];
            if (want == LSCC_F32) ((float *)dst)[k] = (float)v;
            else ((double *)dst)[k] = v;
        }
    }
    image_s += now() - t;
    return 0;
}
#endif

#ifdef LSCC_BENCH_CUDA
/* Device memory in use (total - free), MB; -1 when the query fails. */
static double gpu_used_mb(void) {
    size_t fr = 0, tot = 0;
    if (cudaMemGetInfo(&fr, &tot) != cudaSuccess) return -1;
    return (double)(tot - fr) / 1048576.0;
}
static double gpu_high = -1; /* highest gpu_used_mb() sampled */
static void gpu_sample(void) {
    double u = gpu_used_mb();
    if (u > gpu_high) gpu_high = u;
}
#endif

struct prog {
    double t0;
    int on;
};

static int progress(void *user, const char *phase, int64_t done, int64_t total) {
    struct prog *pr = user;
#ifdef LSCC_BENCH_CUDA
    gpu_sample();
    if (pr->on && (done == 1 || done == total || done % 8 == 0))
        fprintf(stderr, "  %-8s tile %4lld / %lld  %7.1f s  peak RSS %6.0f MB  GPU in use %6.0f MB\n", phase,
                (long long)done, (long long)total, now() - pr->t0, peak_mb(), gpu_high);
#else
    if (pr->on && (done == 1 || done == total || done % 8 == 0))
        fprintf(stderr, "  %-8s tile %4lld / %lld  %7.1f s  peak RSS %6.0f MB\n", phase, (long long)done,
                (long long)total, now() - pr->t0, peak_mb());
#endif
    return 0;
}

static int fail(bench_ctx *net, int rc) {
    fprintf(stderr, "error: %s\n", API(error)(net)->msg);
    API(destroy)(net);
    return rc;
}

#ifdef LSCC_BENCH_CUDA
/* SGD on parameters in GPU memory: fetch value and gradient to the host,
 * update, upload the value; one parameter at a time through two host
 * buffers (each upload is waited for before the buffers are reused). */
static int sgd_device(bench_ctx *net, double lr) {
    lscc_rt *rt = (lscc_rt *)(void *)net; /* the engine state is the context's first member */
    size_t np, most = 1;
    lscc_param *p = API(params)(net, &np);
    for (size_t k = 0; k < np; k++) most = p[k].count > most ? p[k].count : most;
    bench_real *v = malloc(most * sizeof *v), *g = malloc(most * sizeof *g);
    int rc = 0;
    if (!v || !g) rc = lscc_rt_fail(&rt->err, LSCC_RT_E_NOMEM, "out of memory (SGD buffers)");
    for (size_t k = 0; k < np && !rc; k++) {
        size_t bytes = p[k].count * sizeof *v;
        if (!p[k].on_device) { /* host memory: update in place */
            for (size_t i = 0; i < p[k].count; i++)
                ((bench_real *)p[k].value)[i] -= (bench_real)lr * ((bench_real *)p[k].grad)[i];
            continue;
        }
        if ((rc = lscc_rt_fetch(rt, v, p[k].value, bytes)) || (rc = lscc_rt_fetch(rt, g, p[k].grad, bytes))) break;
        for (size_t i = 0; i < p[k].count; i++) v[i] -= (bench_real)lr * g[i];
        rt->dev->copy(rt->devctx, p[k].value, v, bytes, 1);
        rc = rt->dev->status(rt->devctx, &rt->err); /* the upload is done: v may be reused */
    }
    free(v);
    free(g);
    return rc;
}
#endif

int main(int argc, char **argv) {
    int64_t size = 0, batch = 1;
    double lr = 0.01;
    int train = -1, repeat = 1, sgd = 1;
    const char *weights = LSCC_BENCH_WEIGHTS;
    struct prog pr = {0, 0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--size") && i + 1 < argc) size = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--lr") && i + 1 < argc) lr = atof(argv[++i]);
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--weights") && i + 1 < argc) weights = argv[++i];
        else if (!strcmp(argv[i], "--mode") && i + 1 < argc) {
            i++;
            train = !strcmp(argv[i], "train") ? 1 : !strcmp(argv[i], "infer") ? 0 : -1;
        } else if (!strcmp(argv[i], "--progress")) pr.on = 1;
        else if (!strcmp(argv[i], "--no-sgd")) sgd = 0;
        else {
            train = -1;
            break;
        }
    }
    if (size < 32 || batch < 1 || train < 0 || repeat < 1) {
        fprintf(stderr, "usage: %s --size N --mode train|infer [--batch N] [--repeat R] [--lr X] [--weights FILE] "
                "[--progress] [--no-sgd]\n", argv[0]);
        return 2;
    }
    const lscc_rt_model *m = API(model)();
#ifdef LSCC_BENCH_CUDA
    /* the CUDA context first (cudaFree(0) creates it), so that the baseline
       counts it and gpu_mem_mb counts only what the lscc context allocates */
    struct cudaDeviceProp prop;
    int dev = 0;
    double gpu_base = -1, gpu_total = -1;
    size_t fr0 = 0, tot0 = 0;
    if (cudaFree(0) != cudaSuccess || cudaGetDevice(&dev) != cudaSuccess ||
        cudaGetDeviceProperties(&prop, dev) != cudaSuccess || cudaMemGetInfo(&fr0, &tot0) != cudaSuccess) {
        fprintf(stderr, "error: no usable CUDA device: %s\n", cudaGetErrorString(cudaGetLastError()));
        return 8; /* LSCC_RT_E_DEVICE */
    }
    gpu_base = (double)(tot0 - fr0) / 1048576.0;
    gpu_total = (double)tot0 / 1048576.0;
#endif
    double t0 = now();
    pr.t0 = t0;
    lscc_rt_options opt = {batch, size, size, progress, &pr, !train};
    lscc_rt_error err = {0, ""};
    bench_ctx *net = API(create)(&opt, weights, &err);
    if (!net) {
        fprintf(stderr, "error: %s\n", err.msg);
        return err.code ? err.code : 1;
    }
    double t_create = now() - t0;
    int64_t yd[8], od[8];
    API(shape)(net, 1, yd);
    int orank = API(shape)(net, 2, od);
    size_t on = 1;
    for (int i = 0; i < orank; i++) on *= (size_t)od[i];
    bench_real *out = calloc(on, sizeof *out), *dout = calloc(on, sizeof *dout);
    if (!out || !dout) {
        fprintf(stderr, "error: out of memory\n");
        API(destroy)(net);
        return 6;
    }
    lscc_image x;
    memset(&x, 0, sizeof x);
    x.n = batch;
    x.c = 3;
    x.h = size;
    x.w = size;
    x.dtype = LSCC_U8;
    x.read = read_synthetic;
    int64_t th = (yd[2] + m->out_tile[0] - 1) / m->out_tile[0], tw = (yd[3] + m->out_tile[1] - 1) / m->out_tile[1];
    /* rt (the engine state) is the context's first member; only its arena size is read */
    const lscc_rt *rt = (const lscc_rt *)(const void *)net;
    printf("model %s\n", m->name);
    printf("mode %s\n", train ? "train" : "infer");
    printf("size %lld\nbatch %lld\n", (long long)size, (long long)batch);
    printf("out_tile %lld\ntiles %lld\n", (long long)m->out_tile[0], (long long)(th * tw));
    printf("arena_mb %.1f\n", (double)rt->arena_bytes / 1e6);
    printf("create_s %.3f\n", t_create);
    printf("rss_ready_mb %.1f\n", peak_mb());
#ifdef LSCC_BENCH_CUDA
    gpu_sample();
    printf("gpu %s\n", prop.name);
    printf("gpu_total_mb %.1f\ngpu_base_mb %.1f\n", gpu_total, gpu_base);
    printf("gpu_ready_mb %.1f\n", gpu_used_mb() - gpu_base);
    printf("sgd %s\n", !train ? "none" : sgd ? "fetch-modify-upload (untimed)" : "skipped");
#endif
    fflush(stdout);

    /* --repeat R: R steps in this process; the fastest is reported (the
       first, cold one too), the loss of the first (the exported weights) */
    double best[3] = {0, 0, 0}, first_total = 0, loss0 = 0, sum0 = 0;
#ifdef LSCC_BENCH_CUDA
    double t_sgd = 0;
#endif
    for (int it = 0; it < repeat; it++) {
        double t1 = now();
        int rc = API(forward)(net, &x, out);
        if (rc) return fail(net, rc);
        double t2 = now(), t3 = t2, loss = 0;
        if (train) {
            /* softmax cross-entropy against class 0 of each batch item */
            int64_t nc = (int64_t)on / batch;
            for (int64_t b = 0; b < batch; b++) {
                double mx = out[b * nc], z = 0;
                for (int64_t k = 1; k < nc; k++) mx = out[b * nc + k] > mx ? out[b * nc + k] : mx;
                for (int64_t k = 0; k < nc; k++) z += exp((double)out[b * nc + k] - mx);
                loss += -((double)out[b * nc] - mx - log(z)) / (double)batch;
                for (int64_t k = 0; k < nc; k++)
                    dout[b * nc + k] = (bench_real)((exp((double)out[b * nc + k] - mx) / z - (k == 0)) / (double)batch);
            }
            API(zero_grad)(net);
            if ((rc = API(backward)(net, &x, dout, NULL))) return fail(net, rc);
#ifdef LSCC_BENCH_CUDA
            t3 = now(); /* backward returned after the GPU finished */
            gpu_sample();
            if (sgd) {
                double ts = now();
                if ((rc = sgd_device(net, lr))) return fail(net, rc);
                t_sgd = now() - ts;
            }
#else
            if (sgd) {
                size_t np;
                lscc_param *p = API(params)(net, &np);
                for (size_t k = 0; k < np; k++)
                    for (size_t i = 0; i < p[k].count; i++)
                        ((bench_real *)p[k].value)[i] -= (bench_real)lr * ((bench_real *)p[k].grad)[i];
            }
            t3 = now();
#endif
        }
#ifdef LSCC_BENCH_CUDA
        else
            gpu_sample();
#endif
        if (it == 0) {
            first_total = t3 - t1;
            loss0 = loss;
            for (size_t i = 0; i < on; i++) sum0 += (double)out[i];
        }
        if (it == 0 || t3 - t1 < best[2]) {
            best[0] = t2 - t1;
            best[1] = t3 - t2;
            best[2] = t3 - t1;
        }
        if (repeat > 1) fprintf(stderr, "  step %d of %d: %.3f s\n", it + 1, repeat, t3 - t1);
    }
    printf("repeat %d\n", repeat);
    printf("forward_s %.3f\n", best[0]);
    printf("backward_s %.3f\n", best[1]);
    printf("total_s %.3f\n", best[2]);
    printf("first_total_s %.3f\n", first_total);
    if (train) printf("loss %.6f\n", loss0);
    printf("out_sum %.6g\n", sum0);
    printf("peak_rss_mb %.1f\n", peak_mb());
#ifdef LSCC_BENCH_CUDA
    if (train && sgd) printf("sgd_s %.3f\n", t_sgd);
    printf("image_s %.3f\n", image_s / repeat); /* per step */
    printf("gpu_mem_mb %.1f\n", gpu_used_mb() - gpu_base);
    printf("gpu_peak_mb %.1f\n", gpu_high - gpu_base);
#endif
    free(out);
    free(dout);
    API(destroy)(net);
    return 0;
}
