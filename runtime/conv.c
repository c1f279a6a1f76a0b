/* Convolutions and pools for generated code: the runtime's choice of kernel.
 * Float32 convolutions run through oneDNN when the runtime was built with it
 * (LSCC_HAVE_DNNL), else, and for double, on the plain C kernels. In the
 * channels-last layout (rt->nhwc, see lscc_rt_init) oneDNN is the only
 * convolution and the pools are the NHWC kernels; a oneDNN failure is then an
 * error of the call, as no plain kernel reads that layout. */
#include "rt_impl.h"
#ifdef LSCC_HAVE_DNNL
#include "lscc_dnnl.h"

void *lscc_rt_dnnl_create(int nhwc) {
    lscc_dnnl *d = NULL;
    if (lscc_dnnl_create(&d)) return NULL;
    lscc_dnnl_set_nhwc(d, nhwc);
    return d;
}
void lscc_rt_dnnl_destroy(void *d) { lscc_dnnl_destroy(d); }
#define DNNL(call) (rt->dnnl && !(call))
#else
void *lscc_rt_dnnl_create(int nhwc) {
    (void)nhwc;
    return NULL;
}
void lscc_rt_dnnl_destroy(void *d) { (void)d; }
#define DNNL(call) ((void)rt, 0)
#endif

/* Called when oneDNN failed on a channels-last tile. */
static void nhwc_failed(lscc_rt *rt, const char *what) {
    if (!rt->err.code)
        lscc_rt_fail(&rt->err, LSCC_RT_E_NOMEM, "%s: oneDNN could not run a convolution (%s) on the channels-last "
                     "tile (out of memory?); LSCC_LAYOUT=nchw runs the model channels-first, with the plain kernels "
                     "as the fallback", rt->m->name, what);
}

void lscc_rt_conv2d_fwd_f32(lscc_rt *rt, const lscc_win2d *p, const float *x, const float *w, const float *b, float *y) {
    if (DNNL(lscc_conv2d_fwd_dnnl(rt->dnnl, p, x, w, b, y))) return;
    if (rt->nhwc) nhwc_failed(rt, "forward");
    else lscc_conv2d_fwd_f32(p, x, w, b, y);
}
/* Conv followed by a ReLU computed in place in its output (the compiler
 * fuses the pair): a oneDNN post-op, else the two kernels. */
void lscc_rt_conv2d_fwd_relu_f32(lscc_rt *rt, const lscc_win2d *p, const float *x, const float *w, const float *b,
                                 float *y) {
    if (DNNL(lscc_conv2d_fwd_relu_dnnl(rt->dnnl, p, x, w, b, 1, y))) return;
    if (rt->nhwc) {
        nhwc_failed(rt, "forward");
        return;
    }
    lscc_conv2d_fwd_f32(p, x, w, b, y);
    lscc_relu_fwd_f32((size_t)p->n * (size_t)p->oc * (size_t)p->oh * (size_t)p->ow, y, y);
}
void lscc_rt_conv2d_fwd_relu_f64(lscc_rt *rt, const lscc_win2d *p, const double *x, const double *w, const double *b,
                                 double *y) {
    (void)rt;
    lscc_conv2d_fwd_f64(p, x, w, b, y);
    lscc_relu_fwd_f64((size_t)p->n * (size_t)p->oc * (size_t)p->oh * (size_t)p->ow, y, y);
}
void lscc_rt_conv2d_bwd_data_f32(lscc_rt *rt, const lscc_win2d *p, const float *dy, const float *w, float *dx) {
    if (DNNL(lscc_conv2d_bwd_data_dnnl(rt->dnnl, p, dy, w, dx))) return;
    if (rt->nhwc) nhwc_failed(rt, "backward data");
    else lscc_conv2d_bwd_data_f32(p, dy, w, dx);
}
void lscc_rt_conv2d_bwd_weight_f32(lscc_rt *rt, const lscc_win2d *p, const float *x, const float *dy, float *dw,
                                   float *db) {
    if (DNNL(lscc_conv2d_bwd_weight_dnnl(rt->dnnl, p, x, dy, dw, db))) return;
    if (rt->nhwc) nhwc_failed(rt, "backward weights");
    else lscc_conv2d_bwd_weight_f32(p, x, dy, dw, db);
}
void lscc_rt_conv2d_fwd_f64(lscc_rt *rt, const lscc_win2d *p, const double *x, const double *w, const double *b,
                            double *y) {
    (void)rt;
    lscc_conv2d_fwd_f64(p, x, w, b, y);
}
void lscc_rt_conv2d_bwd_data_f64(lscc_rt *rt, const lscc_win2d *p, const double *dy, const double *w, double *dx) {
    (void)rt;
    lscc_conv2d_bwd_data_f64(p, dy, w, dx);
}
void lscc_rt_conv2d_bwd_weight_f64(lscc_rt *rt, const lscc_win2d *p, const double *x, const double *dy, double *dw,
                                   double *db) {
    (void)rt;
    lscc_conv2d_bwd_weight_f64(p, x, dy, dw, db);
}

void lscc_rt_maxpool2d_fwd_f32(lscc_rt *rt, const lscc_win2d *p, const float *x, float *y) {
    if (rt->nhwc) lscc_maxpool2d_fwd_nhwc_f32(p, x, y);
    else lscc_maxpool2d_fwd_f32(p, x, y);
}
void lscc_rt_maxpool2d_bwd_f32(lscc_rt *rt, const lscc_win2d *p, const float *x, const float *dy, float *dx) {
    if (rt->nhwc) lscc_maxpool2d_bwd_nhwc_f32(p, x, dy, dx);
    else lscc_maxpool2d_bwd_f32(p, x, dy, dx);
}
void lscc_rt_avgpool2d_fwd_f32(lscc_rt *rt, const lscc_win2d *p, int count_include_pad, const float *x, float *y) {
    if (rt->nhwc) lscc_avgpool2d_fwd_nhwc_f32(p, count_include_pad, x, y);
    else lscc_avgpool2d_fwd_f32(p, count_include_pad, x, y);
}
void lscc_rt_avgpool2d_bwd_f32(lscc_rt *rt, const lscc_win2d *p, int count_include_pad, const float *dy, float *dx) {
    if (rt->nhwc) lscc_avgpool2d_bwd_nhwc_f32(p, count_include_pad, dy, dx);
    else lscc_avgpool2d_bwd_f32(p, count_include_pad, dy, dx);
}
void lscc_rt_maxpool2d_fwd_f64(lscc_rt *rt, const lscc_win2d *p, const double *x, double *y) {
    (void)rt;
    lscc_maxpool2d_fwd_f64(p, x, y);
}
void lscc_rt_maxpool2d_bwd_f64(lscc_rt *rt, const lscc_win2d *p, const double *x, const double *dy, double *dx) {
    (void)rt;
    lscc_maxpool2d_bwd_f64(p, x, dy, dx);
}
void lscc_rt_avgpool2d_fwd_f64(lscc_rt *rt, const lscc_win2d *p, int count_include_pad, const double *x, double *y) {
    (void)rt;
    lscc_avgpool2d_fwd_f64(p, count_include_pad, x, y);
}
void lscc_rt_avgpool2d_bwd_f64(lscc_rt *rt, const lscc_win2d *p, int count_include_pad, const double *dy, double *dx) {
    (void)rt;
    lscc_avgpool2d_bwd_f64(p, count_include_pad, dy, dx);
}
