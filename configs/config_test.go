package configs

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/admin"
)

const (
	testMasterKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // "0123456789abcdef0123456789abcdef"
	prevKey       = "YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODk=" // "abcdef0123456789abcdef0123456789"
	jwtSecret     = "Q0FOQVJZLWp3dC1zZWNyZXQtMDEyMzQ1Njc4OWFiY2RlZmdoaWo="
)

// canaries are secret values planted in fixtures and env; no error may
// contain them.
var canaries = []string{
	"CANARY", testMasterKey, prevKey, jwtSecret, "hunter2",
	"MDEyMzQ1Njc4OWFiY2RlZg==", "Q0FOQVJZLXByZXZpb3Vz", "Q0FOQVJZLXNob3J0",
}

func requireNoCanary(t *testing.T, s string) {
	t.Helper()
	for _, c := range canaries {
		require.NotContains(t, s, c)
	}
}

func TestDefaultsAreValidWithMasterKey(t *testing.T) {
	t.Parallel()
	cfg := Defaults()
	cfg.applyDerived()
	require.EqualError(t, cfg.Validate(), "secrets.master_key: required (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)")
	cfg.Secrets.MasterKey = testMasterKey
	require.NoError(t, cfg.Validate())
	cfg.Secrets.MasterKey = ""
	cfg.Dev = true
	require.NoError(t, cfg.Validate())
}

func TestExampleLoadsAsDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := Load("pixelgw.example.yaml", []string{"PIXELGW_SECRETS_MASTER_KEY=" + testMasterKey})
	require.NoError(t, err)
	want := Defaults()
	want.Secrets.MasterKey = testMasterKey
	want.Database.SQLitePath = filepath.Join("data", "pixelgw.db")
	require.Equal(t, want, cfg)
}

func TestLoadWithoutFile(t *testing.T) {
	t.Parallel()
	cfg, err := Load("", []string{"PIXELGW_DEV=true", "PIXELGW_DATA_DIR=/srv/pgw", "HOME=/root", "PIXELGWX=ignored", EnvConfigPath + "=/etc/pixelgw.yaml"})
	require.NoError(t, err)
	require.True(t, cfg.Dev)
	require.Equal(t, "/srv/pgw/pixelgw.db", cfg.Database.SQLitePath)
	require.Equal(t, ModeEmbedded, cfg.Mode)
}

func TestLoadEmptyFile(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "empty.yaml")
	require.NoError(t, os.WriteFile(p, []byte("# nothing\n"), 0o600))
	cfg, err := Load(p, []string{"PIXELGW_DEV=1"})
	require.NoError(t, err)
	want := Defaults()
	want.Dev = true
	want.applyDerived()
	require.Equal(t, want, cfg)
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorContains(t, err, "cannot read config file")
}

func TestScaledGoodFixture(t *testing.T) {
	t.Parallel()
	cfg, err := Load("testdata/scaled.good.yaml", nil)
	require.NoError(t, err)
	require.Equal(t, ModeScaled, cfg.Mode)
	require.Equal(t, "/var/lib/pixelgw/pixelgw.db", cfg.Database.SQLitePath)
	require.Equal(t, 50, cfg.Database.MaxConns)
	require.Equal(t, "redis.internal:6379", cfg.Redis.Addr)
	require.Equal(t, 3, cfg.Redis.DB)
	require.Equal(t, time.Hour, cfg.API.JWT.MaxTTL)
	require.Equal(t, time.Duration(0), cfg.Shutdown.ReadyDelay)
	require.Equal(t, time.Minute, cfg.Shutdown.Timeout)
	require.Len(t, cfg.API.JWT.Keys, 3)
	require.Equal(t, "RS256", cfg.API.JWT.Keys[2].Alg)

	active, keys, err := cfg.MasterKeys()
	require.NoError(t, err)
	require.Equal(t, "k2", active)
	require.Equal(t, map[string][]byte{
		"k2": []byte("0123456789abcdef0123456789abcdef"),
		"k1": []byte("abcdef0123456789abcdef0123456789"),
	}, keys)
}

func TestMasterKeysNotConfigured(t *testing.T) {
	t.Parallel()
	cfg, err := Load("", []string{"PIXELGW_DEV=true"})
	require.NoError(t, err)
	_, _, err = cfg.MasterKeys()
	require.ErrorIs(t, err, ErrNoMasterKey)
}

