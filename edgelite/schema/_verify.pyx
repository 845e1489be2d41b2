"""Fast path of the structural verifier: verify.py's walk, in C, verdict only.

verify.py compiles ``layout.TABLES``/``UNIONS`` into integer tables (``compile_layout``)
and calls ``walk``, which answers only "valid or not". On "not", verify.py runs its
Python walker over the same bytes to name the first problem, so messages come from
one place and tests hold the two walkers to the same verdict on every fuzzed file.
Every read is checked against the buffer's size before it happens.
"""

from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t

# Field kinds, the columns of the compiled field table (keep in sync with verify.py).
cdef enum:
    K_SCALAR = 0
    K_STRING = 1
    K_TABLE = 2
    K_UNION = 3

cdef enum:
    F_SLOT = 0
    F_KIND = 1
    F_WIDTH = 2  # byte size of a scalar (of each element for a vector)
    F_TARGET = 3  # table id (K_TABLE) or union id (K_UNION)
    F_VECTOR = 4
    F_COLS = 5


cdef struct Walk:
    const uint8_t* buf
    int64_t size
    int64_t tables
    int64_t max_tables
    int max_depth
    const int32_t* fields
    const int32_t* table_start
    const int32_t* members
    const int32_t* union_start


cdef inline bint _need(const Walk* w, int64_t pos, int64_t length) noexcept nogil:
    return pos >= 0 and length >= 0 and pos + length <= w.size


cdef inline uint32_t _u32(const uint8_t* p) noexcept nogil:
    # Byte by byte: flatbuffers are little-endian and fields need not be aligned.
    return p[0] | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16) | (<uint32_t>p[3] << 24)


cdef inline uint16_t _u16(const uint8_t* p) noexcept nogil:
    return p[0] | (<uint16_t>p[1] << 8)


cdef inline int64_t _follow(const Walk* w, int64_t pos) noexcept nogil:
    """Target of the uoffset at ``pos``; -1 when it is unreadable or leaves the file."""
    if not _need(w, pos, 4):
        return -1
    cdef int64_t target = pos + _u32(w.buf + pos)
    return target if target < w.size else -1


cdef bint _string(const Walk* w, int64_t pos) noexcept nogil:
    if not _need(w, pos, 4):
        return False
    cdef int64_t length = _u32(w.buf + pos)
    if not _need(w, pos + 4, length + 1):
        return False
    return w.buf[pos + 4 + length] == 0


cdef bint _vector(Walk* w, const int32_t* row, int64_t pos, int depth) noexcept nogil:
    if not _need(w, pos, 4):
        return False
    cdef int64_t count = _u32(w.buf + pos), i, target
    cdef int kind = row[F_KIND]
    if not _need(w, pos + 4, count * (row[F_WIDTH] if kind == K_SCALAR else 4)):
        return False
    if kind == K_SCALAR:
        return True
    for i in range(count):
        target = _follow(w, pos + 4 + 4 * i)
        if target < 0:
            return False
        if kind == K_STRING:
            if not _string(w, target):
                return False
        elif not _table(w, row[F_TARGET], target, depth + 1):
            return False
    return True


cdef bint _union(Walk* w, int union_id, int64_t pos, int64_t type_off, int64_t target,
                 int depth) noexcept nogil:
    cdef int64_t type_value = w.buf[pos + type_off] if type_off else 0
    cdef int64_t first = w.union_start[union_id]
    if type_value == 0 or type_value > w.union_start[union_id + 1] - first:
        return False
    return _table(w, w.members[first + type_value - 1], target, depth + 1)


