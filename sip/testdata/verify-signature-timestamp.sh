#!/bin/sh
# Verifies the CAdES-T signature timestamp of a p7s with openssl alone (sh,
# grep, openssl): extracts the id-aa-signatureTimeStampToken and the
# SignerInfo's signature value, then `openssl ts -verify` checks the token
# over those octets against the TSA root given.
# Usage: sh verify-signature-timestamp.sh SIGNATURE.p7s TSA-ROOT.pem
# Writes token.der, sigvalue.cnf, sigvalue.p7 and sigvalue.bin in the
# current directory. Exits non-zero on any failure.
set -e
p7s=$1 root=$2
dump=$(openssl asn1parse -inform DER -in "$p7s")
# The token is the SEQUENCE inside the attribute's SET.
line=$(printf '%s\n' "$dump" | grep -A2 ':id-smime-aa-timeStampToken$' | grep 'cons: SEQUENCE') || {
	echo "$p7s: no signature timestamp (id-aa-signatureTimeStampToken)"; exit 1; }
off=${line%%:*}; off=${off##* }
openssl asn1parse -inform DER -in "$p7s" -offset "$off" -noout -out token.der
# The signature value is the OCTET STRING right before the SignerInfo's
# unsignedAttrs [1] (depth 5 in a SignedData).
line=$(printf '%s\n' "$dump" | grep -B1 'd=5 .*cons: cont \[ 1 \]' | grep 'prim: OCTET STRING') || {
	echo "$p7s: no signature value before the unsigned attributes"; exit 1; }
hex=${line##*:}
# Hex to bytes with openssl only: wrap them as CMS id-data, then unwrap.
printf 'asn1=SEQUENCE:ci\n[ci]\ntype=OID:pkcs7-data\ncontent=EXPLICIT:0,FORMAT:HEX,OCTETSTRING:%s\n' "$hex" > sigvalue.cnf
openssl asn1parse -genconf sigvalue.cnf -noout -out sigvalue.p7
openssl cms -data_out -inform DER -in sigvalue.p7 -out sigvalue.bin
openssl ts -verify -token_in -in token.der -data sigvalue.bin -CAfile "$root"
