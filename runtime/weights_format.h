/* The .weights file, shared by the compiler (which writes the initial one
 * beside the generated code, and reads trained ones for `lscc export`) and
 * the runtime (which loads and saves them). Header-only so the two cannot
 * disagree.
 *
 * Layout, all little-endian:
 *   0  magic "LSCCWTS\n"
 *   8  u32 format version (LSCC_WF_VERSION)
 *  12  u32 element size (4: float, 8: double)
 *  16  u64 element count
 *  24  u64 layout checksum: which buffers, in what order and shape, so a file
 *      is refused by code generated for another model (or another lscc
 *      lowering of it) even when the counts happen to agree
 *  32  u64 data checksum (FNV-1a 64 of the data): truncation and corruption
 *  40  u64 FNV-1a 64 of the ONNX file the code was generated from, so that
 *      `lscc export` can tell trained weights of another model apart
 *  48  the data: every buffer at its offset, in the model's element type.
 * The data checksum covers the values, not the layout checksum, so trained
 * weights saved by the runtime load back into the same generated code. */
#ifndef LSCC_WEIGHTS_FORMAT_H
#define LSCC_WEIGHTS_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LSCC_WF_MAGIC "LSCCWTS\n"
#define LSCC_WF_VERSION 2u
#define LSCC_WF_HEADER 48

#define LSCC_WF_FNV_INIT 1469598103934665603ull

static inline uint64_t lscc_wf_fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *c = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 1099511628211ull;
    return h;
}

static inline uint64_t lscc_wf_u64(uint64_t h, uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
    return lscc_wf_fnv1a(h, b, 8);
}

/* Layout checksum: start with lscc_wf_layout_begin, add every buffer in
 * table order. */
static inline uint64_t lscc_wf_layout_begin(int esize, size_t count) {
    return lscc_wf_u64(lscc_wf_u64(LSCC_WF_FNV_INIT, (uint64_t)esize), (uint64_t)count);
}

static inline uint64_t lscc_wf_layout_add(uint64_t h, const char *name, int rank, const int64_t dims[4], size_t offset,
                                          int trainable) {
    h = lscc_wf_fnv1a(h, name, strlen(name) + 1);
    h = lscc_wf_u64(h, (uint64_t)rank);
    for (int i = 0; i < 4; i++) h = lscc_wf_u64(h, (uint64_t)dims[i]);
    h = lscc_wf_u64(h, (uint64_t)offset);
    return lscc_wf_u64(h, (uint64_t)(trainable != 0));
}

static inline void lscc_wf_put64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint64_t lscc_wf_get64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* The 48-byte header. */
static inline void lscc_wf_header(unsigned char h[LSCC_WF_HEADER], int esize, size_t count, uint64_t layout,
                                  uint64_t data, uint64_t model) {
    memcpy(h, LSCC_WF_MAGIC, 8);
    lscc_wf_put64(h + 8, (uint64_t)LSCC_WF_VERSION | (uint64_t)(uint32_t)esize << 32);
    lscc_wf_put64(h + 16, (uint64_t)count);
    lscc_wf_put64(h + 24, layout);
    lscc_wf_put64(h + 32, data);
    lscc_wf_put64(h + 40, model);
}

#endif