func TestRedacted(t *testing.T) {
	t.Parallel()
	cfg, err := Load("testdata/scaled.good.yaml", nil)
	require.NoError(t, err)
	red := cfg.Redacted()

	require.Equal(t, Redacted, red.Database.PostgresDSN)
	require.Equal(t, Redacted, red.Redis.Password)
	require.Equal(t, Redacted, red.Secrets.MasterKey)
	require.Equal(t, Redacted, red.Secrets.PreviousKeys[0].Key)
	require.Equal(t, "k1", red.Secrets.PreviousKeys[0].ID)
	require.Equal(t, Redacted, red.API.JWT.Keys[0].Secret)
	require.Equal(t, "", red.API.JWT.Keys[1].Secret, "empty secrets stay empty")
	require.Contains(t, red.API.JWT.Keys[2].PublicKey, "BEGIN PUBLIC KEY", "public keys are not secret")

	out, err := cfg.MarshalRedacted()
	require.NoError(t, err)
	requireNoCanary(t, string(out))
	require.Contains(t, string(out), "max_ttl: 1h0m0s")
	require.Contains(t, string(out), "postgres_dsn: '[redacted]'")

	// The printed form is strict-valid YAML for Load (secrets aside).
	var back Config
	require.NoError(t, decodeYAML(out, &back))
	back.applyDerived()
	require.Equal(t, red, back)

	// The original is untouched (slices were deep-copied).
	require.Equal(t, prevKey, cfg.Secrets.PreviousKeys[0].Key)
	require.Equal(t, jwtSecret, cfg.API.JWT.Keys[0].Secret)
}

// TestBadFixtures checks every testdata/*.bad.yaml against its exact error.
func TestBadFixtures(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"platform_version.bad.yaml":         "platforms.meta.version: must look like v26.0",
		"unknown_top.bad.yaml":              "colour (line 2): unknown key (known keys at this level: mode, data_dir, dev, database, redis, secrets, edge, ops, api, platforms, log, shutdown)",
		"unknown_nested.bad.yaml":           "database.sqlite_pth (line 3): unknown key (known keys at this level: sqlite_path, postgres_dsn, max_conns)",
		"unknown_jwt_key_field.bad.yaml":    "api.jwt.keys[0].algorithm (line 6): unknown key",
		"wrong_type.bad.yaml":               "database.max_conns (line 3): cannot unmarshal !!str `lots` into int",
		"section_scalar.bad.yaml":           "database (line 2): want a mapping, got a scalar",
		"list_not_list.bad.yaml":            "secrets.previous_keys (line 3): want a list, got a scalar",
		"bool_type.bad.yaml":                "dev (line 1): cannot unmarshal !!str `maybe` into bool",
		"bad_duration.bad.yaml":             "shutdown.timeout (line 3): cannot unmarshal !!str `30 seconds` into time.Duration",
		"duration_int.bad.yaml":             "shutdown.ready_delay (line 3): cannot unmarshal !!int `5` into time.Duration",
		"duration_range.bad.yaml":           "shutdown.timeout: 0s is outside 1s..10m",
		"shutdown_order.bad.yaml":           "shutdown.timeout: 30s must exceed shutdown.ready_delay 1m0s",
		"bad_mode.bad.yaml":                 `mode: "cluster" is not one of embedded, scaled`,
		"bad_listen.bad.yaml":               `ops.listen: "localhost" is not host:port`,
		"bad_port.bad.yaml":                 `edge.listen: ":http" has no numeric port 0..65535`,
		"bad_api_listen.bad.yaml":           `api.listen: "8081" is not host:port`,
		"port_clash.bad.yaml":               `ops.listen: ":8080" uses the same port as edge.listen ":8080"`,
		"missing_master_key.bad.yaml":       "secrets.master_key: required (base64 of 32 random bytes",
		"dev_scaled_no_master_key.bad.yaml": "secrets.master_key: required (dev only generates a key in embedded mode)",
		"short_master_key.bad.yaml":         "secrets.master_key: decodes to 16 bytes, need 32",
		"master_key_not_base64.bad.yaml":    "secrets.master_key: not valid base64",
		"bad_master_key_id.bad.yaml":        `secrets.master_key_id: "key one" is not 1-32 of [A-Za-z0-9._-]`,
		"previous_key_dup_id.bad.yaml":      `secrets.previous_keys[0].id: duplicate key id "k1"`,
		"previous_key_short.bad.yaml":       "secrets.previous_keys[0].key: decodes to 15 bytes, need 32",
		"scaled_without_dsn.bad.yaml":       "database.postgres_dsn: required in scaled mode",
		"bad_dsn_scheme.bad.yaml":           "database.postgres_dsn: URL scheme must be postgres:// or postgresql://",
		"redis_db.bad.yaml":                 "redis.db: 16 is outside 0..15",
		"max_conns_zero.bad.yaml":           "database.max_conns: 0 is outside 1..1000",
		"bad_log_level.bad.yaml":            `log.level: "verbose" is not one of debug, info, warn, error`,
		"bad_log_format.bad.yaml":           `log.format: "xml" is not one of json, text`,
		"duplicate_key.bad.yaml":            "log.level (line 5): duplicate key, first set on line 3",
		"two_docs.bad.yaml":                 "more than one YAML document",
		"syntax.bad.yaml":                   "yaml: line 1: did not find expected ',' or ']'",
		"bad_jwt_alg.bad.yaml":              `api.jwt.keys[0]: alg: "none" is not one of HS256, RS256, EdDSA`,
		"jwt_hs256_short.bad.yaml":          "api.jwt.keys[0]: secret: 12 bytes decoded, need at least 32",
		"jwt_duplicate_kid.bad.yaml":        `api.jwt.keys[1].kid: duplicate kid "a"`,
		"rs256_short.bad.yaml":              "api.jwt.keys[0]: public_key: RSA key of 1024 bits, need at least 2048",
		"rs256_garbage.bad.yaml":            "api.jwt.keys[0]: public_key: no PEM block",
		"rs256_bad_der.bad.yaml":            "api.jwt.keys[0]: public_key: not a PKIX public key",
		"eddsa_as_rs256.bad.yaml":           "api.jwt.keys[0]: public_key: Ed25519 key with alg RS256",
		"api_body_limit.bad.yaml":           "api.max_body_bytes: 10 is outside 1024..67108864",
	}
	files, err := filepath.Glob("testdata/*.bad.yaml")
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	wantNames := slices.Collect(func(yield func(string) bool) {
		for k := range want {
			if !yield(k) {
				return
			}
		}
	})
	require.ElementsMatch(t, wantNames, names, "every fixture has an expected error and every expectation a fixture")

	for name, msg := range want {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(filepath.Join("testdata", name), nil)
			require.Error(t, err)
			require.Contains(t, err.Error(), msg)
			requireNoCanary(t, err.Error())
		})
	}
}

