package schema

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
)

// Canonical is the form of n that two queries share exactly when they mean
// the same: compact JSON with every object's keys sorted, "negate": false
// dropped (absent and false are the same), numbers in one spelling
// (1, 1.0 and 1e0 in a number_range are one number), strings in one
// escaping. Everything Close would see differently stays different: the
// order of queries in and/or, the order of values and ids, Extra keys and
// the content of unknown constructs (whose meaning bulkguard cannot judge;
// only their key order and whitespace are normalised).
//
// A tree that cannot be encoded (a nil member, invalid raw JSON) has no
// canonical form: Canonical returns nil and Digest "", so such a tree can
// never share a digest with a real query.
func Canonical(n Node) []byte {
	e := &encoder{canonical: true}
	if err := e.node(n); err != nil {
		return nil
	}
	out, err := sortKeys(e.b.Bytes())
	if err != nil {
		return nil
	}
	return out
}

// Digest is "sha256:" and the hex SHA-256 of Canonical(n), or "" when n
// has no canonical form.
func Digest(n Node) string {
	c := Canonical(n)
	if c == nil {
		return ""
	}
	sum := sha256.Sum256(c)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// sortKeys re-encodes JSON with object keys in byte order. Numbers keep
// their literal spelling (json.Number): inside unknown constructs bulkguard
// cannot tell whether 1 and 1.0 mean the same to Close.
func sortKeys(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	writeSorted(&b, v)
	return b.Bytes(), nil
}

func writeSorted(b *bytes.Buffer, v any) {
	switch t := v.(type) {
	case map[string]any:
		ks := make([]string, 0, len(t))
		for k := range t {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		b.WriteByte('{')
		for i, k := range ks {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, k)
			b.WriteByte(':')
			writeSorted(b, t[k])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, x := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			writeSorted(b, x)
		}
		b.WriteByte(']')
	case string:
		writeString(b, t)
	case json.Number:
		b.WriteString(t.String())
	case bool:
		if t {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	default:
		b.WriteString("null")
	}
}
