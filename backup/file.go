package backup

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Lead is one lead of an export file as Close wrote it (docs/close-backup.md §2). Numbers stay
// json.Number so that what is posted back is what was exported.
type Lead map[string]any

// ID is the lead's id.
func (l Lead) ID() string { s, _ := l["id"].(string); return s }

// list returns l[key] as a list of objects, skipping anything else.
func (l Lead) list(key string) []map[string]any {
	return objects(l[key])
}

func objects(v any) []map[string]any {
	raw, _ := v.([]any)
	out := make([]map[string]any, 0, len(raw))
	for _, x := range raw {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

// gzipMagic starts every gzip stream.
var gzipMagic = []byte{0x1f, 0x8b}

// openFile returns a reader of the JSON in a backup file, unpacking it when it is gzip, and
// whether it was.
func openFile(path string) (io.ReadCloser, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, fmt.Errorf("backup: %w", err)
	}
	br := bufio.NewReaderSize(f, 64<<10)
	head, _ := br.Peek(2)
	if !bytes.Equal(head, gzipMagic) {
		return struct {
			io.Reader
			io.Closer
		}{br, f}, false, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		_ = f.Close()
		return nil, false, fmt.Errorf("backup: the file is not valid gzip: %w", err)
	}
	return struct {
		io.Reader
		io.Closer
	}{zr, closers{zr, f}}, true, nil
}

type closers []io.Closer

func (c closers) Close() error {
	var errs []error
	for _, x := range c {
		errs = append(errs, x.Close())
	}
	return errors.Join(errs...)
}

// eachLead decodes the top-level JSON array one lead at a time.
func eachLead(r io.Reader, fn func(Lead) error) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("backup: the file is not JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return errors.New("backup: the file is not a JSON array of leads")
	}
	for n := 0; dec.More(); n++ {
		var l Lead
		if err := dec.Decode(&l); err != nil {
			return fmt.Errorf("backup: lead %d of the file: %w", n, err)
		}
		if err := fn(l); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("backup: the file ends early: %w", err)
	}
	// Reading on to the end makes gzip check its checksum, and catches anything after the array.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err == nil {
			err = errors.New("data after the array")
		}
		return fmt.Errorf("backup: the file does not end after its array: %w", err)
	}
	return nil
}

// ReadLeads reads every lead of a backup's file.
func (s *Store) ReadLeads(m *Manifest) ([]Lead, error) {
	if m.File == "" {
		return nil, fmt.Errorf("backup: %s has no file (state %s)", m.ID, m.State)
	}
	dir, err := s.Path(m.ID)
	if err != nil {
		return nil, err
	}
	rc, _, err := openFile(filepath.Join(dir, m.File))
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var out []Lead
	err = eachLead(rc, func(l Lead) error { out = append(out, l); return nil })
	return out, err
}

// count adds the objects of one lead to counts, by type (see Manifest.Counts).
func count(counts map[string]int, l Lead) {
	counts["lead"]++
	counts["contact"] += len(l.list("contacts"))
	counts["address"] += len(l.list("addresses"))
	counts["opportunity"] += len(l.list("opportunities"))
	counts["task"] += len(l.list("tasks"))
	for _, a := range l.list("activities") {
		t := str(a, "_type")
		if t == "" {
			t = "unknown"
		}
		counts["activity."+t]++
	}
}

// contactParents maps every contact id in the leads to its lead id.
func contactParents(l Lead, into map[string]string) {
	for _, c := range l.list("contacts") {
		if id := str(c, "id"); id != "" {
			into[id] = l.ID()
		}
	}
}