func TestEnvOverrides(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "master.key")
	require.NoError(t, os.WriteFile(keyFile, []byte(testMasterKey+"\n"), 0o600))
	dsnFile := filepath.Join(dir, "dsn")
	require.NoError(t, os.WriteFile(dsnFile, []byte("postgres://u:CANARY-pw@db:5432/x\r\n"), 0o600))
	jwtFile := filepath.Join(dir, "jwt")
	require.NoError(t, os.WriteFile(jwtFile, []byte(jwtSecret), 0o600))

	cfg, err := Load("testdata/scaled.good.yaml", []string{
		"PIXELGW_MODE=scaled",
		"PIXELGW_SECRETS_MASTER_KEY_FILE=" + keyFile,
		"PIXELGW_SECRETS_MASTER_KEY_ID=k9",
		"PIXELGW_DATABASE_POSTGRES_DSN_FILE=" + dsnFile,
		"PIXELGW_DATABASE_MAX_CONNS=7",
		"PIXELGW_API_LISTEN=127.0.0.1:18081",
		"PIXELGW_API_JWT_MAX_TTL=2h",
		"PIXELGW_API_JWT_KEYS_0_SECRET_FILE=" + jwtFile,
		"PIXELGW_API_JWT_KEYS_3_KID=extra",
		"PIXELGW_API_JWT_KEYS_3_ALG=HS256",
		"PIXELGW_API_JWT_KEYS_3_SECRET=" + jwtSecret,
		"PIXELGW_SECRETS_PREVIOUS_KEYS_1_ID=k0",
		"PIXELGW_SECRETS_PREVIOUS_KEYS_1_KEY=" + testMasterKey,
		"PIXELGW_REDIS_DB=15",
		"PIXELGW_SHUTDOWN_READY_DELAY=250ms",
		"PIXELGW_LOG_FORMAT=json",
		"PIXELGW_DEV=false",
	})
	require.NoError(t, err)
	require.Equal(t, testMasterKey, cfg.Secrets.MasterKey)
	require.Equal(t, "k9", cfg.Secrets.MasterKeyID)
	require.Equal(t, "postgres://u:CANARY-pw@db:5432/x", cfg.Database.PostgresDSN)
	require.Equal(t, 7, cfg.Database.MaxConns)
	require.Equal(t, "127.0.0.1:18081", cfg.API.Listen)
	require.Equal(t, 2*time.Hour, cfg.API.JWT.MaxTTL)
	require.Equal(t, jwtSecret, cfg.API.JWT.Keys[0].Secret)
	require.Equal(t, admin.JWTKey{KID: "extra", Alg: "HS256", Secret: jwtSecret}, cfg.API.JWT.Keys[3])
	require.Equal(t, []PreviousKey{{ID: "k1", Key: prevKey}, {ID: "k0", Key: testMasterKey}}, cfg.Secrets.PreviousKeys)
	require.Equal(t, 15, cfg.Redis.DB)
	require.Equal(t, 250*time.Millisecond, cfg.Shutdown.ReadyDelay)
	require.Equal(t, "json", cfg.Log.Format)
}

