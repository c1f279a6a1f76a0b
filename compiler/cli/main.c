/* lscc: the command line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "emit/lower.h"
#include "export/export.h"
#include "plan/plan.h"

static const char usage[] =
    "usage: lscc MODEL.onnx [--tile N|HxW] [-o DIR] [--explain[=json]] [--split TENSOR]\n"
    "            [--image HxW] [--batch N] [--precision f32|f64] [--name NAME]\n"
    "            [--train-bn-affine] [--target cpu|cuda|cpu,cuda]\n"
    "            [--memory BYTES] [--inference]\n"
    "       lscc export MODEL.onnx --weights TRAINED.weights -o OUT.onnx\n"
    "            [--precision f32|f64] [--train-bn-affine] [--split TENSOR] [--force]\n"
    "       lscc --help | --version\n";

static const char help[] =
    "\n"
    "lscc compiles the convolutional backbone of an ONNX model into a plan that\n"
    "streams images far larger than memory tile by tile, with results equal to\n"
    "running the whole image at once (Pinckaers et al., streaming CNNs).\n"
    "\n"
    "It loads the model, infers every size as a formula in the image's N, H and W,\n"
    "folds frozen BatchNorm into convolutions, finds the largest local part of the\n"
    "network reachable from the image (the backbone), splits there, and computes\n"
    "for a tile size the region, halo, stride and bytes of every backbone tensor.\n"
    "\n"
    "options:\n"
    "  --tile N         largest image region (N x N pixels) one tile may read;\n"
    "                   lscc picks the largest output tile that fits (default 2048)\n"
    "  --tile HxW       the same with H rows and W columns: wide strips overlap\n"
    "                   their neighbours on two sides only, so an image that is\n"
    "                   a few tiles tall costs less recomputed halo per pixel\n"
    "  -o, --output DIR write the generated code to DIR: NAME.h, NAME.c (the\n"
    "                   streamed backbone and the head, forward and backward),\n"
    "                   NAME.weights, NAME_run.c (a runner reading .npy files) and\n"
    "                   CMakeLists.txt (cmake -S DIR -B DIR/build builds both);\n"
    "                   also the plan as DIR/plan.txt and DIR/plan.json\n"
    "  --precision P    element type of the generated code: f32 (default; float\n"
    "                   convolutions through oneDNN) or f64 (plain C, for exactness)\n"
    "  --target T       cpu (default): NAME.c, C with oneDNN; cuda: NAME.cu, the\n"
    "                   same streaming code on an NVIDIA GPU (cuDNN convolutions,\n"
    "                   the image stays on the host and is staged tile by tile);\n"
    "                   cpu,cuda: both (link one of them: same symbols)\n"
    "  --memory BYTES   pick the largest tile whose arena fits in BYTES (suffixes\n"
    "                   K, M, G: powers of 1024), instead of --tile: the tile\n"
    "                   memory of a training context (activations kept for the\n"
    "                   backward sweep, gradients by liveness), as the runtime\n"
    "                   lays it out, for --batch items in --precision\n"
    "  --inference      with --memory: size for forward only (buffers reused by\n"
    "                   liveness: much larger tiles for the same memory)\n"
    "  --name NAME      prefix of every generated symbol and file (default: the\n"
    "                   model file's name, sanitized)\n"
    "  --train-bn-affine  keep BatchNormalization as its own op with gamma and beta\n"
    "                   trainable and the statistics frozen (default: fold it into\n"
    "                   the convolution before it, as frozen BN)\n"
    "  --explain        print the plan as a table: per backbone tensor its op,\n"
    "                   symbolic shape, region per tile, halo (top,bottom / left,\n"
    "                   right), cumulative stride, receptive field and MB\n"
    "  --explain=json   print the same plan as JSON on stdout\n"
    "  --split TENSOR   stream up to this tensor instead of the automatic split\n"
    "                   (the latest tensor before the first global op)\n"
    "  --image HxW      image size for the tile count and concrete sizes\n"
    "  --batch N        batch size for byte counts (default 1)\n"
    "  --help           this text\n"
    "  --version        the lscc version\n";

static const char help_export[] =
    "\n"
    "lscc export writes the weights that generated code trained (NAME_save_weights,\n"
    "a .weights file) back into the ONNX model: OUT.onnx is a copy of MODEL.onnx\n"
    "with the trained values in its initializers, each in its own data type\n"
    "(float32 initializers get float32 values from float64 code). Give the ONNX\n"
    "file and the options that the code was generated with (--train-bn-affine,\n"
    "--split; --precision is read from the weights file): the weights file's\n"
    "layout and model checksums are checked against them.\n"
    "  Exported models contain the folded form: by default lscc trains a\n"
    "  BatchNormalization folded into the Conv before it, so OUT.onnx has that\n"
    "  Conv with the trained weight and a bias, and no BatchNormalization. With\n"
    "  --train-bn-affine the BatchNormalization stays, with trained gamma and beta.\n"
    "  An initializer shared with readers a trained value does not belong to\n"
    "  keeps its value for them; the others get a new initializer. Buffers that\n"
    "  cannot be written back are all listed, and nothing is written. External\n"
    "  data is written inline (up to protobuf's 2 GiB).\n"
    "  --weights FILE   the trained .weights file\n"
    "  -o, --output OUT the ONNX file to write (written as OUT.partial, then renamed)\n"
    "  --force          accept weights saved by code generated from another ONNX\n"
    "                   file whose buffers have the same layout (the same model\n"
    "                   saved again)\n"
    "\n"
    "exit codes:\n"
    "  0  success\n"
    "  1  internal error (a bug in lscc; please report it)\n"
    "  2  usage error (bad command line, unknown --split tensor)\n"
    "  3  invalid model (not ONNX, truncated, inconsistent shapes, cyclic graph), or\n"
    "     (export) a weights file that is corrupt or does not fit the model\n"
    "  4  unsupported model (unknown ops, global ops while tensors are large,\n"
    "     tile smaller than the receptive field); every offending node is listed;\n"
    "     (export) trained buffers that cannot be written into the model\n"
    "  5  I/O error (a file cannot be read or written)\n"
    "  6  out of memory\n";

static int parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int parse_size(const char *s, int64_t *h, int64_t *w) {
    char buf[64];
    const char *x = strchr(s, 'x');
    if (!x || (size_t)(x - s) >= sizeof buf) return -1;
    memcpy(buf, s, (size_t)(x - s));
    buf[x - s] = 0;
    return parse_int(buf, 1, (int64_t)1 << 31, h) || parse_int(x + 1, 1, (int64_t)1 << 31, w) ? -1 : 0;
}

/* --tile N (square) or HxW (rows x columns) */
static int parse_tile(const char *s, lscc_options *opt) {
    if (strchr(s, 'x')) return parse_size(s, &opt->tile, &opt->tile_w);
    opt->tile_w = 0;
    return parse_int(s, 1, (int64_t)1 << 31, &opt->tile);
}

