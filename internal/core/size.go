package core

import (
	"regexp"
	"strconv"
	"strings"
)

// Size is a machine size asked for by a job's size label.
type Size struct {
	Label    string
	CPU      int
	MemoryMB int
	DiskGB   int // 0 = provider default
}

// Bounds past which a size label is taken for a typo rather than a request:
// accepting "4000cpu" would let one job label ask a provider for a machine no
// pool limit was ever meant to cover.
const (
	maxSizeCPU      = 1024
	maxSizeMemoryGB = 4096
	maxSizeDiskGB   = 65536
)

// Up to 9 digits keeps strconv.Atoi safe from overflow on every platform; the
// bounds above reject anything that large anyway.
var sizePattern = regexp.MustCompile(`^([0-9]{1,9})cpu-([0-9]{1,9})gb(?:-([0-9]{1,9})gb)?$`)

var namedSizes = map[string]Size{
	"small":  {Label: "small", CPU: 2, MemoryMB: 8 * 1024},
	"medium": {Label: "medium", CPU: 4, MemoryMB: 16 * 1024},
	"large":  {Label: "large", CPU: 8, MemoryMB: 32 * 1024},
}

// ParseSize reads a size label: `<n>cpu-<m>gb`, `<n>cpu-<m>gb-<d>gb` (memory
// and disk in GB) or one of small, medium, large. Case is ignored and the
// returned Label is lower-cased, because forges match runner labels without
// regard to case and the label is also the key that ties a machine to the jobs
// it was made for.
func ParseSize(label string) (Size, bool) {
	l := strings.ToLower(strings.TrimSpace(label))
	if s, ok := namedSizes[l]; ok {
		return s, true
	}
	m := sizePattern.FindStringSubmatch(l)
	if m == nil {
		return Size{}, false
	}
	cpu, _ := strconv.Atoi(m[1])
	mem, _ := strconv.Atoi(m[2])
	if cpu <= 0 || cpu > maxSizeCPU || mem <= 0 || mem > maxSizeMemoryGB {
		return Size{}, false
	}
	disk := 0
	if m[3] != "" {
		disk, _ = strconv.Atoi(m[3])
		if disk <= 0 || disk > maxSizeDiskGB {
			return Size{}, false
		}
	}
	return Size{Label: l, CPU: cpu, MemoryMB: mem * 1024, DiskGB: disk}, true
}

// Fits reports whether a pool with these limits may build a machine of size s.
// Nil limits accept nothing: a pool opts in to size labels explicitly, so a
// job cannot talk an unprepared pool into a bigger machine. MaxDiskGB 0 means
// the pool does not limit disk.
func (s Size) Fits(l *SizeLimits) bool {
	if l == nil {
		return false
	}
	if s.CPU > l.MaxCPU || s.MemoryMB > l.MaxMemoryGB*1024 {
		return false
	}
	return l.MaxDiskGB == 0 || s.DiskGB <= l.MaxDiskGB
}
