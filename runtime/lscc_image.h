/* Image sources: where the model's input image comes from.
 *
 * Generated code reads its image only through an lscc_image (lscc_rt.h):
 * once per tile, read(img, y0, y1, x0, x1, want, dst, err) fills dst with the
 * n x c x (y1 - y0) x (x1 - x0) elements of that region, planar and
 * contiguous, as float (want LSCC_F32) or double (LSCC_F64). So the whole
 * image never has to be in memory, let alone in float. The sources:
 *
 *   source                   opened by                    stored samples
 *   in-memory array          lscc_image_memory            u8 / f32 / f64, NCHW
 *                            lscc_image_open_memory       u8 / f32 / f64, NCHW or NHWC
 *   raw file, memory-mapped  lscc_image_open_raw          u8 / f32 / f64, NCHW or NHWC
 *   tiled or striped TIFF    lscc_image_open_tiff         u8 / f32 / f64 samples
 *     and BigTIFF            (library lscc_rt_tiff, CMake lscc::rt_tiff, needs libtiff)
 *   normalizing wrapper      lscc_image_open_normalized   any source, e.g. a callback
 *   user callback            lscc_image_callback          anything: write read()
 *
 * Conversion and normalization. Every source turns a stored sample v into
 * the requested type through one function, lscc_image_convert (image.c), so
 * all sources give bit-identical results for the same sample values. Without
 * normalization the value is v itself: (float)v or (double)v (uint8 samples
 * are not scaled). With an lscc_image_norm {scale, mean, std}, for a sample
 * of channel ch the arithmetic is exactly, in IEEE double:
 *
 *     double t = (double)v * scale;
 *     t = t - mean[ch];
 *     t = t / std[ch];
 *     result = (want == LSCC_F32) ? (float)t : t;   (round to nearest)
 *
 * (no reciprocal, no fused multiply-add: image.c is compiled with
 * -ffp-contract=off), which is what NumPy computes for
 * ((v.astype(float64) * scale - mean) / std).astype(want). It is done per
 * tile as the region is read. Example, ImageNet:
 *
 *     static const double mean[3] = {0.485, 0.456, 0.406}, std[3] = {0.229, 0.224, 0.225};
 *     lscc_image_norm nm = {1.0 / 255.0, mean, std};
 *
 * Life cycle. The lscc_image_open_* functions fill the caller's lscc_image
 * and return LSCC_RT_OK, or an error code (LSCC_RT_E_ARG, _INVALID,
 * _UNSUPPORTED, _IO, _NOMEM) with a message in err, leaving img zeroed.
 * An opened source owns some memory (and a mapping or a TIFF handle) that
 * lscc_image_close releases; img->user points to it, so those sources'
 * user field is not the caller's; copies of such an lscc_image share that
 * state, so close exactly one of them, once. lscc_image_memory and
 * lscc_image_callback allocate nothing and need no close (lscc_image_close
 * accepts them and a zeroed lscc_image: it only zeroes img). A read outside
 * the image, or with
 * want not LSCC_F32 / LSCC_F64, fails with LSCC_RT_E_ARG.
 *
 * Threads. There is no global state; different sources may be used from
 * different threads at once. One source is not safe to read from two threads
 * at the same time (the TIFF source's tile cache and the wrapper's scratch
 * buffer change on read): the runtime calls read from one thread only. */
#ifndef LSCC_IMAGE_H
#define LSCC_IMAGE_H

#include "lscc_rt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How a stored array orders its samples. */
typedef enum lscc_image_layout {
    LSCC_LAYOUT_NCHW = 0, /* planar: x[b][ch][y][x] */
    LSCC_LAYOUT_NHWC = 1  /* interleaved, channels last: x[b][y][x][ch] */
} lscc_image_layout;

/* A stored array: sample type, layout and size; offset is the number of
 * bytes before the first sample (raw files; must be 0 for memory). */
typedef struct lscc_image_array {
    lscc_dtype dtype; /* LSCC_U8, LSCC_F32 or LSCC_F64 */
    lscc_image_layout layout;
    int64_t n, c, h, w; /* each >= 1 */
    uint64_t offset;
} lscc_image_array;

/* Per-channel normalization (arithmetic above). mean and std hold c values
 * each (copied at open); NULL means all 0, resp. all 1. scale and every std
 * must be finite and nonzero, every mean finite. */
typedef struct lscc_image_norm {
    double scale;
    const double *mean;
    const double *std;
} lscc_image_norm;

/* The one conversion every source uses: count samples of channel ch, stored
 * as st at src (every stride-th element of type st; src need not be
 * aligned), to want (LSCC_F32 or LSCC_F64) at dst, contiguous. norm NULL:
 * no normalization. Useful in callback sources too. */
void lscc_image_convert(const void *src, lscc_dtype st, size_t stride, size_t count, const lscc_image_norm *norm,
                        int64_t ch, lscc_dtype want, void *dst);