/* "1536M", "2G", "1500000000" */
static int parse_bytes(const char *s, int64_t *out) {
    char buf[64];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, s, n + 1);
    int64_t mul = 1;
    char u = buf[n - 1];
    if (u == 'K' || u == 'k') mul = (int64_t)1 << 10;
    else if (u == 'M' || u == 'm') mul = (int64_t)1 << 20;
    else if (u == 'G' || u == 'g') mul = (int64_t)1 << 30;
    if (mul > 1) buf[n - 1] = 0;
    int64_t v;
    if (parse_int(buf, 1, ((int64_t)1 << 50) / mul, &v)) return -1;
    *out = v * mul;
    return 0;
}

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "lscc: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s(lscc --help explains every option)\n", usage);
    return LSCC_E_USAGE;
}

/* "--opt VALUE" or "--opt=VALUE" */
static const char *opt_value(int argc, char **argv, int *i, const char *name) {
    size_t len = strlen(name);
    if (strncmp(argv[*i], name, len) != 0) return NULL;
    if (argv[*i][len] == '=') return argv[*i] + len + 1;
    if (argv[*i][len] != 0) return NULL;
    if (*i + 1 >= argc) return "";
    return argv[++*i];
}

/* mkdir -p: dir and any missing parents (0 on success, errno set if not). */
static int make_dirs(const char *dir) {
    char path[4096];
    struct stat st;
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *s = path + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (stat(path, &st) != 0 && mkdir(path, 0777) != 0 && errno != EEXIST) return -1;
        *s = '/';
    }
    return stat(path, &st) == 0 || mkdir(path, 0777) == 0 || errno == EEXIST ? 0 : -1;
}

