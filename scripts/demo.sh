#!/usr/bin/env bash
# The main job on the embedded default, end to end: build conserva, verify
# the bundled samples, ingest them into a demo archive (local store, no
# server), show one dossier, and seal everything into a signed, timestamped
# package (development signer and TSA: no legal value). The samples are synthetic PEC signed by a
# development CA with no legal value: a dossier of envelope, accettazione,
# a delivery and a failed delivery, a tampered copy and an ordinary mail.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin
go build -o bin/conserva ./cmd/conserva
echo "built bin/conserva ($(bin/conserva version))"
trust=testdata/samples/trust.pem
archive=${CONSERVA_ARCHIVE:-$PWD/demo-archive}

echo
echo "\$ conserva verify --trust $trust testdata/samples/*.eml"
# Exit 1 is expected here: the tampered copy and the ordinary mail are not valid.
bin/conserva verify --trust "$trust" testdata/samples/*.eml || [ $? -eq 1 ]

echo
echo "\$ conserva --archive $archive ingest --trust $trust testdata/samples/*.eml"
bin/conserva --archive "$archive" ingest --trust "$trust" testdata/samples/*.eml

ref=$(bin/conserva --archive "$archive" search --json --kind accettazione | head -n 1 |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["ref_message_id"])')
echo
echo "\$ conserva --archive $archive show '$ref'"
bin/conserva --archive "$archive" show "$ref"
echo
echo "\$ conserva --archive $archive seal"
bin/conserva --archive "$archive" seal
pkg=$(ls -1d "$archive"/store/packages/*/ | tail -n 1)
pkg=${pkg%/}
echo
echo "Verify the newest package with openssl and sha256sum alone (development keys: the CA is $archive/keys/dev-ca.pem):"
cat <<CMDS
  cd '$pkg'
  openssl cms -verify -binary -inform DER -in index.xml.p7s -content index.xml -CAfile '$archive/keys/dev-ca.pem' -out /dev/null
  openssl ts -verify -data index.xml.p7s -in index.xml.p7s.tsr -CAfile '$archive/keys/dev-ca.pem'
  cd '$archive/store' && sha256sum messages/*/*.eml   # each hash is the file's name and appears in index.xml
CMDS
(
  cd "$pkg"
  openssl cms -verify -binary -inform DER -in index.xml.p7s -content index.xml -CAfile "$archive/keys/dev-ca.pem" -out /dev/null
  openssl ts -verify -data index.xml.p7s -in index.xml.p7s.tsr -CAfile "$archive/keys/dev-ca.pem"
) 2>&1 | sed 's/^/  => /'

# The evidence pack a lawyer files: exported, unzipped and checked with
# VERIFY.txt against the fingerprint of the root that must have signed it
# (here the development CA; a real archive publishes its own).
pack=$archive/fascicolo.zip
echo
echo "\$ conserva --archive $archive export --force --out $pack '$ref'"
bin/conserva --archive "$archive" export --force --out "$pack" "$ref"
root=$(openssl x509 -in "$archive/keys/dev-ca.pem" -outform DER | sha256sum | cut -c1-64)
rm -rf "$archive/fascicolo" && mkdir -p "$archive/fascicolo"
python3 -m zipfile -e "$pack" "$archive/fascicolo"
echo
echo "\$ cd $archive/fascicolo && SIGNER_ROOT_SHA256=$root TSA_ROOT_SHA256=$root sh VERIFY.txt"
(cd "$archive/fascicolo" && SIGNER_ROOT_SHA256=$root TSA_ROOT_SHA256=$root sh VERIFY.txt) | grep -v '^ok: .* is listed in the signed index' | sed 's/^/  /'
echo "  (report.html in $archive/fascicolo is the readable report)"
echo
echo "demo archive: $archive (conserva.toml, catalog.db, keys/, store/); remove it with: rm -rf '$archive'"
