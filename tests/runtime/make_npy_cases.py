#!/usr/bin/python3
"""Cases for the .npy reader and writer (runtime/npy.c, tests/runtime/test_npy.c).

usage: make_npy_cases.py OUTDIR          write the cases
       make_npy_cases.py check DIR       check the files the C writer made

Writing: OUTDIR/NAME.npy for every case and one line of OUTDIR/index each:

    ok NAME DTYPE RANK D0 D1 ...     a valid file; DTYPE u8, f32 or f64; its
                                     values, converted to float64, in NAME.bin
                                     (raw little-endian, C order)
    bad NAME TEXT...                 a file the reader must refuse with a
                                     message containing TEXT

The valid files are numpy.save's (random data, each dtype, ranks 0 to 4, empty
arrays, inf/nan/-0.0/denormals), np.lib.format.write_array's 2.0 and 3.0
formats, and hand-made headers in other legal spellings (keys in another order,
double quotes, odd whitespace, no trailing comma, unaligned data), each of
which numpy.load is asserted to accept with the same values. The bad ones are
Fortran order, big-endian, other dtypes, rank 9, negative and overflowing
dimensions, truncated headers and data, trailing bytes, a bad magic or
version, and malformed or incomplete header dicts.

Checking: DIR/written has lines "NAME DTYPE RANK D0 D1 ..." for files
DIR/NAME.npy that the C writer made from the float64 values in DIR/NAME.bin.
Each must load with numpy.load to that dtype, shape and values, and be
byte-identical to numpy.save's file for the same array.
"""
import io
import os
import struct
import sys

import numpy as np

DT = {"u8": "|u1", "f32": "<f4", "f64": "<f8"}
NAME_OF = {np.dtype("u1"): "u8", np.dtype("<f4"): "f32", np.dtype("<f8"): "f64"}


def raw(header, data=b"", version=(1, 0), align=True):
    """A .npy file with a hand-written header string (padded to 64 bytes with a
    final newline when align) and the given data bytes."""
    h = header.encode("latin1")
    pre = 10 if version[0] == 1 else 12
    if align:
        h += b" " * (63 - (pre + len(h)) % 64) + b"\n"
    size = struct.pack("<H" if version[0] == 1 else "<I", len(h))
    return b"\x93NUMPY" + bytes(version) + size + h + data


def saved(a, **kw):
    b = io.BytesIO()
    if kw:
        np.lib.format.write_array(b, a, **kw)
    else:
        np.save(b, a)
    return b.getvalue()


def random_array(rng, dt, shape):
    if dt == "u8":
        return rng.integers(0, 256, size=shape, dtype=np.uint8)
    a = rng.standard_normal(shape) * 10 ** rng.uniform(-3, 3, size=shape)
    return np.asarray(a, dtype=DT[dt])