/* An in-memory array at data (not copied; it must outlive the source),
 * planar or interleaved, optionally normalized (norm may be NULL). Close
 * with lscc_image_close. (lscc_image_memory, in lscc_rt.h, is the planar
 * case without normalization and without allocation.) */
int lscc_image_open_memory(lscc_image *img, const void *data, const lscc_image_array *a, const lscc_image_norm *norm,
                           lscc_rt_error *err);

/* A headerless raw file of samples laid out as *a, starting a->offset bytes
 * into the file, memory-mapped read-only: a read touches only the pages of
 * the region's rows. The file must hold at least offset + n*c*h*w*size
 * bytes (checked at open: a short file is LSCC_RT_E_INVALID); more is
 * allowed. Offsets and sizes are 64-bit (files over 4 GiB work on 64-bit
 * hosts). The file must not shrink while open (as with any mapping, reading
 * a page beyond a truncated end raises SIGBUS). */
int lscc_image_open_raw(lscc_image *img, const char *path, const lscc_image_array *a, const lscc_image_norm *norm,
                        lscc_rt_error *err);

/* TIFF and BigTIFF through libtiff; in the separate library lscc_rt_tiff
 * (CMake: lscc::rt_tiff), so that programs without TIFF need no libtiff.
 *
 * The image is one page (directory) of the file: n = 1, c = samples per
 * pixel, h x w its size; img->dtype tells the sample type. Accepted:
 * tiled or striped; PLANARCONFIG_CONTIG or SEPARATE; 1 to 16 samples per
 * pixel; 8-bit unsigned, 32-bit or 64-bit float samples; photometric
 * MINISBLACK, RGB, SEPARATED (e.g. CMYK), or YCbCr with JPEG compression
 * (decoded to RGB by libtiff); any compression this libtiff decodes (none,
 * LZW, deflate, JPEG, ...). Other files are refused at open with
 * LSCC_RT_E_UNSUPPORTED and a message naming what (bits per sample, sample
 * format, photometric, compression, ...); a file that is not a TIFF or is
 * damaged gives LSCC_RT_E_INVALID (at open) or LSCC_RT_E_IO (a tile that does
 * not decode, at read); a missing file LSCC_RT_E_IO. Tiles or strips with no
 * data (byte count 0, sparse files) read as zeros. libtiff's own messages go
 * to err, never to stderr.
 *
 * A read decodes only the TIFF tiles (or strips) that overlap the region,
 * one at a time, and keeps the decoded ones in a least-recently-used cache,
 * so that the overlapping halos of neighbouring model tiles along a row are
 * not decoded twice. Its size, by default: one row of TIFF tiles across the
 * image (all planes; at least 4 tiles), grown when a read overlaps more, to
 * the tiles of that read plus one column of them (decoded samples, so at
 * most about the size of the region the model holds as float anyway). With
 * cache_bytes set, at most that many bytes of decoded tiles, but at least
 * one tile. A strip is decoded whole: a file with one strip of the whole
 * image takes the whole image's memory. Pages are IFDs in file order;
 * SubIFD pyramids are not walked. */
typedef struct lscc_image_tiff_options {
    int directory;      /* page: 0 is the first (full resolution in pyramid files) */
    size_t cache_bytes; /* 0: the default above; else a fixed bound */
} lscc_image_tiff_options;

/* opt may be NULL (defaults, a zeroed struct). */
int lscc_image_open_tiff(lscc_image *img, const char *path, const lscc_image_tiff_options *opt,
                         const lscc_image_norm *norm, lscc_rt_error *err);

/* A source that normalizes another one: it reads src as double (exact for
 * u8, f32 and f64 samples) and applies lscc_image_convert, so e.g.
 * lscc_image_open_normalized over lscc_image_memory gives the same bits as
 * lscc_image_open_memory with the same norm. src is not copied and must
 * outlive img; closing img does not close src. For user callback sources. */
int lscc_image_open_normalized(lscc_image *img, const lscc_image *src, const lscc_image_norm *norm,
                               lscc_rt_error *err);

/* User callback sources: any function with read's contract (fill dst with
 * the n x c x (y1-y0) x (x1-x0) planar region as want; return 0, or an
 * lscc_rt status with a message in err, e.g. through lscc_rt_fail; the
 * runtime only asks for regions inside the image and want F32 or F64). This
 * fills img (dtype LSCC_F64, data NULL) with read and user, which read gets
 * back as img->user. To normalize, wrap it with lscc_image_open_normalized
 * or call lscc_image_convert inside read. */
void lscc_image_callback(lscc_image *img, int64_t n, int64_t c, int64_t h, int64_t w,
                         int (*read)(const lscc_image *img, int64_t y0, int64_t y1, int64_t x0, int64_t x1,
                                     lscc_dtype want, void *dst, lscc_rt_error *err),
                         void *user);

/* Releases what an lscc_image_open_* source holds and zeroes img. Safe on a
 * zeroed img and on lscc_image_memory / lscc_image_callback sources (for the
 * latter it only zeroes img; the user's data is the user's). */
void lscc_image_close(lscc_image *img);

#ifdef __cplusplus
}
#endif
#endif
