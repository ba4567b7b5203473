package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/pec"
)

// The IMAP and S3 sections of scripts/bench.sh: conserva beside a baseline
// measured in the same run, best of CONSERVA_BENCH_RUNS each. Figures are
// printed, never asserted.

func benchEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// benchMessages makes n distinct signed PEC with an attachment of attach bytes.
func benchMessages(b *testing.B, set *pecgen.FixtureSet, n, attach int) [][]byte {
	payload := make([]byte, attach)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	out := make([][]byte, n)
	for i := range out {
		raw, err := set.Provider.Build(pecgen.Spec{Kind: pec.KindPostaCertificata, Subject: fmt.Sprintf("Documento %d", i), Attachment: payload})
		if err != nil {
			b.Fatal(err)
		}
		out[i] = raw
	}
	return out
}

// best runs fn runs times and returns its shortest time.
func best(b *testing.B, runs int, fn func(i int)) time.Duration {
	var min time.Duration
	for i := range runs {
		start := time.Now()
		fn(i)
		if d := time.Since(start); i == 0 || d < min {
			min = d
		}
	}
	return min
}

func runBin(b *testing.B, env []string, args ...string) {
	bin, err := buildBinary()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		b.Fatalf("conserva %v: %v\n%s", args, err, out.String())
	}
}

func report(b *testing.B, what string, n int, bytes int64, conserva, baseline time.Duration, baseName string) {
	fmt.Printf("%s: %d messages, %.1f MB\n", what, n, float64(bytes)/1e6)
	fmt.Printf("  baseline %-34s: %7.3f s  %6.0f messages/s  %6.1f MB/s\n", baseName, baseline.Seconds(), float64(n)/baseline.Seconds(), float64(bytes)/baseline.Seconds()/1e6)
	fmt.Printf("  conserva %-34s: %7.3f s  %6.0f messages/s  %6.1f MB/s  ratio %.2fx\n", what, conserva.Seconds(), float64(n)/conserva.Seconds(), float64(bytes)/conserva.Seconds()/1e6, conserva.Seconds()/baseline.Seconds())
	b.ReportMetric(conserva.Seconds()/baseline.Seconds(), "x-baseline")
}

// BenchmarkIMAPIngest: a local Dovecot holding N PEC; Python's imaplib
// fetching the mailbox in one UID FETCH 1:* BODY.PEEK[], conserva ingesting
// the same messages from the Maildir's files, and conserva over IMAP.
func BenchmarkIMAPIngest(b *testing.B) {
	n, attach, runs := benchEnv("CONSERVA_BENCH_N", 2000), benchEnv("CONSERVA_BENCH_ATTACH", 51200), benchEnv("CONSERVA_BENCH_RUNS", 3)
	set, err := fixtureSet()
	if err != nil {
		b.Fatal(err)
	}
	d := testutil.StartDovecot(b)
	var total int64
	for i, raw := range benchMessages(b, set, n, attach) {
		d.Deliver(fmt.Sprintf("%d.M%dP1.bench", time.Now().Unix(), i), raw)
		total += int64(len(raw))
	}
	host, port, _ := splitHostPort(d.Addr)
	fetch := func() {
		py := `import imaplib, sys
c = imaplib.IMAP4(sys.argv[1], int(sys.argv[2])); c.login(sys.argv[3], sys.argv[4]); c.select("INBOX", readonly=True)
typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[])")
n = sum(1 for d in data if isinstance(d, tuple))
assert n == int(sys.argv[5]), (n, sys.argv[5]); c.logout()`
		if out, err := exec.Command("python3", "-c", py, host, port, d.User, d.Password, strconv.Itoa(n)).CombinedOutput(); err != nil {
			b.Fatalf("imaplib: %v\n%s", err, out)
		}
	}
	fetch() // Dovecot indexes the mailbox and moves new/ to cur/ once, outside the timings
	files := d.MaildirFiles()
	maildir := filepath.Dir(filepath.Dir(files[0]))
	b.ResetTimer()
	tmp := b.TempDir()
	plain := best(b, runs, func(int) { fetch() })
	fromFiles := best(b, runs, func(i int) {
		runBin(b, nil, "--archive", filepath.Join(tmp, fmt.Sprint("files", i)), "ingest", "--json", "--trust", set.TrustPEM, maildir)
	})
	url := "imap://" + d.User + "@" + d.Addr + "/INBOX"
	overIMAP := best(b, runs, func(i int) {
		runBin(b, []string{"CONSERVA_IMAP_PASSWORD=" + d.Password}, "--archive", filepath.Join(tmp, fmt.Sprint("imap", i)), "ingest", "--json", "--trust", set.TrustPEM, url)
	})
	fmt.Printf("imap: %d messages, %.1f MB\n", n, float64(total)/1e6)
	fmt.Printf("  imaplib UID FETCH 1:* BODY.PEEK[]  : %7.3f s  %6.0f messages/s\n", plain.Seconds(), float64(n)/plain.Seconds())
	fmt.Printf("  conserva ingest from the files    : %7.3f s  %6.0f messages/s\n", fromFiles.Seconds(), float64(n)/fromFiles.Seconds())
	base := max(plain, fromFiles)
	fmt.Printf("  conserva ingest over IMAP         : %7.3f s  %6.0f messages/s  ratio %.2fx the larger baseline (target <= 1.2x)\n", overIMAP.Seconds(), float64(n)/overIMAP.Seconds(), overIMAP.Seconds()/base.Seconds())
	b.ReportMetric(overIMAP.Seconds()/base.Seconds(), "x-baseline")
}

