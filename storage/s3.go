package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3 keeps objects in an S3 bucket with Object Lock: every version is
// written with a retention (COMPLIANCE by default) that nobody, root
// included, can shorten or delete before it ends. Reads go by version id
// when one is given, so a newer version or a delete marker never hides
// the evidence.
type S3 struct {
	client    *minio.Client
	bucket    string
	prefix    string
	mode      minio.RetentionMode
	retention Retention
	// singlePutMax: objects up to this size go in one PUT whose
	// x-amz-checksum-sha256 the server checks before accepting it.
	singlePutMax int64
	partSize     uint64
}

// S3Options configure the S3 store. Empty fields come from the usual
// environment: AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_REGION.
type S3Options struct {
	Endpoint   string // http://host:port or https://host
	AccessKey  string
	SecretKey  string
	Region     string
	Retention  Retention // zero: DefaultRetention
	Governance bool      // GOVERNANCE instead of COMPLIANCE retention
	PartSize   int64     // multipart part size (objects over 64 MB); zero: 16 MB
}

// OpenS3 opens s3://BUCKET[/PREFIX], creating the bucket with Object Lock
// when it is missing and refusing one that has no Object Lock.
func OpenS3(ctx context.Context, spec string, o S3Options) (*S3, error) {
	u, err := url.Parse(spec)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil, fmt.Errorf("store %q: want s3://BUCKET[/PREFIX]", spec)
	}
	endpoint := firstSet(o.Endpoint, os.Getenv("AWS_ENDPOINT_URL"), "https://s3.amazonaws.com")
	eu, err := url.Parse(endpoint)
	if err != nil || eu.Host == "" {
		return nil, fmt.Errorf("S3 endpoint %q: want http://host:port or https://host", endpoint)
	}
	var creds *credentials.Credentials
	if ak := firstSet(o.AccessKey, os.Getenv("AWS_ACCESS_KEY_ID")); ak != "" {
		creds = credentials.NewStaticV4(ak, firstSet(o.SecretKey, os.Getenv("AWS_SECRET_ACCESS_KEY")), "")
	} else {
		creds = credentials.NewChainCredentials([]credentials.Provider{&credentials.EnvAWS{}, &credentials.FileAWSCredentials{}, &credentials.IAM{}})
	}
	client, err := minio.New(eu.Host, &minio.Options{
		Creds:  creds,
		Secure: eu.Scheme == "https",
		Region: firstSet(o.Region, os.Getenv("AWS_REGION")),
		// Needed for x-amz-checksum-sha256 on multipart uploads.
		TrailingHeaders: true,
		MaxRetries:      5, // minio-go retries 5xx and timeouts with backoff
	})
	if err != nil {
		return nil, err
	}
	s := &S3{client: client, bucket: u.Host, prefix: strings.Trim(u.Path, "/"), mode: minio.Compliance,
		retention: o.Retention, singlePutMax: 64 << 20, partSize: 16 << 20}
	if o.PartSize > 0 {
		s.partSize = uint64(o.PartSize)
	}
	if o.Governance {
		s.mode = minio.Governance
	}
	if s.retention == (Retention{}) {
		s.retention = DefaultRetention
	}
	if s.prefix != "" {
		s.prefix += "/"
	}
	exists, err := client.BucketExists(ctx, s.bucket)
	if err != nil {
		return nil, fmt.Errorf("S3 %s: %w", endpoint, err)
	}
	if !exists {
		if err := client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: firstSet(o.Region, os.Getenv("AWS_REGION")), ObjectLocking: true}); err != nil {
			return nil, fmt.Errorf("creating bucket %s with object lock: %w", s.bucket, err)
		}
		return s, nil
	}
	lock, _, _, _, err := client.GetObjectLockConfig(ctx, s.bucket)
	if err != nil || lock != "Enabled" {
		return nil, fmt.Errorf("bucket %s exists without Object Lock: evidence there could be deleted; use a bucket created with object lock enabled", s.bucket)
	}
	return s, nil
}

