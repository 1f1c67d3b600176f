package secretbox

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func mustBox(t *testing.T, key []byte) *Box {
	t.Helper()
	b, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	b := mustBox(t, testKey(1))
	for _, pt := range [][]byte{{}, []byte("ghp_secret"), bytes.Repeat([]byte("x"), 10000)} {
		s, err := b.Seal(pt)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(s, "v1:") {
			t.Fatalf("sealed value %q lacks version prefix", s)
		}
		if len(pt) > 0 && strings.Contains(s, string(pt)) {
			t.Fatal("plaintext visible in sealed value")
		}
		got, err := b.Open(s)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, pt) {
			t.Fatalf("round trip: got %q want %q", got, pt)
		}
	}
}

func TestNonceIsFresh(t *testing.T) {
	b := mustBox(t, testKey(1))
	s1, _ := b.Seal([]byte("same"))
	s2, _ := b.Seal([]byte("same"))
	if s1 == s2 {
		t.Fatal("two seals of the same plaintext are identical: nonce reused")
	}
}

func TestTamper(t *testing.T) {
	b := mustBox(t, testKey(1))
	s, _ := b.Seal([]byte("secret token"))
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "v1:"))
	for i := range raw {
		c := bytes.Clone(raw)
		c[i] ^= 0x01
		if _, err := b.Open("v1:" + base64.StdEncoding.EncodeToString(c)); !errors.Is(err, ErrOpen) {
			t.Fatalf("flipping byte %d: want ErrOpen, got %v", i, err)
		}
	}
	// Truncation.
	if _, err := b.Open("v1:" + base64.StdEncoding.EncodeToString(raw[:len(raw)-1])); err == nil {
		t.Fatal("truncated value opened")
	}
}

func TestWrongKey(t *testing.T) {
	s, _ := mustBox(t, testKey(1)).Seal([]byte("secret"))
	if _, err := mustBox(t, testKey(2)).Open(s); !errors.Is(err, ErrOpen) {
		t.Fatalf("want ErrOpen, got %v", err)
	}
}

func TestBadFormat(t *testing.T) {
	b := mustBox(t, testKey(1))
	for _, s := range []string{"", "secret", "v2:AAAA", "v1:!!!not base64", "v1:", "v1:AAAA"} {
		if _, err := b.Open(s); err == nil {
			t.Errorf("Open(%q) succeeded", s)
		}
	}
}

func TestNewKeyLength(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33} {
		if _, err := New(make([]byte, n)); err == nil || !strings.Contains(err.Error(), "32 bytes") {
			t.Errorf("New(%d bytes): want a clear length error, got %v", n, err)
		}
	}
}