func splitHostPort(addr string) (string, string, error) {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[:i], addr[i+1:], nil
		}
	}
	return addr, "", fmt.Errorf("no port in %s", addr)
}

// BenchmarkS3Ingest: N PEC ingested to the test MinIO, beside a baseline
// that only PUTs the same objects with minio-go, as many at once as
// conserva's workers (CONSERVA_BENCH_WORKERS, default 32), each with the
// same Object Lock retention and SHA-256 checksum conserva sends.
func BenchmarkS3Ingest(b *testing.B) {
	ep := os.Getenv("CONSERVA_TEST_S3_ENDPOINT")
	if ep == "" {
		b.Skip("CONSERVA_TEST_S3_ENDPOINT not set (scripts/bench.sh --section s3 starts a MinIO)")
	}
	n, attach, runs := benchEnv("CONSERVA_BENCH_N", 2000), benchEnv("CONSERVA_BENCH_ATTACH", 51200), benchEnv("CONSERVA_BENCH_RUNS", 3)
	workers := benchEnv("CONSERVA_BENCH_WORKERS", 32)
	set, err := fixtureSet()
	if err != nil {
		b.Fatal(err)
	}
	msgs := benchMessages(b, set, n, attach)
	src := b.TempDir()
	var total int64
	for i, raw := range msgs {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("m%06d.eml", i)), raw, 0o644); err != nil {
			b.Fatal(err)
		}
		total += int64(len(raw))
	}
	host := ep[len("http://"):]
	client, err := minio.New(host, &minio.Options{Creds: credentials.NewStaticV4(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), ""), Region: os.Getenv("AWS_REGION"), TrailingHeaders: true})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	stamp := time.Now().UnixNano()
	b.ResetTimer()
	baseline := best(b, runs, func(i int) {
		bucket := fmt.Sprintf("bench-put-%d-%d", stamp, i)
		if err := client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{ObjectLocking: true}); err != nil {
			b.Fatal(err)
		}
		jobs := make(chan int)
		var (
			wg   sync.WaitGroup
			once sync.Once
		)
		until := time.Now().AddDate(10, 0, 0).UTC()
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range jobs {
					sum := sha256.Sum256(msgs[k])
					_, err := client.PutObject(ctx, bucket, fmt.Sprintf("messages/%x.eml", sum), bytes.NewReader(msgs[k]), int64(len(msgs[k])),
						minio.PutObjectOptions{ContentType: "application/octet-stream", Mode: minio.Compliance, RetainUntilDate: until, DisableMultipart: true,
							UserMetadata: map[string]string{"x-amz-checksum-sha256": base64.StdEncoding.EncodeToString(sum[:])}})
					if err != nil {
						once.Do(func() { b.Error(err) })
					}
				}
			}()
		}
		for k := range msgs {
			jobs <- k
		}
		close(jobs)
		wg.Wait()
	})
	tmp := b.TempDir()
	conserva := best(b, runs, func(i int) {
		env := []string{"AWS_ENDPOINT_URL=" + ep, fmt.Sprintf("CONSERVA_STORE=s3://bench-conserva-%d-%d/archivio", stamp, i)}
		runBin(b, env, "--archive", filepath.Join(tmp, fmt.Sprint("a", i)), "ingest", "--json", "--workers", strconv.Itoa(workers), "--trust", set.TrustPEM, src)
	})
	report(b, "s3 ingest", n, total, conserva, baseline, fmt.Sprintf("minio-go PutObject x%d", workers))
}
