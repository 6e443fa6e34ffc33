package main

import (
	"bytes"
	"encoding/json"
)

// obj is a JSON object whose members keep their order, so tokens look like Cognito's and
// are the same bytes on every run.
type obj []kv

type kv struct {
	k string
	v any
}

// rawJSON is a value written as is.
type rawJSON string

func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(enc(m.k))
		b.WriteByte(':')
		if r, ok := m.v.(rawJSON); ok {
			b.WriteString(string(r))
		} else {
			b.Write(enc(m.v))
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// enc encodes v as compact JSON without HTML escaping.
func enc(v any) []byte {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		panic(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// del is a value that removes a member in with.
type delMarker struct{}

var del = delMarker{}

// with returns a copy of o with each name set to its value (replaced in place, or
// appended), or removed when the value is del.
func (o obj) with(pairs ...any) obj {
	out := append(obj(nil), o...)
	for i := 0; i < len(pairs); i += 2 {
		name, v := pairs[i].(string), pairs[i+1]
		idx := -1
		for j, m := range out {
			if m.k == name {
				idx = j
				break
			}
		}
		switch {
		case v == del && idx >= 0:
			out = append(out[:idx], out[idx+1:]...)
		case v == del:
		case idx >= 0:
			out[idx].v = v
		default:
			out = append(out, kv{name, v})
		}
	}
	return out
}
