package external

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// state is what the adapter must remember that Paddock's provider interface
// does not pass: the protocol lists machines per pool (GARM_POOL_ID) and
// wants the pool and provider_id of the machine on Get/Delete, whereas
// Paddock asks for "every machine of this controller" and names machines
// only by name. It is written to disk before the executable is asked to
// create anything, so a manager restarted after a crash still lists (and
// can remove) every pool's machines.
type state struct {
	mu   sync.Mutex
	path string // "" = memory only
	data stateData
}

type stateData struct {
	// Pools maps pool ID → the pool's extra specs (JSON object or null).
	Pools map[string]json.RawMessage `json:"pools"`
	// Instances maps machine name → what Paddock knows of it.
	Instances map[string]instanceRef `json:"instances"`
}

type instanceRef struct {
	PoolID     string `json:"pool_id"`
	ProviderID string `json:"provider_id,omitempty"`
}

func loadState(path string) (*state, error) {
	s := &state{path: path, data: stateData{Pools: map[string]json.RawMessage{}, Instances: map[string]instanceRef{}}}
	if path == "" {
		return s, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &s.data); err != nil {
		return nil, fmt.Errorf("external provider state %s is corrupt: %w", path, err)
	}
	if s.data.Pools == nil {
		s.data.Pools = map[string]json.RawMessage{}
	}
	if s.data.Instances == nil {
		s.data.Instances = map[string]instanceRef{}
	}
	return s, nil
}

// saveLocked writes the state atomically; the caller holds mu.
func (s *state) saveLocked() error {
	if s.path == "" {
		return nil
	}
	b, err := json.Marshal(s.data)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return err
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.path)
}

// remember records a machine (and its pool) about to be created.
func (s *state) remember(name, poolID string, extra json.RawMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data.Pools[poolID] = extra
	ref := s.data.Instances[name]
	ref.PoolID = poolID
	s.data.Instances[name] = ref
	return s.saveLocked()
}

func (s *state) setProviderID(name, providerID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ref, ok := s.data.Instances[name]
	if !ok || ref.ProviderID == providerID {
		return nil
	}
	ref.ProviderID = providerID
	s.data.Instances[name] = ref
	return s.saveLocked()
}

func (s *state) forget(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.data.Instances[name]; !ok {
		return nil
	}
	delete(s.data.Instances, name)
	return s.saveLocked()
}

func (s *state) instance(name string) (instanceRef, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.data.Instances[name]
	return r, ok
}

// learn records a machine found by listing a pool, so a later Delete of it
// (an orphan Paddock never created, say) gets its pool and provider_id.
func (s *state) learn(name, poolID, providerID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.data.Instances[name]; ok && r.PoolID == poolID && r.ProviderID == providerID {
		return nil
	}
	s.data.Instances[name] = instanceRef{PoolID: poolID, ProviderID: providerID}
	return s.saveLocked()
}

func (s *state) pools() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.data.Pools))
	for id := range s.data.Pools {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

func (s *state) extraSpecs(poolID string) json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data.Pools[poolID]
}