func firstSet(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

func (s *S3) name(key string) string { return s.prefix + key }

func (s *S3) Put(ctx context.Context, key string, r io.Reader, wantSHA256 string) (PutResult, error) {
	if err := validKey(key); err != nil {
		return PutResult{}, err
	}
	// "Absent" means no version at all: evidence hidden behind a delete
	// marker is still there, and is what a new write is compared with.
	// One HEAD settles it for a new key; only when it finds a version or a
	// delete marker are the versions listed.
	if absent, err := s.noVersion(ctx, key); err != nil {
		return PutResult{}, err
	} else if !absent {
		if st, found, err := s.evidence(ctx, key); err != nil {
			return PutResult{}, err
		} else if found {
			return s.existing(ctx, st, r, wantSHA256)
		}
	}
	// The hash must be known before the upload: an object, once written,
	// is locked for years.
	var data []byte
	if wantSHA256 == "" {
		b, err := io.ReadAll(r)
		if err != nil {
			return PutResult{}, err
		}
		sum := sha256.Sum256(b)
		data, wantSHA256, r = b, hex.EncodeToString(sum[:]), bytes.NewReader(b)
	}
	want, err := hex.DecodeString(wantSHA256)
	if err != nil {
		return PutResult{}, fmt.Errorf("%s: bad hash %q", key, wantSHA256)
	}
	size := int64(-1)
	if data != nil {
		size = int64(len(data))
	} else if br, ok := r.(*bytes.Reader); ok {
		size = br.Size()
	} else if h, ok := known(r, ""); ok {
		size = int64(len(h.b))
	}
	opts := minio.PutObjectOptions{
		ContentType:     "application/octet-stream",
		Mode:            s.mode,
		RetainUntilDate: s.retention.Until(time.Now()).UTC(),
	}
	h := sha256.New()
	body := io.TeeReader(r, h)
	if size >= 0 && size <= s.singlePutMax {
		// One PUT: the server checks x-amz-checksum-sha256 and refuses
		// bytes that are not the announced ones.
		opts.DisableMultipart = true
		opts.UserMetadata = map[string]string{"x-amz-checksum-sha256": base64.StdEncoding.EncodeToString(want)}
	} else {
		opts.Checksum = minio.ChecksumSHA256 // per part, checked by the server
		opts.PartSize = s.partSize
	}
	info, err := s.client.PutObject(ctx, s.bucket, s.name(key), body, size, opts)
	if err != nil {
		return PutResult{}, fmt.Errorf("storing %s: %w", key, err)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if got != wantSHA256 {
		return PutResult{}, &HashMismatchError{Key: key, Want: wantSHA256, Got: got}
	}
	return PutResult{Info: Info{Key: key, Size: info.Size, SHA256: got, ModTime: info.LastModified, VersionID: info.VersionID}}, nil
}

// noVersion says that key has no version at all: in a versioned bucket the
// latest version of a key that has any is either an object (HEAD answers
// it) or a delete marker (HEAD says so).
func (s *S3) noVersion(ctx context.Context, key string) (bool, error) {
	info, err := s.client.StatObject(ctx, s.bucket, s.name(key), minio.StatObjectOptions{})
	if err == nil || info.IsDeleteMarker {
		return false, nil
	}
	if resp := minio.ToErrorResponse(err); resp.Code == "NoSuchKey" || resp.StatusCode == 404 {
		return true, nil
	}
	return false, fmt.Errorf("%s: %w", key, err)
}

// evidence finds the oldest version of key that is not a delete marker.
func (s *S3) evidence(ctx context.Context, key string) (Info, bool, error) {
	var out Info
	found := false
	err := s.List(ctx, key, func(i Info) error {
		if i.Key == key {
			out, found = i, true
		}
		return nil
	})
	return out, found, err
}

// existing compares an object already there with what is offered.
func (s *S3) existing(ctx context.Context, st Info, r io.Reader, want string) (PutResult, error) {
	if want == "" {
		var err error
		if want, err = HashReader(r); err != nil {
			return PutResult{}, err
		}
	}
	obj, err := s.GetVersion(ctx, st.Key, st.VersionID)
	if err != nil {
		return PutResult{}, err
	}
	defer obj.Close()
	got, err := HashReader(obj)
	if err != nil {
		return PutResult{}, err
	}
	if got != want {
		return PutResult{}, fmt.Errorf("%s: %w (stored %s, offered %s)", st.Key, ErrConflict, got, want)
	}
	st.SHA256 = got
	return PutResult{Info: st, Existed: true}, nil
}

func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	return s.GetVersion(ctx, key, "")
}

// GetVersion reads one version of an object ("" for the latest).
func (s *S3) GetVersion(ctx context.Context, key, version string) (io.ReadCloser, error) {
	obj, err := s.client.GetObject(ctx, s.bucket, s.name(key), minio.GetObjectOptions{VersionID: version})
	if err != nil {
		return nil, s.notFound(key, err)
	}
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		return nil, s.notFound(key, err)
	}
	return obj, nil
}

