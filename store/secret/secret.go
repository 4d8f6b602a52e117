// Package secret seals credentials with AES-256-GCM under versioned master
// keys. Each sealed value names the key that sealed it (store.Sealed.KeyID),
// so keys rotate: a keyring opens values under any of its keys and seals
// under the active one. Errors never contain key material or plaintext.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
	"unicode/utf8"

	"github.com/jaraba/pixelgw/store"
)

// KeySize is the size of a master key: AES-256.
const KeySize = 32

// ErrUnknownKey: the value was sealed under a key this keyring lacks.
var ErrUnknownKey = errors.New("sealed under an unknown key id")

// ErrOpen: the ciphertext is corrupt or was sealed under a different key.
var ErrOpen = errors.New("cannot open sealed value")

var keyIDRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)

// Keyring holds master keys by id.
type Keyring struct {
	active string
	aeads  map[string]cipher.AEAD
}

// NewKeyring builds a keyring that seals under activeID and opens under any
// key in keys. Every key must be exactly 32 bytes.
func NewKeyring(activeID string, keys map[string][]byte) (*Keyring, error) {
	if _, ok := keys[activeID]; !ok {
		return nil, fmt.Errorf("active key id %q has no key", activeID)
	}
	k := &Keyring{active: activeID, aeads: make(map[string]cipher.AEAD, len(keys))}
	for id, key := range keys {
		if !keyIDRe.MatchString(id) {
			return nil, fmt.Errorf("key id %q: want 1-32 of [A-Za-z0-9._-]", id)
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("key %q: %d bytes, need %d", id, len(key), KeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", id, err)
		}
		k.aeads[id] = aead
	}
	return k, nil
}

// ActiveKeyID is the id new values are sealed under.
func (k *Keyring) ActiveKeyID() string { return k.active }

// Seal encrypts plaintext under the active key. The nonce is random and
// prefixed to the ciphertext.
func (k *Keyring) Seal(plaintext []byte) (store.Sealed, error) {
	aead := k.aeads[k.active]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return store.Sealed{}, fmt.Errorf("cannot read random nonce: %w", err)
	}
	return store.Sealed{KeyID: k.active, Ciphertext: aead.Seal(nonce, nonce, plaintext, []byte(k.active))}, nil
}

// Open decrypts a sealed value. The zero Sealed opens to nil.
func (k *Keyring) Open(s store.Sealed) ([]byte, error) {
	if s.IsZero() {
		return nil, nil
	}
	aead, ok := k.aeads[s.KeyID]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, s.KeyID)
	}
	ns := aead.NonceSize()
	if len(s.Ciphertext) < ns+aead.Overhead() {
		return nil, ErrOpen
	}
	pt, err := aead.Open(nil, s.Ciphertext[:ns], s.Ciphertext[ns:], []byte(s.KeyID))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// Reseal re-encrypts s under the active key; values already under it are
// returned unchanged.
func (k *Keyring) Reseal(s store.Sealed) (store.Sealed, error) {
	if s.IsZero() || s.KeyID == k.active {
		return s, nil
	}
	pt, err := k.Open(s)
	if err != nil {
		return store.Sealed{}, err
	}
	return k.Seal(pt)
}

// Mask returns a hint safe to show for a secret: its last 4 characters
// after an ellipsis, or only the ellipsis for secrets shorter than 12
// characters (too short to reveal any part of).
func Mask(s string) string {
	n := utf8.RuneCountInString(s)
	if n < 12 {
		return "…"
	}
	r := []rune(s)
	return "…" + string(r[n-4:])
}
