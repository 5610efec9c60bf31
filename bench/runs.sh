#!/usr/bin/env bash
# bench/runs.sh: runs tlsmachine-bench several times and prints, for every line, the median
# over the runs of each stack's figure and of the ratio, with their min..max over the runs,
# and every target of issue 13 held against the median ratio. On a shared machine one run
# moves by ±20%: quote these figures, never one run's.
#
#   bench/runs.sh                     # 5 runs of everything, about 8 minutes each on 2 cores
#   RUNS=3 bench/runs.sh bulk-recv    # any tlsmachine-bench arguments: filters, --rounds ...
#
# Each run's full output is kept in a temporary directory, named at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-5}
cargo build --release --locked --quiet -p tlsmachine-bench
out=$(mktemp -d /tmp/tlsmachine-bench-runs.XXXXXX)
# A copy, so that a rebuild during the runs cannot change the binary half-way.
cp target/release/tlsmachine-bench "$out/tlsmachine-bench"

files=()
for i in $(seq 1 "$RUNS"); do
  echo "run $i of $RUNS..." >&2
  "$out/tlsmachine-bench" "$@" >"$out/run$i.txt"
  files+=("$out/run$i.txt")
done

awk -v runs="$RUNS" '
  function sort(a, n,    i, j, v) {
    for (i = 2; i <= n; i++) {
      v = a[i]
      for (j = i - 1; j >= 1 && a[j] > v; j--) a[j + 1] = a[j]
      a[j + 1] = v
    }
  }
  # "median [min..max]" of the values kept under key k.
  function summary(k, fmt,    n, i, a, m) {
    n = count[k]
    for (i = 1; i <= n; i++) a[i] = val[k, i]
    sort(a, n)
    m = n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    return sprintf(fmt " [" fmt ".." fmt "]", m, a[1], a[n])
  }
  function median(k,    n, i, a) {
    n = count[k]
    for (i = 1; i <= n; i++) a[i] = val[k, i]
    sort(a, n)
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  function keep(k, v) { val[k, ++count[k]] = v }
  function fmt_of(v) { return v >= 100 ? "%.0f" : "%.1f" }
  FNR == 1 { run++ }
  /^# machine:/ { machines[run] = $0; next }
  run == 1 && /^# / && !/^# targets/ && !started { header = header $0 "\n"; next }
  # A memory line: name tlsmachine T B rustls R B tlsmachine/rustls Q
  /^memory-/ && $2 == "tlsmachine" && $5 == "rustls" {
    started = 1
    if (!(($1) in seen)) { seen[$1] = 1; order[++names] = $1 }
    unit[$1] = "B"
    keep($1 "/t", $3); keep($1 "/r", $6); keep($1 "/q", $9)
    next
  }
  # A rate line: name tlsmachine T [..] rustls R [..] UNIT ratio Q [..]
  /^[a-z]/ && $2 == "tlsmachine" && $5 == "rustls" {
    started = 1
    if (!(($1) in seen)) { seen[$1] = 1; order[++names] = $1 }
    unit[$1] = $8
    keep($1 "/t", $3); keep($1 "/r", $6); keep($1 "/q", $10)
    next
  }
  # Footer rows: the target, and whether it is "<=" bytes (memory) or ">=" a ratio.
  /^#   / && / target >= / { for (i = 1; i <= NF; i++) if ($i == ">=") min[$2] = $(i + 1); next }
  /^#   / && / target <= / { for (i = 1; i <= NF; i++) if ($i == "<=") max[$2] = $(i + 1); next }
  { started = started || /^[a-z]/ }
  END {
    printf "%s", header
    for (r = 1; r <= run; r++) print machines[r] "  (run " r ")"
    printf "# median of %d runs [min..max over the runs] of each run'"'"'s medians and ratio\n", runs
    w = 0
    for (i = 1; i <= names; i++) if (length(order[i]) > w) w = length(order[i])
    for (i = 1; i <= names; i++) {
      k = order[i]
      if (unit[k] == "B") {
        printf "%-" w "s  tlsmachine %s B  rustls %s B  tlsmachine/rustls %s\n", k,
          summary(k "/t", "%.0f"), summary(k "/r", "%.0f"), summary(k "/q", "%.2f")
        continue
      }
      t = median(k "/t"); r = median(k "/r")
      printf "%-" w "s  tlsmachine %s  rustls %s %s  ratio %s\n", k,
        summary(k "/t", fmt_of(t)), summary(k "/r", fmt_of(r)), unit[k], summary(k "/q", "%.2f")
    }
    print "# targets of issue 13 against the median of the runs (a miss is reported, not an error):"
    for (i = 1; i <= names; i++) {
      k = order[i]
      q = median(k "/q")
      if (k in min) {
        printf "#   %-" w "s  ratio %.2f  target >= %s  %s\n", k, q, min[k], (q >= min[k] ? "PASS" : "BELOW")
      } else if (k in max) {
        t = median(k "/t"); r = median(k "/r")
        printf "#   %-" w "s  %.0f B vs rustls %.0f B  target <= %s B and < rustls  %s\n", k, t, r,
          max[k], ((t <= max[k] && t < r) ? "PASS" : "BELOW")
      }
    }
  }
' "${files[@]}"
echo "# each run's output: $out" >&2
