package sandbox

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// export posts an export and walks it to done (the runner is free
// running), returning its final state.
func (e *env) export(body string) map[string]any {
	e.t.Helper()
	code, m, _ := e.do("POST", "/api/v1/export/lead/", body)
	if code != 200 {
		e.t.Fatalf("create export %s: %d %v", body, code, m)
	}
	id := m["id"].(string)
	// A bound on a stuck export, not a timing: a loaded race-enabled run
	// renders slowly.
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		_, m, _ = e.do("GET", "/api/v1/export/"+id+"/", nil)
		if m["status"] == "done" || m["status"] == "error" {
			return m
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.t.Fatalf("export %s stuck: %v", id, m)
	return nil
}

// download fetches a download_url as a plain client would (no API key)
// and returns the status, the decoded leads and the headers.
func download(t *testing.T, url string) (int, []map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	// Ask for the bytes as stored, to check they are gzip.
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return resp.StatusCode, nil, resp.Header
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("download is not gzip: %v", err)
	}
	plain, _ := io.ReadAll(zr)
	var leads []map[string]any
	if err := json.Unmarshal(plain, &leads); err != nil {
		t.Fatalf("download is not a JSON array: %v", err)
	}
	return resp.StatusCode, leads, resp.Header
}

func TestExportLifecycle(t *testing.T) {
	e := newEnv(t, Options{Leads: 40})
	e.gate()
	code, m, _ := e.do("POST", "/api/v1/export/lead/", `{"format":"json","type":"leads","send_done_email":false}`)
	if code != 200 || m["status"] != "created" || m["n_docs"] != nil || m["download_url"] != nil || !strings.HasPrefix(m["id"].(string), "expo_") || m["send_done_email"] != false {
		t.Fatalf("create: %d %v", code, m)
	}
	id := m["id"].(string)
	for _, want := range []string{"started", "in_progress", "done"} {
		e.step()
		_, m, _ = e.do("GET", "/api/v1/export/lead/"+id+"/", nil)
		if m["status"] != want {
			t.Fatalf("want %s, got %v", want, m)
		}
		if (m["download_url"] != nil) != (want == "done") {
			t.Errorf("%s: download_url %v", want, m["download_url"])
		}
	}
	if m["n_docs"] != 40.0 || m["n_docs_processed"] != 40.0 {
		t.Errorf("counts: %v", m)
	}
	code, leads, h := download(t, m["download_url"].(string))
	if code != 200 || len(leads) != 40 || h.Get("Content-Encoding") != "gzip" || h.Get("Content-Type") != "application/json" {
		t.Fatalf("download: %d %d leads %v", code, len(leads), h)
	}
	if _, ok := leads[0]["opportunities"]; !ok {
		t.Errorf("an exported lead has no opportunities list: %v", leads[0])
	}
	if _, ok := leads[0]["activities"]; ok {
		t.Error("activities without include_activities")
	}
	// The link expires; a new GET gives a new one.
	url := m["download_url"].(string)
	e.clk.Advance(60 * time.Second)
	if code, _, _ := download(t, url); code != 403 {
		t.Errorf("expired link: %d", code)
	}
	_, m, _ = e.do("GET", "/api/v1/export/"+id+"/", nil)
	if code, _, _ := download(t, m["download_url"].(string)); code != 200 {
		t.Errorf("fresh link: %d", code)
	}
	if code, _, _ := download(t, strings.Replace(m["download_url"].(string), "Signature=", "Signature=0", 1)); code != 403 {
		t.Errorf("forged link: %d", code)
	}
	// Lists: newest first, no links.
	if code, l, _ := e.do("GET", "/api/v1/export/", nil); code != 200 || len(l["data"].([]any)) != 1 || l["data"].([]any)[0].(map[string]any)["download_url"] != nil {
		t.Errorf("list: %d %v", code, l)
	}
}

