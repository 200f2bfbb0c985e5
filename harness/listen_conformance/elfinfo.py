"""What a file given as --impl is, read from the file itself, not its name.

    what(path) -> ("shim", "")           an ELF shared object exporting lc_shim_entry
                  ("runtime", "")        something the kernel can execute (an ELF
                                         executable, or a script with #!)
                  ("no", "one line")     anything else, named as what it is

Only the ELF headers and the dynamic symbol table are read (bounded; a
truncated or hostile file is "not a valid ELF file", never an exception).
"""
from __future__ import annotations

import os
import stat
import struct

ENTRY = b"lc_shim_entry"
_MAX_TABLE = 64 << 20          # bytes of a symbol or string table we will read

ET_EXEC, ET_DYN = 2, 3
PT_INTERP = 3
SHT_DYNSYM = 11
SHN_UNDEF = 0


class _Bad(Exception):
    pass


def _elf(f, size: int) -> dict:
    """The few facts we need: type, has an interpreter, exports the entry."""
    head = f.read(64)
    if head[:4] != b"\x7fELF":
        raise _Bad("not an ELF file")
    if len(head) < 52:
        raise _Bad("not a valid ELF file (truncated header)")
    cls, data = head[4], head[5]
    if cls not in (1, 2) or data not in (1, 2):
        raise _Bad("not a valid ELF file (bad class or byte order)")
    end = "<" if data == 1 else ">"
    is64 = cls == 2
    if is64:
        if len(head) < 64:
            raise _Bad("not a valid ELF file (truncated header)")
        (e_type, _m, _v, _e, e_phoff, e_shoff, _f, _eh, e_phentsize, e_phnum,
         e_shentsize, e_shnum, _si) = struct.unpack(end + "HHIQQQIHHHHHH", head[16:64])
    else:
        (e_type, _m, _v, _e, e_phoff, e_shoff, _f, _eh, e_phentsize, e_phnum,
         e_shentsize, e_shnum, _si) = struct.unpack(end + "HHIIIIIHHHHHH", head[16:52])

    def read(off, n):
        if off < 0 or n < 0 or off + n > size or n > _MAX_TABLE:
            raise _Bad("not a valid ELF file (a table lies outside the file)")
        f.seek(off)
        b = f.read(n)
        if len(b) != n:
            raise _Bad("not a valid ELF file (truncated)")
        return b

    interp = False
    if e_phnum and e_phentsize >= (56 if is64 else 32) and e_phnum < 4096:
        ph = read(e_phoff, e_phnum * e_phentsize)
        for i in range(e_phnum):
            (p_type,) = struct.unpack_from(end + "I", ph, i * e_phentsize)
            interp = interp or p_type == PT_INTERP

    exports = False
    if e_shnum and e_shentsize >= (64 if is64 else 40) and e_shnum < 65536:
        sh = read(e_shoff, e_shnum * e_shentsize)

        def section(i):
            o = i * e_shentsize
            if is64:
                (_n, typ, _fl, _a, off, sz, link, _i, _al, ent) = \
                    struct.unpack_from(end + "IIQQQQIIQQ", sh, o)
            else:
                (_n, typ, _fl, _a, off, sz, link, _i, _al, ent) = \
                    struct.unpack_from(end + "IIIIIIIIII", sh, o)
            return typ, off, sz, link, ent

        for i in range(e_shnum):
            typ, off, sz, link, ent = section(i)
            if typ != SHT_DYNSYM or link >= e_shnum:
                continue
            _t, soff, ssz, _l, _e = section(link)
            strtab = read(soff, ssz)
            syms = read(off, sz)
            ent = ent or (24 if is64 else 16)
            for j in range(sz // ent):
                if is64:
                    name, _info, _other, shndx = struct.unpack_from(end + "IBBH", syms, j * ent)
                else:
                    name, _val, _sz, _info, _other, shndx = \
                        struct.unpack_from(end + "IIIBBH", syms, j * ent)
                if shndx == SHN_UNDEF or name >= len(strtab):
                    continue
                stop = strtab.find(b"\0", name)
                if strtab[name:stop if stop >= 0 else None] == ENTRY:
                    exports = True
                    break
    return {"type": e_type, "interp": interp, "exports": exports}


def what(path: str) -> tuple[str, str]:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "no", "does not exist"
    except OSError as e:
        return "no", f"cannot be read ({e.strerror})"
    if stat.S_ISDIR(st.st_mode):
        return "no", ("is a directory, not a shim library or a runtime "
                      "(give the .so inside it, or the runtime's executable)")
    if not stat.S_ISREG(st.st_mode):
        return "no", "is not a regular file"
    executable = bool(st.st_mode & 0o111)
    try:
        with open(path, "rb") as f:
            start = f.read(4)
            f.seek(0)
            if start == b"\x7fELF":
                try:
                    info = _elf(f, st.st_size)
                except (_Bad, struct.error) as e:
                    return "no", f"is {e}" if isinstance(e, _Bad) else \
                        "is not a valid ELF file"
            else:
                info = None
    except OSError as e:
        return "no", f"cannot be read ({e.strerror})"
    if info is None:
        if start[:2] == b"#!" and executable:
            return "runtime", ""
        if path.endswith((".c", ".h", ".cc", ".cpp")):
            return "no", ("is C source, not a built shim: compile it into a shared "
                          "library (docs/implementers-guide.md) and give the .so")
        if path.endswith(".so") or ".so." in os.path.basename(path):
            return "no", "is not a loadable shared library (not an ELF file)"
        if start[:2] == b"#!":
            return "no", ("is a script without execute permission (chmod +x it to run "
                          "it as a runtime)")
        return "no", "is neither a shim library (ELF shared object) nor an executable runtime"
    if info["exports"]:
        return "shim", ""
    if info["type"] == ET_EXEC or (info["type"] == ET_DYN and info["interp"]):
        if executable:
            return "runtime", ""
        return "no", "is an ELF executable without execute permission"
    if info["type"] == ET_DYN:
        return "no", ("is a shared library that does not export lc_shim_entry: not a shim "
                      "(harness/include/lc_shim.h)")
    return "no", "is an ELF file that is neither a shim library nor an executable"
