package forgesim

import (
	"archive/zip"
	"bytes"
	"strings"
	"time"
)

// cmdQuote quotes one word for a cmd.exe command line.
func cmdQuote(w string) string {
	if w != "" && !strings.ContainsAny(w, " \t\"&|<>^%()") {
		return w
	}
	return `"` + strings.ReplaceAll(w, `"`, `""`) + `"`
}

// RunCmd is the run.cmd the sim's Windows runner package contains: like
// run.sh, it runs RunnerCommand with the runner's arguments.
func RunCmd(command []string) string {
	if len(command) == 0 {
		return "@echo off\r\necho forgesim: no RunnerCommand configured 1>&2\r\nexit /b 1\r\n"
	}
	q := make([]string, len(command))
	for i, w := range command {
		q[i] = cmdQuote(w)
	}
	return "@echo off\r\nrem Simulated GitHub Actions runner (forgesim).\r\n" + strings.Join(q, " ") + " %*\r\nexit /b %ERRORLEVEL%\r\n"
}

// buildZip makes the Windows runner package (GitHub ships Windows runners
// as .zip), reproducible like buildTarball.
func buildZip(command []string) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	mtime := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	files := []struct{ name, body string }{
		{"run.cmd", RunCmd(command)},
		{"config.cmd", "@echo off\r\necho forgesim: use run.cmd --jitconfig ^<config^> 1>&2\r\nexit /b 1\r\n"},
		{"README.txt", "Simulated GitHub Actions runner package (Windows) served by forgesim.\r\n"},
	}
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: mtime})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write([]byte(f.body)); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
