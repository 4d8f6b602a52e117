// Package sqlmigrate reads the numbered migration files both store drivers
// embed: NNN_name.up.sql and, optionally, NNN_name.down.sql.
package sqlmigrate

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Step is one numbered schema change.
type Step struct {
	Version  int
	Name     string
	Up, Down string // SQL; Down is empty when there is no down file
	hasUp    bool
}

// Parse reads the migration files in dir of fsys, sorted by version. Every
// version needs an up file, and one name (two migrations numbered alike
// are an error).
// Gaps between versions are allowed (parallel branches take numbers ahead
// of each other). Other files are ignored.
func Parse(fsys fs.FS, dir string) ([]Step, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("cannot read migrations: %w", err)
	}
	byVersion := map[int]*Step{}
	for _, e := range entries {
		file := e.Name()
		base, up := strings.CutSuffix(file, ".up.sql")
		if !up {
			var down bool
			if base, down = strings.CutSuffix(file, ".down.sql"); !down {
				continue
			}
		}
		num, name, ok := strings.Cut(base, "_")
		if !ok || name == "" {
			return nil, fmt.Errorf("cannot parse migration file name %q", file)
		}
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("cannot parse migration number of %q", file)
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, file))
		if err != nil {
			return nil, fmt.Errorf("cannot read migration %q: %w", file, err)
		}
		s := byVersion[v]
		if s == nil {
			s = &Step{Version: v, Name: name}
			byVersion[v] = s
		}
		if s.Name != name {
			return nil, fmt.Errorf("cannot order migrations: two migrations numbered %03d (%s, %s)", v, s.Name, name)
		}
		if up {
			s.Up, s.hasUp = string(body), true
		} else {
			s.Down = string(body)
		}
	}
	out := make([]Step, 0, len(byVersion))
	for _, s := range byVersion {
		if !s.hasUp {
			return nil, fmt.Errorf("migration %03d has no up file", s.Version)
		}
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b Step) int { return a.Version - b.Version })
	return out, nil
}
