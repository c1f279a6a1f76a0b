/* The memory-mapped raw file image source (lscc_image.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image_impl.h"

typedef struct raw_src {
    lscc_image_src base;
    lscc_image_array a;
    void *map; /* the mapping, from a page boundary at or before a.offset */
    size_t map_len;
    const unsigned char *at; /* the first sample */
} raw_src;

static int raw_read(lscc_image_src *s, const lscc_image *img, int64_t y0, int64_t y1, int64_t x0, int64_t x1,
                    lscc_dtype want, void *dst, lscc_rt_error *err) {
    (void)img;
    (void)err;
    raw_src *r = (raw_src *)s;
    lscc_image_array_read(r->at, &r->a, s->norm, y0, y1, x0, x1, want, dst);
    return 0;
}

static void raw_close(lscc_image_src *s) {
    raw_src *r = (raw_src *)s;
    if (r->map) munmap(r->map, r->map_len);
    lscc_image_src_fini(s);
    free(r);
}

int lscc_image_open_raw(lscc_image *img, const char *path, const lscc_image_array *a, const lscc_image_norm *norm,
                        lscc_rt_error *err) {
    if (!img) return lscc_rt_fail(err, LSCC_RT_E_ARG, "lscc_image_open_raw: img is NULL");
    memset(img, 0, sizeof *img);
    if (!path) return lscc_rt_fail(err, LSCC_RT_E_ARG, "lscc_image_open_raw: path is NULL");
    uint64_t bytes;
    int rc = lscc_image_array_check(a, &bytes, err);
    if (rc) return rc;
    if (a->offset > UINT64_MAX / 2 - bytes)
        return lscc_rt_fail(err, LSCC_RT_E_ARG, "%s: offset %llu is too large", path, (unsigned long long)a->offset);
    uint64_t end = a->offset + bytes;

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lscc_rt_fail(err, LSCC_RT_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = lscc_rt_fail(err, LSCC_RT_E_IO, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return lscc_rt_fail(err, LSCC_RT_E_INVALID, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size < end) {
        close(fd);
        return lscc_rt_fail(err, LSCC_RT_E_INVALID,
                            "%s: file too short: %llu bytes, the image needs %llu (offset %llu + %lld x %lld x %lld x "
                            "%lld samples of %d bytes)",
                            path, (unsigned long long)st.st_size, (unsigned long long)end,
                            (unsigned long long)a->offset, (long long)a->n, (long long)a->c, (long long)a->h,
                            (long long)a->w,
                            a->dtype == LSCC_U8    ? 1
                            : a->dtype == LSCC_F32 ? 4
                                                   : 8);
    }
    long page = sysconf(_SC_PAGESIZE);
    uint64_t start = a->offset - a->offset % (uint64_t)(page > 0 ? page : 4096);
    if (end - start > (uint64_t)SIZE_MAX || start > (uint64_t)INT64_MAX) {
        close(fd);
        return lscc_rt_fail(err, LSCC_RT_E_UNSUPPORTED, "%s: %llu bytes cannot be mapped on this host", path,
                            (unsigned long long)(end - start));
    }
    raw_src *r = calloc(1, sizeof *r);
    if (!r) {
        close(fd);
        return lscc_rt_fail(err, LSCC_RT_E_NOMEM, "%s: out of memory", path);
    }
    r->map_len = (size_t)(end - start);
    void *map = mmap(NULL, r->map_len, PROT_READ, MAP_PRIVATE, fd, (off_t)start);
    int map_errno = errno;
    close(fd); /* the mapping keeps the file */
    if (map == MAP_FAILED) {
        free(r);
        return lscc_rt_fail(err, LSCC_RT_E_IO, "%s: cannot map %llu bytes: %s", path, (unsigned long long)(end - start),
                            strerror(map_errno));
    }
    r->map = map;
    r->at = (const unsigned char *)map + (size_t)(a->offset - start);
    r->a = *a;
    if ((rc = lscc_image_src_norm(&r->base, a->c, norm, err))) {
        raw_close(&r->base);
        return rc;
    }
    r->base.read = raw_read;
    r->base.close = raw_close;
    lscc_image_src_attach(img, &r->base, a->n, a->c, a->h, a->w, a->dtype, NULL);
    return 0;
}
