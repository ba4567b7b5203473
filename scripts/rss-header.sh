#!/usr/bin/env bash
# Peak RSS of ingest, seal and export for one message whose header is a
# single huge line (issue 12, case 10): the header limits must keep memory
# bounded whatever the header holds.
#
#   scripts/rss-header.sh [MB] [BINARY]      (defaults: 190, a fresh build)
set -euo pipefail
mb=${1:-190}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=${2:-}
if [ -z "$bin" ]; then
	bin="$work/conserva"
	go build -o "$bin" ./cmd/conserva
fi
python3 - "$work/src/huge.eml" "$mb" <<'PY'
import os, sys
os.makedirs(os.path.dirname(sys.argv[1]), exist_ok=True)
with open(sys.argv[1], "wb") as f:
    f.write(b"Message-ID: <")
    chunk = b"a" * (1 << 20)
    for _ in range(int(sys.argv[2])):
        f.write(chunk)
    f.write(b"@x>\r\nFrom: a@pec.example\r\n\r\nbody\r\n")
PY
id=$(sha256sum "$work/src/huge.eml" | cut -d' ' -f1)
# rss CMD...: the command's peak RSS in MB (its exit status is ignored: a
# flagged message is a finding).
rss() {
	/usr/bin/time -v "$@" >"$work/out" 2>"$work/time" || true
	awk '/Maximum resident set size/ {printf "%.0f", $6/1024}' "$work/time"
}
a="$work/archive"
echo "one message of $mb MB, its header one line"
echo "ingest : $(rss "$bin" --archive "$a" ingest --json "$work/src") MB"
grep -o '"reason":"[^"]*"' "$work/out" | head -1 || true
echo "seal   : $(rss "$bin" --archive "$a" seal --json) MB"
echo "export : $(rss "$bin" --archive "$a" export --out "$work/x.zip" "$id") MB"
echo "catalog.db: $(du -k "$a/catalog.db" | cut -f1) KB"
