#!/usr/bin/env bash
# One prepared GPU check of the calibrate-your-hardware loop, for a machine with an NVIDIA (or ROCm)
# GPU and PyTorch:
#   1. tools/profile-accelerator.py --device cuda, full shapes, bounded by --max-seconds (default 180);
#   2. `pertoken calibrate --table` on the new table (when node and this repo's node_modules are
#      there; otherwise the command to run elsewhere is printed), and on the H200 reference table;
#   3. the new table against calibration/h200-microbench.json: median ratio of times per section
#      (new / reference; < 1 = faster than the reference H200), over the shapes both measured.
# Everything goes to $OUT (default: a new temporary folder): check.log (all output), microbench.json,
# calibrate.txt, calibrate.json, <KEY>.measured.json, compare.txt. At most 6 files.
#
# Environment: OUT, PERTOKEN_PYTHON (a python with CUDA torch), MAX_SECONDS (profiler budget, 180),
# PROFILE_TIMEOUT (hard limit on the profiler, 420 s), HARDWARE (catalog key; default: guessed from
# the device name), PROFILER_ARGS (extra profiler flags, e.g. "--sizes 1,16,256,4096"),
# PERTOKEN_CLI (how to run pertoken; default: node + this repo's node_modules, else `pertoken`;
# "none" skips step 2), DEVICE (cuda; DEVICE=cpu HARDWARE=H200 PROFILER_ARGS=--quick runs the
# plumbing on a CPU).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/pertoken-gpu-check.XXXXXX")}"
mkdir -p "$OUT"
MAX_SECONDS="${MAX_SECONDS:-180}"
PROFILE_TIMEOUT="${PROFILE_TIMEOUT:-420}"
REFERENCE="$ROOT/calibration/h200-microbench.json"
DEVICE="${DEVICE:-cuda}" # DEVICE=cpu PROFILER_ARGS=--quick: a dry run of this script's plumbing on a CPU

# the first python that imports torch and sees a GPU (any torch with DEVICE=cpu)
pick_python() {
  local c need='torch.cuda.is_available()'
  [ "$DEVICE" = cpu ] && need=True
  for c in ${PERTOKEN_PYTHON:-} python3 /usr/bin/python3; do
    [ -n "$c" ] || continue
    command -v "$c" >/dev/null 2>&1 || continue
    if timeout 180 "$c" -c "import sys, torch; sys.exit(0 if $need else 3)" >/dev/null 2>&1; then
      echo "$c"
      return 0
    fi
  done
  return 1
}

# how to run the pertoken CLI here, if at all ($PERTOKEN_CLI: a command line, or "none")
pick_pertoken() {
  if [ -n "${PERTOKEN_CLI:-}" ]; then
    [ "$PERTOKEN_CLI" != none ] && echo "$PERTOKEN_CLI"
    return $?
  fi
  command -v node >/dev/null 2>&1 || return 1
  if [ -d "$ROOT/node_modules/tsx" ]; then
    echo "node --import tsx $ROOT/src/cli/bin.ts"
  elif [ -f "$ROOT/dist/cli/bin.js" ]; then
    echo "node $ROOT/bin/pertoken.js"
  elif command -v pertoken >/dev/null 2>&1; then
    echo "pertoken"
  else
    return 1
  fi
}

