package redisstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// KeySize is the size of a sealing key: AES-256.
const KeySize = 32

// MaxKeyIDLength bounds a key ID (it is stored in every blob behind a
// one-byte length).
const MaxKeyIDLength = 255

// Blob versions: the first byte of every value the store writes.
const (
	blobPlaintext byte = 0 // 0x00 || DER: written by older releases, read only with ReadPlaintext
	blobSealedGCM byte = 1 // 0x01 || len(keyID) || keyID || nonce(12) || AES-256-GCM(DER)
)

const gcmNonceSize = 12

// Keyring holds the AES-256-GCM keys sessions are sealed with. Current seals
// every new blob; every key in Keys (Current included) opens the blobs
// sealed under its ID. To rotate: add the new key, make it Current on every
// server, and drop the old key once the sessions it sealed have expired (the
// longest session lifetime after the switch).
type Keyring struct {
	// Current is the ID of the key that seals.
	Current string
	// Keys maps key IDs (1 to 255 bytes) to 32-byte keys.
	Keys map[string][]byte
}

// ErrOpen is wrapped by every error about a blob that does not open: a
// foreign, tampered, truncated or unknown-key blob, or a plaintext blob a
// sealing store refuses.
var ErrOpen = errors.New("redisstore: stored session does not open")

// sealer is a parsed Keyring; it is immutable once built.
type sealer struct {
	current   string
	aeads     map[string]cipher.AEAD
	plaintext bool // accept plaintext blobs on reads
}

func newSealer(k Keyring, readPlaintext bool) (*sealer, error) {
	s := &sealer{current: k.Current, aeads: make(map[string]cipher.AEAD, len(k.Keys)), plaintext: readPlaintext}
	for id, key := range k.Keys {
		if len(id) == 0 || len(id) > MaxKeyIDLength {
			return nil, fmt.Errorf("redisstore: key ID %q: must be 1 to %d bytes", id, MaxKeyIDLength)
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("redisstore: key %q is %d bytes; AES-256-GCM needs %d", id, len(key), KeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		s.aeads[id] = aead
	}
	if k.Current == "" {
		return nil, errors.New("redisstore: no sealing key (Keyring.Current): sessions hold their master secrets, and are always stored sealed")
	}
	if _, ok := s.aeads[k.Current]; !ok {
		return nil, fmt.Errorf("redisstore: current key %q is not in the keyring", k.Current)
	}
	return s, nil
}

// seal returns the blob stored under name for the DER session der.
func (s *sealer) seal(name string, der []byte) ([]byte, error) {
	aead := s.aeads[s.current]
	hdr := 2 + len(s.current)
	out := make([]byte, hdr+gcmNonceSize, hdr+gcmNonceSize+len(der)+aead.Overhead())
	out[0] = blobSealedGCM
	out[1] = byte(len(s.current))
	copy(out[2:], s.current)
	nonce := out[hdr : hdr+gcmNonceSize]
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(out, nonce, der, aad(out[:hdr], name)), nil
}

// aad is what the tag covers beside the DER: the blob's header (version and
// length-prefixed key ID) and the Redis key name the blob is stored under,
// so that a blob moved to another name (another session ID, id context or
// prefix) does not open.
func aad(header []byte, name string) []byte {
	a := make([]byte, 0, len(header)+len(name))
	a = append(a, header...)
	return append(a, name...)
}

// open returns the DER session in blob, read from name.
func (s *sealer) open(name string, blob []byte) (der []byte, sealed bool, err error) {
	if len(blob) == 0 {
		return nil, false, fmt.Errorf("%w: empty value", ErrOpen)
	}
	switch blob[0] {
	case blobPlaintext:
		if !s.plaintext {
			return nil, false, fmt.Errorf("%w: plaintext blob, and this store only accepts sealed ones (Options.ReadPlaintext)", ErrOpen)
		}
		if len(blob) == 1 {
			return nil, false, fmt.Errorf("%w: empty plaintext blob", ErrOpen)
		}
		return blob[1:], false, nil
	case blobSealedGCM:
		if len(blob) < 2 {
			return nil, true, fmt.Errorf("%w: truncated header", ErrOpen)
		}
		hdr := 2 + int(blob[1])
		if blob[1] == 0 || len(blob) < hdr+gcmNonceSize+16 {
			return nil, true, fmt.Errorf("%w: truncated blob of %d bytes", ErrOpen, len(blob))
		}
		id := string(blob[2:hdr])
		aead, ok := s.aeads[id]
		if !ok {
			return nil, true, fmt.Errorf("%w: sealed under key %q, which is not in the keyring", ErrOpen, id)
		}
		nonce := blob[hdr : hdr+gcmNonceSize]
		der, err := aead.Open(nil, nonce, blob[hdr+gcmNonceSize:], aad(blob[:hdr], name))
		if err != nil {
			return nil, true, fmt.Errorf("%w: authentication failed under key %q (tampered, or stored under another name)", ErrOpen, id)
		}
		return der, true, nil
	default:
		return nil, false, fmt.Errorf("%w: unknown blob version %d", ErrOpen, blob[0])
	}
}

// NewKey returns a fresh random 32-byte key.
func NewKey() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return k, nil
}

// ParseKeyring reads a keyring from a comma-separated list of
// ID:base64(key) entries, the first being the current key, as in
// "2025-06:q83v...=,2025-01:Zm9v...=". Standard or URL-safe base64, padded
// or not, is accepted.
func ParseKeyring(spec string) (Keyring, error) {
	k := Keyring{Keys: map[string][]byte{}}
	for i, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		id, b64, ok := strings.Cut(entry, ":")
		if !ok || id == "" {
			return Keyring{}, fmt.Errorf("redisstore: keyring entry %d: want ID:base64key", i+1)
		}
		key, err := decodeKey(b64)
		if err != nil {
			return Keyring{}, fmt.Errorf("redisstore: keyring entry %q: %v", id, err)
		}
		if _, dup := k.Keys[id]; dup {
			return Keyring{}, fmt.Errorf("redisstore: keyring entry %q given twice", id)
		}
		k.Keys[id] = key
		if i == 0 {
			k.Current = id
		}
	}
	return k, nil
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("key is %d bytes; want %d", len(b), KeySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("key is not base64")
}

// Spec formats the keyring as ParseKeyring reads it (current key first).
// It holds the keys: keep it secret.
func (k Keyring) Spec() string {
	ids := k.ids()
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = id + ":" + base64.StdEncoding.EncodeToString(k.Keys[id])
	}
	return strings.Join(parts, ",")
}

// String names the keys without showing them, so that logging Options does
// not leak them.
func (k Keyring) String() string {
	return fmt.Sprintf("Keyring{Current: %q, IDs: %q}", k.Current, k.ids())
}

// ids returns the key IDs, current first, the others sorted.
func (k Keyring) ids() []string {
	ids := make([]string, 0, len(k.Keys))
	for id := range k.Keys {
		if id != k.Current {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if _, ok := k.Keys[k.Current]; ok {
		ids = append([]string{k.Current}, ids...)
	}
	return ids
}
