package evidencepack

import (
	"bytes"
	"fmt"
)

// ersShell checks a message's evidence record (RFC 4998) with sh,
// sha256sum, openssl and grep only, as docs/ERS.md describes by hand: the
// message's SHA-256 must be in the first list of the first archive
// timestamp's reduced hash tree; climbing the tree (each pair hashed
// smaller first) gives the root; openssl ts checks the first archive
// timestamp (cut out of the record by asn1parse, through a pipe) over that
// root. Later timestamps (renewals) are left to conserva verify-ers or
// Bouncy Castle. Nothing is written to the pack folder.
const ersShell = `D=0123456789ABCDEF
up() { s=$1; o=; while [ -n "$s" ]; do r=${s#?}; c=${s%"$r"}; s=$r; case $c in a) c=A;; b) c=B;; c) c=C;; d) c=D;; e) c=E;; f) c=F;; esac; o=$o$c; done; printf '%s' "$o"; }
hbin() { s=$1; e=; while [ -n "$s" ]; do r=${s#??}; p=${s%"$r"}; s=$r; v=$((0x$p)); e="$e\\$((v/64))$((v/8%8))$((v%8))"; done; printf "$e"; }
hh() { h=$(hbin "$1" | sha256sum); up "${h%% *}"; }
lt() { a=$1; b=$2; while [ -n "$a" ]; do ra=${a#?}; ca=${a%"$ra"}; rb=${b#?}; cb=${b%"$rb"}; if [ "$ca" != "$cb" ]; then x=${D%%"$ca"*}; y=${D%%"$cb"*}; [ ${#x} -lt ${#y} ]; return; fi; a=$ra; b=$rb; done; return 1; }
pair() { if lt "$1" "$2"; then hh "$1$2"; else hh "$2$1"; fi; }
ers() { # record data tsa-root attime
  h=$(sha256sum < "$2"); h=$(up "${h%% *}")
  if ! lines=$(openssl asn1parse -inform DER -in "$1" 2>&1); then bad "$1: not a DER evidence record: $lines"; return; fi
  lists=0; first=; rest=; tok=; skip=
  while IFS= read -r line; do
    # cryptoInfos ([0] at depth 1: certificates and CRLs) is passed over.
    case $line in
      *"d=1 "*"cont [ 0 ]"*) skip=1; continue;;
      *"d=1 "*) skip=;;
    esac
    [ -n "$skip" ] && continue
    case $line in
      *"d=4 "*"cons: SEQUENCE"*) tok=$line; break;;
      *"d=5 "*"cons: SEQUENCE"*) lists=$((lists+1));;
      *"d=6 "*"OCTET STRING"*"[HEX DUMP]:"*) v=${line##*:}; if [ $lists -eq 1 ]; then first="$first $v"; else rest="$rest $v"; fi;;
    esac
  done <<EOF
$lines
EOF
  if [ -z "$tok" ]; then bad "$1: no archive timestamp found"; return; fi
  if [ $lists -eq 0 ]; then cur=$h; else
    case " $first " in *" $h "*) ;; *) bad "$1: the SHA-256 of $2 ($h) is not in the record's hash tree: the file is not the one timestamped"; return;; esac
    set -- "$1" "$2" "$3" "$4" $first
    if [ $# -eq 5 ]; then cur=$5; elif [ $# -eq 6 ]; then cur=$(pair "$5" "$6"); else bad "$1: a first hash list of $(($#-4)) values: not checked here"; return; fi
    for v in $rest; do cur=$(pair "$cur" "$v"); done
  fi
  off=${tok%%:*}; hl=${tok#*hl=}; hl=${hl%% *}; l=${tok#* l=}; l=${l# }; l=${l%% *}
  if out=$(openssl asn1parse -inform DER -in "$1" -offset $off -length $((hl+l)) -noout -out /dev/stdout | openssl ts -verify -digest "$cur" -token_in -in /dev/stdin -CAfile "$3" -attime "$4" 2>&1); then
    ok "$2: its evidence record's hash path leads to $cur, timestamped under $3 (first archive timestamp of $1)"
  else bad "$1: the first archive timestamp does not verify over $cur under $3: $out"; fi
}
`

// writeERSChecks adds section 7 of VERIFY.txt: each message's evidence
// record, its first archive timestamp judged at its own time.
func writeERSChecks(b *bytes.Buffer, rep *Report, manifestTSA string) {
	var calls []string
	for _, m := range rep.Messages {
		if m.EvidenceRecord == "" {
			continue
		}
		root, at := m.ERSRoot, int64(0)
		if root == "" {
			root = manifestTSA // under no pinned root: the check fails, as it must
		}
		if m.ProvenAt != nil {
			at = m.ProvenAt.Unix()
		} else {
			at = rep.ExportedAt.Unix()
		}
		calls = append(calls, fmt.Sprintf("ers %s %s %s %d\n", m.EvidenceRecord, m.File, root, at))
	}
	if len(calls) == 0 {
		return
	}
	b.WriteString("\n# 7. Evidence records (RFC 4998, ers/): each message's SHA-256 climbs its record's hash tree to\n")
	b.WriteString("#    the root that the first archive timestamp covers (docs/ERS.md of conserva, by hand); openssl\n")
	b.WriteString("#    checks that timestamp under the TSA root above. Renewals: conserva verify-ers FILE.ers DATA.\n")
	b.WriteString(ersShell)
	for _, c := range calls {
		b.WriteString(c)
	}
}
