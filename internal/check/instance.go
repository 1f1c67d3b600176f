package check

import (
	"regexp"
	"strings"
)

// instanceNameRE is what a provider takes as an instance name. It is the
// runner prefix rule (prefixRE) with upper case allowed: Paddock's own names
// are lower case, but `paddock provider-exec` also serves other managers,
// whose names may mix cases (LXD, a GARM provider's usual target, takes them).
var instanceNameRE = regexp.MustCompile(`^[A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?$`)

// InstanceNameProblem says what is wrong with an instance name a provider was
// asked to create or delete, or "" if nothing is. Every name made from an
// accepted runner prefix passes (see MaxRunnerPrefixLen).
func InstanceNameProblem(name string) string {
	if len(name) > MaxInstanceNameLen || !instanceNameRE.MatchString(name) {
		return "instance name \"" + strings.ToValidUTF8(name, "?") + "\" must be letters, digits and '-', start with a letter, " +
			"not end with '-', and be at most " + itoa(MaxInstanceNameLen) + " long"
	}
	return ""
}