func (s *S3) notFound(key string, err error) error {
	resp := minio.ToErrorResponse(err)
	if resp.Code == "NoSuchKey" || resp.Code == "NoSuchVersion" || resp.StatusCode == 404 ||
		resp.Code == "MethodNotAllowed" /* the latest version is a delete marker */ {
		return fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return fmt.Errorf("%s: %w", key, err)
}

func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	return s.StatVersion(ctx, key, "")
}

// StatVersion describes one version of an object.
func (s *S3) StatVersion(ctx context.Context, key, version string) (Info, error) {
	st, err := s.client.StatObject(ctx, s.bucket, s.name(key), minio.StatObjectOptions{VersionID: version})
	if err != nil {
		return Info{}, s.notFound(key, err)
	}
	return Info{Key: key, Size: st.Size, ModTime: st.LastModified, VersionID: st.VersionID}, nil
}

// List gives, for every key, its oldest version that is not a delete
// marker: the evidence as first written. Newer versions (an overwrite
// behind conserva's back) and delete markers never replace it.
func (s *S3) List(ctx context.Context, prefix string, fn func(Info) error) error {
	var (
		cur  string
		best *Info
	)
	flush := func() error {
		if best == nil {
			return nil
		}
		b := *best
		best = nil
		return fn(b)
	}
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.name(prefix), Recursive: true, WithVersions: true}) {
		if obj.Err != nil {
			return obj.Err
		}
		key := strings.TrimPrefix(obj.Key, s.prefix)
		if key != cur {
			if err := flush(); err != nil {
				return err
			}
			cur = key
		}
		if obj.IsDeleteMarker {
			continue
		}
		// Versions come newest first: the last one seen is the oldest.
		best = &Info{Key: key, Size: obj.Size, ModTime: obj.LastModified, VersionID: obj.VersionID}
	}
	return flush()
}

// Retention reports the lock of one version.
func (s *S3) Retention(ctx context.Context, key, version string) (string, time.Time, error) {
	mode, until, err := s.client.GetObjectRetention(ctx, s.bucket, s.name(key), version)
	if err != nil {
		return "", time.Time{}, err
	}
	m := ""
	if mode != nil {
		m = mode.String()
	}
	var t time.Time
	if until != nil {
		t = *until
	}
	return m, t, nil
}

// SetLegalHold puts (on) or lifts a legal hold on one version.
func (s *S3) SetLegalHold(ctx context.Context, key, version string, on bool) error {
	status := minio.LegalHoldDisabled
	if on {
		status = minio.LegalHoldEnabled
	}
	return s.client.PutObjectLegalHold(ctx, s.bucket, s.name(key), minio.PutObjectLegalHoldOptions{VersionID: version, Status: &status})
}

// Client exposes the S3 client, for tests that try what an attacker would.
func (s *S3) Client() (*minio.Client, string) { return s.client, s.bucket }

// ListVersions calls fn for every version of every key under prefix,
// delete markers included, newest first within a key: what reconciliation
// needs to notice versions written over the evidence behind conserva's back.
func (s *S3) ListVersions(ctx context.Context, prefix string, fn func(Info, bool) error) error {
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.name(prefix), Recursive: true, WithVersions: true}) {
		if obj.Err != nil {
			return obj.Err
		}
		i := Info{Key: strings.TrimPrefix(obj.Key, s.prefix), Size: obj.Size, ModTime: obj.LastModified, VersionID: obj.VersionID}
		if err := fn(i, obj.IsDeleteMarker); err != nil {
			return err
		}
	}
	return nil
}
