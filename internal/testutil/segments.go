package testutil

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/conserva/conserva/segment"
)

// Unpack copies a sealed package's folder and extracts its segments
// (metadata.tar, ers/records*.tar) with tar where they lie, as an auditor
// would: the copy holds the files one by one (meta/, aggregazioni/, ers/).
func Unpack(t testing.TB, pkgDir string) string {
	t.Helper()
	tarTool := Tool(t, "tar")
	dst := filepath.Join(t.TempDir(), filepath.Base(pkgDir))
	if out, err := exec.Command("cp", "-r", pkgDir, dst).CombinedOutput(); err != nil {
		t.Fatalf("copying %s: %v\n%s", pkgDir, err, out)
	}
	segs, _ := filepath.Glob(filepath.Join(dst, "*.tar"))
	more, _ := filepath.Glob(filepath.Join(dst, "ers", "*.tar"))
	for _, s := range append(segs, more...) {
		cmd := exec.Command(tarTool, "-xf", filepath.Base(s))
		cmd.Dir = filepath.Dir(s)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("tar -xf %s: %v\n%s", s, err, out)
		}
	}
	return dst
}

// ReadMember returns one member of a segment file.
func ReadMember(t testing.TB, segPath, member string) []byte {
	t.Helper()
	f, err := os.Open(segPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ix, err := segment.ReadIndex(f)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := ix.Lookup(member)
	if !ok {
		t.Fatalf("%s: no member %s", segPath, member)
	}
	r, err := segment.Open(f, m)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// EditMember changes one member of a segment file in a store (damage, a
// forgery): fn gets its bytes and returns the new ones, or nil to remove
// it. Bytes of the same length are patched in place, the rest of the
// segment unchanged; otherwise the segment is written anew.
func EditMember(t testing.TB, segPath, member string, fn func([]byte) []byte) {
	t.Helper()
	data, err := os.ReadFile(segPath)
	if err != nil {
		t.Fatal(err)
	}
	ix, err := segment.ReadIndex(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	m, ok := ix.Lookup(member)
	if !ok {
		t.Fatalf("%s: no member %s", segPath, member)
	}
	old := append([]byte(nil), data[m.Offset:m.Offset+m.Size]...)
	repl := fn(append([]byte(nil), old...))
	if repl != nil && len(repl) == len(old) {
		copy(data[m.Offset:], repl)
	} else {
		var buf bytes.Buffer
		w := segment.NewWriter(&buf, time.Unix(0, 0))
		err := segment.Each(bytes.NewReader(data), func(mm segment.Member, r io.Reader) error {
			b, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			if mm.Name == member {
				if repl == nil {
					return nil
				}
				b = repl
			}
			_, err = w.Add(mm.Name, b)
			return err
		})
		if err == nil {
			err = w.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		data = buf.Bytes()
	}
	writeReadOnly(t, segPath, data)
}

// writeReadOnly replaces a file of the store (read-only, in a read-only
// folder) the way an intruder with the same rights would.
func writeReadOnly(t testing.TB, p string, data []byte) {
	t.Helper()
	_ = os.Chmod(filepath.Dir(p), 0o755)
	_ = os.Chmod(p, 0o644)
	if err := os.WriteFile(p, data, 0o444); err != nil {
		t.Fatal(err)
	}
}

// ERSSegment is the segment file of version v of a package's evidence
// records, and the member name of an object's record in it.
func ERSSegment(pkgDir, name string, v int) (string, string) {
	if v <= 1 {
		return filepath.Join(pkgDir, "ers", "records.tar"), name + ".ers"
	}
	n := strconv.Itoa(v)
	return filepath.Join(pkgDir, "ers", "records."+n+".tar"), name + "." + n + ".ers"
}
