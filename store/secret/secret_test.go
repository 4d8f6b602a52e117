package secret

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store"
)

func key(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	kr, err := NewKeyring("k1", map[string][]byte{"k1": key(t)})
	require.NoError(t, err)
	pt := []byte("EAAB-canary-access-token")
	s, err := kr.Seal(pt)
	require.NoError(t, err)
	require.Equal(t, "k1", s.KeyID)
	require.False(t, bytes.Contains(s.Ciphertext, pt))
	s2, err := kr.Seal(pt)
	require.NoError(t, err)
	require.NotEqual(t, s.Ciphertext, s2.Ciphertext, "random nonce per seal")
	got, err := kr.Open(s)
	require.NoError(t, err)
	require.Equal(t, pt, got)

	got, err = kr.Open(store.Sealed{})
	require.NoError(t, err)
	require.Nil(t, got)
}

func TestOpenRejectsTamperingAndWrongKey(t *testing.T) {
	t.Parallel()
	kr, err := NewKeyring("k1", map[string][]byte{"k1": key(t)})
	require.NoError(t, err)
	s, err := kr.Seal([]byte("secret"))
	require.NoError(t, err)

	tampered := store.Sealed{KeyID: s.KeyID, Ciphertext: append([]byte(nil), s.Ciphertext...)}
	tampered.Ciphertext[len(tampered.Ciphertext)-1] ^= 1
	_, err = kr.Open(tampered)
	require.ErrorIs(t, err, ErrOpen)

	_, err = kr.Open(store.Sealed{KeyID: "k1", Ciphertext: []byte{1, 2}})
	require.ErrorIs(t, err, ErrOpen)

	_, err = kr.Open(store.Sealed{KeyID: "k9", Ciphertext: s.Ciphertext})
	require.ErrorIs(t, err, ErrUnknownKey)

	// Same id, different key material: authentication fails.
	other, err := NewKeyring("k1", map[string][]byte{"k1": key(t)})
	require.NoError(t, err)
	_, err = other.Open(s)
	require.ErrorIs(t, err, ErrOpen)

	// The key id is authenticated: relabelling a ciphertext fails.
	both, err := NewKeyring("k2", map[string][]byte{"k1": key(t), "k2": key(t)})
	require.NoError(t, err)
	s2, err := both.Seal([]byte("x"))
	require.NoError(t, err)
	_, err = both.Open(store.Sealed{KeyID: "k1", Ciphertext: s2.Ciphertext})
	require.ErrorIs(t, err, ErrOpen)
}

func TestRotation(t *testing.T) {
	t.Parallel()
	k1, k2 := key(t), key(t)
	old, err := NewKeyring("k1", map[string][]byte{"k1": k1})
	require.NoError(t, err)
	s, err := old.Seal([]byte("token"))
	require.NoError(t, err)

	rot, err := NewKeyring("k2", map[string][]byte{"k1": k1, "k2": k2})
	require.NoError(t, err)
	r, err := rot.Reseal(s)
	require.NoError(t, err)
	require.Equal(t, "k2", r.KeyID)
	again, err := rot.Reseal(r)
	require.NoError(t, err)
	require.Equal(t, r, again, "already under the active key: unchanged")

	onlyNew, err := NewKeyring("k2", map[string][]byte{"k2": k2})
	require.NoError(t, err)
	got, err := onlyNew.Open(r)
	require.NoError(t, err)
	require.Equal(t, "token", string(got))
	_, err = onlyNew.Open(s)
	require.ErrorIs(t, err, ErrUnknownKey)
}

func TestNewKeyringValidation(t *testing.T) {
	t.Parallel()
	canary := []byte("0123456789abcdef") // 16 bytes
	_, err := NewKeyring("k1", map[string][]byte{"k1": canary})
	require.EqualError(t, err, `key "k1": 16 bytes, need 32`)
	require.NotContains(t, err.Error(), string(canary))
	_, err = NewKeyring("k1", map[string][]byte{"k2": key(t)})
	require.EqualError(t, err, `active key id "k1" has no key`)
	_, err = NewKeyring("bad id", map[string][]byte{"bad id": key(t)})
	require.Error(t, err)
}

func TestMask(t *testing.T) {
	t.Parallel()
	require.Equal(t, "…", Mask(""))
	require.Equal(t, "…", Mask("short-token"))
	require.Equal(t, "…wxyz", Mask("abcdefghijklmnopqrstuvwxyz"))
	require.Equal(t, "…ñaña", Mask("long-secret-with-ñaña"))
}
