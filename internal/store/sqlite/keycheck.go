package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/paddock-ci/paddock/internal/store/codec"
)

// checkKey refuses a box that cannot open the check value this file was set
// up with, before anything is written; a file without one (new, or made
// before the check existed) gets one, unless its forge secrets show it was
// sealed under another key.
func (s *Store) checkKey(ctx context.Context) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var sealed string
		err := tx.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", codec.KeyCheckMeta).Scan(&sealed)
		if err == nil {
			return codec.CheckKey(s.box, sealed)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite store: key check: %w", err)
		}
		var old string
		err = tx.QueryRowContext(ctx, "SELECT secrets FROM forges LIMIT 1").Scan(&old)
		if err == nil {
			if _, err := s.box.Open(old); err != nil {
				return codec.CheckKey(s.box, "")
			}
		} else if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite store: key check: %w", err)
		}
		if sealed, err = codec.SealKeyCheck(s.box); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES (?, ?)", codec.KeyCheckMeta, sealed)
		return err
	})
}