static int write_plan(const lscc_plan *p, const char *dir) {
    if (make_dirs(dir) != 0) {
        fprintf(stderr, "lscc: error: cannot create '%s': %s\n", dir, strerror(errno));
        return LSCC_E_IO;
    }
    const char *names[2] = {"plan.txt", "plan.json"};
    for (int k = 0; k < 2; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        FILE *f = fopen(path, "w");
        if (!f) {
            fprintf(stderr, "lscc: error: cannot write '%s': %s\n", path, strerror(errno));
            return LSCC_E_IO;
        }
        if (k == 0) lscc_plan_explain(p, f);
        else lscc_plan_explain_json(p, f);
        if (fclose(f) != 0) {
            fprintf(stderr, "lscc: error: cannot write '%s': %s\n", path, strerror(errno));
            return LSCC_E_IO;
        }
    }
    return 0;
}

/* One ONNX initializer read by several ops is one parameter: its gradient
 * is their sum and training keeps them equal. Intended for tied weights,
 * but PyTorch's exporter also merges tensors that are merely equal (the
 * folded zero biases of a freshly initialized model become Identity
 * aliases of one initializer), which silently ties separate parameters. */
static void shared_params_warning(const lscc_prog *g) {
    int n = 0, first = -1;
    for (int k = 0; k < g->nbuf; k++)
        if (g->buf[k].trainable && g->buf[k].readers > 1) {
            if (first < 0) first = k;
            n++;
        }
    if (!n) return;
    fprintf(stderr, "lscc: warning: %d trainable initializer%s read by more than one op (e.g. '%.200s', read by %d) "
            "and trained as one shared tensor\n  if they were separate parameters in the framework (PyTorch merges "
            "equal tensors on export, e.g. the zero biases of a freshly initialized model), re-export with "
            "training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False\n", n, n > 1 ? "s are" : " is",
            g->buf[first].name, g->buf[first].readers);
}

/* The model's file name without directory and extension. */
static void stem(const char *path, char *out, size_t n) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(out, n, "%s", b);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = 0;
}

/* The tile arena of the plan for opt (training and forward-only bytes), or
 * a status: the plan or lowering failed (e.g. tile under the receptive field). */
static lscc_status tile_bytes(lscc_model *m, const lscc_options *opt, int esize, int64_t *infer, int64_t *train) {
    lscc_diag d;
    lscc_diag_init(&d);
    lscc_plan *p = NULL;
    lscc_prog *g = NULL;
    lscc_status st = lscc_plan_build(m, opt, &p, &d);
    if (!st) st = lscc_lower(p, opt->train_bn_affine, &g, &d);
    if (!st && lscc_prog_tile_bytes(g, opt->batch, esize, infer, train)) st = LSCC_E_NOMEM;
    lscc_prog_free(g);
    lscc_plan_free(p);
    lscc_diag_free(&d);
    return st;
}

