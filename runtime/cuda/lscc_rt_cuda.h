/* The CUDA backend of liblscc_rt (liblscc_rt_cuda): code generated with
 * lscc --target cuda names it in its model description. */
#ifndef LSCC_RT_CUDA_H
#define LSCC_RT_CUDA_H

#include "lscc_cuda.h"
#include "lscc_rt.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const lscc_rt_dev lscc_rt_cuda_dev;

/* The context's CUDA state, for the kernels generated code calls. */
#define LSCC_CU(rt) ((lscc_cu *)(rt)->devctx)

#ifdef __cplusplus
}
#endif
#endif
