package archive

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/conserva/conserva/agid"
	"github.com/conserva/conserva/internal/atomicfile"
	"github.com/conserva/conserva/internal/bytesize"
	"github.com/conserva/conserva/smistamento"
	"github.com/conserva/conserva/storage"
)

// Config is conserva.toml, in the archive's home.
type Config struct {
	// Store is "local" (the store/ directory of the archive home) or
	// s3://BUCKET[/PREFIX] (endpoint and credentials from AWS_* variables).
	// CONSERVA_STORE overrides it.
	Store string `toml:"store"`
	// RetentionMode is COMPLIANCE (default) or GOVERNANCE, for S3.
	RetentionMode string `toml:"retention_mode"`
	// Trust is the trust anchors file (PEM bundle or IGPEC LDIF); relative
	// paths are relative to the archive home.
	Trust string `toml:"trust"`
	// MaxMessageSize: larger messages are archived and flagged, not parsed.
	MaxMessageSize string `toml:"max_message_size"`
	// Retention of stored objects, e.g. "10y" or "3650d".
	Retention string `toml:"retention"`

	Seal SealConfig `toml:"seal"`
	// ERS: renewal of the evidence records (audit_ers.go, renew.go).
	ERS ERSConfig `toml:"ers"`

	// AgID metadata and classification rules (docs/AGID.md).
	AgID     agid.Config        `toml:"agid"`
	Classify []smistamento.Rule `toml:"classify"`

	// Sources are what `conserva run` ingests every night.
	Sources []SourceConfig `toml:"source"`

	// Ingest tunes how much an ingest does at once ([ingest]).
	Ingest IngestConfig `toml:"ingest"`
}

// IngestConfig is the [ingest] section. Zero means the default.
type IngestConfig struct {
	// Workers: messages read, verified and stored at once (4 × cores on a
	// local store; 32 on S3, where each PUT waits for the network).
	Workers int `toml:"workers"`
	// Sources: sources (mailboxes, folders) read at once; 4.
	Sources int `toml:"sources"`
	// S3PartSize: the part size of multipart uploads (objects over 64 MB); 16MB.
	S3PartSize string `toml:"s3_part_size"`
}

// SourceConfig is one [[source]]: a mailbox or a folder.
type SourceConfig struct {
	URL                string `toml:"url"` // imap[s]://USER@HOST[:PORT]/MAILBOX, or a path
	Label              string `toml:"label"`
	PasswordEnv        string `toml:"password_env"`
	PasswordFile       string `toml:"password_file"`
	InsecureSkipVerify bool   `toml:"insecure_skip_verify"`
}

// SealConfig is the [seal] section: who signs, which TSA, package sizes and
// the names the index gives the parties. Empty signer/TSA mean the
// development ones (no legal value).
type SealConfig struct {
	Signer         string `toml:"signer"` // PKCS#12 file; password from CONSERVA_SIGNER_PASSWORD
	TSAURL         string `toml:"tsa_url"`
	TSAUser        string `toml:"tsa_user"`
	TSAPasswordEnv string `toml:"tsa_password_env"` // name of the variable holding the TSA password
	TSACA          string `toml:"tsa_ca"`           // older name of tsa_roots
	// SignerRoots and TSARoots pin who may seal packages: PEM files of the
	// signer's CA and the TSA's CA. Every package signature and timestamp is
	// checked against them, never against the certificates it carries.
	SignerRoots    string `toml:"signer_roots"`
	TSARoots       string `toml:"tsa_roots"`
	TSAInsecureTLS bool   `toml:"tsa_insecure_tls"`
	// Revocation says what a CRL or OCSP answer that cannot be fetched at
	// seal or renewal time does: "require" (refuse) or "best-effort".
	Revocation       string `toml:"revocation"`
	MaxMessages      int    `toml:"max_package_messages"`
	MaxBytes         string `toml:"max_package_bytes"`
	Submitter        string `toml:"submitter"`
	Holder           string `toml:"holder"`
	AuthorizedSigner string `toml:"authorized_signer"`
}

