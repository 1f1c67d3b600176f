package config

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a config file.
type Problem struct {
	File string // config file name as given to Load or Parse
	Line int    // 1-based; 0 when the problem has no single line (a missing section)
	Path string // key path such as pools[0].max_runners; empty for the document itself
	Msg  string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error carries every problem found in a config file, so an operator can fix
// them all in one edit instead of one per restart.
type Error struct {
	Problems []Problem
}

// Error prints one problem per line, in file order.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// problems collects Problems while a file is decoded and validated. It also
// remembers the line of every key seen, so validation (which runs on the typed
// structs, after decoding) can still point at the right line.
type problems struct {
	file  string
	list  []Problem
	lines map[string]int  // key path → line of the key
	set   map[string]bool // key paths given a non-null value
	// bad holds key paths whose value failed to decode. Validation skips them
	// (and everything under them): their zero value would only add a
	// misleading "required" next to the real problem.
	bad map[string]bool
}

func newProblems(file string) *problems {
	return &problems{file: file, lines: map[string]int{}, set: map[string]bool{}, bad: map[string]bool{}}
}

// badValue reports a value that failed to decode and marks its path.
func (p *problems) badValue(line int, path, format string, args ...any) {
	p.bad[path] = true
	p.add(line, path, format, args...)
}

func (p *problems) add(line int, path, format string, args ...any) {
	p.list = append(p.list, Problem{File: p.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// at reports a problem at the line of path, or of its nearest ancestor when
// path itself is absent from the file (a missing required key).
func (p *problems) at(path, format string, args ...any) {
	for q := path; q != ""; q = parentPath(q) {
		if p.bad[q] {
			return
		}
	}
	p.add(p.lineOf(path), path, format, args...)
}

func (p *problems) lineOf(path string) int {
	for path != "" {
		if l, ok := p.lines[path]; ok {
			return l
		}
		path = parentPath(path)
	}
	return 0
}

// parentPath strips the last ".key" or "[i]" from path.
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	sort.SliceStable(p.list, func(i, j int) bool { return p.list[i].Line < p.list[j].Line })
	return &Error{Problems: p.list}
}
