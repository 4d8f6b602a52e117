package sqlmigrate

import (
	"testing"
	"testing/fstest"
)

func TestParse(t *testing.T) {
	fsys := fstest.MapFS{
		"m/002_stats.up.sql":   {Data: []byte("B")},
		"m/001_init.up.sql":    {Data: []byte("A")},
		"m/001_init.down.sql":  {Data: []byte("a")},
		"m/010_later.up.sql":   {Data: []byte("C")}, // a gap is fine
		"m/README.md":          {Data: []byte("ignored")},
		"m/003_x.sql.orig":     {Data: []byte("ignored")},
		"other/004_y.up.sql":   {Data: []byte("elsewhere")},
		"m/sub/005_z.up.sql":   {Data: []byte("nested: not read")},
		"m/002_stats.down.sql": {Data: []byte("b")},
	}
	got, err := Parse(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{{Version: 1, Name: "init", Up: "A", Down: "a"}, {Version: 2, Name: "stats", Up: "B", Down: "b"}, {Version: 10, Name: "later", Up: "C"}}
	if len(got) != len(want) {
		t.Fatalf("got %d steps, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Version != w.Version || g.Name != w.Name || g.Up != w.Up || g.Down != w.Down {
			t.Errorf("step %d: got %+v, want %+v", i, g, w)
		}
	}

	for name, bad := range map[string]fstest.MapFS{
		"two names, one number": {"m/001_a.up.sql": {Data: []byte("x")}, "m/001_b.up.sql": {Data: []byte("y")}},
		"down without up":       {"m/001_a.down.sql": {Data: []byte("x")}},
		"no number":             {"m/init.up.sql": {Data: []byte("x")}},
		"number zero":           {"m/000_init.up.sql": {Data: []byte("x")}},
		"no name":               {"m/001_.up.sql": {Data: []byte("x")}},
	} {
		if _, err := Parse(bad, "m"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := Parse(fsys, "missing"); err == nil {
		t.Error("a missing directory: no error")
	}
}
