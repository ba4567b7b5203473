package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/pec"
	"github.com/conserva/conserva/storage"
	"github.com/minio/minio-go/v7"
)

// TestS3ArchiveEndToEnd: ingest and seal on MinIO leave every object locked
// for ten years; deleting catalog.db loses nothing; legal hold reaches the
// store.
func TestS3ArchiveEndToEnd(t *testing.T) {
	ep := testutil.S3Endpoint(t)
	bucket := fmt.Sprintf("conserva-e2e-%d", time.Now().UnixNano())
	t.Setenv("AWS_ENDPOINT_URL", ep)
	t.Setenv("CONSERVA_STORE", "s3://"+bucket+"/archivio")
	set := fixtures(t)
	home := filepath.Join(t.TempDir(), "archive")
	src := t.TempDir()
	files, err := set.Provider.Dossier("Pignoramento", []string{"ok@pec.example"}, []string{"ko@pec.example"}, []byte("pdf"), set.CA.Cert.NotBefore.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range files {
		os.WriteFile(filepath.Join(src, name), raw, 0o644)
	}
	cfg := []string{"--archive", home}
	if r := conserva(t, append(cfg, "ingest", "--json", "--trust", set.TrustPEM, src)...); r.code != 0 || !strings.Contains(r.stdout, `"archived":4`) {
		t.Fatalf("ingest on S3: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := conserva(t, append(cfg, "seal", "--json")...); r.code != 0 || !strings.Contains(r.stdout, `"messages":4`) {
		t.Fatalf("seal on S3: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(home, "store")); err == nil {
		t.Fatal("a local store was made although the store is S3")
	}
	s, err := storage.OpenS3(context.Background(), "s3://"+bucket, storage.S3Options{Endpoint: ep})
	if err != nil {
		t.Fatal(err)
	}
	client, _ := s.Client()
	n := 0
	var keys []string
	tenYears := time.Now().AddDate(10, 0, -1)
	for obj := range client.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		n++
		keys = append(keys, obj.Key)
		mode, until, err := client.GetObjectRetention(context.Background(), bucket, obj.Key, obj.VersionID)
		if err != nil || mode == nil || *mode != minio.Compliance || until.Before(tenYears) {
			t.Fatalf("%s: retention %v until %v (%v)", obj.Key, mode, until, err)
		}
		if err := client.RemoveObject(context.Background(), bucket, obj.Key, minio.RemoveObjectOptions{VersionID: obj.VersionID}); err == nil {
			t.Fatalf("%s: a locked version was deleted", obj.Key)
		}
	}
	// 4 messages; per package: index, p7s, tsr, 2 chains, metadata.tar
	// (4 meta, 1 aggregazione: no object of their own), one segment of
	// evidence records; the pinned roots file (the development CA), the
	// providers' anchors; the ingest run's rapporto di versamento.
	prefixes := map[string]int{}
	for _, k := range keys {
		p := k[strings.Index(k, "/")+1:] // under the archive's prefix
		switch {
		case strings.Contains(k, "/ers/"):
			prefixes["ers"]++
		case strings.Contains(k, "/meta/"):
			prefixes["meta"]++
		case strings.Contains(k, "/aggregazioni/"):
			prefixes["aggregazioni"]++
		case strings.Contains(k, "/validation/"):
			prefixes["validation"]++
		default:
			prefixes[strings.SplitN(p, "/", 2)[0]]++
		}
	}
	// And the validation data: the development signer's, TSA's and CA's
	// certificates and the CA's CRL.
	if prefixes["messages"] != 4 || prefixes["meta"] != 0 || prefixes["aggregazioni"] != 0 || prefixes["validation"] != 4 || prefixes["ers"] != 1 || prefixes["trust"] != 2 || prefixes["packages"] != 6 || prefixes["reports"] < 3 {
		t.Fatalf("%d objects in the bucket: %v\n%s", n, prefixes, strings.Join(keys, "\n"))
	}
	before := conserva(t, append(cfg, "search", "--json")...).stdout
	os.Remove(filepath.Join(home, "catalog.db"))
	if r := conserva(t, append(cfg, "catalog", "rebuild", "--json", "--trust", set.TrustPEM)...); r.code != 0 || !strings.Contains(r.stdout, `"packages":1`) {
		t.Fatalf("rebuild on S3: %d %s %s", r.code, r.stdout, r.stderr)
	}
	after := conserva(t, append(cfg, "search", "--json")...).stdout
	if strip(before) != strip(after) {
		t.Fatalf("search differs after rebuild:\n%s\n---\n%s", before, after)
	}
	ref := decodeLines(t, conserva(t, append(cfg, "search", "--json", "--kind", "accettazione")...).stdout)[0]["ref_message_id"].(string)
	if r := conserva(t, append(cfg, "hold", "set", "--json", ref)...); r.code != 0 || !strings.Contains(r.stdout, `"backend":"s3"`) {
		t.Fatalf("hold set: %d %s %s", r.code, r.stdout, r.stderr)
	}
	row := decodeLines(t, conserva(t, append(cfg, "search", "--json", "--kind", "accettazione")...).stdout)[0]
	st, err := client.GetObjectLegalHold(context.Background(), bucket, "archivio/"+row["key"].(string), minio.GetObjectLegalHoldOptions{VersionID: row["version_id"].(string)})
	if err != nil || st == nil || *st != minio.LegalHoldEnabled || row["legal_hold"] != true {
		t.Fatalf("legal hold in the store %v (%v), in the catalog %v", st, err, row["legal_hold"])
	}
	if r := conserva(t, append(cfg, "hold", "clear", ref)...); r.code != 0 {
		t.Fatalf("hold clear: %d %s", r.code, r.stderr)
	}
	// Audit on S3: intact, then a delete marker is noticed (the evidence
	// version itself still reads and hashes right).
	if r := conserva(t, append(cfg, "audit", "--json")...); r.code != 0 || !strings.Contains(r.stdout, `"problems":[]`) {
		t.Fatalf("audit of the intact S3 archive: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if err := client.RemoveObject(context.Background(), bucket, "archivio/"+row["key"].(string), minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	r := conserva(t, append(cfg, "audit", "--json")...)
	if r.code != 1 || !strings.Contains(r.stdout, "delete marker") || !strings.Contains(r.stdout, row["id"].(string)) {
		t.Fatalf("audit after a delete marker: %d %s", r.code, r.stdout)
	}
}

// strip drops the fields a rebuild cannot know (where and when a message
// was ingested) from search output.
func strip(out string) string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		for _, f := range []string{"sources", "ingested_at", "history"} {
			if i := strings.Index(l, `"`+f+`":`); i >= 0 {
				j := i + len(f) + 3
				depth := 0
				for ; j < len(l); j++ {
					c := l[j]
					if c == '[' || c == '{' {
						depth++
					} else if c == ']' || c == '}' {
						depth--
					}
					if depth <= 0 && (c == ',' || (c == '}' && depth < 0)) {
						break
					}
				}
				l = l[:i] + l[j:]
			}
		}
		lines = append(lines, l)
	}
	// A full listing comes in catalogue order, which a rebuild changes.
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestS3OutageMidIngest stops a MinIO of the test's own in the middle of an
// ingest: a clear error and a non-zero exit; after a restart the same run
// completes with nothing lost.
func TestS3OutageMidIngest(t *testing.T) {
	testutil.S3Endpoint(t)
	minioBin := os.Getenv("CONSERVA_TEST_MINIO")
	if minioBin == "" {
		t.Fatal("CONSERVA_TEST_MINIO is not set")
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	drive := t.TempDir()
	start := func() *exec.Cmd {
		cmd := exec.Command(minioBin, "server", drive, "--address", addr, "--console-address", "127.0.0.1:0", "--quiet")
		cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+os.Getenv("AWS_ACCESS_KEY_ID"), "MINIO_ROOT_PASSWORD="+os.Getenv("AWS_SECRET_ACCESS_KEY"))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 120; i++ {
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				time.Sleep(300 * time.Millisecond)
				return cmd
			}
			time.Sleep(250 * time.Millisecond)
		}
		t.Fatal("own MinIO did not start")
		return nil
	}
	srv := start()
	t.Setenv("AWS_ENDPOINT_URL", "http://"+addr)
	t.Setenv("CONSERVA_STORE", "s3://outage/a")
	home := filepath.Join(t.TempDir(), "archive")
	ingestFixtures(t, home, 5) // creates the bucket while MinIO is up
	set := fixtures(t)
	src := t.TempDir()
	payload := make([]byte, 200000)
	for i := 0; i < 300; i++ {
		payload[0], payload[1] = byte(i), byte(i>>8)
		raw, _ := set.Provider.Build(specWithAttachment(i, payload))
		os.WriteFile(filepath.Join(src, fmt.Sprintf("%04d.eml", i)), raw, 0o644)
	}
	bin, _ := buildBinary()
	ing := exec.Command(bin, "--archive", home, "ingest", "--json", "--trust", set.TrustPEM, src)
	var out strings.Builder
	ing.Stdout, ing.Stderr = &out, &out
	if err := ing.Start(); err != nil {
		t.Fatal(err)
	}
	// MinIO goes once the ingest is storing: it holds more messages than
	// the 5 of before (a fixed delay was too short on a loaded machine).
	stored := func() int {
		m, _ := filepath.Glob(filepath.Join(drive, "outage", "a", "messages", "*", "*"))
		return len(m)
	}
	for deadline := time.Now().Add(2 * time.Minute); stored() <= 5; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the ingest stored nothing in two minutes")
		}
	}
	srv.Process.Kill()
	srv.Wait()
	err := ing.Wait()
	if err == nil {
		t.Fatalf("ingest with MinIO gone exited 0:\n%s", out.String())
	}
	if strings.Contains(out.String(), "goroutine ") || !strings.Contains(out.String(), "storing") {
		t.Fatalf("unclear error:\n%s", out.String())
	}
	srv = start()
	defer func() { srv.Process.Kill(); srv.Wait() }()
	r := conserva(t, "--archive", home, "ingest", "--json", "--trust", set.TrustPEM, src)
	if r.code != 0 || !strings.Contains(r.stdout, `"errors":0`) {
		t.Fatalf("rerun: %d %s %s", r.code, r.stdout, r.stderr)
	}
	rows := decodeLines(t, conserva(t, "--archive", home, "search", "--json", "--kind", "posta-certificata").stdout)
	if len(rows) != 300 {
		t.Fatalf("%d of 300 messages catalogued after the rerun", len(rows))
	}
}

