#!/usr/bin/env bash
# Catalog at scale (issue 16): a synthetic catalog of N messages made
# directly (internal/catbench: catalog.Load, each bucket in key
# order), then catalog.db bytes per message; search by Message-ID, by
# address + date range, by subject word, and show of a dossier, p50/p99
# in a serve-style process (archive.Shared, one catalog use per query)
# with its RSS after each kind of query, first with catalog.db evicted
# from the page cache (cold: the first queries read the disk), then
# again (warm), with each kind's CPU time and page faults; peak RSS of the
# command-line search, stats and show; then catalog rebuild and audit of a
# store of M plain messages: time per million beside the floor (reading
# and hashing the same files), peak RSS.
#
#   scripts/bench.sh --section catalog [N] [M]
#   defaults: N = 1,000,000 (10,000,000 with BENCH_BIG=1), M = 100,000;
#   CONSERVA_BENCH_DIR keeps the catalog between runs (made once per N).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
[ "${BENCH_BIG:-}" = 1 ] && n=${1:-10000000}
m=${2:-100000}
work=${CONSERVA_BENCH_DIR:-}
if [ -z "$work" ]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/conserva-catbench.XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
go build -o "$work/conserva" ./cmd/conserva
go build -o "$work/catbench" ./internal/catbench/cmd/catbench

# peak CMD...: prints "seconds peak_rss_kb" (GNU time), output discarded.
peak() { /usr/bin/time -f "%e %M" -o "$work/time.out" "$@" >/dev/null 2>&1 || [ $? -eq 1 ]; cat "$work/time.out"; }

home="$work/catalog-$n"
if [ "$(cat "$home/bench-messages" 2>/dev/null)" != "$n" ]; then
  echo "making a synthetic catalog of $n messages..."
  rm -rf "$home"
  read -r gen_s gen_kb < <(peak "$work/catbench" gen -archive "$home" -n "$n" -tmp "$work")
  echo "$n" > "$home/bench-messages"
  echo "made in $gen_s s ($(python3 -c "print(round($gen_s * 1e6 / $n))") s per million), peak RSS $(( gen_kb / 1024 )) MB"
fi
echo "cold (catalog.db evicted from the page cache first):"
"$work/catbench" query -archive "$home" -n "$n" -count "${BENCH_QUERIES:-300}" -slow "${BENCH_QUERIES:-300}" -cold
echo "warm:"
"$work/catbench" query -archive "$home" -n "$n" -count "${BENCH_QUERIES:-300}" -slow "${BENCH_QUERIES:-300}"

d=$(( n / 8 + 7 ))
mid=$(printf '%08d' "$d")
midfull=$("$work/conserva" --archive "$home" search --json --subject "pratica$d" | python3 -c 'import json,sys
for l in sys.stdin:
    r=json.loads(l)
    if r.get("msgid"): print(r["msgid"]); break')
since=$(python3 -c "import datetime;print((datetime.datetime(2024,1,1)+datetime.timedelta(minutes=$d-7*1440)).strftime('%Y-%m-%d'))")
until=$(python3 -c "import datetime;print((datetime.datetime(2024,1,1)+datetime.timedelta(minutes=$d+7*1440)).strftime('%Y-%m-%d'))")
echo "command line, peak RSS (whole process: open, query, print):"
for q in "search --json --message-id $midfull" \
         "search --json --to r$(( d % 5000 ))@pec.example --since $since --until $until" \
         "search --json --subject pratica$d" \
         "search --json --subject nomatch$mid" \
         "search --json --kind accettazione --since $since --until $until" \
         "stats --json --by month" \
         "show --json $midfull"; do
  read -r s kb < <(peak "$work/conserva" --archive "$home" $q)
  printf '  %-75s %7.3f s  peak RSS %4d MB\n' "${q//$'\n'/}" "$s" $(( kb / 1024 ))
done

store="$work/store-$m"
if [ "$(cat "$store/bench-messages" 2>/dev/null)" != "$m" ]; then
  echo "writing $m plain messages into a store..."
  rm -rf "$store"
  "$work/catbench" store -archive "$store" -n "$m" 2>/dev/null
  echo "$m" > "$store/bench-messages"
fi
sync
read -r floor_s _ < <(peak bash -c "find '$store/store/messages' -type f -print0 | xargs -0 sha256sum")
rm -f "$store/catalog.db" "$store"/catalog.db.old-*
read -r reb_s reb_kb < <(peak "$work/conserva" --archive "$store" catalog rebuild --json)
read -r aud_s aud_kb < <(peak "$work/conserva" --archive "$store" audit --json)
python3 - "$m" "$floor_s" "$reb_s" "$reb_kb" "$aud_s" "$aud_kb" <<'PY'
import sys
m, floor, reb, rebkb, aud, audkb = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
per = 1e6 / m
print(f"store of {m} messages: floor (find + sha256sum) {floor:.1f} s = {floor*per:.0f} s per million")
print(f"catalog rebuild : {reb:7.1f} s = {reb*per:6.0f} s per million, ratio {reb/floor:5.2f}x floor, peak RSS {rebkb//1024} MB")
print(f"audit           : {aud:7.1f} s = {aud*per:6.0f} s per million, ratio {aud/floor:5.2f}x floor, peak RSS {audkb//1024} MB")
PY
