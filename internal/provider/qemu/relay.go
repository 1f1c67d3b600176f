package qemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Relay connects stdin/stdout (the guest's connection, as QEMU's guestfwd
// hands it to the relay command) to the host endpoint addr, and returns when
// either side is done. It is `paddock qemu-relay ADDR`.
func Relay(ctx context.Context, addr string, in io.Reader, out io.Writer) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("relay: want host:port, got %q", addr)
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	go func() {
		_, _ = io.Copy(conn, in)
		// The guest closed its side: pass the half-close on, so the server
		// still answers and then ends the exchange.
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	// The exchange is over when the server side is: QEMU closes the guest's
	// connection when the relay exits. A guest that goes away makes the copy
	// to stdout fail, which ends it too.
	_, err = io.Copy(out, conn)
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
