package sqlitefile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCreate(t *testing.T) {
	for _, bad := range []string{"", ":memory:", "db?mode=ro", "db#x"} {
		if err := Create(bad, "test db"); err == nil {
			t.Errorf("Create(%q) succeeded, want an error", bad)
		}
	}
	path := filepath.Join(t.TempDir(), "sub", "db")
	if err := Create(path, "test db"); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700 | os.ModeDir} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
	}
	// An existing file is kept, contents and all.
	if err := os.WriteFile(path, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Create(path, "test db"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "data" {
		t.Errorf("contents %q after a second Create", b)
	}
}
