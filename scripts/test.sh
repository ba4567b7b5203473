#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need (openssl,
# xmllint, curl, chromium, dovecot-imapd, a JDK with Bouncy Castle; MinIO built once into .cache), starts a throwaway MinIO, then
# go vet, go test (every package, with the real openssl and xmllint as the
# independent verifiers), and a short fuzz run of the parsers.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v xmllint >/dev/null 2>&1 || missing+=(libxml2-utils)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)   # renders report.html in a test
[ -x /usr/sbin/dovecot ] || missing+=(dovecot-imapd)          # a real IMAP server for the IMAP tests
command -v javac >/dev/null 2>&1 || missing+=(default-jdk-headless)   # Bouncy Castle, the second
[ -f /usr/share/java/bcpkix.jar ] || missing+=(libbcpkix-java)        # implementation of CAdES and RFC 4998
[ -x /usr/bin/time ] || missing+=(time)   # a command's peak RSS, apart from the test process's
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Under this script a test that needs openssl, xmllint, MinIO, … fails when
# the tool is missing instead of skipping.
export CONSERVA_TEST_REQUIRE_TOOLS=1

# A real MinIO for the S3 tests: built once into .cache/bin (git-ignored;
# about 4 minutes the first time), started on a free loopback port with
# throwaway credentials, stopped on exit.
cache=${CONSERVA_CACHE:-$PWD/.cache}
minio=$cache/bin/minio
if [ ! -x "$minio" ]; then
  echo "building MinIO into $cache/bin (first time only, about 4 minutes)..."
  GOBIN=$cache/bin go install github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
s3port=$(free_port)
s3dir=$(mktemp -d)
export AWS_ACCESS_KEY_ID="conserva$RANDOM" AWS_SECRET_ACCESS_KEY="$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')" AWS_REGION=us-east-1
MINIO_ROOT_USER=$AWS_ACCESS_KEY_ID MINIO_ROOT_PASSWORD=$AWS_SECRET_ACCESS_KEY \
  "$minio" server "$s3dir/drive" --address "127.0.0.1:$s3port" --console-address "127.0.0.1:$(free_port)" --quiet >"$s3dir/minio.log" 2>&1 &
minio_pid=$!
trap 'kill "$minio_pid" 2>/dev/null; wait "$minio_pid" 2>/dev/null; rm -rf "$s3dir"' EXIT
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$s3port/minio/health/live" >/dev/null && break
  sleep 0.5
done
if ! curl -sf "http://127.0.0.1:$s3port/minio/health/live" >/dev/null; then
  echo "MinIO did not start:"; cat "$s3dir/minio.log"; exit 1
fi
export CONSERVA_TEST_S3_ENDPOINT="http://127.0.0.1:$s3port"
export CONSERVA_TEST_MINIO="$minio"
# The IMAP tests start their own throwaway Dovecots (config in a temp dir).
export CONSERVA_TEST_DOVECOT=/usr/sbin/dovecot

go vet ./...
# A loaded machine can take cmd/conserva past go test's default 10 minutes.
go test -count=1 -timeout 30m ./...

# Fuzz smoke run on the committed seeds (pec/testdata/fuzz). Counted in
# executions, not seconds: a time limit that expires during minimisation makes
# go test report "context deadline exceeded" as a failure.
go test -run '^$' -fuzz '^FuzzParse$' -fuzztime "${CONSERVA_FUZZ_PARSE:-30000x}" -fuzzminimizetime 200x ./pec
go test -run '^$' -fuzz '^FuzzDaticert$' -fuzztime "${CONSERVA_FUZZ_DATICERT:-50000x}" -fuzzminimizetime 200x ./pec
go test -run '^$' -fuzz '^FuzzMbox$' -fuzztime "${CONSERVA_FUZZ_MBOX:-10000x}" -fuzzminimizetime 200x ./ingest
go test -run '^$' -fuzz '^FuzzMultipartParts$' -fuzztime "${CONSERVA_FUZZ_PARTS:-10000x}" -fuzzminimizetime 200x ./pec
go test -run '^$' -fuzz '^FuzzBase64Body$' -fuzztime "${CONSERVA_FUZZ_BASE64:-10000x}" -fuzzminimizetime 200x ./pec
go test -run '^$' -fuzz '^FuzzDecodeRecord$' -fuzztime "${CONSERVA_FUZZ_RECORD:-20000x}" -fuzzminimizetime 200x ./catalog
go test -run '^$' -fuzz '^FuzzLooksLikeMessage$' -fuzztime "${CONSERVA_FUZZ_SNIFF:-20000x}" -fuzzminimizetime 200x ./ingest
go test -run '^$' -fuzz '^FuzzParse$' -fuzztime "${CONSERVA_FUZZ_ERS:-20000x}" -fuzzminimizetime 200x ./ers
go test -run '^$' -fuzz '^FuzzDecode$' -fuzztime "${CONSERVA_FUZZ_WEB:-5000x}" -fuzzminimizetime 200x ./web

