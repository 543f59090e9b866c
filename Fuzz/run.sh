#!/usr/bin/env bash
# Builds and runs the libFuzzer target for the frame and batch decoders.
#   Fuzz/run.sh [seconds]   (default 300)
# The fuzzer is built from the NIO-free sources of LogFerryWire (no NIOCore, no swift-crypto) plus the
# LogFerryBytes module they import (CRC32C with its C shim, varints, byte order, the checked reader) and the
# LogFerryDeflate module (zlib, libdeflate and ISA-L behind one interface), each compiled as its own module,
# all with -sanitize=fuzzer,address. Every batch is inflated by both inflaters (libdeflate and zlib), which
# must agree.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
seconds="${1:-300}"
build="$here/.build"
mkdir -p "$build" "$here/corpus" "$here/crashes"

wire=()
for file in "$root"/Sources/LogFerryWire/*.swift; do
    # Files that need NIOCore or swift-crypto stay out; everything the decoders use stays in.
    if grep -qE '^import (NIOCore|Crypto)' "$file"; then continue; fi
    case "$(basename "$file")" in ServerProtocolState.swift|ClientProtocolState.swift) continue;; esac
    wire+=("$file")
done

# The C shim of CRC32C, and a module map so that Swift imports it as it does under SwiftPM.
cat > "$build/CLogFerryCRC32C.modulemap" <<EOF
module CLogFerryCRC32C {
    header "$root/Sources/CLogFerryCRC32C/include/logferry_crc32c.h"
    export *
}
EOF
clang -c -O2 -fsanitize=fuzzer-no-link,address -I "$root/Sources/CLogFerryCRC32C/include" \
    "$root/Sources/CLogFerryCRC32C/crc32c_hardware.c" -o "$build/crc32c_hardware.o"
modulemap=(-Xcc -fmodule-map-file="$build/CLogFerryCRC32C.modulemap")

swiftc -parse-as-library -O -wmo -sanitize=fuzzer,address -module-name LogFerryBytes "${modulemap[@]}" \
    -emit-module -emit-module-path "$build/LogFerryBytes.swiftmodule" -emit-object -o "$build/LogFerryBytes.o" \
    "$root"/Sources/LogFerryBytes/*.swift
deflate_c=(-I "$root/Sources/CZlib" -I "$root/Sources/CIsal" -I "$root/Sources/CLibdeflate")
swiftc -parse-as-library -O -wmo -sanitize=fuzzer,address -module-name LogFerryDeflate "${deflate_c[@]}" \
    -emit-module -emit-module-path "$build/LogFerryDeflate.swiftmodule" -emit-object -o "$build/LogFerryDeflate.o" \
    "$root"/Sources/LogFerryDeflate/*.swift
swiftc -parse-as-library -O -sanitize=fuzzer,address -module-name LogFerryWireFuzz "${modulemap[@]}" \
    -I "$build" "${deflate_c[@]}" \
    "${wire[@]}" "$here/FuzzEntry.swift" "$build/LogFerryBytes.o" "$build/LogFerryDeflate.o" "$build/crc32c_hardware.o" \
    -lz -lisal -ldeflate -o "$build/wire-fuzzer"

# Seed the corpus with the test vectors (every frame type and a sealed batch).
python3 - "$root/Tests/LogFerryWireTests/Vectors/vectors.json" "$here/corpus" <<'PY'
import json, sys, os
vectors = json.load(open(sys.argv[1]))
items = [(f["name"], f["hex"]) for f in vectors["frames"]] + [("sealed", vectors["batch"]["sealed"])]
for name, hexstring in items:
    with open(os.path.join(sys.argv[2], "seed-" + name), "wb") as out:
        out.write(bytes.fromhex(hexstring))
PY

cd "$here/crashes"
"$build/wire-fuzzer" -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$here/crashes/" "$here/corpus"
