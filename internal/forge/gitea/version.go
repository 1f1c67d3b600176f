package gitea

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Version is a forge release number (major.minor.patch).
type Version struct{ Major, Minor, Patch int }

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// AtLeast reports whether v >= o.
func (v Version) AtLeast(o Version) bool {
	if v.Major != o.Major {
		return v.Major > o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor > o.Minor
	}
	return v.Patch >= o.Patch
}

// ErrTooOld is wrapped by the error New returns for a forge older than the flavor's minimum.
var ErrTooOld = errors.New("forge version too old")

var versionRE = regexp.MustCompile(`^v?(\d+)\.(\d+)(?:\.(\d+))?`)

// ParseVersion reads what GET /api/v1/version reports: "1.24.3",
// "1.25.0+dev-12-gabc", "1.24.0-rc0", or Forgejo's "11.0.3+gitea-1.22.0".
// It also says whether the string is Forgejo's (it carries "+gitea-").
func ParseVersion(s string) (Version, bool, error) {
	s = strings.TrimSpace(s)
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return Version{}, false, fmt.Errorf("unrecognised version %q", s)
	}
	var v Version
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	if m[3] != "" {
		v.Patch, _ = strconv.Atoi(m[3])
	}
	return v, strings.Contains(s, "+gitea-"), nil
}