cdef bint _table(Walk* w, int table_id, int64_t pos, int depth) noexcept nogil:
    cdef int64_t vtable, vt_len, tbl_len, entry, field_off, type_off, target, width
    cdef const int32_t* row
    cdef int32_t f, kind
    cdef bint is_vector
    w.tables += 1
    if w.tables > w.max_tables or depth > w.max_depth:
        return False
    if not _need(w, pos, 4) or pos % 4:
        return False
    vtable = pos - <int32_t>_u32(w.buf + pos)
    if not _need(w, vtable, 4):
        return False
    vt_len = _u16(w.buf + vtable)
    tbl_len = _u16(w.buf + vtable + 2)
    if vt_len < 4 or vt_len % 2 or not _need(w, vtable, vt_len) or not _need(w, pos, tbl_len):
        return False
    for f in range(w.table_start[table_id], w.table_start[table_id + 1]):
        row = w.fields + f * F_COLS
        kind = row[F_KIND]
        is_vector = row[F_VECTOR] != 0
        type_off = 0
        if kind == K_UNION:
            # The hidden one-byte <field>_type slot sits just before the value's slot.
            entry = 4 + 2 * (row[F_SLOT] - 1)
            if entry + 2 <= vt_len:
                type_off = _u16(w.buf + vtable + entry)
                if type_off and type_off + 1 > tbl_len:
                    return False
        entry = 4 + 2 * row[F_SLOT]
        if entry + 2 > vt_len:
            continue
        field_off = _u16(w.buf + vtable + entry)
        if field_off == 0:
            continue
        width = row[F_WIDTH] if kind == K_SCALAR and not is_vector else 4
        if field_off + width > tbl_len:
            return False
        if kind == K_SCALAR and not is_vector:
            continue
        target = _follow(w, pos + field_off)
        if target < 0:
            return False
        if kind == K_UNION:
            if not _union(w, row[F_TARGET], pos, type_off, target, depth):
                return False
        elif is_vector:
            if not _vector(w, row, target, depth):
                return False
        elif kind == K_STRING:
            if not _string(w, target):
                return False
        elif not _table(w, row[F_TARGET], target, depth + 1):
            return False
    return True


def _check_layout(const int32_t[:, ::1] fields, const int32_t[::1] table_start,
                  const int32_t[::1] members, const int32_t[::1] union_start):
    """Reject compiled tables that would index outside themselves."""
    cdef Py_ssize_t ntables = table_start.shape[0] - 1, nunions = union_start.shape[0] - 1, i
    if fields.shape[1] != F_COLS or ntables < 0 or nunions < 0:
        raise ValueError("compiled layout has the wrong shape")
    for i in range(ntables):
        if not 0 <= table_start[i] <= table_start[i + 1] <= fields.shape[0]:
            raise ValueError(f"compiled layout: table {i} field range is invalid")
    for i in range(nunions):
        if not 0 <= union_start[i] <= union_start[i + 1] <= members.shape[0]:
            raise ValueError(f"compiled layout: union {i} member range is invalid")
    for i in range(members.shape[0]):
        if not 0 <= members[i] < ntables:
            raise ValueError(f"compiled layout: union member {i} is not a table")
    for i in range(fields.shape[0]):
        if not (K_SCALAR <= fields[i, F_KIND] <= K_UNION and 0 <= fields[i, F_SLOT] < 32768
                and 0 <= fields[i, F_WIDTH] <= 8):
            raise ValueError(f"compiled layout: field row {i} is invalid")
        if fields[i, F_KIND] == K_TABLE and not 0 <= fields[i, F_TARGET] < ntables:
            raise ValueError(f"compiled layout: field row {i} names no table")
        if fields[i, F_KIND] == K_UNION and not (0 <= fields[i, F_TARGET] < nunions
                                                 and fields[i, F_SLOT] >= 1):
            raise ValueError(f"compiled layout: field row {i} names no union")


def walk(buf, const int32_t[:, ::1] fields, const int32_t[::1] table_start,
         const int32_t[::1] members, const int32_t[::1] union_start, int root,
         int max_depth, long long max_tables):
    """True when the flatbuffer ``buf`` (rooted at table id ``root``) is structurally valid.

    ``buf`` is any contiguous byte buffer (bytes, bytearray, mmap, memoryview).
    """
    cdef const uint8_t[::1] data = buf
    cdef Walk w
    cdef int64_t target
    cdef bint ok
    _check_layout(fields, table_start, members, union_start)
    if not 0 <= root < table_start.shape[0] - 1:
        raise ValueError(f"root table id {root} is out of range")
    if data.shape[0] < 4:
        return False
    w.buf = &data[0]
    w.size = data.shape[0]
    w.tables = 0
    w.max_tables = max_tables
    w.max_depth = max_depth
    w.fields = &fields[0, 0] if fields.shape[0] else NULL
    w.table_start = &table_start[0]
    w.members = &members[0] if members.shape[0] else NULL
    w.union_start = &union_start[0]
    with nogil:
        target = _follow(&w, 0)
        ok = target >= 0 and _table(&w, root, target, 0)
    return bool(ok)
