package archive

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/BurntSushi/toml"
)

// Config is conserva.toml, in the archive's home.
type Config struct {
	// Store is "local" (the store/ directory of the archive home).
	Store string `toml:"store"`
	// Trust is the trust anchors file (PEM bundle or IGPEC LDIF); relative
	// paths are relative to the archive home.
	Trust string `toml:"trust"`
	// MaxMessageSize: larger messages are archived and flagged, not parsed.
	MaxMessageSize string `toml:"max_message_size"`
	// Retention of stored objects, e.g. "10y" or "3650d".
	Retention string `toml:"retention"`
}

const defaultConfig = `# conserva archive configuration.
# This directory holds the archive: catalog.db (a cache, rebuildable from the
# store), store/ (the evidence, write-once) and this file.

# Where evidence objects are kept: "local" is the store/ directory here.
store = "local"

# Trust anchors for the providers' signatures: a PEM bundle of CA or provider
# certificates, or an IGPEC LDIF export. Relative to this directory.
# Without anchors no signature is ever judged valid.
# trust = "trust-agid.pem"

# Larger messages are archived byte for byte and flagged, but not parsed.
max_message_size = "200MB"

# How long every stored object is kept.
retention = "10y"
`

func defaults() Config {
	return Config{Store: "local", MaxMessageSize: "200MB", Retention: "10y"}
}

// loadConfig reads conserva.toml, writing the commented default first when
// the archive is new.
func loadConfig(home string) (Config, error) {
	path := filepath.Join(home, "conserva.toml")
	if _, err := os.Stat(path); os.IsNotExist(err) {
		if err := os.WriteFile(path, []byte(defaultConfig), 0o644); err != nil {
			return Config{}, err
		}
	}
	cfg := defaults()
	md, err := toml.DecodeFile(path, &cfg)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		return Config{}, fmt.Errorf("%s: unknown setting %q", path, undecoded[0].String())
	}
	if cfg.Store != "local" {
		return Config{}, fmt.Errorf("%s: store %q is not supported (only \"local\")", path, cfg.Store)
	}
	if _, err := ParseSize(cfg.MaxMessageSize); err != nil {
		return Config{}, fmt.Errorf("%s: max_message_size: %w", path, err)
	}
	return cfg, nil
}
