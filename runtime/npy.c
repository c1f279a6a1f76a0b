/* NumPy .npy reading and writing (contract in lscc_npy.h). */
#include "lscc_npy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lscc_rt.h"

#define MAX_ELEMS ((uint64_t)1 << 40)
#define MAX_HEADER ((uint32_t)1 << 20) /* NumPy's own headers are 128 bytes */
#define CHUNK ((size_t)1 << 20)

static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

#ifdef __GNUC__
__attribute__((format(printf, 5, 6)))
#endif
static int fail(int code, char *msg, size_t len, const char *path, const char *fmt, ...) {
    if (msg && len) {
        int n = snprintf(msg, len, "%s: ", path ? path : "(no path)");
        if (n >= 0 && (size_t)n < len) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(msg + n, len - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return code;
}

size_t lscc_npy_esize(lscc_npy_dtype dt) { return dt == LSCC_NPY_U8 ? 1 : dt == LSCC_NPY_F32 ? 4 : 8; }

static int big_endian_host(void) {
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 0;
}

static void swap_bytes(unsigned char *p, size_t count, size_t es) {
    for (size_t i = 0; i < count; i++, p += es)
        for (size_t a = 0, b = es - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

/* ---- header parsing: a Python dict literal over [p, end) ---- */

typedef struct cursor {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static int eat(cursor *c, char ch) {
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) return c->p++, 1;
    return 0;
}

static int is_digit(char ch) { return ch >= '0' && ch <= '9'; }

/* A quoted string without escapes (no valid key or value has one) into buf. */
static int string(cursor *c, char *buf, size_t len) {
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return 0;
    const char q = *c->p++;
    size_t n = 0;
    for (; c->p < c->end && *c->p != q; c->p++) {
        if (*c->p == '\\' || n + 1 >= len) return 0;
        buf[n++] = *c->p;
    }
    if (c->p >= c->end) return 0;
    c->p++;
    buf[n] = 0;
    return 1;
}

/* The Python literal True or False into *v. */
static int boolean(cursor *c, int *v) {
    skip_ws(c);
    const size_t left = (size_t)(c->end - c->p);
    if (left >= 4 && !memcmp(c->p, "True", 4)) *v = 1, c->p += 4;
    else if (left >= 5 && !memcmp(c->p, "False", 5)) *v = 0, c->p += 5;
    else return 0;
    return c->p == c->end || !(is_digit(*c->p) || *c->p == '_' || ((*c->p | 0x20) >= 'a' && (*c->p | 0x20) <= 'z'));
}

/* A tuple of non-negative integers: "()", "(5,)", "(2, 3)", "(2, 3,)". */
static int shape(cursor *c, int *rank, int64_t *dims, char *why, size_t wl) {
    if (!eat(c, '(')) return snprintf(why, wl, "the shape is not a tuple"), 1;
    int n = 0, comma = 1;
    while (!eat(c, ')')) {
        if (!comma || c->p >= c->end) return snprintf(why, wl, "malformed shape tuple"), 1;
        if (*c->p == '-') return snprintf(why, wl, "negative dimension in the shape"), 1;
        if (!is_digit(*c->p)) return snprintf(why, wl, "malformed shape tuple (not an integer)"), 1;
        uint64_t v = 0;
        for (; c->p < c->end && is_digit(*c->p); c->p++) {
            if (v > MAX_ELEMS) return snprintf(why, wl, "dimension too large (over 2^40)"), 1;
            v = v * 10 + (uint64_t)(*c->p - '0');
        }
        if (c->p < c->end && *c->p == 'L') c->p++; /* Python 2 long */
        if (v > MAX_ELEMS) return snprintf(why, wl, "dimension too large (over 2^40)"), 1;
        if (n < LSCC_NPY_MAXRANK) dims[n] = (int64_t)v;
        n++;
        comma = eat(c, ',');
    }
    if (n == 1 && !comma) return snprintf(why, wl, "the shape is not a tuple (a 1-tuple needs a comma)"), 1;
    if (n > LSCC_NPY_MAXRANK) return snprintf(why, wl, "rank %d: at most %d dimensions are supported", n,
                                              LSCC_NPY_MAXRANK), 1;
    *rank = n;
    return 0;
}

static int dtype_of(const char *descr, lscc_npy_dtype *dt, char *why, size_t wl) {
    if (!strcmp(descr, "<f4")) *dt = LSCC_NPY_F32;
    else if (!strcmp(descr, "<f8")) *dt = LSCC_NPY_F64;
    else if (!strcmp(descr, "|u1") || !strcmp(descr, "<u1")) *dt = LSCC_NPY_U8;
    else if (descr[0] == '>')
        return snprintf(why, wl, "big-endian dtype '%s' is not supported (save it little-endian)", descr), 1;
    else return snprintf(why, wl, "unsupported dtype '%s' (supported: '<f4', '<f8', '|u1')", descr), 1;
    return 0;
}

/* Parses the header dict into a (zeroed) out; why gets the reason on failure. */
static int parse_header(const char *h, size_t len, lscc_npy *out, char *why, size_t wl) {
    static const char *const keys[3] = {"descr", "fortran_order", "shape"};
    cursor c = {h, h + len};
    int seen[3] = {0, 0, 0}, fortran = 0;
    if (!eat(&c, '{')) return snprintf(why, wl, "malformed header (not a dict)"), 1;
    while (!eat(&c, '}')) {
        char key[32], val[32];
        if (!string(&c, key, sizeof key)) return snprintf(why, wl, "malformed header (expected a quoted key)"), 1;
        int k = 0;
        while (k < 3 && strcmp(key, keys[k])) k++;
        if (k == 3) return snprintf(why, wl, "unexpected key '%s' in the header", key), 1;
        if (seen[k]++) return snprintf(why, wl, "duplicate key '%s' in the header", key), 1;
        if (!eat(&c, ':')) return snprintf(why, wl, "malformed header (no ':' after '%s')", key), 1;
        if (k == 0) {
            skip_ws(&c);
            if (c.p < c.end && *c.p == '[') return snprintf(why, wl, "structured dtypes are not supported"), 1;
            if (!string(&c, val, sizeof val)) return snprintf(why, wl, "malformed header (bad 'descr')"), 1;
            if (dtype_of(val, &out->dtype, why, wl)) return 1;
        } else if (k == 1) {
            if (!boolean(&c, &fortran)) return snprintf(why, wl, "malformed header (bad 'fortran_order')"), 1;
            if (fortran)
                return snprintf(why, wl, "Fortran-order arrays are not supported (save a C-contiguous array)"), 1;
        } else if (shape(&c, &out->rank, out->dims, why, wl)) {
            return 1;
        }
        if (!eat(&c, ',') && !(c.p < c.end && *c.p == '}'))
            return snprintf(why, wl, "malformed header (expected ',' or '}' after '%s')", key), 1;
    }
    skip_ws(&c);
    if (c.p != c.end) return snprintf(why, wl, "malformed header (characters after the dict)"), 1;
    for (int k = 0; k < 3; k++)
        if (!seen[k]) return snprintf(why, wl, "the header has no '%s'", keys[k]), 1;
    uint64_t count = 1;
    for (int i = 0; i < out->rank; i++)
        if (out->dims[i] == 0) count = 0;
    for (int i = 0; i < out->rank && count; i++) {
        if (count > MAX_ELEMS / (uint64_t)out->dims[i])
            return snprintf(why, wl, "too many elements (over 2^40)"), 1;
        count *= (uint64_t)out->dims[i];
    }
    if (count > SIZE_MAX / lscc_npy_esize(out->dtype))
        return snprintf(why, wl, "too many elements for this machine"), 1;
    out->count = (size_t)count;
    return 0;
}

/* ---- reading ---- */

/* Reads up to nbytes into a malloc'ed *buf, growing it as data arrives unless
 * the file is known to hold them (so that a lying header over a pipe does not
 * allocate the claimed size up front). Returns the bytes read. */
static size_t read_data(FILE *f, size_t nbytes, int known, unsigned char **buf) {
    size_t cap = known || nbytes < CHUNK ? nbytes : CHUNK, have = 0;
    unsigned char *b = malloc(cap ? cap : 1);
    while (b) {
        have += fread(b + have, 1, cap - have, f);
        if (have < cap || cap == nbytes) break;
        cap = nbytes - cap < cap ? nbytes : 2 * cap;
        unsigned char *nb = realloc(b, cap);
        if (!nb) free(b);
        b = nb;
    }
    *buf = b;
    return have;
}

static int read_file(FILE *f, const char *path, lscc_npy *out, char *msg, size_t msg_len) {
    unsigned char pre[12];
    const size_t got = fread(pre, 1, sizeof pre, f);
    if (ferror(f)) return fail(LSCC_RT_E_IO, msg, msg_len, path, "read error: %s", strerror(errno));
    if (got == 0) return fail(LSCC_RT_E_INVALID, msg, msg_len, path, "empty file, not a .npy file");
    if (memcmp(pre, magic, got < 6 ? got : 6))
        return fail(LSCC_RT_E_INVALID, msg, msg_len, path, "not a .npy file (no \\x93NUMPY magic)");
    if (got < 8) return fail(LSCC_RT_E_INVALID, msg, msg_len, path, "truncated header");
    const int major = pre[6], minor = pre[7];
    if (major < 1 || major > 3 || minor != 0)
        return fail(LSCC_RT_E_INVALID, msg, msg_len, path, "unsupported .npy format version %d.%d", major, minor);
    const size_t prefix = major == 1 ? 10 : 12;
    if (got < prefix) return fail(LSCC_RT_E_INVALID, msg, msg_len, path, "truncated header");
    const uint32_t hlen = major == 1 ? (uint32_t)pre[8] | (uint32_t)pre[9] << 8
                                     : (uint32_t)pre[8] | (uint32_t)pre[9] << 8 | (uint32_t)pre[10] << 16 |
                                           (uint32_t)pre[11] << 24;
    if (hlen > MAX_HEADER)
        return fail(LSCC_RT_E_INVALID, msg, msg_len, path, "header of %lu bytes is too long (at most %lu)",
                    (unsigned long)hlen, (unsigned long)MAX_HEADER);
    char *h = malloc(hlen ? hlen : 1);
    if (!h) return fail(LSCC_RT_E_NOMEM, msg, msg_len, path, "out of memory");
    const size_t early = got - prefix < hlen ? got - prefix : hlen; /* header bytes already in pre */
    memcpy(h, pre + prefix, early);
    size_t hgot = early + fread(h + early, 1, hlen - early, f);
    char why[256];
    int bad = 1;
    if (hgot < hlen) snprintf(why, sizeof why, "truncated header (%zu of %lu bytes)", hgot, (unsigned long)hlen);
    else bad = parse_header(h, hlen, out, why, sizeof why);
    free(h);
    if (ferror(f)) return fail(LSCC_RT_E_IO, msg, msg_len, path, "read error: %s", strerror(errno));
    if (bad) return fail(LSCC_RT_E_INVALID, msg, msg_len, path, "%s", why);

    const size_t es = lscc_npy_esize(out->dtype), nbytes = out->count * es, start = prefix + hlen;
    struct stat st;
    const int regular = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
    if (regular && (uint64_t)st.st_size < (uint64_t)start + nbytes)
        return fail(LSCC_RT_E_INVALID, msg, msg_len, path, "truncated data (%llu of %zu bytes)",
                    (unsigned long long)((uint64_t)st.st_size - start), nbytes);
    if (regular && (uint64_t)st.st_size > (uint64_t)start + nbytes)
        return fail(LSCC_RT_E_INVALID, msg, msg_len, path, "%llu bytes of trailing data after the array",
                    (unsigned long long)((uint64_t)st.st_size - start - nbytes));
    unsigned char *data;
    const size_t have = read_data(f, nbytes, regular, &data);
    if (!data) return fail(LSCC_RT_E_NOMEM, msg, msg_len, path, "out of memory for %zu bytes", nbytes);
    int rc = 0;
    if (ferror(f)) rc = fail(LSCC_RT_E_IO, msg, msg_len, path, "read error: %s", strerror(errno));
    else if (have < nbytes)
        rc = fail(LSCC_RT_E_INVALID, msg, msg_len, path, "truncated data (%zu of %zu bytes)", have, nbytes);
    else if (fgetc(f) != EOF)
        rc = fail(LSCC_RT_E_INVALID, msg, msg_len, path, "trailing data after the array");
    if (rc) {
        free(data);
        return rc;
    }
    if (big_endian_host() && es > 1) swap_bytes(data, out->count, es);
    out->data = data;
    return 0;
}

int lscc_npy_read(const char *path, lscc_npy *out, char *msg, size_t msg_len) {
    if (!out) return fail(LSCC_RT_E_ARG, msg, msg_len, path, "no output array given");
    memset(out, 0, sizeof *out);
    if (!path) return fail(LSCC_RT_E_ARG, msg, msg_len, path, "no file name given");
    FILE *f = fopen(path, "rb");
    if (!f) return fail(LSCC_RT_E_IO, msg, msg_len, path, "cannot open: %s", strerror(errno));
    struct stat st;
    int rc = fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)
                 ? fail(LSCC_RT_E_IO, msg, msg_len, path, "is a directory")
                 : read_file(f, path, out, msg, msg_len);
    fclose(f);
    if (rc) memset(out, 0, sizeof *out);
    return rc;
}

int lscc_npy_read_f64(const char *path, lscc_npy *out, char *msg, size_t msg_len) {
    int rc = lscc_npy_read(path, out, msg, msg_len);
    if (rc || out->dtype == LSCC_NPY_F64) return rc;
    double *d = malloc(sizeof *d * (out->count ? out->count : 1));
    if (!d) {
        lscc_npy_free(out);
        return fail(LSCC_RT_E_NOMEM, msg, msg_len, path, "out of memory");
    }
    for (size_t i = 0; i < out->count; i++)
        d[i] = out->dtype == LSCC_NPY_U8 ? ((const unsigned char *)out->data)[i] : ((const float *)out->data)[i];
    free(out->data);
    out->data = d;
    out->dtype = LSCC_NPY_F64;
    return 0;
}

void lscc_npy_free(lscc_npy *a) {
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---- writing ---- */

/* numpy.save's header: the dict with sorted keys, spare spaces so the first
 * dimension can grow to 21 digits in place (NumPy >= 1.23), then spaces and
 * '\n' up to a multiple of 64 bytes. Returns the length of prefix + header. */
static size_t make_header(char *buf, size_t cap, lscc_npy_dtype dt, int rank, const int64_t *dims) {
    static const char *const descr[3] = {"|u1", "<f4", "<f8"};
    char *h = buf + 10;
    size_t n = (size_t)snprintf(h, cap - 10, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr[dt]);
    for (int i = 0; i < rank; i++)
        n += (size_t)snprintf(h + n, cap - 10 - n, "%s%lld", i ? ", " : "", (long long)dims[i]);
    n += (size_t)snprintf(h + n, cap - 10 - n, "%s), }", rank == 1 ? "," : "");
    if (rank > 0) {
        int digits = snprintf(NULL, 0, "%lld", (long long)dims[0]);
        for (int i = digits; i < 21; i++) h[n++] = ' ';
    }
    size_t pad = 64 - (10 + n + 1) % 64;
    memset(h + n, ' ', pad);
    n += pad;
    h[n++] = '\n';
    memcpy(buf, magic, 6);
    buf[6] = 1, buf[7] = 0;
    buf[8] = (char)(n & 0xff), buf[9] = (char)(n >> 8);
    return 10 + n;
}

/* Writes the data little-endian (through a small swapped copy on big-endian hosts). */
static int write_data(FILE *f, const void *data, size_t count, size_t es) {
    if (!count) return 0;
    if (!big_endian_host() || es == 1) return fwrite(data, es, count, f) != count;
    unsigned char tmp[4096];
    const unsigned char *p = data;
    for (size_t i = 0; i < count;) {
        size_t k = count - i < sizeof tmp / es ? count - i : sizeof tmp / es;
        memcpy(tmp, p + i * es, k * es);
        swap_bytes(tmp, k, es);
        if (fwrite(tmp, es, k, f) != k) return 1;
        i += k;
    }
    return 0;
}

int lscc_npy_write(const char *path, lscc_npy_dtype dt, int rank, const int64_t *dims, const void *data, char *msg,
                   size_t msg_len) {
    if (!path) return fail(LSCC_RT_E_ARG, msg, msg_len, path, "no file name given");
    if (dt != LSCC_NPY_U8 && dt != LSCC_NPY_F32 && dt != LSCC_NPY_F64)
        return fail(LSCC_RT_E_ARG, msg, msg_len, path, "cannot write: unknown dtype %d", (int)dt);
    if (rank < 0 || rank > LSCC_NPY_MAXRANK || (rank && !dims))
        return fail(LSCC_RT_E_ARG, msg, msg_len, path, "cannot write: bad rank %d", rank);
    uint64_t count = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0 || (uint64_t)dims[i] > MAX_ELEMS)
            return fail(LSCC_RT_E_ARG, msg, msg_len, path, "cannot write: bad dimension %lld", (long long)dims[i]);
        count = count && dims[i] && count > MAX_ELEMS / (uint64_t)dims[i] ? MAX_ELEMS + 1 : count * (uint64_t)dims[i];
    }
    const size_t es = lscc_npy_esize(dt);
    if (count > MAX_ELEMS || count > SIZE_MAX / es)
        return fail(LSCC_RT_E_ARG, msg, msg_len, path, "cannot write: too many elements");
    if (count && !data) return fail(LSCC_RT_E_ARG, msg, msg_len, path, "cannot write: no data");

    char head[512];
    const size_t hn = make_header(head, sizeof head, dt, rank, dims);
    const size_t tl = strlen(path) + 48;
    char *tmp = malloc(tl);
    if (!tmp) return fail(LSCC_RT_E_NOMEM, msg, msg_len, path, "out of memory");
    int fd = -1;
    for (int k = 0; k < 100 && fd < 0; k++) {
        snprintf(tmp, tl, "%s.tmp%ld.%d", path, (long)getpid(), k);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        int rc = fail(LSCC_RT_E_IO, msg, msg_len, path, "cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    FILE *f = fdopen(fd, "wb");
    int bad = !f;
    if (!f) close(fd);
    else bad = fwrite(head, 1, hn, f) != hn || write_data(f, data, (size_t)count, es);
    int err = errno;
    if (f && fclose(f) && !bad) bad = 1, err = errno;
    int rc = 0;
    if (bad) rc = fail(LSCC_RT_E_IO, msg, msg_len, path, "write failed: %s", strerror(err));
    else if (rename(tmp, path)) rc = fail(LSCC_RT_E_IO, msg, msg_len, path, "cannot rename %s over it: %s", tmp,
                                          strerror(errno));
    if (rc) unlink(tmp);
    free(tmp);
    return rc;
}