/* --memory: the largest tile (input region side) whose arena fits. Plans
 * are monotone in the tile, so a bisection over the side. */
static lscc_status fit_tile(lscc_model *m, lscc_options *opt, int esize, int inference, int64_t budget) {
    opt->tile_w = 0; /* square */
    int64_t lo = 1, hi = (int64_t)1 << 16, best = -1, in, tr;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        opt->tile = mid;
        lscc_status st = tile_bytes(m, opt, esize, &in, &tr);
        if (st == LSCC_E_NOMEM) return st;
        if (st) lo = mid + 1; /* below the receptive field */
        else if ((inference ? in : tr) <= budget) best = mid, lo = mid + 1;
        else hi = mid - 1;
    }
    if (best < 0) {
        fprintf(stderr, "lscc: --memory %lld bytes is less than the smallest tile's %s arena needs; the smallest "
                "tile is the receptive field (lscc --explain shows it)\n", (long long)budget,
                inference ? "inference" : "training");
        return LSCC_E_UNSUPPORTED;
    }
    opt->tile = best;
    tile_bytes(m, opt, esize, &in, &tr);
    fprintf(stderr, "lscc: --memory %.1f MB: --tile %lld (arena: training %.1f MB, inference %.1f MB)\n",
            (double)budget / 1048576.0, (long long)best, (double)tr / 1048576.0, (double)in / 1048576.0);
    return LSCC_OK;
}

static int emit(const lscc_plan *p, const char *model, const char *name, const char *outdir, int f64, int targets,
                int argc, char **argv) {
    char base[256], cmd[4096];
    size_t len = 0;
    if (!name) {
        stem(model, base, sizeof base);
        name = base;
    }
    cmd[0] = 0;
    for (int i = 0; i < argc && len + 2 < sizeof cmd; i++)
        len += (size_t)snprintf(cmd + len, sizeof cmd - len, "%s%s", i ? " " : "", argv[i]);
    lscc_diag d;
    lscc_diag_init(&d);
    lscc_prog *g = NULL;
    lscc_emit_options eo = {name, outdir, f64, targets & 1, (targets & 2) != 0, cmd};
    lscc_status st = lscc_lower(p, p->opt.train_bn_affine, &g, &d);
    if (!st) shared_params_warning(g);
    if (!st) st = lscc_emit_c(g, &eo, &d);
    if (st) fprintf(stderr, "lscc: %s: %s\n%s", model, lscc_status_name(st), d.text ? d.text : "");
    else
        fprintf(stderr, "lscc: wrote %s/{%s.h, %s.%s, %s.weights, %s_run.c, CMakeLists.txt, plan.txt, plan.json} "
                "(%s, %d ops, %zu weights)\n", outdir, name, name, targets == 1 ? "c" : targets == 2 ? "cu" : "c, .cu",
                name, name, f64 ? "float64" : "float32", g->nop, g->weights_count);
    lscc_prog_free(g);
    lscc_diag_free(&d);
    return st;
}

