/* The TIFF / BigTIFF image source through libtiff (lscc_image.h); the
 * library lscc_rt_tiff. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

#include "image_impl.h"

/* A decoded tile (or strip) of one plane group. */
typedef struct tile_slot {
    uint32_t idx;   /* libtiff's tile / strip number */
    uint64_t stamp; /* last use; 0: empty */
    unsigned char *buf;
} tile_slot;

typedef struct tiff_src {
    lscc_image_src base;
    TIFF *tif;
    char path[512];
    char msg[256];         /* libtiff's last error */
    uint32_t w, h, tw, th; /* image; tile (a strip: w x rows per strip) */
    uint32_t across, down; /* tiles per row and column */
    int spp, separate, tiled;
    lscc_dtype st;
    size_t es;         /* bytes per sample */
    size_t tile_bytes; /* one decoded tile of one plane group */
    tile_slot *slots;
    size_t nslots;
    int fixed; /* cache_bytes was given: nslots never grows */
    uint64_t clock;
} tiff_src;

static int on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif;
    tiff_src *t = (tiff_src *)user;
    char m[200];
    vsnprintf(m, sizeof m, fmt, ap);
    snprintf(t->msg, sizeof t->msg, "%s%s%s", module ? module : "", module ? ": " : "", m);
    return 1; /* handled: nothing reaches libtiff's global handler (stderr) */
}

static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif;
    (void)user;
    (void)module;
    (void)fmt;
    (void)ap;
    return 1;
}

static void tiff_close(lscc_image_src *s) {
    tiff_src *t = (tiff_src *)s;
    if (t->tif) TIFFClose(t->tif);
    for (size_t i = 0; i < t->nslots; i++) free(t->slots[i].buf);
    free(t->slots);
    lscc_image_src_fini(s);
    free(t);
}

/* The decoded tile idx, from the cache or decoded into the least recently
 * used slot. rows: the valid rows in it (a last strip is shorter). */
static const unsigned char *get_tile(tiff_src *t, uint32_t idx, uint32_t rows, lscc_rt_error *err) {
    tile_slot *victim = NULL;
    for (size_t i = 0; i < t->nslots; i++) {
        tile_slot *s = &t->slots[i];
        if (s->stamp && s->idx == idx) {
            s->stamp = ++t->clock;
            return s->buf;
        }
        if (!victim || s->stamp < victim->stamp) victim = s;
    }
    victim->stamp = 0;
    if (!victim->buf && !(victim->buf = malloc(t->tile_bytes))) {
        lscc_rt_fail(err, LSCC_RT_E_NOMEM, "%s: out of memory for a decoded tile of %zu bytes", t->path, t->tile_bytes);
        return NULL;
    }
    size_t need = t->tiled ? t->tile_bytes : (size_t)rows * t->tw * (t->separate ? 1 : (size_t)t->spp) * t->es;
    if (TIFFGetStrileByteCount(t->tif, idx) == 0) { /* never written (sparse): zeros */
        memset(victim->buf, 0, t->tile_bytes);
    } else {
        t->msg[0] = 0;
        tmsize_t got = t->tiled ? TIFFReadEncodedTile(t->tif, idx, victim->buf, (tmsize_t)t->tile_bytes)
                                : TIFFReadEncodedStrip(t->tif, idx, victim->buf, (tmsize_t)t->tile_bytes);
        if (got < 0) {
            lscc_rt_fail(err, LSCC_RT_E_IO, "%s: cannot decode %s %u: %s", t->path, t->tiled ? "tile" : "strip", idx,
                         t->msg[0] ? t->msg : "libtiff gave no reason");
            return NULL;
        }
        if ((size_t)got < need) {
            lscc_rt_fail(err, LSCC_RT_E_IO, "%s: %s %u decoded to %lld bytes, expected %zu%s%s", t->path,
                         t->tiled ? "tile" : "strip", idx, (long long)got, need, t->msg[0] ? ": " : "", t->msg);
            return NULL;
        }
    }
    victim->idx = idx;
    victim->stamp = ++t->clock;
    return victim->buf;
}

