/* NumPy .npy files for the runtime: the `<model>_run` program reads its image
 * and output gradient from .npy files and writes its results as .npy, so that
 * a user (or a test) can hand arrays to and from NumPy without a converter.
 *
 * Only what the runtime needs is supported, and everything else is refused
 * with a message rather than guessed at:
 * - format versions 1.0, 2.0 and 3.0 (3.0 only differs by a UTF-8 header; the
 *   header of a supported array is plain ASCII anyway);
 * - dtypes '<f4', '<f8' and '|u1' (also spelled '<u1'). Big-endian files,
 *   other dtypes, structured dtypes and Fortran order are refused: converting
 *   them would be easy, but the runtime never writes them and NumPy writes
 *   them only when asked, so such a file most likely is not what was meant;
 * - rank 0 to 8, each dimension and the element count at most 2^40 (a header
 *   claiming more is corrupt, and refusing it before allocating keeps a bad
 *   file from exhausting memory);
 * - the data must be exactly as long as the header says: a short file is
 *   refused as truncated and bytes after the data are refused as trailing
 *   data (NumPy itself ignores them; here they most likely mean a mix-up).
 *
 * The header is parsed as NumPy writes it and as a person might: keys in any
 * order, single or double quotes, any whitespace, an optional trailing comma;
 * the three keys 'descr', 'fortran_order' and 'shape' must each appear once
 * and no other key may. The shape is a Python tuple: "()", "(5,)", "(2, 3)".
 *
 * Writing produces exactly the bytes of numpy.save (version 1.0, the header
 * padded with spaces and a '\n' so that the data starts at a multiple of 64).
 * It goes to a temporary file next to the target which is renamed over it at
 * the end, so a failed write never leaves a half-written target (nor, on
 * failure, the temporary). The data is not fsync'ed.
 *
 * Every function returns 0 on success or nonzero with a message in msg (when
 * msg is not NULL and msg_len > 0) that names the file and the reason. Nothing
 * is printed and there is no global state. The host may be of either byte
 * order: data is swapped on big-endian hosts. */
#ifndef LSCC_NPY_H
#define LSCC_NPY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LSCC_NPY_MAXRANK 8

typedef enum lscc_npy_dtype { LSCC_NPY_U8, LSCC_NPY_F32, LSCC_NPY_F64 } lscc_npy_dtype;

/* An array read from a file: rank dims (a rank-0 array has one element), its
 * count elements of dtype in C order at data (malloc'ed; free with
 * lscc_npy_free, which also accepts a zeroed struct). */
typedef struct lscc_npy {
    lscc_npy_dtype dtype;
    int rank;
    int64_t dims[LSCC_NPY_MAXRANK];
    void *data;
    size_t count;
} lscc_npy;

/* Reads path into *out in the file's own dtype. On failure *out is zeroed. */
int lscc_npy_read(const char *path, lscc_npy *out, char *msg, size_t msg_len);

/* As lscc_npy_read, then converts the data to double (out->dtype is
 * LSCC_NPY_F64 whatever the file held). */
int lscc_npy_read_f64(const char *path, lscc_npy *out, char *msg, size_t msg_len);

/* Writes an array of rank 0 to 8 with the given dims (each >= 0; dims may be
 * NULL for rank 0) from data (may be NULL when there are no elements). */
int lscc_npy_write(const char *path, lscc_npy_dtype dt, int rank, const int64_t *dims, const void *data, char *msg,
                   size_t msg_len);

void lscc_npy_free(lscc_npy *a);

/* Bytes per element of dt: 1, 4 or 8. */
size_t lscc_npy_esize(lscc_npy_dtype dt);

#ifdef __cplusplus
}
#endif
#endif
