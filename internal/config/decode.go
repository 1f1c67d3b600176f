package config

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder walks a yaml.Node tree into the config structs by their yaml tags.
// It is hand-rolled rather than yaml.v3's own Decode because Decode stops
// short of what operators need: its errors carry no key path, it cannot
// resolve env:/file: secrets, and its unknown-field check does not suggest
// the key that was meant.
type decoder struct {
	dir      string
	p        *problems
	literals []string
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	secretType   = reflect.TypeFor[Secret]()
	jsonType     = reflect.TypeFor[JSONObject]()
)

func (d *decoder) value(n *yaml.Node, path string, v reflect.Value) {
	n = deref(n)
	if isNull(n) {
		return
	}
	switch v.Type() {
	case durationType:
		d.duration(n, path, v)
		return
	case secretType:
		d.secret(n, path, v)
		return
	case jsonType:
		d.jsonObject(n, path, v)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.mapping(n, path, v)
	case reflect.Pointer:
		ptr := reflect.New(v.Type().Elem())
		d.value(n, path, ptr.Elem())
		v.Set(ptr)
	case reflect.Slice:
		d.sequence(n, path, v)
	case reflect.Map:
		d.stringMap(n, path, v)
	case reflect.String:
		if s, ok := d.scalar(n, path, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Int, reflect.Int64:
		d.integer(n, path, v)
	case reflect.Float64:
		d.number(n, path, v)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.p.badValue(n.Line, path, "must be true or false, got %s", describe(n))
			return
		}
		v.SetBool(b)
	default:
		panic(fmt.Sprintf("config: no decoder for %s at %s", v.Type(), path))
	}
}

func (d *decoder) mapping(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.p.badValue(n.Line, path, "must be a mapping, got %s", describe(n))
		return
	}
	fields, names := fieldsOf(v.Type())
	// Merge keys (<<: *anchor) go first so that keys written beside them win,
	// as YAML specifies.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].ShortTag() == "!!merge" {
			d.merge(n.Content[i+1], path, v)
		}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.ShortTag() == "!!merge" {
			continue
		}
		key := k.Value
		child := joinPath(path, key)
		if first, dup := seen[key]; dup {
			d.p.add(k.Line, child, "duplicate key (first set on line %d)", first)
			continue
		}
		seen[key] = k.Line
		idx, ok := fields[key]
		if !ok {
			d.p.add(k.Line, path, "unknown key %q%s", key, suggest(key, names))
			continue
		}
		d.p.lines[child] = k.Line
		if !isNull(deref(val)) {
			d.p.set[child] = true
		}
		d.value(val, child, v.Field(idx))
	}
}

func (d *decoder) merge(n *yaml.Node, path string, v reflect.Value) {
	n = deref(n)
	if n.Kind == yaml.SequenceNode {
		for _, m := range n.Content {
			d.mapping(deref(m), path, v)
		}
		return
	}
	d.mapping(n, path, v)
}

func (d *decoder) sequence(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		d.p.badValue(n.Line, path, "must be a list, got %s", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		child := fmt.Sprintf("%s[%d]", path, i)
		d.p.lines[child] = item.Line
		d.value(item, child, s.Index(i))
	}
	v.Set(s)
}

func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.p.badValue(n.Line, path, "must be %s, got %s", want, describe(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) integer(n *yaml.Node, path string, v reflect.Value) {
	var i int64
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		d.p.badValue(n.Line, path, "must be an integer, got %s", describe(n))
		return
	}
	if err := n.Decode(&i); err != nil || v.OverflowInt(i) {
		d.p.badValue(n.Line, path, "integer %s is out of range", n.Value)
		return
	}
	v.SetInt(i)
}

// number decodes a decimal such as a price (0.008); integers are numbers too.
func (d *decoder) number(n *yaml.Node, path string, v reflect.Value) {
	var f float64
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!float" && n.ShortTag() != "!!int") || n.Decode(&f) != nil ||
		math.IsInf(f, 0) || math.IsNaN(f) {
		d.p.badValue(n.Line, path, "must be a number such as 0.008, got %s", describe(n))
		return
	}
	v.SetFloat(f)
}

func (d *decoder) duration(n *yaml.Node, path string, v reflect.Value) {
	s, ok := d.scalar(n, path, "a duration")
	if !ok {
		return
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		d.p.badValue(n.Line, path, "must be a duration such as \"90s\" or \"20m\", got %q", s)
		return
	}
	v.SetInt(int64(dur))
}

func (d *decoder) secret(n *yaml.Node, path string, v reflect.Value) {
	s, ok := d.scalar(n, path, "a string")
	if !ok {
		return
	}
	val, literal, err := resolveSecret(s, d.dir)
	if err != nil {
		d.p.badValue(n.Line, path, "%v", err)
		return
	}
	if bad := secretCharsProblem(path, val); bad != "" {
		src, fix := "the value", "write only the token"
		switch {
		case strings.HasPrefix(s, "file:"):
			src = "file " + resolvePath(strings.TrimPrefix(s, "file:"), d.dir)
			fix = "the file must contain only the token (one line, no comments or warnings)"
		case strings.HasPrefix(s, "env:"):
			src = "environment variable " + strings.TrimPrefix(s, "env:")
			fix = "the variable must contain only the token"
		}
		d.p.badValue(n.Line, path, "%s holds more than the token (%s inside it): %s", src, bad, fix)
		return
	}
	if literal && val != "" {
		d.literals = append(d.literals, path)
	}
	v.SetString(val)
}

// fieldsOf maps a struct's yaml key names to field indexes; names is sorted
// for messages.
func fieldsOf(t reflect.Type) (map[string]int, []string) {
	fields := map[string]int{}
	var names []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = i
		names = append(names, name)
	}
	sort.Strings(names)
	return fields, names
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// describe names what a node holds, for "must be X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

// suggest offers the closest known key for a likely typo, or lists them all.
func suggest(key string, names []string) string {
	best, bestDist := "", 3
	for _, n := range names {
		if d := editDistance(key, n); d < bestDist {
			best, bestDist = n, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return " (known keys: " + strings.Join(names, ", ") + ")"
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
