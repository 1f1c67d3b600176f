package config

import "errors"

// Helpers the tests use; the binary has no caller for them.

// AsError unwraps err into the *Error carrying each problem, if it is one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// EntityOf returns the declared entity seed a pool belongs to. It reports
// false when the file declares no such entity: the pool then names an entity
// the caller must find in the store (by p.Entity, and p.Forge if set).
func (c *Config) EntityOf(p PoolConfig) (EntityConfig, bool) {
	m := c.matchEntities(p)
	if len(m) != 1 {
		return EntityConfig{}, false
	}
	return m[0], true
}
