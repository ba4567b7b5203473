#!/usr/bin/env bash
# Benches, each printing conserva's figure beside a baseline measured on the
# same data in the same run, and their ratio (best of BENCH_RUNS runs each).
#
#   scripts/bench.sh [--section NAME]... [--runs K] [N] [ATTACHMENT_BYTES] [HUGE_MB]
#   defaults: every section but imap and s3; 2000 messages of 50 KB; a 1024 MB message; 3 runs
#
# Sections:
#   ingest  files: cp -r + sha256sum (+ sync: the durable floor) against conserva ingest of the
#           files, of one mbox and of a Maildir holding the same messages; peak RSS; and the
#           PEC work alone (internal/pecgen/cmd/pecwork: read, hash, parse, verify; nothing stored)
#   huge    one HUGE_MB message: durable floor against conserva ingest; peak RSS
#   seal    BenchmarkSeal: 100,000 catalogued messages into one package
#   audit   conserva audit against sha256sum over the stored files (runs ingest first if needed)
#   imap    a local Dovecot holding N PEC: imaplib, conserva from the files, conserva over IMAP
#   s3      a local MinIO: minio-go PUTs of the same objects against conserva ingest
#           (needs MinIO in $CONSERVA_CACHE/bin, as scripts/test.sh builds it;
#           BENCH_S3_WORKERS, default 32, for both)
#   memory  peak RSS of every command that reads the whole catalog or store, on the N
#           messages ingested and sealed (target < 150 MB whatever N): searches,
#           audit, catalog check, reverify, export of one message, scarto propose,
#           catalog rebuild
#   catalog the catalog at scale, alone: scripts/bench-catalog.sh [N] [M] (its own
#           arguments: a synthetic catalog of 1,000,000 messages; BENCH_BIG=1 10,000,000)
set -euo pipefail
cd "$(dirname "$0")/.."
sections=()
runs=${BENCH_RUNS:-3}
pos=()
while (($#)); do
  case $1 in
    --section) sections+=("$2"); shift 2 ;;
    --section=*) sections+=("${1#--section=}"); shift ;;
    --runs) runs=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) pos+=("$1"); shift ;;
  esac
done
set -- "${pos[@]+"${pos[@]}"}"
if [ "${sections[*]:-}" = catalog ]; then
  exec scripts/bench-catalog.sh "$@"
