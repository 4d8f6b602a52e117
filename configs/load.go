package configs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// EnvPrefix starts every environment override.
const EnvPrefix = "PIXELGW_"

// EnvConfigPath is the one PIXELGW_* variable that is not a config key: cmd
// may read the config file path from it. Load ignores it.
const EnvConfigPath = "PIXELGW_CONFIG"

// maxEnvIndex bounds list indices in environment variable names.
const maxEnvIndex = 999

var durationType = reflect.TypeFor[time.Duration]()

// secretPaths lists the secret leaves; "*" matches any list index. Secret
// values are redacted by Redacted and never appear in load errors. A test
// makes sure every secret-looking field is classified.
var secretPaths = []string{
	"database.postgres_dsn",
	"redis.password",
	"secrets.master_key",
	"secrets.previous_keys.*.key",
	"api.jwt.keys.*.secret",
}

// Load builds the configuration: Defaults, then the YAML file at path (when
// path is not empty), then PIXELGW_* overrides from env (os.Environ() form),
// then derived defaults, then Validate. Unknown YAML keys and unknown PIXELGW_*
// variables are errors naming them.
func Load(path string, env []string) (Config, error) {
	cfg := Defaults()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("cannot read config file: %w", err)
		}
		if err := decodeYAML(data, &cfg); err != nil {
			return Config{}, fmt.Errorf("cannot load config file %s: %w", path, err)
		}
	}
	if err := applyEnv(&cfg, env); err != nil {
		return Config{}, err
	}
	cfg.applyDerived()
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("invalid config: %w", err)
	}
	return cfg, nil
}

// decodeYAML strictly decodes one YAML document onto cfg. It first walks the
// node tree against the Config type so that unknown keys, duplicate keys and
// wrong types are reported with their full YAML path and line, then decodes
// with KnownFields(true).
func decodeYAML(data []byte, cfg *Config) error {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty file: defaults
		}
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document")
	}
	if err := checkNode(&doc, reflect.TypeFor[Config](), ""); err != nil {
		return err
	}
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	return strict.Decode(cfg)
}

// yamlLinePrefix is the "line N: " yaml.v3 puts before each type error.
var yamlLinePrefix = regexp.MustCompile(`^line \d+: `)

func checkNode(n *yaml.Node, t reflect.Type, path string) error {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return checkNode(n.Content[0], t, path)
	case yaml.AliasNode:
		return checkNode(n.Alias, t, path)
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	where := func() string {
		if path == "" {
			return fmt.Sprintf("line %d", n.Line)
		}
		return fmt.Sprintf("%s (line %d)", path, n.Line)
	}
	switch {
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("%s: want a mapping, got %s", where(), describeNode(n))
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: mapping key is not a string", k.Line)
			}
			kp := joinPath(path, k.Value)
			if line, dup := seen[k.Value]; dup {
				return fmt.Errorf("%s (line %d): duplicate key, first set on line %d", kp, k.Line, line)
			}
			seen[k.Value] = k.Line
			f, ok := fieldByTag(t, k.Value)
			if !ok {
				return fmt.Errorf("%s (line %d): unknown key (known keys at this level: %s)",
					kp, k.Line, strings.Join(yamlKeys(t), ", "))
			}
			if err := checkNode(v, f.Type, kp); err != nil {
				return err
			}
		}
		return nil
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8:
		if n.Kind != yaml.SequenceNode {
			return fmt.Errorf("%s: want a list, got %s", where(), describeNode(n))
		}
		for i, item := range n.Content {
			if err := checkNode(item, t.Elem(), indexPath(path, i)); err != nil {
				return err
			}
		}
		return nil
	default:
		if n.Kind != yaml.ScalarNode {
			return fmt.Errorf("%s: want %s, got %s", where(), describeType(t), describeNode(n))
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			msg := err.Error()
			var te *yaml.TypeError
			if errors.As(err, &te) && len(te.Errors) > 0 {
				msg = yamlLinePrefix.ReplaceAllString(te.Errors[0], "")
			}
			if isSecretPath(path) {
				msg = "want " + describeType(t)
			}
			return fmt.Errorf("%s: %s", where(), msg)
		}
		return nil
	}
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return "a scalar"
	}
}

func describeType(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration such as 5s"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "an integer"
	case t.Kind() == reflect.String:
		return "a string"
	default:
		return t.String()
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlName returns a field's YAML key, or "" for fields YAML skips.
func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	tag := f.Tag.Get("yaml")
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		return strings.ToLower(f.Name)
	}
	return name
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for f := range t.Fields() {
		if yamlName(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func yamlKeys(t reflect.Type) []string {
	var keys []string
	for f := range t.Fields() {
		if n := yamlName(f); n != "" {
			keys = append(keys, n)
		}
	}
	return keys
}

// isSecretPath reports whether a YAML path (with [i] indices) is a secret.
func isSecretPath(path string) bool {
	norm := indexRe.ReplaceAllString(path, ".*")
	return slices.Contains(secretPaths, norm)
}

var indexRe = regexp.MustCompile(`\[\d+\]`)

// applyEnv applies PIXELGW_<PATH> and PIXELGW_<PATH>_FILE variables. Path
// segments are the upper-cased YAML keys joined by "_"; list items take their
// index as a segment (PIXELGW_API_JWT_KEYS_0_SECRET), growing the list as
// needed.
func applyEnv(cfg *Config, env []string) error {
	type setting struct{ name, value string }
	var settings []setting
	names := map[string]bool{}
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) || name == EnvConfigPath {
			continue
		}
		settings = append(settings, setting{name, value})
		names[name] = true
	}
	// Apply in name order so list indices grow predictably.
	slices.SortFunc(settings, func(a, b setting) int { return strings.Compare(a.name, b.name) })
	root := reflect.ValueOf(cfg).Elem()
	for _, s := range settings {
		rest := strings.TrimPrefix(s.name, EnvPrefix)
		target, path, err := resolveEnv(root, rest, "")
		fromFile := false
		if err != nil && strings.HasSuffix(rest, "_FILE") {
			var ferr error
			target, path, ferr = resolveEnv(root, strings.TrimSuffix(rest, "_FILE"), "")
			if ferr == nil {
				err, fromFile = nil, true
			}
		}
		if err != nil {
			return fmt.Errorf("%s: unknown variable: %w", s.name, err)
		}
		value := s.value
		if fromFile {
			plain := strings.TrimSuffix(s.name, "_FILE")
			if names[plain] {
				return fmt.Errorf("%s: %s is also set; set only one", s.name, plain)
			}
			b, err := os.ReadFile(s.value)
			if err != nil {
				return fmt.Errorf("%s: cannot read file: %w", s.name, err)
			}
			value = strings.TrimRight(string(b), "\r\n")
		}
		if err := setLeaf(target, value); err != nil {
			if isSecretPath(path) {
				return fmt.Errorf("%s (%s): cannot parse value", s.name, path)
			}
			return fmt.Errorf("%s (%s): %w", s.name, path, err)
		}
	}
	return nil
}

