/* Private to the runtime: helpers shared by its files. */
#ifndef LSCC_RT_IMPL_H
#define LSCC_RT_IMPL_H

#include "lscc_rt.h"

/* Reads and checks the weights file; allocates values, gradients, params. */
int lscc_rt_load_weights(lscc_rt *rt, const char *path);
/* Lays out and allocates the tile arena and scratch for rt's image size. */
int lscc_rt_arena(lscc_rt *rt);
/* oneDNN context for float convolutions (nhwc: channels-last activations);
 * NULL when unavailable. */
void *lscc_rt_dnnl_create(int nhwc);
void lscc_rt_dnnl_destroy(void *d);

#endif
