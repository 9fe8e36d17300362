package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestExportLoadRoundTrip exports a demo organization through the export
// API, loads the downloaded file into a second sandbox (the --load code
// path), and checks that every collected real-world query and every
// example query counts the same on both, or is refused by both.
func TestExportLoadRoundTrip(t *testing.T) {
	src := newEnv(t, Options{Leads: 250, ExportURLTTL: time.Hour})
	m := src.export(`{"format":"json","type":"leads","include_activities":true,"include_smart_fields":true,"send_done_email":false}`)
	resp, err := http.Get(m["download_url"].(string)) // the client un-gzips
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "export.json")
	out, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	dst := newEnv(t, Options{LoadExport: file})
	// Both clocks stand at t0, so relative dates mean the same.
	if a, b := src.s.NumLeads(), dst.s.NumLeads(); a != b || a != 250 {
		t.Fatalf("leads: %d exported, %d loaded", a, b)
	}
	for _, kind := range []string{"contact", "contact_url", "opportunity", "task", "activity.call", "activity.email", "activity.note",
		"activity.sms", "activity.meeting", "activity.custom_activity", "custom_object"} {
		if a, b := src.s.Count(kind), dst.s.Count(kind); a != b {
			t.Errorf("%s: %d in the source, %d loaded", kind, a, b)
		}
	}

	var files []string
	for _, dir := range []string{"testdata/real-queries", "../examples/queries"} {
		fs, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil || len(fs) == 0 {
			t.Fatalf("no queries in %s: %v", dir, err)
		}
		files = append(files, fs...)
	}
	compared := 0
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var body map[string]json.RawMessage
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatal(err)
			}
			if _, ok := body["query"]; !ok {
				body = map[string]json.RawMessage{"query": raw}
			}
			delete(body, "_fields")
			delete(body, "cursor")
			body["include_counts"] = json.RawMessage("true")
			body["_limit"] = json.RawMessage("200")
			// The count, and the ids of the first page (the same objects
			// in the same order).
			count := func(e *env) (int, []string, any) {
				e.t = t
				code, m, _ := e.do("POST", "/api/v1/data/search/", body)
				if code != 200 {
					return code, nil, m["field-errors"]
				}
				var ids []string
				for _, d := range m["data"].([]any) {
					ids = append(ids, d.(map[string]any)["id"].(string))
				}
				return int(m["count"].(map[string]any)["total"].(float64)), ids, nil
			}
			a, ia, ea := count(src)
			b, ib, eb := count(dst)
			if a != b || jsonStr(ea) != jsonStr(eb) || jsonStr(ia) != jsonStr(ib) {
				t.Fatalf("source %d %v, loaded copy %d %v (same first page: %v)", a, ea, b, eb, jsonStr(ia) == jsonStr(ib))
			}
			if ea == nil {
				compared++
				t.Logf("%d on both", a)
			}
		})
	}
	if compared < len(files)/2 {
		t.Errorf("only %d of %d queries evaluate on both", compared, len(files))
	}
}
