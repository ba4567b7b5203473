#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need, then
# go vet, go test (every package, with the real openssl as the independent
# verifier), and a short fuzz run of the parsers.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v xmllint >/dev/null 2>&1 || missing+=(libxml2-utils)
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Under this script a test that needs openssl, xmllint, … fails when the
# tool is missing instead of skipping.
export CONSERVA_TEST_REQUIRE_TOOLS=1

go vet ./...
go test -count=1 ./...

# Fuzz smoke run: short, on the committed seeds (pec/testdata/fuzz).
fuzztime=${CONSERVA_FUZZTIME:-15s}
go test -run '^$' -fuzz '^FuzzParse$' -fuzztime "$fuzztime" -fuzzminimizetime 5s ./pec
go test -run '^$' -fuzz '^FuzzDaticert$' -fuzztime "$fuzztime" -fuzzminimizetime 5s ./pec
go test -run '^$' -fuzz '^FuzzMbox$' -fuzztime "$fuzztime" -fuzzminimizetime 5s ./ingest