static int tiff_read(lscc_image_src *s, const lscc_image *img, int64_t y0, int64_t y1, int64_t x0, int64_t x1,
                     lscc_dtype want, void *dst, lscc_rt_error *err) {
    (void)img;
    tiff_src *t = (tiff_src *)s;
    size_t len = (size_t)(x1 - x0), rows = (size_t)(y1 - y0), ws = (size_t)want;
    int groups = t->separate ? t->spp : 1; /* decoded tiles per tile position */
    int per = t->separate ? 1 : t->spp;    /* samples per pixel in a decoded tile */
    uint32_t ty0 = (uint32_t)(y0 / t->th), ty1 = (uint32_t)((y1 - 1) / t->th);
    uint32_t tx0 = (uint32_t)(x0 / t->tw), tx1 = (uint32_t)((x1 - 1) / t->tw);
    if (!t->fixed) { /* room for this region's tiles and one more column of them */
        uint64_t want_slots = ((uint64_t)tx1 - tx0 + 2) * ((uint64_t)ty1 - ty0 + 1) * (uint64_t)groups;
        uint64_t total = (uint64_t)t->across * t->down * (uint64_t)groups;
        if (want_slots > total) want_slots = total;
        if (want_slots > t->nslots) {
            tile_slot *p = realloc(t->slots, (size_t)want_slots * sizeof *p);
            if (!p) return lscc_rt_fail(err, LSCC_RT_E_NOMEM, "%s: out of memory for the tile cache", t->path);
            memset(p + t->nslots, 0, ((size_t)want_slots - t->nslots) * sizeof *p);
            t->slots = p;
            t->nslots = (size_t)want_slots;
        }
    }
    for (uint32_t ty = ty0; ty <= ty1; ty++)
        for (uint32_t tx = tx0; tx <= tx1; tx++)
            for (int g = 0; g < groups; g++) {
                uint32_t idx = ((uint32_t)g * t->down + ty) * t->across + tx;
                int64_t ta = (int64_t)ty * t->th, xa = (int64_t)tx * t->tw; /* tile origin */
                int64_t tb = ta + t->th < (int64_t)t->h ? ta + t->th : (int64_t)t->h;
                const unsigned char *buf = get_tile(t, idx, (uint32_t)(tb - ta), err);
                if (!buf) return err->code;
                int64_t r0 = y0 > ta ? y0 : ta, r1 = y1 < tb ? y1 : tb;
                int64_t c0 = x0 > xa ? x0 : xa, c1 = x1 < xa + t->tw ? x1 : xa + t->tw;
                for (int k = 0; k < per; k++) {
                    int64_t ch = t->separate ? g : k;
                    for (int64_t r = r0; r < r1; r++) {
                        size_t from =
                            (((size_t)(r - ta) * t->tw + (size_t)(c0 - xa)) * (size_t)per + (size_t)k) * t->es;
                        size_t to = ((size_t)ch * rows + (size_t)(r - y0)) * len + (size_t)(c0 - x0);
                        lscc_image_convert(buf + from, t->st, (size_t)per, (size_t)(c1 - c0), s->norm, ch, want,
                                           (char *)dst + to * ws);
                    }
                }
            }
    return 0;
}

static const char *photometric_name(uint16_t p) {
    switch (p) {
    case PHOTOMETRIC_MINISWHITE: return "MINISWHITE";
    case PHOTOMETRIC_MINISBLACK: return "MINISBLACK";
    case PHOTOMETRIC_RGB: return "RGB";
    case PHOTOMETRIC_PALETTE: return "PALETTE";
    case PHOTOMETRIC_MASK: return "MASK";
    case PHOTOMETRIC_SEPARATED: return "SEPARATED";
    case PHOTOMETRIC_YCBCR: return "YCBCR";
    case PHOTOMETRIC_CIELAB: return "CIELAB";
    default: return "other";
    }
}

static const char *format_name(uint16_t f) {
    switch (f) {
    case SAMPLEFORMAT_UINT: return "unsigned integer";
    case SAMPLEFORMAT_INT: return "signed integer";
    case SAMPLEFORMAT_IEEEFP: return "floating point";
    case SAMPLEFORMAT_VOID: return "untyped";
    case SAMPLEFORMAT_COMPLEXINT: return "complex integer";
    case SAMPLEFORMAT_COMPLEXIEEEFP: return "complex floating point";
    default: return "unknown-format";
    }
}