func specWithAttachment(i int, payload []byte) pecgen.Spec {
	return pecgen.Spec{Kind: pec.KindPostaCertificata, Subject: fmt.Sprint("allegato ", i), Attachment: payload}
}

// TestStoreMigrate: an archive with evidence in the local store is not
// silently opened on S3; `store migrate` copies it (locked, verified) and
// switches; the audit then passes on S3.
func TestStoreMigrate(t *testing.T) {
	ep := testutil.S3Endpoint(t)
	t.Setenv("AWS_ENDPOINT_URL", ep)
	home := filepath.Join(t.TempDir(), "archive")
	ingestFixtures(t, home, 5)
	cfg := []string{"--archive", home}
	if r := conserva(t, append(cfg, "seal")...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	to := fmt.Sprintf("s3://conserva-migrate-%d/archivio", time.Now().UnixNano())
	t.Setenv("CONSERVA_STORE", to)
	if r := conserva(t, append(cfg, "search")...); r.code != 2 || !strings.Contains(r.stderr, "store migrate") {
		t.Fatalf("opening a local archive on S3: %d %s", r.code, r.stderr)
	}
	os.Unsetenv("CONSERVA_STORE")
	r := conserva(t, append(cfg, "store", "migrate", "--json", "--to", to)...)
	if r.code != 0 || !strings.Contains(r.stdout, `"config_updated":true`) {
		t.Fatalf("migrate: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := conserva(t, append(cfg, "store", "migrate", "--to", to)...); r.code != 2 {
		// the archive is on S3 now: a second migrate has no local store to read
		t.Fatalf("second migrate: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = conserva(t, append(cfg, "audit", "--json")...)
	if r.code != 0 || !strings.Contains(r.stdout, `"objects":5`) || !strings.Contains(r.stdout, `"problems":[]`) {
		t.Fatalf("audit on S3 after migrate: %d %s %s", r.code, r.stdout, r.stderr)
	}
	for _, row := range decodeLines(t, conserva(t, append(cfg, "search", "--json")...).stdout) {
		if row["version_id"] == nil || row["version_id"] == "" {
			t.Fatalf("no version id after migrate: %v", row)
		}
	}
}