fi
if ((${#sections[@]} == 0)); then
  sections=(ingest huge)
  [ "${BENCH_SEAL:-1}" = 1 ] && sections+=(seal)
  [ "${BENCH_AUDIT:-1}" = 1 ] && sections+=(audit memory)
fi
want() { local s; for s in "${sections[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }
for s in "${sections[@]}"; do
  case $s in ingest|huge|seal|audit|memory|imap|s3) ;; catalog) echo "--section catalog runs alone" >&2; exit 2 ;; *) echo "unknown section $s (ingest huge seal audit memory imap s3 catalog)" >&2; exit 2 ;; esac
done
n=${1:-2000}
attach=${2:-51200}
huge_mb=${3:-1024}
work=$(mktemp -d "${TMPDIR:-/tmp}/conserva-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

go build -o "$work/conserva" ./cmd/conserva
go build -o "$work/pecgen" ./internal/pecgen/cmd/pecgen
go build -o "$work/pecwork" ./internal/pecgen/cmd/pecwork

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

# aside DIR: moves DIR out of the way (into $work/trash, removed at exit)
# instead of removing it. Removing 100,000 files just before a measured run
# made every file created in the next minutes cost more (ext4 steps over
# recently freed inodes one by one when it allocates: a fifth of conserva's
# CPU and up to twice the floor's time, depending on what the run before
# it removed); a moved copy frees nothing.
aside() {
  [ -e "$1" ] || return 0
  mkdir -p "$work/trash"
  mv "$1" "$(mktemp -u "$work/trash/$(basename "$1").XXXXXX")"
}

# best K CMD...: the shortest of K runs of CMD (BEFORE, when set, runs
# untimed before each: a fresh archive, no dirty pages); prints "seconds peak_rss_kb".
best() {
  local k=$1 b_s="" b_rss=0 s rss; shift
  for _ in $(seq 1 "$k"); do
    [ -n "${BEFORE:-}" ] && eval "$BEFORE"
    read -r s rss < <(measure "$@")
    if [ -z "$b_s" ] || python3 -c "import sys; sys.exit(0 if $s < $b_s else 1)"; then b_s=$s; fi
    ((rss > b_rss)) && b_rss=$rss
  done
  echo "$b_s $b_rss"
}

if want ingest || want audit || want memory; then
  echo "generating $n signed PEC envelopes with a ${attach}-byte attachment..."
  "$work/pecgen" -out "$work/src" -n "$n" -attachment "$attach" >/dev/null
  rm -f "$work/src/trust.pem.eml"
  bytes=$(du -sb --exclude=trust.pem "$work/src" | cut -f1)
  sync
fi

if want ingest; then
  # Every measurement starts with no dirty pages, so that none pays for the
  # previous one's writeback.
  hashall="find '$work/floor' -name '*.eml' -print0 | xargs -0 sha256sum >/dev/null"
  # The same messages in one mbox (mboxrd, as `ingest` reads it) and in a
  # Maildir's cur/: what they store is what the files store, so the floor
  # is the same.
  python3 - "$work/src" "$work/all.mbox" "$work/maildir" <<'PY'
import os, re, sys
src, mbox, md = sys.argv[1:4]
for d in ("cur", "new", "tmp"):
    os.makedirs(os.path.join(md, d), exist_ok=True)
quote = re.compile(rb"^(>*From )", re.M)
with open(mbox, "wb") as out:
    for name in sorted(os.listdir(src)):
        if not name.endswith(".eml"):
            continue
        b = open(os.path.join(src, name), "rb").read()
        out.write(b"From bench@conserva Mon Nov 30 00:00:00 2026\n")
        out.write(quote.sub(rb">\1", b))
        out.write(b"\n" if b.endswith(b"\n") else b"\n\n")
        os.link(os.path.join(src, name), os.path.join(md, "cur", name + ":2,S"))
PY
  sync
  # Round after round, each measure once per round, so that none gains or
  # loses by coming first or last (the disk's and the page cache's state
  # drift over a long bench); the best of the rounds is kept for each.
  # Every measurement starts with no dirty pages, so that none pays for the
  # previous one's writeback.
  declare -A bs brss
  keep() { # keep NAME SECONDS RSS
    if [ -z "${bs[$1]:-}" ] || python3 -c "import sys; sys.exit(0 if $2 < ${bs[$1]} else 1)"; then bs[$1]=$2; fi
    ((${3} > ${brss[$1]:-0})) && brss[$1]=$3
    return 0
  }
  for _ in $(seq 1 "$runs"); do
    aside "$work/floor"; sync
    read -r s rss < <(measure bash -c "cp -r '$work/src' '$work/floor' && $hashall"); keep floor "$s" "$rss"
    # The durable floor: the same, and the copy on disk before it ends
    # (conserva makes every object durable before it catalogues it).
    aside "$work/floor"; sync
    read -r s rss < <(measure bash -c "cp -r '$work/src' '$work/floor' && $hashall && sync"); keep dfloor "$s" "$rss"
    aside "$work/floor"
    # What an ingest does in package pec alone (read, hash, parse, verify,
    # list attachments; nothing stored or catalogued): the part of the
    # ingest's time that no store or catalog can take away.
    read -r s rss < <(measure "$work/pecwork" -trust "$work/src/trust.pem" "$work/src"); keep pecwork "$s" "$rss"
    for kind in files mbox maildir; do
      case $kind in files) in="$work/src" ;; mbox) in="$work/all.mbox" ;; maildir) in="$work/maildir" ;; esac
      aside "$work/archive-$kind"; sync
      read -r s rss < <(measure "$work/conserva" --archive "$work/archive-$kind" ingest --json --trust "$work/src/trust.pem" "$in"); keep "$kind" "$s" "$rss"
    done
  done
  sync
  read -r again_s _ < <(measure "$work/conserva" --archive "$work/archive-files" ingest --json --trust "$work/src/trust.pem" "$work/src")
  floor_s=${bs[floor]} dfloor_s=${bs[dfloor]} ing_s=${bs[files]} ing_rss=${brss[files]} pw_s=${bs[pecwork]}
  mbox_s=${bs[mbox]} mbox_rss=${brss[mbox]} md_s=${bs[maildir]} md_rss=${brss[maildir]}
  aside "$work/archive"; mv "$work/archive-files" "$work/archive" # the audit and memory sections go on with it
  aside "$work/archive-mbox"; aside "$work/archive-maildir"
  rm -rf "$work/all.mbox" "$work/maildir"
  python3 - "$n" "$bytes" "$floor_s" "$dfloor_s" "$ing_s" "$ing_rss" "$again_s" "$runs" "$mbox_s" "$mbox_rss" "$md_s" "$md_rss" "$pw_s" <<'PY'
