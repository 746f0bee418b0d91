"""HPACK (RFC 7541): h2spec's hpack cases, each a decoding error that RFC 9113 §4.3 makes a
connection error of type COMPRESSION_ERROR, a few more on integer and string representation (marked
"beyond h2spec"), and h2spec's generic/5 cases, where every representation of a field line must
decode into a request that is answered. Field blocks here are built by hand, octet by octet."""
import hpack
from hpack.hpack import encode_integer

from h2conf.lib import COMPRESSION_ERROR, END_HEADERS, END_STREAM, HEADERS, case, connection_error, raw_frame, \
    response

HUFFMAN = hpack.Encoder().huffman_coder


def string(text, huffman=False):
    """A string literal (RFC 7541 §5.2)."""
    raw = text.encode()
    if huffman:
        raw = HUFFMAN.encode(raw)
    length = encode_integer(len(raw), 7)
    if huffman:
        length[0] |= 0x80
    return bytes(length) + raw


def pseudo_fields(c):
    """:method GET, :scheme and :path / from the static table (indexes 2, 6 or 7, 4)."""
    return b"\x82" + (b"\x87" if c.target.tls else b"\x86") + b"\x84"


def send_block(c, block):
    sid = c.next_sid()
    c.send(raw_frame(HEADERS, END_STREAM | END_HEADERS, sid, block))
    return sid


def rejected(c, block):
    send_block(c, block)
    return connection_error(c, COMPRESSION_ERROR)


def answered(c, block):
    return response(c, send_block(c, block))


def authority(c):
    """:authority as a literal without indexing, its name from the static table (index 1)."""
    return b"\x01" + string(c.target.authority)


# --- h2spec's hpack cases: decoding errors ----------------------------------------------------

@case("hpack/2.3.3/1", "Sends a indexed field representation with invalid index")
def invalid_index(c):
    return rejected(c, pseudo_fields(c) + authority(c) + b"\xc6")  # 70: past the static table, none dynamic


@case("hpack/4.2/1", "Sends a dynamic table size update at the end of field block")
def size_update_at_end(c):
    return rejected(c, pseudo_fields(c) + authority(c) + b"\x3f\xe1\x1f")  # size 4096 after a field line


@case("hpack/5.2/1", "Sends a Huffman-encoded string literal representation with padding longer than 7 bits")
def huffman_long_padding(c):
    return rejected(c, pseudo_fields(c) + authority(c) + b"\x00" + string("x-test") + b"\x82\x1f\xff")  # "a" + 11 1s


@case("hpack/5.2/2", "Sends a Huffman-encoded string literal representation padded by zero")
def huffman_zero_padding(c):
    return rejected(c, pseudo_fields(c) + authority(c) + b"\x00" + string("x-test") + b"\x81\x18")  # "a" + 000


@case("hpack/5.2/3", "Sends a Huffman-encoded string literal representation containing the EOS symbol")
def huffman_eos(c):
    # "a" (00011), EOS (30 1s), "a": 40 bits.
    return rejected(c, pseudo_fields(c) + authority(c) + b"\x00" + string("x-test") + b"\x85\x1f\xff\xff\xff\xe3")


@case("hpack/6.1/1", "Sends a indexed field representation with index 0")
def index_zero(c):
    return rejected(c, pseudo_fields(c) + authority(c) + b"\x80")


@case("hpack/6.3/1", "Sends a dynamic table size update larger than the value of SETTINGS_HEADER_TABLE_SIZE")
def size_update_too_large(c):
    return rejected(c, b"\x3f\xe2\x1f" + pseudo_fields(c) + authority(c))  # 4097 > 4096


@case("hpack/5.1/1", "Sends an integer past 2^32 (beyond h2spec)")
def integer_overflow(c):
    return rejected(c, pseudo_fields(c) + authority(c) + b"\xff\xff\xff\xff\xff\xff\xff\xff\x7f")


