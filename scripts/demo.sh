#!/usr/bin/env bash
# The main job on the embedded default, end to end: build conserva, then
# verify the bundled samples (synthetic PEC signed by a development CA with
# no legal value: a dossier of envelope, accettazione, consegna and a failed
# delivery, a tampered copy and an ordinary mail).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin
go build -o bin/conserva ./cmd/conserva
echo "built bin/conserva ($(bin/conserva version))"
echo
echo "\$ conserva verify --trust testdata/samples/trust.pem testdata/samples/*.eml"
status=0
bin/conserva verify --trust testdata/samples/trust.pem testdata/samples/*.eml || status=$?
echo
# Exit 1 is expected: the samples include a tampered message and an ordinary mail.
if [ "$status" -eq 1 ]; then
  echo "demo: done (exit 1 from verify is expected: the tampered and the ordinary mail are not valid)"
  exit 0
fi
exit "$status"
