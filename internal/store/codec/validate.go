package codec

import (
	"errors"
	"fmt"

	"github.com/paddock-ci/paddock/internal/core"
)

// ValidateForge checks what a stored forge needs.
func ValidateForge(f *core.Forge) error {
	if f.Name == "" {
		return errors.New("forge: name is required")
	}
	if f.Kind == "" {
		return errors.New("forge: kind is required")
	}
	return nil
}

// ValidateEntity checks what a stored entity needs.
func ValidateEntity(e *core.Entity) error {
	switch {
	case e.Name == "":
		return errors.New("entity: name is required")
	case e.ForgeID == "":
		return errors.New("entity: forge_id is required")
	case e.Kind == "":
		return errors.New("entity: kind is required")
	}
	return nil
}

// ValidatePool checks what a stored pool needs.
func ValidatePool(p *core.Pool) error {
	switch {
	case p.Name == "":
		return errors.New("pool: name is required")
	case p.EntityID == "":
		return errors.New("pool: entity_id is required")
	}
	return nil
}

// ValidateInstance checks what a stored instance needs.
func ValidateInstance(i *core.Instance) error {
	switch {
	case i.Name == "":
		return errors.New("instance: name is required")
	case i.PoolID == "":
		return errors.New("instance: pool_id is required")
	case !i.State.Valid():
		return fmt.Errorf("instance %q: unknown state %q", i.Name, i.State)
	case !i.Runner.Valid():
		return fmt.Errorf("instance %q: unknown runner state %q", i.Name, i.Runner)
	}
	return nil
}

// ValidateJob checks what a stored job needs.
func ValidateJob(j *core.Job) error {
	switch {
	case j.EntityID == "":
		return errors.New("job: entity_id is required")
	case j.ID == 0:
		return errors.New("job: id is required")
	case !j.State.Valid():
		return fmt.Errorf("job %d: unknown state %q", j.ID, j.State)
	}
	return nil
}