/* lscc export MODEL.onnx --weights FILE -o OUT.onnx [options] */
static int export_main(int argc, char **argv) {
    lscc_export_options eo;
    memset(&eo, 0, sizeof eo);
    eo.opt.batch = 1;
    const char *v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("%s%s%s", usage, help, help_export);
            return 0;
        } else if (strcmp(a, "--train-bn-affine") == 0) {
            eo.opt.train_bn_affine = 1;
        } else if (strcmp(a, "--force") == 0) {
            eo.force = 1;
        } else if ((v = opt_value(argc, argv, &i, "--precision"))) {
            if (strcmp(v, "f32") && strcmp(v, "f64")) return usage_error("--precision wants f32 or f64, not '%s'", v);
            eo.esize = strcmp(v, "f64") ? 4 : 8;
        } else if ((v = opt_value(argc, argv, &i, "--tile"))) {
            if (parse_tile(v, &eo.opt)) return usage_error("--tile wants a positive size N or HxW, not '%s'", v);
        } else if ((v = opt_value(argc, argv, &i, "--split"))) {
            if (!*v) return usage_error("--split wants a tensor name%s", "");
            eo.opt.split = v;
        } else if ((v = opt_value(argc, argv, &i, "--weights"))) {
            if (!*v) return usage_error("--weights wants a .weights file%s", "");
            eo.weights = v;
        } else if ((v = opt_value(argc, argv, &i, "--output")) || (v = opt_value(argc, argv, &i, "-o"))) {
            if (!*v) return usage_error("-o wants the ONNX file to write%s", "");
            eo.output = v;
        } else if (a[0] == '-' && a[1]) {
            return usage_error("export: unknown option '%s'", a);
        } else if (eo.model) {
            return usage_error("export: more than one model given ('%s')", a);
        } else {
            eo.model = a;
        }
    }
    if (!eo.model) return usage_error("export: no model given%s", "");
    if (!eo.weights) return usage_error("export: no --weights file given%s", "");
    if (!eo.output) return usage_error("export: no output file given (-o OUT.onnx)%s", "");
    lscc_diag d;
    lscc_diag_init(&d);
    lscc_export_report r;
    lscc_status st = lscc_export_onnx(&eo, &r, &d);
    if (st)
        fprintf(stderr, "lscc: export %s: %s\n%s", eo.model,
                st == LSCC_E_INVALID ? "invalid model or weights file" :
                st == LSCC_E_UNSUPPORTED ? "cannot write these weights into the model" : lscc_status_name(st),
                d.text ? d.text : "");
    else {
        if (r.model_mismatch)
            fprintf(stderr, "lscc: warning: --force: the weights were saved by code generated from another ONNX file\n");
        fprintf(stderr, "lscc: wrote %s (%s weights: %d initializer%s written, %d added, %d BatchNormalization folded "
                "into its Conv)\n", eo.output, r.esize == 8 ? "float64" : "float32", r.updated,
                r.updated == 1 ? "" : "s", r.added, r.bn_removed);
    }
    lscc_diag_free(&d);
    return st;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "export") == 0) return export_main(argc - 1, argv + 1);
    lscc_options opt = {.tile = 2048, .batch = 1};
    const char *model = NULL, *outdir = NULL, *v;
    int explain = 0; /* 1 text, 2 json */
    int f64 = 0, targets = 1, inference = 0; /* targets bit 0: cpu, bit 1: cuda */
    int64_t budget = 0;
    const char *name = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("%s%s%s", usage, help, help_export);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("lscc %s\n", LSCC_VERSION);
            return 0;
        } else if (strcmp(a, "--explain") == 0 || strcmp(a, "--explain=text") == 0) {
            explain = 1;
        } else if (strcmp(a, "--explain=json") == 0) {
            explain = 2;
        } else if ((v = opt_value(argc, argv, &i, "--tile"))) {
            if (parse_tile(v, &opt)) return usage_error("--tile wants a positive size N or HxW, not '%s'", v);
        } else if ((v = opt_value(argc, argv, &i, "--batch"))) {
            if (parse_int(v, 1, 1 << 20, &opt.batch)) return usage_error("--batch wants a positive count, not '%s'", v);
        } else if ((v = opt_value(argc, argv, &i, "--image"))) {
            if (parse_size(v, &opt.image_h, &opt.image_w))
                return usage_error("--image wants HxW, each side from 1 to 2147483648, e.g. 8192x8192, not '%s'", v);
        } else if (strcmp(a, "--train-bn-affine") == 0) {
            opt.train_bn_affine = 1;
        } else if ((v = opt_value(argc, argv, &i, "--precision"))) {
            if (strcmp(v, "f32") && strcmp(v, "f64")) return usage_error("--precision wants f32 or f64, not '%s'", v);
            f64 = !strcmp(v, "f64");
        } else if ((v = opt_value(argc, argv, &i, "--memory"))) {
            if (parse_bytes(v, &budget)) return usage_error("--memory wants a byte count (e.g. 1536M, 2G), not '%s'", v);
        } else if (strcmp(a, "--inference") == 0) {
            inference = 1;
        } else if ((v = opt_value(argc, argv, &i, "--target"))) {
            targets = !strcmp(v, "cpu") ? 1 : !strcmp(v, "cuda") ? 2 : !strcmp(v, "cpu,cuda") || !strcmp(v, "cuda,cpu") ? 3 : 0;
            if (!targets) return usage_error("--target wants cpu, cuda or cpu,cuda, not '%s'", v);
        } else if ((v = opt_value(argc, argv, &i, "--name"))) {
            if (!*v) return usage_error("--name wants a name%s", "");
            name = v;
        } else if ((v = opt_value(argc, argv, &i, "--split"))) {
            if (!*v) return usage_error("--split wants a tensor name%s", "");
            opt.split = v;
        } else if ((v = opt_value(argc, argv, &i, "--output")) || (v = opt_value(argc, argv, &i, "-o"))) {
            if (!*v) return usage_error("-o wants a directory%s", "");
            outdir = v;
        } else if (a[0] == '-' && a[1]) {
            return usage_error("unknown option '%s'", a);
        } else if (model) {
            return usage_error("more than one model given ('%s')", a);
        } else {
            model = a;
        }
    }
    if (!model) return usage_error("no model given%s", "");

    lscc_diag d;
    lscc_diag_init(&d);
    lscc_model *m = NULL;
    lscc_plan *p = NULL;
    lscc_status st = lscc_model_load(model, &opt, &m, &d);
    if (!st && budget) st = fit_tile(m, &opt, f64 ? 8 : 4, inference, budget);
    if (!st) st = lscc_plan_build(m, &opt, &p, &d);
    if (st) {
        fprintf(stderr, "lscc: %s: %s\n%s", model, lscc_status_name(st), d.text ? d.text : "");
        lscc_diag_free(&d);
        lscc_model_free(m);
        return st;
    }
    if (explain == 2) lscc_plan_explain_json(p, stdout);
    else if (explain == 1) {
        lscc_plan_explain(p, stdout);
        int64_t in, tr;
        if (!tile_bytes(m, &opt, f64 ? 8 : 4, &in, &tr))
            printf("  tile arena as the runtime lays it out (batch %lld, %s, in-place ReLU): inference peak %.1f MB, "
                   "training peak %.1f MB\n", (long long)opt.batch, f64 ? "float64" : "float32",
                   (double)in / 1048576.0, (double)tr / 1048576.0);
    }
    else {
        const lscc_graph *g = m->g;
        /* the arena the runtime will lay out (in-place ReLU, shared
           gradient memory), as --explain and --memory count it; the plan's
           own estimate when the model does not lower */
        int64_t in = p->bytes_infer, tr = p->bytes_train;
        tile_bytes(m, &opt, f64 ? 8 : 4, &in, &tr);
        printf("%s: split at '%s' after %d streamed nodes; output tile %lldx%lld, input region %lldx%lld, "
               "tile arena %.1f MB for inference, %.1f MB for training\n",
               model, g->tensors[m->split.tensor].name, m->split.nbackbone, (long long)p->out_tile[0],
               (long long)p->out_tile[1], (long long)p->in_tile[0], (long long)p->in_tile[1], (double)in / 1048576.0,
               (double)tr / 1048576.0);
    }
    fflush(stdout); /* keep the plan ahead of the messages below */
    int rc = outdir ? write_plan(p, outdir) : 0;
    if (outdir && !rc) rc = emit(p, model, name, outdir, f64, targets, argc, argv);
    lscc_plan_free(p);
    lscc_model_free(m);
    lscc_diag_free(&d);
    return rc;
}
