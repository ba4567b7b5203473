#!/usr/bin/env bash
# Peak RSS of each command on one large message (issue 12: every command
# under 200 MB for any message up to the size limit, so a message is never
# held in memory whole). Two messages of about MB megabytes:
#   - an ordinary signed PEC (a posta-certificata envelope whose original
#     carries one large attachment), verified, ingested with its trust,
#     sealed, exported, audited, reverified;
#   - a message whose header is one huge line (archived and flagged unread).
#
#   scripts/rss.sh [MB] [BINARY]      (defaults: 190, a fresh build)
set -euo pipefail
mb=${1:-190}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=${2:-}
if [ -z "$bin" ]; then
	bin="$work/conserva"
	go build -o "$bin" ./cmd/conserva
fi
# rss CMD...: the command's peak RSS in MiB (its exit status is ignored: a
# flagged message is a finding).
rss() {
	/usr/bin/time -v "$@" >"$work/out" 2>"$work/time" || true
	awk '/Maximum resident set size/ {printf "%.0f", $6/1024}' "$work/time"
}

go build -o "$work/pecgen" ./internal/pecgen/cmd/pecgen
# base64 in 76-character lines makes the attachment 78/57 as large.
"$work/pecgen" -out "$work/signed" -n 1 -attachment $((mb * 1000000 * 57 / 78 - 100000)) >/dev/null
mv "$work/signed/trust.pem" "$work/trust.pem"
msg=$(ls "$work"/signed/*.eml)
id=$(sha256sum "$msg" | cut -d' ' -f1)
a="$work/archive"
echo "one signed PEC of $(($(stat -c %s "$msg") / 1000000)) MB (peak RSS, MiB)"
echo "  verify  : $(rss "$bin" verify --trust "$work/trust.pem" "$msg")  $(grep -o ', [a-z]*, signer' "$work/out" | head -1)"
echo "  ingest  : $(rss "$bin" --archive "$a" ingest --trust "$work/trust.pem" "$work/signed")"
echo "  seal    : $(rss "$bin" --archive "$a" seal)"
echo "  export  : $(rss "$bin" --archive "$a" export --out "$work/x.zip" "$id")"
echo "  audit   : $(rss "$bin" --archive "$a" audit)"
echo "  reverify: $(rss "$bin" --archive "$a" reverify --trust "$work/trust.pem")"

mkdir -p "$work/header"
python3 - "$work/header/huge.eml" "$mb" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    f.write(b"Message-ID: <")
    chunk = b"a" * 1000000
    for _ in range(int(sys.argv[2])):
        f.write(chunk)
    f.write(b"@x>\r\nFrom: a@pec.example\r\n\r\nbody\r\n")
PY
id=$(sha256sum "$work/header/huge.eml" | cut -d' ' -f1)
a="$work/archive2"
echo "one message of $mb MB, its header one line (peak RSS, MiB)"
echo "  ingest  : $(rss "$bin" --archive "$a" ingest --json "$work/header")  $(grep -o '"reason":"[^"]*"' "$work/out" | head -1)"
echo "  seal    : $(rss "$bin" --archive "$a" seal)"
echo "  export  : $(rss "$bin" --archive "$a" export --out "$work/y.zip" "$id")"
echo "catalog.db: $(du -k "$a/catalog.db" | cut -f1) KB"