@case("hpack/5.2/4", "Sends a string literal longer than the rest of the field block (beyond h2spec)")
def string_past_block(c):
    return rejected(c, pseudo_fields(c) + authority(c) + b"\x00" + string("x-test") + b"\x0aabc")


@case("hpack/4.2/2", "Sends a dynamic table size update in a field block after the first field line of "
      "a second block (beyond h2spec)")
def size_update_after_field_in_second_block(c):
    first = send_block(c, pseudo_fields(c) + authority(c))
    out = response(c, first)
    if not out.ok:
        return out
    return rejected(c, pseudo_fields(c) + b"\x20" + authority(c))


def indexed_entry_then(c, second):
    """A request that adds x-test: ok to the dynamic table (index 62) and one that refers to it,
    both answered (the entry is there); then `second`, which must be refused."""
    for block in (b"\x40" + string("x-test") + string("ok"), b"\xbe"):
        out = answered(c, pseudo_fields(c) + authority(c) + block)
        if not out.ok:
            return out
    return rejected(c, second)


@case("hpack/2.3.3/2", "Sends an index one past the dynamic table's last entry (beyond h2spec)")
def index_past_dynamic(c):
    return indexed_entry_then(c, pseudo_fields(c) + authority(c) + b"\xbf")  # 63; 62 is the only entry


@case("hpack/4.4/1", "Sends an index to an entry that a table size update evicted (beyond h2spec)")
def index_evicted(c):
    # Size 0 evicts every entry, 4096 leaves the table empty; 62 then names nothing.
    return indexed_entry_then(c, b"\x20\x3f\xe1\x1f" + pseudo_fields(c) + authority(c) + b"\xbe")


# --- h2spec's generic/5: each representation decodes ---------------------------------------------

def new_name(prefix, huffman):
    return lambda c: authority(c) + prefix + string("x-test", huffman) + string("ok", huffman)


def indexed_name(prefix, huffman):
    return lambda c: prefix + string(c.target.authority, huffman)


REPRESENTATIONS = [
    ("generic/5/2", "literal field with incremental indexing - indexed name", indexed_name(b"\x41", False)),
    ("generic/5/3", "literal field with incremental indexing - indexed name (with Huffman coding)",
     indexed_name(b"\x41", True)),
    ("generic/5/4", "literal field with incremental indexing - new name", new_name(b"\x40", False)),
    ("generic/5/5", "literal field with incremental indexing - new name (with Huffman coding)",
     new_name(b"\x40", True)),
    ("generic/5/6", "literal field without indexing - indexed name", indexed_name(b"\x01", False)),
    ("generic/5/7", "literal field without indexing - indexed name (with Huffman coding)",
     indexed_name(b"\x01", True)),
    ("generic/5/8", "literal field without indexing - new name", new_name(b"\x00", False)),
    ("generic/5/9", "literal field without indexing - new name (huffman encoded)", new_name(b"\x00", True)),
    ("generic/5/10", "literal field never indexed - indexed name", indexed_name(b"\x11", False)),
    ("generic/5/11", "literal field never indexed - indexed name (huffman encoded)", indexed_name(b"\x11", True)),
    ("generic/5/12", "literal field never indexed - new name", new_name(b"\x10", False)),
    ("generic/5/13", "literal field never indexed - new name (huffman encoded)", new_name(b"\x10", True)),
]


def representation_case(cid, title, rest):
    case(cid, "Sends a " + title)(lambda c: answered(c, pseudo_fields(c) + rest(c)))


for _cid, _title, _rest in REPRESENTATIONS:
    representation_case(_cid, _title, _rest)


@case("generic/5/1", "Sends a indexed field representation")
def indexed(c):
    return answered(c, pseudo_fields(c) + authority(c))


@case("generic/5/14", "Sends a dynamic table size update")
def size_update(c):
    return answered(c, b"\x20" + pseudo_fields(c) + authority(c))


@case("generic/5/15", "Sends multiple dynamic table size updates")
def size_updates(c):
    return answered(c, b"\x20\x3f\xe1\x1f" + pseudo_fields(c) + authority(c))  # 0, then 4096