func TestPlatformAttempts(t *testing.T) {
	t.Parallel()
	cfg, err := Load("", []string{"PIXELGW_DEV=true", "PIXELGW_PLATFORMS_META_ATTEMPTS=6", "PIXELGW_PLATFORMS_X_ATTEMPTS=1"})
	require.NoError(t, err)
	d := cfg.Platforms.DispatchConfig()
	require.Equal(t, 6, d.AttemptsFor("meta"))
	require.Equal(t, 1, d.AttemptsFor("twitter"), "x is the store's twitter")
	require.Equal(t, 3, d.AttemptsFor("google"))
	_, err = Load("", []string{"PIXELGW_DEV=true", "PIXELGW_PLATFORMS_TIKTOK_ATTEMPTS=101"})
	require.ErrorContains(t, err, "platforms.tiktok.attempts")
}

func TestEnvErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(secretFile, []byte("CANARY-file"), 0o600))

	f := func(env []string, wantErr string) {
		t.Helper()
		_, err := Load("", append([]string{"PIXELGW_DEV=true"}, env...))
		require.Error(t, err)
		require.Contains(t, err.Error(), wantErr)
		requireNoCanary(t, err.Error())
	}
	f([]string{"PIXELGW_COLOUR=blue"}, "PIXELGW_COLOUR: unknown variable: no such config key")
	f([]string{"PIXELGW_DATABASE_NAME=x"}, "PIXELGW_DATABASE_NAME: unknown variable: no such config key under database")
	f([]string{"PIXELGW_DATABASE=x"}, "PIXELGW_DATABASE: unknown variable: database is not a single value")
	f([]string{"PIXELGW_API_JWT_KEYS_X_KID=a"}, "PIXELGW_API_JWT_KEYS_X_KID: unknown variable: api.jwt.keys is a list: want an index 0..999 after it")
	f([]string{"PIXELGW_API_JWT_KEYS_01_KID=a"}, "PIXELGW_API_JWT_KEYS_01_KID: unknown variable: api.jwt.keys is a list")
	f([]string{"PIXELGW_API_JWT_KEYS_0=a"}, "PIXELGW_API_JWT_KEYS_0: unknown variable: api.jwt.keys[0] is not a single value")
	f([]string{"PIXELGW_LOG_LEVEL_FILE=/nonexistent/level"}, "PIXELGW_LOG_LEVEL_FILE: cannot read file: open /nonexistent/level: no such file or directory")
	f([]string{"PIXELGW_NOPE_FILE=" + secretFile}, "PIXELGW_NOPE_FILE: unknown variable")
	f([]string{"PIXELGW_DATABASE_MAX_CONNS=lots"}, `PIXELGW_DATABASE_MAX_CONNS (database.max_conns): "lots" is not an integer`)
	f([]string{"PIXELGW_DEV=maybe"}, `PIXELGW_DEV (dev): "maybe" is not true or false`)
	f([]string{"PIXELGW_SHUTDOWN_TIMEOUT=30"}, `PIXELGW_SHUTDOWN_TIMEOUT (shutdown.timeout): "30" is not a duration such as 5s`)
	f([]string{"PIXELGW_REDIS_PASSWORD=CANARY-a", "PIXELGW_REDIS_PASSWORD_FILE=" + secretFile}, "PIXELGW_REDIS_PASSWORD_FILE: PIXELGW_REDIS_PASSWORD is also set; set only one")
	f([]string{"PIXELGW_SECRETS_MASTER_KEY=CANARY-not-base64!!"}, "invalid config: secrets.master_key: not valid base64")
	f([]string{"PIXELGW_SECRETS_MASTER_KEY_FILE=" + secretFile}, "invalid config: secrets.master_key: decodes to 8 bytes, need 32")
	f([]string{"PIXELGW_API_JWT_KEYS_2_KID=a", "PIXELGW_API_JWT_KEYS_2_ALG=HS256", "PIXELGW_API_JWT_KEYS_2_SECRET=" + jwtSecret},
		"invalid config: api.jwt.keys[0].kid: required")
	f([]string{"PIXELGW_MODE=scaled", "PIXELGW_SECRETS_MASTER_KEY=" + testMasterKey, "PIXELGW_DATABASE_POSTGRES_DSN=mysql://root:hunter2@db/x"},
		"database.postgres_dsn: URL scheme must be postgres://")
}

