/* Convolutions for generated code: float through oneDNN when the runtime was
 * built with it (LSCC_HAVE_DNNL) and it accepts the geometry, else, and for
 * double, the plain C kernels. */
#include "rt_impl.h"
#ifdef LSCC_HAVE_DNNL
#include "lscc_dnnl.h"

void *lscc_rt_dnnl_create(void) {
    lscc_dnnl *d = NULL;
    return lscc_dnnl_create(&d) ? NULL : d;
}
void lscc_rt_dnnl_destroy(void *d) { lscc_dnnl_destroy(d); }
#define DNNL(call) (rt->dnnl && !(call))
#else
void *lscc_rt_dnnl_create(void) { return NULL; }
void lscc_rt_dnnl_destroy(void *d) { (void)d; }
#define DNNL(call) ((void)rt, 0)
#endif

void lscc_rt_conv2d_fwd_f32(lscc_rt *rt, const lscc_win2d *p, const float *x, const float *w, const float *b, float *y) {
    if (!DNNL(lscc_conv2d_fwd_dnnl(rt->dnnl, p, x, w, b, y))) lscc_conv2d_fwd_f32(p, x, w, b, y);
}
void lscc_rt_conv2d_bwd_data_f32(lscc_rt *rt, const lscc_win2d *p, const float *dy, const float *w, float *dx) {
    if (!DNNL(lscc_conv2d_bwd_data_dnnl(rt->dnnl, p, dy, w, dx))) lscc_conv2d_bwd_data_f32(p, dy, w, dx);
}
void lscc_rt_conv2d_bwd_weight_f32(lscc_rt *rt, const lscc_win2d *p, const float *x, const float *dy, float *dw,
                                   float *db) {
    if (!DNNL(lscc_conv2d_bwd_weight_dnnl(rt->dnnl, p, x, dy, dw, db))) lscc_conv2d_bwd_weight_f32(p, x, dy, dw, db);
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