main() {
  local status=0
  echo "== pertoken GPU calibration check: $(date -u +%Y-%m-%dT%H:%M:%SZ), results in $OUT"
  local py
  if ! py="$(pick_python)"; then
    echo "FAIL: no python here imports torch with a GPU (tried \$PERTOKEN_PYTHON, python3, /usr/bin/python3)"
    return 2
  fi
  echo "python: $py ($("$py" -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, "hip", getattr(torch.version, "hip", None))'))"
  if command -v nvidia-smi >/dev/null 2>&1; then
    timeout 30 nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.mem,power.limit,driver_version \
      --format=csv || true
  fi

  echo
  echo "== 1. profile on $DEVICE (--max-seconds $MAX_SECONDS, hard limit ${PROFILE_TIMEOUT}s) ${PROFILER_ARGS:-}"
  local t0=$SECONDS
  # shellcheck disable=SC2086  # PROFILER_ARGS is a list of flags
  if ! PYTHONUNBUFFERED=1 timeout --kill-after=30 "$PROFILE_TIMEOUT" "$py" tools/profile-accelerator.py \
    --device "$DEVICE" --max-seconds "$MAX_SECONDS" --out "$OUT/microbench.json" ${PROFILER_ARGS:-}; then
    echo "FAIL: the profiler did not finish (exit above); nothing to calibrate"
    return 1
  fi
  echo "profiler wall time: $((SECONDS - t0)) s"

  echo
  echo "== 2. pertoken calibrate --table"
  local hw=()
  [ -n "${HARDWARE:-}" ] && hw=(--hardware "$HARDWARE")
  local cli key
  if cli="$(pick_pertoken)"; then
    # the JSON report first: it names the catalog key the device was matched to
    # shellcheck disable=SC2086  # cli is a command line
    if timeout 300 $cli calibrate --table "$OUT/microbench.json" ${hw[@]+"${hw[@]}"} --json >"$OUT/calibrate.json" &&
      key="$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["hardware"])' "$OUT/calibrate.json")"; then
      # shellcheck disable=SC2086
      timeout 300 $cli calibrate --table "$OUT/microbench.json" --hardware "$key" \
        --out "$OUT/$key.measured.json" 2>&1 | tee "$OUT/calibrate.txt"
    else
      cat "$OUT/calibrate.json"
      echo "FAIL: pertoken calibrate on the new table (give HARDWARE=KEY if the device was not recognised)"
      status=1
    fi
    echo "-- the reference H200 table, for comparison:"
    # shellcheck disable=SC2086
    timeout 300 $cli calibrate --table "$REFERENCE" 2>&1 | sed 's/^/   /' || true
  else
    {
      echo "SKIPPED: no node with this repo's node_modules here; where pertoken is installed, run:"
      echo "  pertoken calibrate --table microbench.json ${hw[*]:-[--hardware KEY]} --out my-profiles/KEY.measured.json"
    } | tee "$OUT/calibrate.txt"
  fi

  echo
  echo "== 3. new table vs. calibration/h200-microbench.json (time ratio new/reference; < 1 = faster)"
  "$py" - "$OUT/microbench.json" "$REFERENCE" <<'PY' | tee "$OUT/compare.txt"
import json, statistics, sys

new, ref = (json.load(open(p)) for p in sys.argv[1:3])
print(f"new: {new['meta']['device']} ({new['meta'].get('torch')}), {new['meta'].get('seconds_total', 0):.0f} s, "
      f"{len(new['meta'].get('skipped', []))} shapes skipped")
print(f"ref: {ref['meta']['device']} ({ref['meta'].get('torch')})")
print(f"{'section':<20} {'matched':>8} {'of new':>7} {'of ref':>7} {'median':>8} {'min':>8} {'max':>8}")


def rows(t, sec):
    return (t.get(sec) or {}).get("rows", [])


KEYS = {
    "gemm_bf16": lambda r: f"{r['n']}x{r['k']} m={r['m']}",
    "gemm_fp8": lambda r: f"{r['n']}x{r['k']} m={r['m']}",
    "attention_decode": lambda r: f"batch={r['batch']} context={r['context']}",
    "attention_prefill": lambda r: f"batch={r['batch']} length={r['length']}",
}
worst = []
for sec, key in KEYS.items():
    a = {key(r): r["seconds"] for r in rows(new, sec)}
    b = {key(r): r["seconds"] for r in rows(ref, sec)}
    both = sorted(set(a) & set(b))
    if not both:
        print(f"{sec:<20} {0:>8} {len(a):>7} {len(b):>7}   (nothing to compare)")
        continue
    ratios = [a[k] / b[k] for k in both]
    print(f"{sec:<20} {len(both):>8} {len(a):>7} {len(b):>7} {statistics.median(ratios):>8.3f} "
          f"{min(ratios):>8.3f} {max(ratios):>8.3f}")
    worst += [(abs(r - 1), sec, k, r) for k, r in zip(both, ratios)]
for sec, field in (("copy_bandwidth", "seconds"), ("gemm_square_bf16", "seconds")):
    if new.get(sec) and ref.get(sec) and new[sec].get("n", 0) == ref[sec].get("n", 0) \
            and new[sec].get("bytes_each_way", 0) == ref[sec].get("bytes_each_way", 0):
        r = new[sec][field] / ref[sec][field]
        print(f"{sec:<20} {1:>8} {1:>7} {1:>7} {r:>8.3f}")
    else:
        print(f"{sec:<20} {'-':>8}   (missing, or another size than the reference's)")
sq = [k for k in (new.get("gemm_fp8") or {}) if k.startswith("square_")]
if sq and sq[0] in (ref.get("gemm_fp8") or {}):
    print(f"{'fp8 square TFLOP/s':<20} new {new['gemm_fp8'][sq[0]]:.0f} vs ref {ref['gemm_fp8'][sq[0]]:.0f}")
if new.get("copy_bandwidth"):
    print(f"copy: {new['copy_bandwidth']['tb_per_s_read_plus_write']:.2f} TB/s (ref "
          f"{ref['copy_bandwidth']['tb_per_s_read_plus_write']:.2f}); square bf16: "
          f"{(new.get('gemm_square_bf16') or {}).get('tflops', float('nan')):.0f} TFLOP/s "
          f"(ref {ref['gemm_square_bf16']['tflops']:.0f})")
print("largest departures from the reference:")
for _, sec, k, r in sorted(worst, reverse=True)[:8]:
    print(f"  {sec} {k}: x {r:.3f}")
for s in new["meta"].get("skipped", [])[:20]:
    print(f"skipped: {s}")
PY
  echo
  echo "== done in $SECONDS s; files in $OUT:"
  ls -la "$OUT"
  return "$status"
}

# pipefail (set above): the script exits with main's status, after tee has written check.log
main "$@" 2>&1 | tee "$OUT/check.log"