// resolveEnv finds the leaf named by rest (upper-case, "_"-joined) under v,
// growing slices as needed, and returns it with its YAML path. Keys contain
// underscores, so an exact leaf match is preferred, then the longest key
// prefix that descends into a struct or list.
func resolveEnv(v reflect.Value, rest, path string) (reflect.Value, string, error) {
	switch {
	case v.Kind() == reflect.Struct && v.Type() != durationType:
		type cand struct {
			idx  int
			name string
		}
		var cands []cand
		for i, f := range slices.Collect(v.Type().Fields()) {
			n := yamlName(f)
			if n == "" {
				continue
			}
			up := strings.ToUpper(n)
			if rest == up || strings.HasPrefix(rest, up+"_") {
				cands = append(cands, cand{i, n})
			}
		}
		slices.SortFunc(cands, func(a, b cand) int { return len(b.name) - len(a.name) })
		var firstErr error
		for _, c := range cands {
			up := strings.ToUpper(c.name)
			fv := v.Field(c.idx)
			fp := joinPath(path, c.name)
			if rest == up {
				if isLeaf(fv.Type()) {
					return fv, fp, nil
				}
				firstErr = fmt.Errorf("%s is not a single value", fp)
				continue
			}
			if isLeaf(fv.Type()) {
				continue
			}
			leaf, lp, err := resolveEnv(fv, strings.TrimPrefix(rest, up+"_"), fp)
			if err == nil {
				return leaf, lp, nil
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		if firstErr != nil {
			return reflect.Value{}, "", firstErr
		}
		if path == "" {
			return reflect.Value{}, "", errors.New("no such config key")
		}
		return reflect.Value{}, "", fmt.Errorf("no such config key under %s", path)
	case v.Kind() == reflect.Slice:
		idxStr, tail, _ := strings.Cut(rest, "_")
		i, err := strconv.Atoi(idxStr)
		if err != nil || i < 0 || i > maxEnvIndex || strconv.Itoa(i) != idxStr {
			return reflect.Value{}, "", fmt.Errorf("%s is a list: want an index 0..%d after it", path, maxEnvIndex)
		}
		if i >= v.Len() {
			grown := reflect.MakeSlice(v.Type(), i+1, i+1)
			reflect.Copy(grown, v)
			v.Set(grown)
		}
		item := v.Index(i)
		ip := indexPath(path, i)
		if tail == "" {
			if isLeaf(item.Type()) {
				return item, ip, nil
			}
			return reflect.Value{}, "", fmt.Errorf("%s is not a single value", ip)
		}
		return resolveEnv(item, tail, ip)
	default:
		return reflect.Value{}, "", fmt.Errorf("no such config key under %s", path)
	}
}

func isLeaf(t reflect.Type) bool {
	if t == durationType {
		return true
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Slice, reflect.Map, reflect.Array:
		return false
	}
	return true
}

func setLeaf(v reflect.Value, s string) error {
	if v.Type() == durationType {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration such as 5s", s)
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not a non-negative integer", s)
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(s, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("cannot set a %s from the environment", v.Type())
	}
	return nil
}

// MarshalRedacted renders the configuration as YAML with secrets redacted
// (for `pixelgw check-config`). The output loads back with Load.
func (c Config) MarshalRedacted() ([]byte, error) {
	b, err := yaml.Marshal(c.Redacted())
	if err != nil {
		return nil, fmt.Errorf("cannot marshal config: %w", err)
	}
	return b, nil
}

// Redacted returns a deep copy with every non-empty secret replaced by
// "[redacted]", for printing (check-config).
func (c Config) Redacted() Config {
	out := c
	redactValue(reflect.ValueOf(&out).Elem(), "")
	return out
}

func redactValue(v reflect.Value, path string) {
	switch {
	case v.Kind() == reflect.Struct && v.Type() != durationType:
		for i, f := range slices.Collect(v.Type().Fields()) {
			if n := yamlName(f); n != "" {
				redactValue(v.Field(i), joinPath(path, n))
			}
		}
	case v.Kind() == reflect.Slice:
		if v.IsNil() {
			return
		}
		cp := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(cp, v)
		v.Set(cp) // never mutate the caller's backing array
		for i := range v.Len() {
			redactValue(v.Index(i), indexPath(path, i))
		}
	case v.Kind() == reflect.String:
		if v.Len() > 0 && isSecretPath(path) {
			v.SetString(Redacted)
		}
	}
}