const defaultConfig = `# conserva archive configuration.
# This directory holds the archive: catalog.db (a cache, rebuildable from the
# store), store/ (the evidence, write-once) and this file.

# Where evidence objects are kept: "local" is the store/ directory here;
# "s3://BUCKET/PREFIX" is an S3 bucket with Object Lock (endpoint and
# credentials from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
# AWS_REGION). CONSERVA_STORE overrides this setting.
store = "local"
# S3 retention mode: COMPLIANCE (nobody can shorten it) or GOVERNANCE.
retention_mode = "COMPLIANCE"

# Trust anchors for the providers' signatures: a PEM bundle of CA or provider
# certificates, or an IGPEC LDIF export. Relative to this directory.
# Without anchors no signature is ever judged valid.
# trust = "trust-agid.pem"

# Larger messages are archived byte for byte and flagged, but not parsed.
max_message_size = "200MB"

# How long every stored object is kept.
retention = "10y"

[seal]
# The responsabile della conservazione's signing key, as PKCS#12; its
# password comes from CONSERVA_SIGNER_PASSWORD. Unset: a development key made
# under keys/ (no legal value, and every package says so).
# signer = "/etc/conserva/responsabile.p12"
# RFC 3161 TSA. Unset: the built-in development TSA (no legal value).
# tsa_url = "https://tsa.example.it/tsa"
# tsa_user = "utente"
# tsa_password_env = "CONSERVA_TSA_PASSWORD"
# The roots that attribute every seal: the CA of the signer above and the CA
# of the TSA (PEM). Required with a configured signer or TSA; the development
# CA otherwise. CONSERVA_SIGNER_ROOTS / CONSERVA_TSA_ROOTS override them.
# signer_roots = "/etc/conserva/signer-ca.pem"
# tsa_roots = "/etc/conserva/tsa-ca.pem"
# tsa_insecure_tls = false
# The signer's and TSA's CRLs (or OCSP answers) are fetched at every seal and
# renewal and kept in the package; a revoked certificate always refuses. One
# that cannot be fetched refuses too ("require"), or is left out with a
# warning that audit repeats ("best-effort").
# revocation = "require"
# Past these sizes a night's ingest is split into several packages.
max_package_messages = 100000
max_package_bytes = "10GB"
# Names written into each package index (UNI 11386 Process).
# (see the [[source]] examples at the end of this file)
submitter = "conserva archive"
holder = "conserva archive"
authorized_signer = "Responsabile della conservazione"

[ers]
# Evidence records (RFC 4998) are renewed by "conserva renew" (and by
# "conserva run" when due) this long before the newest archive timestamp's
# TSA certificate expires; audit warns from then on.
renew_margin = "2y"

# AgID metadata (docs/AGID.md). The organisation's own PEC addresses make
# the flow of each message E (received), U (sent) or I (internal); the
# addresses of IMAP sources count too.
# [agid]
# addresses = ["protocollo@pec.ente.it"]
# piano = "Titolario 2026"              # name of the classification plan
# tipo_registro = "Nessuno"             # or "Protocollo", "Repertorio"
# codice_registro = ""
# riservato = false
# Classification at ingest (smistamento): the first rule whose every given
# condition matches files the message. Conditions: mailbox (part of the
# source), sender, recipient, subject (regular expression, on the sender's
# subject), kind. Later changes: conserva classify ID --class X --by NAME.
# [[classify]]
# sender = "fatture@pec.fornitore.it"
# subject = "^Fattura"
# class = "4.2.1"
# description = "Fatture passive"
# fascicolo = "fatture-2026"
# tipo_registro = "Protocollo"
# codice_registro = "PG"

# How much an ingest does at once (0: the default). workers: messages read,
# verified and stored in parallel (4 x cores on a local store, 32 on S3);
# sources: mailboxes or folders read at once; s3_part_size: the part size of
# multipart uploads (objects over 64MB). "conserva ingest --workers N" overrides.
# [ingest]
# workers = 0
# sources = 4
# s3_part_size = "16MB"

# What "conserva run" ingests every night, then seals. One [[source]] per
# mailbox or folder; IMAP is read-only (EXAMINE, BODY.PEEK[]) and incremental.
# [[source]]
# url = "imaps://protocollo%40ente.it@imaps.pec.aruba.it/INBOX"
# label = "Protocollo generale"
# password_env = "PEC_PROTOCOLLO_PASSWORD"     # or password_file = "/etc/conserva/protocollo.pw"
# insecure_skip_verify = false
# [[source]]
# url = "/srv/pec/export"
# label = "Esportazioni"
`