/* Reads the page's tags into t; fails with a message on what is refused. */
static int describe(tiff_src *t, const lscc_image_tiff_options *o, lscc_rt_error *err) {
    TIFF *tif = t->tif;
    const char *p = t->path;
    uint32_t w = 0, h = 0;
    uint16_t bps = 1, spp = 1, fmt = SAMPLEFORMAT_UINT, planar = PLANARCONFIG_CONTIG, photo = 0,
             comp = COMPRESSION_NONE;
    if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w) || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h) || w == 0 || h == 0)
        return lscc_rt_fail(err, LSCC_RT_E_INVALID, "%s: page %d has no image size", p, o->directory);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &fmt);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &comp);
    int have_photo = TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photo);
    uint32_t depth = 1;
    TIFFGetFieldDefaulted(tif, TIFFTAG_IMAGEDEPTH, &depth);
    if (depth != 1)
        return lscc_rt_fail(err, LSCC_RT_E_UNSUPPORTED, "%s: 3-D TIFF (image depth %u) is not supported", p, depth);
    if (spp < 1 || spp > 16)
        return lscc_rt_fail(err, LSCC_RT_E_UNSUPPORTED, "%s: %u samples per pixel are not supported (1 to 16 are)", p,
                            spp);
    if (fmt == SAMPLEFORMAT_VOID) fmt = SAMPLEFORMAT_UINT;
    if (bps == 8 && fmt == SAMPLEFORMAT_UINT)
        t->st = LSCC_U8;
    else if (bps == 32 && fmt == SAMPLEFORMAT_IEEEFP)
        t->st = LSCC_F32;
    else if (bps == 64 && fmt == SAMPLEFORMAT_IEEEFP)
        t->st = LSCC_F64;
    else
        return lscc_rt_fail(err, LSCC_RT_E_UNSUPPORTED,
                            "%s: %u-bit %s samples are not supported (8-bit unsigned, 32- or 64-bit floating point "
                            "are)",
                            p, bps, format_name(fmt));
    if (planar != PLANARCONFIG_CONTIG && planar != PLANARCONFIG_SEPARATE)
        return lscc_rt_fail(err, LSCC_RT_E_INVALID, "%s: planar configuration %u is invalid", p, planar);
    if (!TIFFIsCODECConfigured(comp)) {
        const TIFFCodec *c = TIFFFindCODEC(comp);
        return lscc_rt_fail(err, LSCC_RT_E_UNSUPPORTED, "%s: compression %u (%s) is not available in this libtiff", p,
                            comp, c ? c->name : "unknown");
    }
    if (have_photo) {
        if (photo == PHOTOMETRIC_YCBCR && comp == COMPRESSION_JPEG && planar == PLANARCONFIG_CONTIG && spp == 3 &&
            t->st == LSCC_U8) {
            if (!TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB))
                return lscc_rt_fail(err, LSCC_RT_E_UNSUPPORTED, "%s: cannot decode YCbCr JPEG to RGB: %s", p, t->msg);
        } else if (photo != PHOTOMETRIC_MINISBLACK && photo != PHOTOMETRIC_RGB && photo != PHOTOMETRIC_SEPARATED) {
            return lscc_rt_fail(err, LSCC_RT_E_UNSUPPORTED,
                                "%s: photometric interpretation %u (%s) is not supported (MINISBLACK, RGB, SEPARATED "
                                "and JPEG-compressed YCbCr are)%s",
                                p, photo, photometric_name(photo),
                                photo == PHOTOMETRIC_MINISWHITE ? "; its samples would read inverted" : "");
        }
    }
    t->w = w;
    t->h = h;
    t->spp = spp;
    t->separate = planar == PLANARCONFIG_SEPARATE && spp > 1;
    t->es = bps / 8;
    t->tiled = TIFFIsTiled(tif);
    if (t->tiled) {
        uint32_t tw = 0, th = 0;
        if (!TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw) || !TIFFGetField(tif, TIFFTAG_TILELENGTH, &th) || !tw || !th)
            return lscc_rt_fail(err, LSCC_RT_E_INVALID, "%s: tiled, but without a tile size", p);
        t->tw = tw;
        t->th = th;
    } else {
        uint32_t rps = 0;
        TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rps);
        if (rps == 0) return lscc_rt_fail(err, LSCC_RT_E_INVALID, "%s: 0 rows per strip", p);
        t->tw = w;
        t->th = rps < h ? rps : h;
    }
    t->across = (uint32_t)(((uint64_t)w + t->tw - 1) / t->tw);
    t->down = (uint32_t)(((uint64_t)h + t->th - 1) / t->th);
    uint64_t per = (uint64_t)t->tw * t->th * (uint64_t)(t->separate ? 1 : spp) * t->es;
    uint64_t lib = t->tiled ? TIFFTileSize64(tif) : TIFFStripSize64(tif);
    if (per == 0 || per > ((uint64_t)1 << 40) || per > (uint64_t)SIZE_MAX)
        return lscc_rt_fail(err, LSCC_RT_E_UNSUPPORTED, "%s: a %s of %u x %u is too large", p,
                            t->tiled ? "tile" : "strip", t->tw, t->th);
    if (lib != per) /* e.g. subsampled YCbCr that libtiff would not expand */
        return lscc_rt_fail(err, LSCC_RT_E_UNSUPPORTED,
                            "%s: a decoded %s has %llu bytes, not the %llu of %u x %u pixels x %d samples (subsampled "
                            "or packed data?)",
                            p, t->tiled ? "tile" : "strip", (unsigned long long)lib, (unsigned long long)per, t->tw,
                            t->th, t->separate ? 1 : spp);
    uint64_t groups = (uint64_t)(t->separate ? spp : 1);
    uint64_t nlib = t->tiled ? TIFFNumberOfTiles(tif) : TIFFNumberOfStrips(tif);
    if ((uint64_t)t->across * t->down * groups != nlib)
        return lscc_rt_fail(err, LSCC_RT_E_INVALID, "%s: %llu %s, but the image size needs %llu", p,
                            (unsigned long long)nlib, t->tiled ? "tiles" : "strips",
                            (unsigned long long)t->across * t->down * groups);
    t->tile_bytes = (size_t)per;
    /* the cache */
    uint64_t cap;
    t->fixed = o->cache_bytes != 0;
    if (o->cache_bytes)
        cap = o->cache_bytes / per;
    else {
        cap = (uint64_t)t->across * groups;
        if (cap < 4 * groups) cap = 4 * groups;
    }
    if (cap < 1) cap = 1;
    uint64_t total = (uint64_t)t->across * t->down * groups;
    if (cap > total) cap = total;
    if (!(t->slots = calloc((size_t)cap, sizeof *t->slots)))
        return lscc_rt_fail(err, LSCC_RT_E_NOMEM, "%s: out of memory", p);
    t->nslots = (size_t)cap;
    return 0;
}

