// Package secretbox seals small secrets (forge credentials, webhook secrets)
// for storage at rest with AES-256-GCM.
//
// A sealed value is a printable string "v1:" + base64(nonce | ciphertext).
// The version prefix leaves room to change the algorithm or rotate keys later
// without guessing what an old row holds.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the key length New requires (AES-256).
const KeySize = 32

const prefixV1 = "v1:"

// ErrOpen is returned when a sealed value cannot be authenticated: it was
// tampered with, truncated, or sealed under another key.
var ErrOpen = errors.New("secretbox: cannot open sealed value (wrong key or tampered data)")

// Box seals and opens secrets with one key. It is safe for concurrent use.
type Box struct {
	aead cipher.AEAD
}

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secretbox: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext under a fresh random nonce.
func (b *Box) Seal(plaintext []byte) (string, error) {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("secretbox: nonce: %w", err)
	}
	out := b.aead.Seal(nonce, nonce, plaintext, []byte(prefixV1))
	return prefixV1 + base64.StdEncoding.EncodeToString(out), nil
}

// Open authenticates and decrypts a value made by Seal.
func (b *Box) Open(s string) ([]byte, error) {
	body, ok := strings.CutPrefix(s, prefixV1)
	if !ok {
		return nil, errors.New("secretbox: unknown sealed format (want \"v1:\" prefix)")
	}
	raw, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("secretbox: sealed value is not valid base64: %w", err)
	}
	ns := b.aead.NonceSize()
	if len(raw) < ns+b.aead.Overhead() {
		return nil, errors.New("secretbox: sealed value too short")
	}
	// The version prefix is authenticated data, so a body cannot be replayed
	// under a future format's prefix.
	pt, err := b.aead.Open(nil, raw[:ns], raw[ns:], []byte(prefixV1))
	if err != nil {
		return nil, ErrOpen
	}
	if pt == nil {
		pt = []byte{}
	}
	return pt, nil
}