func defaults() Config {
	return Config{Store: "local", MaxMessageSize: "200MB", Retention: "10y", Seal: SealConfig{
		MaxMessages: 100000, MaxBytes: "10GB",
		Submitter: "conserva archive", Holder: "conserva archive", AuthorizedSigner: "Responsabile della conservazione",
	}}
}

// loadConfig reads conserva.toml, writing the commented default first when
// the archive is new.
func loadConfig(home string) (Config, error) {
	path := filepath.Join(home, "conserva.toml")
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		data = []byte(defaultConfig)
		// Whole or not at all; never over a file another process made.
		if err := atomicfile.WriteNew(path, data, 0o644); errors.Is(err, os.ErrExist) {
			data, err = os.ReadFile(path)
			if err != nil {
				return Config{}, err
			}
		} else if err != nil {
			return Config{}, err
		}
	} else if err != nil {
		return Config{}, err
	}
	// An empty file (or one of NUL bytes, as a crash on a full disk leaves
	// it) would silently mean every default: a local store in place of S3,
	// no trust anchors.
	if len(bytes.Trim(data, "\x00 \t\r\n")) == 0 {
		return Config{}, fmt.Errorf("%s is empty (left by an interrupted write?): restore it, or delete it to start from the commented default", path)
	}
	cfg := defaults()
	md, err := toml.Decode(string(data), &cfg)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		return Config{}, fmt.Errorf("%s: unknown setting %q", path, undecoded[0].String())
	}
	if v := os.Getenv("CONSERVA_STORE"); v != "" {
		cfg.Store = v
	}
	if v := os.Getenv("CONSERVA_RETENTION"); v != "" {
		cfg.Retention = v
	}
	if cfg.Store != "local" && !strings.HasPrefix(cfg.Store, "s3://") {
		return Config{}, fmt.Errorf("%s: store %q: use \"local\" or s3://BUCKET[/PREFIX]", path, cfg.Store)
	}
	if _, err := storage.ParseRetention(cfg.Retention); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	switch strings.ToUpper(cfg.RetentionMode) {
	case "", "COMPLIANCE", "GOVERNANCE":
	default:
		return Config{}, fmt.Errorf("%s: retention_mode %q: COMPLIANCE or GOVERNANCE", path, cfg.RetentionMode)
	}
	if _, err := bytesize.Parse(cfg.MaxMessageSize); err != nil {
		return Config{}, fmt.Errorf("%s: max_message_size: %w", path, err)
	}
	if cfg.Ingest.Workers < 0 || cfg.Ingest.Sources < 0 {
		return Config{}, fmt.Errorf("%s: [ingest] workers and sources must not be negative", path)
	}
	if cfg.Ingest.S3PartSize != "" {
		if n, err := bytesize.Parse(cfg.Ingest.S3PartSize); err != nil || n < 5<<20 {
			return Config{}, fmt.Errorf("%s: [ingest] s3_part_size %q: a size of 5MB or more (S3's smallest part)", path, cfg.Ingest.S3PartSize)
		}
	}
	if err := cfg.checkClassify(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}
