#!/usr/bin/env bash
# Ingest bench: prints conserva's figures beside the physical floor measured
# on the same data in the same run (cp -r + sha256sum), their ratio,
# messages/s and peak RSS; then the peak RSS of ingesting one huge message.
#
#   scripts/bench.sh [--section ingest|catalog] [N] [ATTACHMENT_BYTES] [HUGE_MB]
#   defaults: 2000 messages of 50 KB, a 1024 MB message
set -euo pipefail
cd "$(dirname "$0")/.."
# One section: --section catalog (scripts/bench-catalog.sh: the catalog at
# scale) or --section ingest (this script).
if [ "${1:-}" = --section ]; then
  case "${2:-}" in
    catalog) shift 2; exec scripts/bench-catalog.sh "$@" ;;
    ingest) shift 2 ;;
    *) echo "bench.sh: --section catalog|ingest" >&2; exit 2 ;;
  esac
fi
n=${1:-2000}
attach=${2:-51200}
huge_mb=${3:-1024}
work=$(mktemp -d "${TMPDIR:-/tmp}/conserva-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

go build -o "$work/conserva" ./cmd/conserva
go build -o "$work/pecgen" ./internal/pecgen/cmd/pecgen

# measure CMD...: prints "seconds peak_rss_kb" of the command (children included).
measure() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.perf_counter()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
el = time.perf_counter() - t
if r.returncode not in (0, 1):
    sys.exit("command failed: %s (exit %d)" % (" ".join(sys.argv[1:]), r.returncode))
print("%.3f %d" % (el, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
PY
}

echo "generating $n signed PEC envelopes with a ${attach}-byte attachment..."
"$work/pecgen" -out "$work/src" -n "$n" -attachment "$attach"
rm -f "$work/src/trust.pem.eml"
bytes=$(du -sb "$work/src" | cut -f1)
sync

# Every measurement starts with no dirty pages, so that none pays for the
# previous one's writeback.
read -r floor_s _ < <(measure bash -c "cp -r '$work/src' '$work/floor' && sha256sum '$work/floor'/*.eml >/dev/null")
rm -rf "$work/floor"; sync
# The durable floor: the same, and the copy on disk before it ends (conserva
# fsyncs every object before it catalogues it).
read -r dfloor_s _ < <(measure bash -c "cp -r '$work/src' '$work/floor' && sha256sum '$work/floor'/*.eml >/dev/null && sync")
rm -rf "$work/floor"; sync
read -r ing_s ing_rss < <(measure "$work/conserva" --archive "$work/archive" ingest --json --trust "$work/src/trust.pem" "$work/src")
sync
read -r again_s _ < <(measure "$work/conserva" --archive "$work/archive" ingest --json --trust "$work/src/trust.pem" "$work/src")

python3 - "$n" "$bytes" "$floor_s" "$dfloor_s" "$ing_s" "$ing_rss" "$again_s" <<'PY'
import sys
n, b = int(sys.argv[1]), int(sys.argv[2])
floor, dfloor, ing, rss, again = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
print(f"data: {n} messages, {b/1e6:.1f} MB")
print(f"floor   cp -r + sha256sum        : {floor:7.3f} s")
print(f"durable cp -r + sha256sum + sync : {dfloor:7.3f} s")
print(f"conserva ingest                  : {ing:7.3f} s  ratio {ing/floor:5.2f}x floor, {ing/dfloor:5.2f}x durable floor; {n/ing:6.0f} messages/s, {b/ing/1e6:6.1f} MB/s, peak RSS {rss/1024:.0f} MB")
print(f"re-ingest (all duplicates)       : {again:7.3f} s  {n/again:6.0f} messages/s")
PY

echo "writing a ${huge_mb} MB message..."
python3 - "$work/huge.eml" "$huge_mb" <<'PY'
import base64, os, sys
path, mb = sys.argv[1], int(sys.argv[2])
with open(path, "wb") as f:
    f.write(b"From: a@pec.example\r\nTo: b@pec.example\r\nSubject: huge\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
    chunk = base64.encodebytes(os.urandom(57 * 1024 * 16))
    while f.tell() < mb * 1024 * 1024:
        f.write(chunk)
PY
sync
read -r hfloor_s _ < <(measure bash -c "cp '$work/huge.eml' '$work/huge.copy' && sha256sum '$work/huge.copy' >/dev/null && sync")
rm -f "$work/huge.copy"; sync
read -r huge_s huge_rss < <(measure "$work/conserva" --archive "$work/archive-huge" ingest --json "$work/huge.eml")
python3 - "$huge_mb" "$hfloor_s" "$huge_s" "$huge_rss" <<'PY'
import sys
mb, floor, s, rss = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
print(f"{mb} MB message: durable floor cp + sha256sum + sync {floor:.3f} s; conserva ingest {s:.3f} s (ratio {s/floor:.2f}x), peak RSS {rss/1024:.0f} MB")
PY

# Seal: 100,000 catalogued messages into one package (one signature, one
# timestamp); the figure is the Go benchmark's.
if [ "${BENCH_SEAL:-1}" = 1 ]; then
  echo "sealing 100,000 catalogued messages..."
  go test ./archive -run '^$' -bench '^BenchmarkSeal$' -benchtime 1x -timeout 30m | grep -E '^BenchmarkSeal' |
    awk '{printf "seal of 100000 messages: %.1f s, %s messages/s (target < 30 s)\n", $3/1e9, $5}'
fi

# Audit: read back and hash every stored message, against sha256sum over the
# same files.
if [ "${BENCH_AUDIT:-1}" = 1 ]; then
  sync
  read -r sha_s _ < <(measure bash -c "find '$work/archive/store/messages' -type f -print0 | xargs -0 sha256sum >/dev/null")
  read -r audit_s _ < <(measure "$work/conserva" --archive "$work/archive" audit --json)
  python3 - "$bytes" "$sha_s" "$audit_s" <<'PY'
import sys
b, sha, aud = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
print(f"audit: sha256sum {sha:.3f} s ({b/sha/1e6:.0f} MB/s); conserva audit {aud:.3f} s ({b/aud/1e6:.0f} MB/s) = {sha/aud*100:.0f}% of sha256sum's throughput (target >= 80%)")
PY
fi