int lscc_image_open_tiff(lscc_image *img, const char *path, const lscc_image_tiff_options *opt,
                         const lscc_image_norm *norm, lscc_rt_error *err) {
    if (!img) return lscc_rt_fail(err, LSCC_RT_E_ARG, "lscc_image_open_tiff: img is NULL");
    memset(img, 0, sizeof *img);
    if (!path) return lscc_rt_fail(err, LSCC_RT_E_ARG, "lscc_image_open_tiff: path is NULL");
    lscc_image_tiff_options o = {0, 0};
    if (opt) o = *opt;
    if (o.directory < 0)
        return lscc_rt_fail(err, LSCC_RT_E_ARG, "%s: page %d does not exist (pages count from 0)", path, o.directory);
    tiff_src *t = calloc(1, sizeof *t);
    if (!t) return lscc_rt_fail(err, LSCC_RT_E_NOMEM, "%s: out of memory", path);
    t->base.read = tiff_read;
    t->base.close = tiff_close;
    snprintf(t->path, sizeof t->path, "%s", path);
    int rc = 0;
    /* The file must exist and be readable: a clear E_IO rather than
       libtiff's message. */
    FILE *f = fopen(path, "rb");
    if (!f) {
        rc = lscc_rt_fail(err, LSCC_RT_E_IO, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    fclose(f);
    TIFFOpenOptions *oo = TIFFOpenOptionsAlloc();
    if (!oo) {
        rc = lscc_rt_fail(err, LSCC_RT_E_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    TIFFOpenOptionsSetErrorHandlerExtR(oo, on_error, t);
    TIFFOpenOptionsSetWarningHandlerExtR(oo, on_warning, t);
    t->tif = TIFFOpenExt(path, "rm", oo); /* m: read(), no mapping of the whole file */
    TIFFOpenOptionsFree(oo);
    if (!t->tif) {
        rc = lscc_rt_fail(err, LSCC_RT_E_INVALID, "%s: not a readable TIFF file: %s", path,
                          t->msg[0] ? t->msg : "libtiff gave no reason");
        goto fail;
    }
    if (o.directory > 0 && !TIFFSetDirectory(t->tif, (tdir_t)o.directory)) {
        rc = lscc_rt_fail(err, LSCC_RT_E_ARG, "%s: page %d does not exist (the file has %u)", path, o.directory,
                          (unsigned)TIFFNumberOfDirectories(t->tif));
        goto fail;
    }
    if ((rc = describe(t, &o, err))) goto fail;
    if ((rc = lscc_image_src_norm(&t->base, t->spp, norm, err))) goto fail;
    lscc_image_src_attach(img, &t->base, 1, t->spp, t->h, t->w, t->st, NULL);
    return 0;
fail:
    tiff_close(&t->base);
    return rc;
}