import sys
n, b = int(sys.argv[1]), int(sys.argv[2])
floor, dfloor, ing, rss, again, runs = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7]), sys.argv[8]
mbox, mbox_rss, md, md_rss = float(sys.argv[9]), int(sys.argv[10]), float(sys.argv[11]), int(sys.argv[12])
pw = float(sys.argv[13])
print(f"ingest: {n} messages, {b/1e6:.1f} MB (best of {runs} rounds, each measure once per round)")
print(f"  floor   cp -r + sha256sum        : {floor:7.3f} s")
print(f"  durable cp -r + sha256sum + sync : {dfloor:7.3f} s")
print(f"  PEC work alone (nothing stored)  : {pw:7.3f} s  ratio {pw/dfloor:5.2f}x durable floor: read, hash, parse, verify, attachments on every core")
for label, s, r in (("conserva ingest (files)", ing, rss), ("conserva ingest (one mbox)", mbox, mbox_rss), ("conserva ingest (Maildir)", md, md_rss)):
    print(f"  {label:32s} : {s:7.3f} s  ratio {s/floor:5.2f}x floor, {s/dfloor:5.2f}x durable floor (target <= 1.5x); {n/s:6.0f} messages/s, {b/s/1e6:6.1f} MB/s, peak RSS {r/1024:.0f} MB")
print(f"  re-ingest (all duplicates)       : {again:7.3f} s  {n/again:6.0f} messages/s")
PY
fi

if want huge; then
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
  rm -rf "$work/huge.eml" "$work/archive-huge"
  python3 - "$huge_mb" "$hfloor_s" "$huge_s" "$huge_rss" <<'PY'
import sys
mb, floor, s, rss = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
print(f"huge: {mb} MB message: durable floor cp + sha256sum + sync {floor:.3f} s; conserva ingest {s:.3f} s (ratio {s/floor:.2f}x), peak RSS {rss/1024:.0f} MB")
PY
fi

# Seal: 100,000 catalogued messages into one package (one signature, one
# timestamp, the evidence records); the figures are the Go benchmark's,
# beside the floor it measures after the seal: writing, hashing and syncing
# as many bytes as the seal stored.
if want seal; then
  echo "sealing 100,000 catalogued messages..."
  go test ./archive -run '^$' -bench '^BenchmarkSeal$' -benchtime 1x -timeout 30m | grep -E '^BenchmarkSeal' |
    awk '{for (i = 3; i < NF; i += 2) m[$(i+1)] = $i
      printf "seal of 100000 messages: floor (write + sha256 + fsync of the same %.0f MB) %.1f s; conserva seal %.1f s, %s messages/s, %d files (ratio %.2fx; target < 30 s)\n", m["MB"], m["floor-s"], m["ns/op"]/1e9, m["messages/s"], m["files"], m["x-floor"]}'
fi

# Audit: read back and hash every stored message, against sha256sum over the
# same files.
if want audit; then
  if [ ! -d "$work/archive" ]; then
    "$work/conserva" --archive "$work/archive" ingest --json --trust "$work/src/trust.pem" "$work/src" >/dev/null
  fi
  sync
  read -r sha_s _ < <(measure bash -c "find '$work/archive/store/messages' -type f -print0 | xargs -0 sha256sum >/dev/null")
  read -r audit_s _ < <(measure "$work/conserva" --archive "$work/archive" audit --json)
  python3 - "$bytes" "$sha_s" "$audit_s" <<'PY'
import sys
b, sha, aud = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
print(f"audit: sha256sum {sha:.3f} s ({b/sha/1e6:.0f} MB/s); conserva audit {aud:.3f} s ({b/aud/1e6:.0f} MB/s) = {sha/aud*100:.0f}% of sha256sum's throughput (target >= 80%)")
PY
fi

