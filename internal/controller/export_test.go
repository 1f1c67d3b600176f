package controller

import (
	"context"
	"time"
)

// ReconcileNow runs one whole reconcile before returning, after any that is
// already running, so tests decide exactly when the safety net looks.
func (c *Controller) ReconcileNow(ctx context.Context) {
	for !c.reconciling.CompareAndSwap(false, true) {
		time.Sleep(time.Millisecond)
	}
	defer c.reconciling.Store(false)
	c.reconcile(ctx)
}
