#!/usr/bin/env bash
# A fuzzing campaign: every target in turn, one core, for the seconds given per target
# (`target=seconds` pairs; default an hour in all, weighted to the connection targets).
# Binaries are built once and copied, so editing the tree meanwhile changes nothing.
# Each target keeps going after a crash (fork mode) and saves it under $OUT/artifacts.
# The summary table at the end is what fuzz/README.md reports.
#
#   fuzz/campaign.sh                              # the default hour
#   OUT=/tmp/c fuzz/campaign.sh server=600 client=600
set -euo pipefail
cd "$(dirname "$0")"

OUT=${OUT:-/tmp/tlsmachine-campaign}
plan=("$@")
if [ ${#plan[@]} -eq 0 ]; then
  plan=(server=900 client=900 server_clienthello=600 deframer=360 codec_handshake=360
        codec_extension=240 record_protect=240)
fi

# The library has no unsafe code and aws-lc is C that cargo-fuzz does not instrument, so
# AddressSanitizer would only slow the search; debug assertions catch integer overflow.
cargo +nightly fuzz build -s none -a
mkdir -p "$OUT/bin" "$OUT/logs"
for entry in "${plan[@]}"; do
  cp "target/x86_64-unknown-linux-gnu/release/${entry%%=*}" "$OUT/bin/"
done

for entry in "${plan[@]}"; do
  target=${entry%%=*}
  seconds=${entry#*=}
  mkdir -p "$OUT/corpus/$target" "$OUT/artifacts/$target"
  echo "$(date -u +%FT%TZ) $target for ${seconds}s"
  # Larger inputs for the stream and connection targets: whole flights, several records.
  case $target in
    server|client|server_clienthello|deframer) max_len=16384 ;;
    *) max_len=4096 ;;
  esac
  "$OUT/bin/$target" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time="$seconds" -max_len="$max_len" -timeout=10 \
    -artifact_prefix="$OUT/artifacts/$target/" \
    "$OUT/corpus/$target" "corpus/$target" >"$OUT/logs/$target.log" 2>&1 || true
done

printf '\n%-20s %8s %12s %7s %7s %8s %8s\n' target seconds execs cov ft corpus crashes
for entry in "${plan[@]}"; do
  target=${entry%%=*}
  log="$OUT/logs/$target.log"
  # Fork mode prints "#<execs>: cov: <n> ft: <n> corp: <n> exec/s: ..." as it goes; its
  # corp is the merged corpus (the directory also keeps inputs merged away).
  last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1 || true)
  field() { sed -E "s/.* $1: ([0-9]+).*/\\1/" <<<"$last"; }
  execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
  crashes=$(find "$OUT/artifacts/$target" -type f | wc -l)
  printf '%-20s %8s %12s %7s %7s %8s %8s\n' "$target" "${entry#*=}" "${execs:-?}" \
    "$(field cov)" "$(field ft)" "$(field corp)" "$crashes"
done
