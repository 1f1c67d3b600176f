// Package codec holds what every store backend does the same way outside
// SQL: validating records before a write, sealing forge secrets, merging a
// job report into the stored job, page cursors, and the encryption-key check.
// Backends differ only in how they talk to their database.
package codec

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/secretbox"
)

// Nanos stores a time as unix nanoseconds; the zero time maps to 0 rather
// than UnixNano's undefined value for dates outside 1678–2262.
func Nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// ToJSON encodes a record's data column.
func ToJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// FromJSON decodes a record's data column into v.
func FromJSON(data string, v any) error {
	if err := json.Unmarshal([]byte(data), v); err != nil {
		return fmt.Errorf("store: decode %T: %w", v, err)
	}
	return nil
}

// forgeSecrets is the part of a Forge that is only ever stored sealed.
type forgeSecrets struct {
	WebhookSecret string          `json:"webhook_secret"`
	Credential    core.Credential `json:"credential"`
}

// EncodeForge splits f into its plain JSON (secrets blanked) and the sealed secrets.
func EncodeForge(box *secretbox.Box, f *core.Forge) (data, sealed string, err error) {
	plain := *f
	plain.WebhookSecret = ""
	plain.Credential = core.Credential{}
	d, err := json.Marshal(plain)
	if err != nil {
		return "", "", err
	}
	sec, err := json.Marshal(forgeSecrets{WebhookSecret: f.WebhookSecret, Credential: f.Credential})
	if err != nil {
		return "", "", err
	}
	sealed, err = box.Seal(sec)
	if err != nil {
		return "", "", err
	}
	return string(d), sealed, nil
}

// DecodeForge joins a forge's plain JSON and its sealed secrets.
func DecodeForge(box *secretbox.Box, data, sealed string) (core.Forge, error) {
	var f core.Forge
	if err := json.Unmarshal([]byte(data), &f); err != nil {
		return f, fmt.Errorf("store: decode forge: %w", err)
	}
	pt, err := box.Open(sealed)
	if err != nil {
		return f, fmt.Errorf("store: forge %q secrets: %w", f.Name, err)
	}
	var sec forgeSecrets
	if err := json.Unmarshal(pt, &sec); err != nil {
		return f, fmt.Errorf("store: decode forge %q secrets: %w", f.Name, err)
	}
	f.WebhookSecret, f.Credential = sec.WebhookSecret, sec.Credential
	return f, nil
}

// KeyCheckMeta is the meta key under which a store keeps a value sealed with
// its encryption key when it is first opened.
const KeyCheckMeta = "encryption_key_check"

const keyCheckPlain = "paddock store encryption key check v1"

// ErrWrongKey: the store was set up with another encryption key.
var ErrWrongKey = errors.New("this store was set up with a different store.encryption_key")

// SealKeyCheck makes the value a new store records under KeyCheckMeta.
func SealKeyCheck(box *secretbox.Box) (string, error) {
	return box.Seal([]byte(keyCheckPlain))
}

// CheckKey verifies that box opens the value a store recorded under
// KeyCheckMeta. Refusing at start, before anything is written, keeps a
// manager with the wrong key from sealing new secrets its peers cannot open
// (or the other way round).
func CheckKey(box *secretbox.Box, sealed string) error {
	pt, err := box.Open(sealed)
	if err != nil || string(pt) != keyCheckPlain {
		return fmt.Errorf("%w: this manager's key cannot open the check value its first manager stored, "+
			"so it could not read the forge credentials either; configure the same key as the other managers "+
			"on this database (nothing was changed)", ErrWrongKey)
	}
	return nil
}
