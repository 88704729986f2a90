#!/usr/bin/env python3
"""Writes proto/zdict/tramsync-1.dict, the zstd dictionary of frame
compression "zstd-1" (docs/PROTOCOL.md, "Frame compression").

A raw-content dictionary (zstd reads any bytes without its magic number as
content to match against): the msgpack strings every frame repeats - the
message keys and type names, then every table name, field name and enum value
of the default table registry (common/schema/tables.json), each as the msgpack
str it is on the wire. Not `zstd --train`: training wants thousands of real
frames, which a new deployment does not have, and these strings are what
every frame carries whatever its records hold.

The file is committed and built into both programs; "zstd-1" names exactly
these bytes, so it never changes: a new dictionary is "zstd-2". Run from the
repository's root only to make a new one (python3 is not a build dependency).
"""
import json
import sys


def mp_str(s):
    b = s.encode("utf-8")
    n = len(b)
    if n < 32:
        return bytes([0xA0 | n]) + b
    if n < 256:
        return bytes([0xD9, n]) + b
    return bytes([0xDA, n >> 8, n & 0xFF]) + b


PROTO = ["type", "HELLO", "WELCOME", "PUSH", "PUSH_ACK", "PULL", "CHANGES", "NOTICE", "NOTICE_ACK",
         "PING", "PONG", "ERROR", "BYE", "batch", "changes", "strs", "results", "outcome", "applied",
         "duplicate", "merged", "conflict", "rejected", "seq", "cursor", "more", "live", "stream",
         "since", "limit", "table", "id", "owner", "vv", "fields", "deleted", "hlc", "dot"]


def main():
    reg = json.load(open("common/schema/tables.json", encoding="utf-8"))
    words = []
    for tname, t in reg["tables"].items():
        words.append(tname)
        for fname, f in t.get("fields", {}).items():
            words.append(fname)
            for v in f.get("values", []) or []:
                if isinstance(v, str):
                    words.append(v)
    seen, out = set(), bytearray()
    # the most common last: zstd's cheapest matches are the nearest
    for w in words + PROTO:
        if w not in seen:
            seen.add(w)
            out += mp_str(w)
    sys.stdout.buffer.write(bytes(out))


main()
