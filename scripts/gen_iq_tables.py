#!/usr/bin/env python3
"""Generate src/quant/iq_tables.{h,cpp} (the codebooks of the grid i-quants) from iq-tables.json.

The grids of IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS and IQ3_S have no generating formula
(FORMATS.md 2.6), so cria carries them as data. This script turns the shared JSON copy into C++ and
checks on the way what FORMATS.md says about them: sizes, lane values, and that ksigns_iq2xs equals
its formula (the header computes ksigns from that formula instead of storing it).

Usage (from anywhere; Python 3 standard library only):
    python3 scripts/gen_iq_tables.py                 # reads ../shared/docs/iq-tables.json
    python3 scripts/gen_iq_tables.py path/to/iq-tables.json
    python3 scripts/gen_iq_tables.py --check         # exit 1 if the checked-in files are stale
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = ROOT.parent / "shared" / "docs" / "iq-tables.json"
OUT_DIR = ROOT / "src" / "quant"

# (json name, C++ name, entries, bytes per entry, allowed lane values, signed lanes)
GRIDS = [
    ("iq2xxs_grid", "kIq2xxsGrid", 256, 8, {8, 25, 43}, False),
    ("iq2xs_grid", "kIq2xsGrid", 512, 8, {8, 25, 43}, False),
    ("iq2s_grid", "kIq2sGrid", 1024, 8, {8, 25, 43}, False),
    ("iq3xxs_grid", "kIq3xxsGrid", 256, 4, {4, 12, 20, 28, 36, 44, 52, 62}, False),
    ("iq3s_grid", "kIq3sGrid", 512, 4, {1, 3, 5, 7, 9, 11, 13, 15}, False),
    ("iq1s_grid", "kIq1sGrid", 2048, 8, {-1, 0, 1}, True),
]

HEADER_NOTE = """\
// GENERATED FILE: do not edit. Made by scripts/gen_iq_tables.py from ../shared/docs/iq-tables.json
// (a copy of the codebooks in llama.cpp's ggml-common.h, MIT). Regenerate with
//     python3 scripts/gen_iq_tables.py [path/to/iq-tables.json]
"""


def ksigns(n):
    """FORMATS.md 2.6: the 7-bit sign index n, plus bit 7 set when popcount(n) is odd."""
    return n | (0x80 if bin(n).count("1") % 2 else 0)


def lanes(value, nbytes, signed):
    out = [(value >> (8 * k)) & 0xFF for k in range(nbytes)]
    return [b - 256 if signed and b >= 128 else b for b in out]


def validate(data):
    for name, _, count, nbytes, allowed, signed in GRIDS:
        values = data[name]["values"]
        if len(values) != count:
            sys.exit(f"{name}: {len(values)} entries, expected {count}")
        if len(set(values)) != count:
            sys.exit(f"{name}: entries are not distinct")
        for i, v in enumerate(values):
            if not 0 <= v < (1 << (8 * nbytes)):
                sys.exit(f"{name}[{i}] = {v} does not fit in {nbytes} bytes")
            bad = [x for x in lanes(v, nbytes, signed) if x not in allowed]
            if bad:
                sys.exit(f"{name}[{i}] has lane values {bad} outside {sorted(allowed)}")
    signs = data["ksigns_iq2xs"]["values"]
    if signs != [ksigns(n) for n in range(128)]:
        sys.exit("ksigns_iq2xs differs from its formula n | (popcount(n) odd ? 0x80 : 0)")
    if data["kmask_iq2xs"]["values"] != [1 << k for k in range(8)]:
        sys.exit("kmask_iq2xs differs from 1 << k")


def render_header():
    decls = []
    for _, cname, count, nbytes, _, _ in GRIDS:
        ctype = "uint64_t" if nbytes == 8 else "uint32_t"
        decls.append(f"extern const std::array<{ctype}, {count}> {cname};")
    return (
        HEADER_NOTE
        + """//
// Codebooks of the grid i-quants (FORMATS.md 2.6). Lane k of an entry is its k-th least significant
// byte; kIq1sGrid lanes are signed (0xFF = -1). Every table has a power-of-two size, so a decoder that
// masks an index to that many bits cannot read outside it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace cria::iq {

"""
        + "\n".join(decls)
        + """

// Entry `index` of a grid, the index masked to the table's size: out-of-range reads are impossible.
template <typename E, size_t N>
constexpr E grid_entry(const std::array<E, N>& table, uint32_t index) {
  static_assert(N > 0 && (N & (N - 1)) == 0, "grid sizes are powers of two");
  return table[index & (N - 1)];
}

// ksigns_iq2xs[n]: the 7-bit sign index n gives the signs of lanes 0-6 (bit k = lane k negative); lane 7
// is negative when that makes the count of negative lanes even. llama.cpp stores this as a table; the
// formula reproduces all 128 entries (checked by the generator and by tests/quant/iq_tables_test.cpp).
constexpr uint8_t ksigns_iq2xs(uint32_t n) {
  n &= 127;
  return static_cast<uint8_t>(n | (__builtin_popcount(n) % 2 != 0 ? 0x80 : 0));
}

constexpr std::array<uint8_t, 128> kKsignsIq2xs = [] {
  std::array<uint8_t, 128> t{};
  for (uint32_t n = 0; n < 128; ++n) t[n] = ksigns_iq2xs(n);
  return t;
}();

}  // namespace cria::iq
"""
    )


def render_source(data):
    parts = [HEADER_NOTE, '#include "quant/iq_tables.h"\n\nnamespace cria::iq {\n']
    for name, cname, count, nbytes, _, _ in GRIDS:
        ctype = "uint64_t" if nbytes == 8 else "uint32_t"
        width = 2 * nbytes
        per_line = 5 if nbytes == 8 else 8
        values = data[name]["values"]
        parts.append(f"\nconst std::array<{ctype}, {count}> {cname} = {{\n")
        for i in range(0, count, per_line):
            row = ", ".join(f"0x{v:0{width}x}" for v in values[i : i + per_line])
            parts.append(f"    {row},\n")
        parts.append("};\n")
    parts.append("\n}  // namespace cria::iq\n")
    return "".join(parts)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("json", nargs="?", default=str(DEFAULT_JSON), help="iq-tables.json")
    parser.add_argument("--check", action="store_true", help="only verify that the outputs are up to date")
    args = parser.parse_args()

    with open(args.json, encoding="utf-8") as f:
        data = json.load(f)
    validate(data)
    outputs = {OUT_DIR / "iq_tables.h": render_header(), OUT_DIR / "iq_tables.cpp": render_source(data)}
    stale = [p for p, text in outputs.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    if args.check:
        for p in stale:
            print(f"stale: {p.relative_to(ROOT)}", file=sys.stderr)
        return 1 if stale else 0
    for p in stale:
        p.write_text(outputs[p], encoding="utf-8")
        print(f"wrote {p.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
