package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// fault injects the configured fault for cmd before the command runs.
func fault(cfg config, cmd string) error {
	f := cfg.Faults[cmd]
	switch {
	case f == "" || f == "crash" || f == "invalid" || f == "bad-status":
		return nil // crash/invalid/bad-status act inside the command
	case f == "garbage":
		fmt.Println("Traceback (most recent call last): this is not JSON")
		os.Exit(0)
	case f == "hang":
		// A child in the same process group: a timeout must kill it too.
		child := exec.Command("/bin/sleep", "300")
		if err := child.Start(); err == nil {
			_ = os.WriteFile(filepath.Join(cfg.StateDir, "hang-child.pid"), []byte(strconv.Itoa(child.Process.Pid)), 0o600)
		}
		fmt.Fprintln(os.Stderr, "refprovider: waiting for a cloud API that never answers")
		time.Sleep(time.Hour)
	case f == "stderr-flood":
		chunk := bytes.Repeat([]byte("noise "), 1024)
		for range 200 {
			os.Stderr.Write(chunk)
		}
		fmt.Fprintln(os.Stderr, "\nrefprovider: the real error is at the end")
		os.Exit(1)
	case strings.HasPrefix(f, "exit:"):
		code, _ := strconv.Atoi(strings.TrimPrefix(f, "exit:"))
		return failure{code, fmt.Sprintf("forced exit %d for %s", code, cmd), false}
	}
	return nil
}
