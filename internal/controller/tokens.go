package controller

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// instanceToken derives the machine's bearer token from the instance name and
// a manager secret. Deriving instead of storing means the store never holds a
// usable token and a retried create hands the machine the same one.
func (c *Controller) instanceToken(name string) string {
	m := hmac.New(sha256.New, c.o.TokenKey)
	m.Write([]byte("paddock-instance-token\x00" + name))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// hashToken is what the store keeps to find an instance by its token.
func hashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}
