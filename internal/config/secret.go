package config

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
)

// resolveSecret turns a secret reference into its value:
//
//	env:NAME   the environment variable NAME (unset or empty is an error)
//	file:PATH  the file's contents with surrounding whitespace trimmed
//	           (relative to dir, the config file's directory)
//	other      the literal itself (literal = true)
func resolveSecret(ref, dir string) (val string, literal bool, err error) {
	switch {
	case strings.HasPrefix(ref, "env:"):
		name := strings.TrimPrefix(ref, "env:")
		if name == "" {
			return "", false, errors.New(`"env:" needs a variable name, e.g. env:PADDOCK_ADMIN_TOKEN`)
		}
		v, ok := os.LookupEnv(name)
		if !ok {
			return "", false, fmt.Errorf("environment variable %s is not set", name)
		}
		if v == "" {
			return "", false, fmt.Errorf("environment variable %s is empty", name)
		}
		return v, false, nil
	case strings.HasPrefix(ref, "file:"):
		p := strings.TrimPrefix(ref, "file:")
		if p == "" {
			return "", false, errors.New(`"file:" needs a path, e.g. file:/etc/paddock/token`)
		}
		p = resolvePath(p, dir)
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return "", false, fmt.Errorf("secret file %s does not exist", p)
		}
		if err != nil {
			return "", false, fmt.Errorf("read secret file: %w", err)
		}
		v := strings.TrimSpace(string(data))
		if v == "" {
			return "", false, fmt.Errorf("secret file %s is empty", p)
		}
		return v, false, nil
	}
	return ref, true, nil
}

// secretCharsProblem says what in val cannot belong to the secret at path,
// or "" if nothing. Tokens are sent in HTTP headers, where a line break or
// space means the file held more than the token (a warning line, say) and
// every call would fail later; a webhook secret is an HMAC key the forge
// takes as typed, so spaces are allowed but not control characters; a PEM
// private key is many lines by design; the encryption key is checked by
// decodeKey.
func secretCharsProblem(path, val string) string {
	key := path[strings.LastIndexByte(path, '.')+1:]
	switch key {
	case "private_key", "encryption_key":
		return ""
	}
	for _, r := range val {
		switch {
		case r == '\n' || r == '\r':
			return "a line break"
		case unicode.IsControl(r):
			return "a control character"
		case key != "webhook_secret" && unicode.IsSpace(r):
			return "a space"
		}
	}
	return ""
}

// resolvePath makes a relative path relative to dir (the config file's
// directory), so a config behaves the same whatever the working directory.
func resolvePath(p, dir string) string {
	if p == "" || dir == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// keySize is the length of the store's AES-256 encryption key.
const keySize = 32

// Key returns the store encryption key as bytes. Parse has already checked
// that it decodes to 32 bytes.
func (s StoreConfig) Key() []byte {
	k, _ := decodeKey(string(s.EncryptionKey))
	return k
}

// decodeKey accepts 64 hex digits or standard/URL base64 (padded or not).
func decodeKey(s string) ([]byte, error) {
	if len(s) == 2*keySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != keySize {
				return nil, fmt.Errorf("must be %d bytes, got %d (generate one with: openssl rand -hex 32)", keySize, len(k))
			}
			return k, nil
		}
	}
	return nil, fmt.Errorf("must be %d bytes written as %d hex digits or base64 (generate one with: openssl rand -hex 32)", keySize, 2*keySize)
}
