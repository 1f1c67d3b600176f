package check

import "strings"

// LXDNameProblem says what is wrong with the name of an LXD project,
// network, storage pool or profile ("" if nothing): LXD takes these into
// URL paths and file names, so Paddock accepts only plain names.
func LXDNameProblem(kind, name string) string {
	if name == "" || len(name) > 63 {
		return kind + " name must be 1-63 characters"
	}
	if name[0] == '-' || name[0] == '.' {
		return kind + " name " + lxdQuote(name) + " must start with a letter, digit or '_'"
	}
	if strings.IndexFunc(name, lxdNotNameChar) >= 0 {
		return kind + " name " + lxdQuote(name) + " may hold only letters, digits, '-', '_' and '.'"
	}
	return ""
}

// LXDImageProblem checks an image alias ("" if fine): a local alias such as
// paddock-runner-debian12 or debian/12 (no remote: Paddock asks only the
// daemon it talks to).
func LXDImageProblem(alias string) string {
	if alias == "" || len(alias) > 255 {
		return "image alias must be 1-255 characters"
	}
	if strings.Contains(alias, ":") {
		return "image alias " + lxdQuote(alias) + " names a remote; import the image into the daemon and give its local alias"
	}
	if alias[0] == '/' || alias[0] == '.' || alias[0] == '-' || strings.Contains(alias, "..") ||
		strings.IndexFunc(alias, func(r rune) bool { return r != '/' && lxdNotNameChar(r) }) >= 0 {
		return "image alias " + lxdQuote(alias) + " may hold only letters, digits, '-', '_', '.' and '/'"
	}
	return ""
}

func lxdNotNameChar(r rune) bool {
	return !(r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
}

func lxdQuote(s string) string { return `"` + s + `"` }
