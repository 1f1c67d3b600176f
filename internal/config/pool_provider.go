package config

import (
	"encoding/json"
	"reflect"

	"gopkg.in/yaml.v3"
)

// JSONObject is a free-form mapping (a provider's own settings) kept as the
// JSON object it is handed on as.
type JSONObject json.RawMessage

func (d *decoder) jsonObject(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.p.badValue(n.Line, path, "must be a mapping of the provider's settings, got %s", describe(n))
		return
	}
	var m map[string]any
	if err := n.Decode(&m); err != nil {
		d.p.badValue(n.Line, path, "%v", err)
		return
	}
	b, err := json.Marshal(m)
	if err != nil {
		d.p.badValue(n.Line, path, "cannot be expressed as JSON: %v", err)
		return
	}
	v.SetBytes(b)
}

// stringMap decodes a mapping with string keys (map[string]string, …).
func (d *decoder) stringMap(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.p.badValue(n.Line, path, "must be a mapping, got %s", describe(n))
		return
	}
	m := reflect.MakeMap(v.Type())
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := deref(n.Content[i]), n.Content[i+1]
		child := path + "." + k.Value
		if m.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
			d.p.add(k.Line, child, "duplicate key")
			continue
		}
		d.p.lines[child] = k.Line
		elem := reflect.New(v.Type().Elem()).Elem()
		d.value(val, child, elem)
		m.SetMapIndex(reflect.ValueOf(k.Value), elem)
	}
	v.Set(m)
}