# Memory: peak RSS of each command that reads the whole catalog or store,
# on the N messages ingested and sealed in one package. Each is printed
# beside the target; none of them may grow with N.
if want memory; then
  echo "memory: peak RSS on $n messages, sealed (target < 150 MB whatever the number):"
  if [ ! -d "$work/archive" ]; then
    read -r s rss < <(measure "$work/conserva" --archive "$work/archive" ingest --json --trust "$work/src/trust.pem" "$work/src")
    printf '  %-42s %8.1f s  peak RSS %4d MB\n' "ingest" "$s" $((rss / 1024))
  fi
  read -r s rss < <(measure "$work/conserva" --archive "$work/archive" seal --json)
  printf '  %-42s %8.1f s  peak RSS %4d MB (one package: bounded by max_package_messages, not the archive)\n' "seal" "$s" $((rss / 1024))
  "$work/conserva" --archive "$work/archive" search --json --kind posta-certificata >"$work/envelopes.json"
  one=$(python3 -c 'import json, sys; print(json.loads(open(sys.argv[1]).readline())["id"])' "$work/envelopes.json")
  while IFS='|' read -r label args; do
    # shellcheck disable=SC2086
    read -r s rss < <(measure "$work/conserva" --archive "$work/archive" $args)
    printf '  %-42s %8.1f s  peak RSS %4d MB\n' "$label" "$s" $((rss / 1024))
  done <<EOF2
search, a subject word nothing has|search --json --subject zzzznessuno
search, every message by date|search --json --since 2000-01-01
search, every envelope by kind|search --json --kind posta-certificata
audit|audit --json
catalog check|catalog check --json
reverify|reverify --json
export of one message|export --out $work/one.zip $one
scarto propose (nothing due)|scarto propose --json
catalog rebuild|catalog rebuild --json
EOF2
fi

# IMAP: the Go benchmark starts its own Dovecot (as the IMAP tests do).
if want imap; then
  echo "imap: delivering $n PEC to a local Dovecot..."
  CONSERVA_BENCH_N=$n CONSERVA_BENCH_ATTACH=$attach CONSERVA_BENCH_RUNS=$runs CONSERVA_TEST_DOVECOT=${CONSERVA_TEST_DOVECOT:-/usr/sbin/dovecot} \
    go test ./cmd/conserva -run '^$' -bench '^BenchmarkIMAPIngest$' -benchtime 1x -timeout 60m | grep -vE '^(goos|goarch|pkg|cpu|PASS|ok|Benchmark)'
fi

# S3: a throwaway MinIO on a free loopback port, as scripts/test.sh starts it.
if want s3; then
  minio=${CONSERVA_CACHE:-$PWD/.cache}/bin/minio
  if [ ! -x "$minio" ]; then echo "s3: no MinIO at $minio (run scripts/test.sh once, or set CONSERVA_CACHE)" >&2; exit 1; fi
  free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
  s3port=$(free_port)
  export AWS_ACCESS_KEY_ID="bench$RANDOM" AWS_SECRET_ACCESS_KEY="$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')" AWS_REGION=us-east-1
  MINIO_ROOT_USER=$AWS_ACCESS_KEY_ID MINIO_ROOT_PASSWORD=$AWS_SECRET_ACCESS_KEY \
    "$minio" server "$work/minio" --address "127.0.0.1:$s3port" --console-address "127.0.0.1:$(free_port)" --quiet >"$work/minio.log" 2>&1 &
  minio_pid=$!
  trap 'kill "$minio_pid" 2>/dev/null; wait "$minio_pid" 2>/dev/null; rm -rf "$work"' EXIT
  for _ in $(seq 1 120); do
    curl -sf "http://127.0.0.1:$s3port/minio/health/live" >/dev/null && break
    sleep 0.5
  done
  echo "s3: $n PEC to a local MinIO..."
  CONSERVA_TEST_S3_ENDPOINT="http://127.0.0.1:$s3port" CONSERVA_BENCH_N=$n CONSERVA_BENCH_ATTACH=$attach CONSERVA_BENCH_RUNS=$runs \
    CONSERVA_BENCH_WORKERS=${BENCH_S3_WORKERS:-32} \
    go test ./cmd/conserva -run '^$' -bench '^BenchmarkS3Ingest$' -benchtime 1x -timeout 60m | grep -vE '^(goos|goarch|pkg|cpu|PASS|ok|Benchmark)'
fi