def main(out):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20240613)
    lines = []

    def ok(name, blob, a):
        """A valid file: numpy must read back exactly a."""
        with open(os.path.join(out, name + ".npy"), "wb") as f:
            f.write(blob)
        back = np.load(os.path.join(out, name + ".npy"))
        assert back.dtype == a.dtype and back.shape == a.shape, name
        assert np.array_equal(back, a, equal_nan=a.dtype.kind == "f"), name
        np.ascontiguousarray(a, dtype="<f8").tofile(os.path.join(out, name + ".bin"))
        lines.append(f"ok {name} {NAME_OF[a.dtype]} {a.ndim} {' '.join(map(str, a.shape))}".rstrip() + "\n")

    def bad(name, blob, text):
        with open(os.path.join(out, name + ".npy"), "wb") as f:
            f.write(blob)
        lines.append(f"bad {name} {text}\n")

    shapes = [(), (7,), (3, 5), (2, 3, 4), (2, 1, 3, 5), (0,), (3, 0, 2), (1,)]
    for dt in ("u8", "f32", "f64"):
        for s in shapes:
            a = random_array(rng, dt, s)
            ok(f"{dt}_r{len(s)}_{'x'.join(map(str, s)) or 'scalar'}", saved(a), a)
    special = np.array([np.inf, -np.inf, np.nan, -0.0, 0.0, 5e-324, 1e308, -2.5e-310, 1.0, -1.0])
    ok("f64_special", saved(special), special)
    special = np.array([np.inf, -np.inf, np.nan, -0.0, 0.0, 1e-45, 3e38, -1e-40, 1.0, -1.0], dtype="<f4")
    ok("f32_special", saved(special), special)
    ok("u8_extremes", saved(np.array([0, 255, 1, 254], dtype=np.uint8)), np.array([0, 255, 1, 254], dtype=np.uint8))
    a = random_array(rng, "f32", (1, 3, 12, 10))
    ok("f32_image", saved(a), a)

    # Other format versions (numpy writes them only when asked).
    a = random_array(rng, "f64", (4, 6))
    ok("f64_v2", saved(a, version=(2, 0)), a)
    a = random_array(rng, "f32", (2, 5))
    ok("f32_v3", saved(a, version=(3, 0)), a)
    a = random_array(rng, "u8", (3, 4))
    ok("u8_v2", saved(a, version=(2, 0)), a)

    # Other legal header spellings (numpy.load accepts each: asserted in ok()).
    a = random_array(rng, "u8", (5,))
    blob = saved(a)
    assert b"'|u1'" in blob
    ok("u8_lt_descr", blob.replace(b"'|u1'", b"'<u1'"), a)
    a = random_array(rng, "f64", (2, 3))
    ok("keys_reordered", raw("{'shape': (2, 3), 'fortran_order': False, 'descr': '<f8'}", a.tobytes()), a)
    a = random_array(rng, "f32", (4,))
    ok("double_quotes_tight", raw('{"descr":"<f4","fortran_order":False,"shape":(4,)}', a.tobytes()), a)
    a = random_array(rng, "f64", (2, 3))
    ok("whitespace", raw("{ 'descr' :\t'<f8' ,\n 'fortran_order' : False , 'shape' : ( 2 ,\t3 , ) , }",
                         a.tobytes()), a)
    a = random_array(rng, "f32", (3, 1))
    ok("unaligned", raw("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 1)}", a.tobytes(), align=False), a)
    a = random_array(rng, "f64", ())
    ok("scalar_spaces", raw("{'descr': '<f8', 'shape': ( ), 'fortran_order': False, }", a.tobytes()), a)
    a = random_array(rng, "f64", (2, 2))
    ok("v2_handmade", raw("{'fortran_order': False, 'descr': '<f8', 'shape': (2,2)}", a.tobytes(), (2, 0)), a)

    # Refused: valid for numpy, but not supported.
    a = random_array(rng, "f64", (3, 4))
    bad("fortran", saved(np.asfortranarray(a)), "Fortran")
    bad("big_endian_f8", saved(a.astype(">f8")), "big-endian")
    bad("big_endian_f4", saved(a.astype(">f4")), "big-endian")
    bad("int32", saved(a.astype("<i4")), "unsupported dtype '<i4'")
    bad("float16", saved(a.astype("<f2")), "unsupported dtype '<f2'")
    bad("bool", saved(a > 0), "unsupported dtype '|b1'")
    bad("int8", saved(a.astype("i1")), "unsupported dtype '|i1'")
    bad("structured", saved(np.zeros(3, dtype=[("a", "<f4"), ("b", "<f8")])), "structured")
    bad("rank9", saved(np.zeros((1,) * 9)), "rank 9")
    bad("rank12", raw("{'descr': '<f8', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1,1,1,0)}"), "rank 12")
    # Refused: corrupt or malformed.
    good = saved(random_array(rng, "f32", (2, 3)))
    start = good.index(b"\n") + 1
    bad("truncated_data", good[:-1], "truncated data")
    bad("truncated_data_empty", good[:start], "truncated data")
    bad("truncated_header", good[: start - 5], "truncated header")
    bad("truncated_prefix", good[:9], "truncated header")
    bad("trailing", good + b"x", "trailing data")
    bad("empty", b"", "empty file")
    bad("bad_magic", b"\x93NUMPX" + good[6:], "magic")
    bad("text_file", b"hello, world\n", "magic")
    bad("version_4", good[:6] + b"\x04\x00" + good[8:], "version 4.0")
    bad("version_1_1", good[:6] + b"\x01\x01" + good[8:], "version 1.1")
    bad("version_0", good[:6] + b"\x00\x00" + good[8:], "version 0.0")
    hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
    bad("unclosed_dict", raw(hdr[:-1], good[start:]), "malformed header")
    bad("not_dict", raw("['descr', '<f4']", good[start:]), "not a dict")
    bad("missing_fortran", raw("{'descr': '<f4', 'shape': (2, 3)}", good[start:]), "no 'fortran_order'")
    bad("missing_shape", raw("{'descr': '<f4', 'fortran_order': False}", good[start:]), "no 'shape'")
    bad("missing_descr", raw("{'fortran_order': False, 'shape': (2, 3)}", good[start:]), "no 'descr'")
    bad("duplicate_key", raw("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}",
                             good[start:]), "duplicate key 'descr'")
    bad("extra_key", raw(hdr[:-1] + "'extra': 1}", good[start:]), "unexpected key 'extra'")
    bad("shape_not_tuple", raw(hdr.replace("(2, 3)", "(6)"), good[start:]), "not a tuple")
    bad("shape_list", raw(hdr.replace("(2, 3)", "[2, 3]"), good[start:]), "not a tuple")
    bad("shape_float", raw(hdr.replace("(2, 3)", "(2.0, 3)"), good[start:]), "malformed shape")
    bad("shape_no_comma", raw(hdr.replace("(2, 3)", "(2 3)"), good[start:]), "malformed shape")
    bad("shape_empty_comma", raw(hdr.replace("(2, 3)", "(,)"), good[start:]), "malformed shape")
    bad("negative_dim", raw(hdr.replace("(2, 3)", "(-2, 3)"), good[start:]), "negative dimension")
    bad("huge_dim", raw(hdr.replace("(2, 3)", "(1099511627777,)"), good[start:]), "dimension too large")
    bad("huge_digits", raw(hdr.replace("(2, 3)", "(123456789012345678901234567890,)"), good[start:]),
        "dimension too large")
    bad("count_overflow", raw(hdr.replace("(2, 3)", "(1048576, 1048576, 2)"), good[start:]), "too many elements")
    bad("count_overflow_64", raw(hdr.replace("(2, 3)", "(1099511627776, 1099511627776)"), good[start:]),
        "too many elements")
    bad("fortran_garbage", raw(hdr.replace("False", "Falsey"), good[start:]), "bad 'fortran_order'")
    bad("fortran_int", raw(hdr.replace("False", "0"), good[start:]), "bad 'fortran_order'")
    bad("descr_unquoted", raw(hdr.replace("'<f4'", "<f4"), good[start:]), "bad 'descr'")
    bad("nul_in_header", raw(hdr.replace(" 'fortran", "\0'fortran"), good[start:]), "malformed header")
    bad("junk_after_dict", raw(hdr + " x", good[start:]), "after the dict")
    bad("missing_colon", raw(hdr.replace("'descr':", "'descr'"), good[start:]), "no ':'")
    bad("missing_comma", raw(hdr.replace("'<f4',", "'<f4'"), good[start:]), "expected ','")
    bad("header_len_past_eof", good[:8] + struct.pack("<H", 4000) + good[10:], "truncated header")
    bad("header_len_huge", raw(hdr, good[start:], (2, 0))[:8] + struct.pack("<I", 0xFFFFFFF0) + good[10:],
        "too long")
    bad("data_len_mismatch", raw(hdr.replace("(2, 3)", "(2, 4)"), good[start:]), "truncated data")

    with open(os.path.join(out, "index"), "w") as f:
        f.writelines(lines)
    nok = sum(1 for x in lines if x.startswith("ok"))
    print(f"{nok} valid and {len(lines) - nok} invalid .npy files in {out}")


def check(d):
    n = 0
    with open(os.path.join(d, "written")) as f:
        for line in f:
            name, dt, rank, *dims = line.split()
            shape = tuple(int(x) for x in dims)
            assert len(shape) == int(rank), line
            path = os.path.join(d, name + ".npy")
            got = np.load(path)
            want = np.fromfile(os.path.join(d, name + ".bin"), dtype="<f8").astype(DT[dt]).reshape(shape)
            if got.dtype != want.dtype or got.shape != want.shape:
                sys.exit(f"{path}: {got.dtype} {got.shape}, expected {want.dtype} {want.shape}")
            if not np.array_equal(got, want, equal_nan=dt != "u8"):
                sys.exit(f"{path}: values differ from {name}.bin")
            with open(path, "rb") as g:
                if g.read() != saved(want):
                    sys.exit(f"{path}: not byte-identical to numpy.save's file")
            n += 1
    print(f"{n} files written by lscc_npy_write load in numpy and equal numpy.save's bytes")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "check":
        check(sys.argv[2])
    elif len(sys.argv) == 2:
        main(sys.argv[1])
    else:
        sys.exit(__doc__)