func TestEnvFileTrimsOnlyTrailingNewlines(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(p, []byte("  pass word \n\n"), 0o600))
	cfg, err := Load("", []string{"PIXELGW_DEV=true", "PIXELGW_REDIS_PASSWORD_FILE=" + p})
	require.NoError(t, err)
	require.Equal(t, "  pass word ", cfg.Redis.Password)
}

// leafPaths lists every leaf YAML path of t, lists written as "[]".
func leafPaths(t reflect.Type, prefix string) []string {
	switch {
	case t == durationType || (t.Kind() != reflect.Struct && t.Kind() != reflect.Slice):
		return []string{prefix}
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Struct:
		return []string{prefix} // a list of scalars is documented as one key
	case t.Kind() == reflect.Slice:
		return leafPaths(t.Elem(), prefix+"[]")
	}
	var out []string
	for f := range t.Fields() {
		if n := yamlName(f); n != "" {
			out = append(out, leafPaths(f.Type, joinPath(prefix, n))...)
		}
	}
	return out
}

var exampleKeyLine = regexp.MustCompile(`^( *)(- )?([a-z_]+):(\s|$)`)

// examplePaths returns every key path written in the example file, including
// commented-out example entries (`#   - kid: a` lines).
func examplePaths(t *testing.T, text string) map[string]bool {
	t.Helper()
	type frame struct {
		indent int
		name   string
	}
	var stack []frame
	paths := map[string]bool{}
	commented := regexp.MustCompile(`^( *)# ?`)
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\n")
		if m := commented.FindStringSubmatch(line); m != nil {
			line = m[1] + line[len(m[0]):]
		}
		m := exampleKeyLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		indent := len(m[1])
		for len(stack) > 0 && stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		if m[2] != "" {
			stack = append(stack, frame{indent, "[]"})
			indent += 2
		}
		var b strings.Builder
		for _, fr := range stack {
			if fr.name == "[]" {
				b.WriteString("[]")
				continue
			}
			if b.Len() > 0 {
				b.WriteString(".")
			}
			b.WriteString(fr.name)
		}
		p := joinPath(b.String(), m[3])
		paths[p] = true
		stack = append(stack, frame{indent, m[3]})
	}
	return paths
}

func TestExampleDocumentsEveryKey(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("pixelgw.example.yaml")
	require.NoError(t, err)
	got := examplePaths(t, string(b))
	leaves := leafPaths(reflect.TypeFor[Config](), "")
	require.Contains(t, leaves, "api.jwt.keys[].public_key")
	for _, p := range leaves {
		require.True(t, got[p], "configs/pixelgw.example.yaml does not document %s", p)
	}
	// And nothing in the example (even commented out) is a stale key.
	for p := range got {
		ok := slices.ContainsFunc(leaves, func(l string) bool { return l == p || strings.HasPrefix(l, p+".") || strings.HasPrefix(l, p+"[]") })
		require.True(t, ok, "configs/pixelgw.example.yaml documents unknown key %s", p)
	}
}

// TestSecretFieldsClassified makes sure a new secret-looking field cannot be
// added without deciding whether it is redacted.
func TestSecretFieldsClassified(t *testing.T) {
	t.Parallel()
	notSecret := []string{
		"secrets.master_key_id", "secrets.previous_keys.*.id", "api.jwt.keys.*.kid", "api.jwt.keys.*.public_key",
		"edge.tls_key_file", // a path; the key itself stays in the file
	}
	looksSecret := regexp.MustCompile(`key|secret|password|passwd|token|dsn|credential|cookie`)
	for _, p := range leafPaths(reflect.TypeFor[Config](), "") {
		norm := strings.ReplaceAll(p, "[]", ".*")
		last := norm[strings.LastIndex(norm, ".")+1:]
		if !looksSecret.MatchString(last) {
			continue
		}
		require.True(t, slices.Contains(secretPaths, norm) || slices.Contains(notSecret, norm),
			"%s looks secret: add it to secretPaths or to this test's notSecret list", norm)
	}
	for _, p := range secretPaths {
		require.Contains(t, leafPaths(reflect.TypeFor[Config](), ""), strings.ReplaceAll(p, ".*", "[]"), "stale secretPaths entry")
	}
}