func TestExportHoldsExactlyTheSelection(t *testing.T) {
	e := newEnv(t, Options{Leads: 300, ExportURLTTL: time.Hour})
	sortBy := `[{"direction":"desc","field":{"type":"regular_field","object_type":"lead","field_name":"date_created"}}]`
	q := leads(fc("lead", "status_label", `{"type":"term","values":["Potential","Qualified"]}`))
	cases := []struct {
		name, body string
	}{
		{"query, sort and limit", fmt.Sprintf(`{"s_query":%s,"sort":%s,"results_limit":17}`, q, sortBy)},
		{"query only", fmt.Sprintf(`{"s_query":%s}`, q)},
		{"limit and sort without a query", fmt.Sprintf(`{"sort":%s,"results_limit":5}`, sortBy)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			var body map[string]json.RawMessage
			if err := json.Unmarshal([]byte(c.body), &body); err != nil {
				t.Fatal(err)
			}
			// What a search with the same selection returns, in order.
			search := map[string]any{"_limit": 200, "query": body["s_query"], "sort": body["sort"], "results_limit": body["results_limit"]}
			if body["s_query"] == nil {
				search["query"] = json.RawMessage(`{"type":"and","queries":[{"type":"object_type","object_type":"lead"}]}`)
			}
			var want []string
			cursor := ""
			for {
				if cursor != "" {
					search = map[string]any{"cursor": cursor, "_limit": 200}
				}
				m := e.search(jsonStr(search))
				for _, d := range m["data"].([]any) {
					want = append(want, d.(map[string]any)["id"].(string))
				}
				next, _ := m["cursor"].(string)
				if next == "" {
					break
				}
				cursor = next
			}
			body["format"], body["type"] = json.RawMessage(`"json"`), json.RawMessage(`"leads"`)
			m := e.export(jsonStr(body))
			_, got, _ := download(t, m["download_url"].(string))
			var ids []string
			for _, l := range got {
				ids = append(ids, l["id"].(string))
			}
			if len(want) == 0 || !slices.Equal(ids, want) || m["n_docs"] != float64(len(want)) {
				t.Fatalf("export holds %d ids, the selection %d (n_docs %v); equal: %v", len(ids), len(want), m["n_docs"], slices.Equal(ids, want))
			}
		})
	}
}

func TestExportOptionsAndValidation(t *testing.T) {
	e := newEnv(t, Options{Leads: 60, ExportURLTTL: time.Hour})
	m := e.export(`{"format":"json","type":"leads","include_activities":true,"include_smart_fields":true}`)
	_, got, _ := download(t, m["download_url"].(string))
	withActs := 0
	for _, l := range got {
		acts, ok := l["activities"].([]any)
		if !ok {
			t.Fatalf("include_activities: no activities list on %v", l["id"])
		}
		for _, a := range acts {
			if a.(map[string]any)["_type"] == nil {
				t.Fatalf("activity without _type: %v", a)
			}
		}
		if len(acts) > 0 {
			withActs++
		}
		if _, ok := l["num_opportunities"]; !ok {
			t.Fatalf("include_smart_fields: no num_opportunities on %v", l["id"])
		}
	}
	if withActs == 0 {
		t.Error("no exported lead has activities")
	}
	for _, c := range []struct{ body, key string }{
		{`{"type":"leads"}`, "format"},
		{`{"format":"csv","type":"leads"}`, "format"},
		{`{"format":"json"}`, "type"},
		{`{"format":"json","type":"contacts"}`, "type"},
		{`{"format":"json","type":"leads","include_activities":"yes"}`, "include_activities"},
		{`{"format":"json","type":"leads","s_query":` + contacts() + `}`, "s_query"},
		{`{"format":"json","type":"leads","s_query":` + leads(fc("lead", "nope", text("full_words", "x"))) + `}`, "s_query"},
		{`{"format":"json","type":"leads","s_query":[1]}`, "s_query"},
	} {
		e.fieldErr("POST", "/api/v1/export/lead/", c.body, c.key)
	}
	if code, _, _ := e.do("GET", "/api/v1/export/expo_nope/", nil); code != 404 {
		t.Errorf("missing export: %d", code)
	}
}

func TestExportFaults(t *testing.T) {
	cases := []struct {
		name   string
		faults ExportFaults
		check  func(t *testing.T, e *env, m map[string]any)
	}{
		{"fail", ExportFaults{Fail: true}, func(t *testing.T, e *env, m map[string]any) {
			if m["status"] != "error" || m["download_url"] != nil {
				t.Errorf("%v", m)
			}
		}},
		{"drop one id", ExportFaults{DropOneID: true}, func(t *testing.T, e *env, m map[string]any) {
			_, got, _ := download(t, m["download_url"].(string))
			if m["status"] != "done" || m["n_docs"] != 20.0 || len(got) != 19 {
				t.Errorf("n_docs %v, file %d leads", m["n_docs"], len(got))
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, Options{Leads: 20, ExportFaults: c.faults, ExportURLTTL: time.Hour})
			c.check(t, e, e.export(`{"format":"json","type":"leads"}`))
		})
	}
	t.Run("stall", func(t *testing.T) {
		e := newEnv(t, Options{Leads: 20, ExportFaults: ExportFaults{Stall: true}})
		e.gate()
		_, m, _ := e.do("POST", "/api/v1/export/lead/", `{"format":"json","type":"leads"}`)
		e.step()
		e.step()
		e.step() // the runner gives up in in_progress
		_, m, _ = e.do("GET", "/api/v1/export/"+m["id"].(string)+"/", nil)
		if m["status"] != "in_progress" {
			t.Errorf("%v", m)
		}
	})
}
