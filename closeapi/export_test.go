package closeapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock makes the client's waits advance a clock instead of sleeping.
func fakeClock(c *Client) *time.Time {
	now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	c.sleep = func(ctx context.Context, d time.Duration) error {
		now = now.Add(d)
		return ctx.Err()
	}
	return &now
}

func TestCreateLeadExportSendsTheBackupBody(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		jsonReply(w, 200, `{"id":"expo_abc","status":"created","n_docs":null,"n_docs_processed":0,"download_url":null}`)
	})
	c, _ := testClient(t, f.base(), nil)
	limit := 3
	x, err := c.CreateLeadExport(context.Background(), BackupExportRequest(json.RawMessage(`{"type":"object_type","object_type":"lead"}`), json.RawMessage(`null`), &limit))
	if err != nil {
		t.Fatal(err)
	}
	if x.ID != "expo_abc" || x.Status != ExportCreated || x.NDocs != nil {
		t.Fatalf("export = %+v", x)
	}
	reqs := f.requests()
	if len(reqs) != 1 || reqs[0].Method != "POST" || reqs[0].Path != "/api/v1/export/lead/" {
		t.Fatalf("requests = %+v", reqs)
	}
	want := `{"s_query":{"type":"object_type","object_type":"lead"},"results_limit":3,"format":"json","type":"leads",
		"include_activities":true,"include_smart_fields":true,"send_done_email":false}`
	if !jsonEqual(t, reqs[0].Body, []byte(want)) {
		t.Errorf("body = %s, want %s", reqs[0].Body, want)
	}
}

func TestCreateLeadExportRefusesBadInput(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) { jsonReply(w, 200, `{}`) })
	c, _ := testClient(t, f.base(), nil)
	neg := -1
	for name, r := range map[string]ExportRequest{
		"query not an object": {SQuery: json.RawMessage(`[1]`), Format: "json", Type: "leads"},
		"sort not an array":   {Sort: json.RawMessage(`{}`), Format: "json", Type: "leads"},
		"negative limit":      {ResultsLimit: &neg, Format: "json", Type: "leads"},
		"no format":           {Type: "leads"},
	} {
		if _, err := c.CreateLeadExport(context.Background(), r); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if f.count() != 0 {
		t.Errorf("%d requests reached the server", f.count())
	}
	if _, err := c.CreateLeadExport(context.Background(), ExportRequest{Format: "json", Type: "leads"}); err == nil || !strings.Contains(err.Error(), "no export id") {
		t.Errorf("an answer without id: err = %v", err)
	}
}

func TestWaitExport(t *testing.T) {
	tests := []struct {
		name     string
		statuses []string
		timeout  time.Duration
		check    func(t *testing.T, x *Export, err error)
		polls    int
	}{
		{"done", []string{"created", "started", "in_progress", "done"}, time.Minute,
			func(t *testing.T, x *Export, err error) {
				if err != nil || x.Status != ExportDone || x.DownloadURL == nil {
					t.Fatalf("x=%+v err=%v", x, err)
				}
			}, 4},
		{"error", []string{"created", "error"}, time.Minute,
			func(t *testing.T, x *Export, err error) {
				var fe *ExportFailedError
				if !errors.As(err, &fe) || fe.ID != "expo_x" {
					t.Fatalf("err = %v", err)
				}
			}, 2},
		{"stall", []string{"in_progress"}, 5 * time.Second,
			func(t *testing.T, x *Export, err error) {
				var te *ExportTimeoutError
				if !errors.As(err, &te) || te.Status != ExportInProgress || te.Waited != 5*time.Second {
					t.Fatalf("err = %v", err)
				}
				if !strings.Contains(err.Error(), "2 of 9 documents") {
					t.Errorf("message %q does not say how far it got", err)
				}
			}, 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
				st := tc.statuses[min(n, len(tc.statuses))-1]
				dl := "null"
				if st == "done" {
					dl = `"https://files.example/expo_x.json.gz?X-Amz-Signature=s"`
				}
				jsonReply(w, 200, fmt.Sprintf(`{"id":"expo_x","status":%q,"n_docs":9,"n_docs_processed":2,"download_url":%s}`, st, dl))
			})
			c, _ := testClient(t, f.base(), nil)
			fakeClock(c)
			var seen []string
			x, err := c.WaitExport(context.Background(), "expo_x", WaitOptions{Timeout: tc.timeout, Interval: time.Second,
				Progress: func(x Export) { seen = append(seen, x.Status) }})
			tc.check(t, x, err)
			if f.count() != tc.polls || len(seen) != tc.polls {
				t.Errorf("polls = %d, progress calls = %d, want %d", f.count(), len(seen), tc.polls)
			}
		})
	}
}

func TestWaitExportPollsSoonThenLess(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		jsonReply(w, 200, `{"id":"expo_x","status":"in_progress","n_docs":null,"n_docs_processed":0}`)
	})
	c, waits := testClient(t, f.base(), nil)
	now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	c.sleep = func(ctx context.Context, d time.Duration) error {
		waits.waits = append(waits.waits, d)
		now = now.Add(d)
		return nil
	}
	_, err := c.WaitExport(context.Background(), "expo_x", WaitOptions{Timeout: 10 * time.Second})
	var te *ExportTimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v", err)
	}
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second, 250 * time.Millisecond}
	if fmt.Sprint(waits.waits) != fmt.Sprint(want) {
		t.Errorf("waits = %v, want %v", waits.waits, want)
	}
}

func TestGetExportValidatesTheID(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) { jsonReply(w, 200, `{}`) })
	c, _ := testClient(t, f.base(), nil)
	if _, err := c.GetExport(context.Background(), "../lead/lead_1"); !errors.Is(err, ErrInvalidID) {
		t.Fatalf("err = %v", err)
	}
	if f.count() != 0 {
		t.Error("an invalid id reached the server")
	}
}

// fileHost is the host a download link points to: it records what it was sent and serves a
// gzip body, or S3's expired answer for the first expire requests.
type fileHost struct {
	srv    *httptest.Server
	expire int32
	hits   atomic.Int32
	auth   atomic.Value
}

func newFileHost(t *testing.T, body []byte, expire int32) *fileHost {
	h := &fileHost{expire: expire}
	h.auth.Store("")
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := h.hits.Add(1)
		if a := r.Header.Get("Authorization"); a != "" {
			h.auth.Store(a)
		}
		if n <= h.expire {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(body)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func TestFetchExport(t *testing.T) {
	gz := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3}
	tests := []struct {
		name    string
		expire  int32
		wantErr string
		hits    int32
		gets    int
	}{
		{"first link works", 0, "", 1, 0},
		{"expired once, fresh link", 1, "", 2, 1},
		{"always expired", 10, "AccessDenied: Request has expired", 3, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			host := newFileHost(t, gz, tc.expire)
			link := host.srv.URL + "/expo_x.json.gz?X-Amz-Expires=60&X-Amz-Signature=SIG"
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
				jsonReply(w, 200, fmt.Sprintf(`{"id":"expo_x","status":"done","download_url":%q}`, link))
			})
			c, _ := testClient(t, f.base(), nil)
			var buf bytes.Buffer
			n, err := c.FetchExport(context.Background(), &Export{ID: "expo_x", Status: "done", DownloadURL: &link}, 3, 0,
				func() (io.Writer, error) { buf.Reset(); return &buf, nil })
			if tc.wantErr == "" {
				if err != nil || n != int64(len(gz)) || !bytes.Equal(buf.Bytes(), gz) {
					t.Fatalf("n=%d err=%v body=%x", n, err, buf.Bytes())
				}
			} else {
				var de *DownloadError
				if !errors.As(err, &de) || !de.Expired || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v", err)
				}
				if strings.Contains(err.Error(), "SIG") {
					t.Errorf("the link's signature is in the error: %v", err)
				}
			}
			if host.hits.Load() != tc.hits || f.count() != tc.gets {
				t.Errorf("file host hits = %d, export GETs = %d; want %d, %d", host.hits.Load(), f.count(), tc.hits, tc.gets)
			}
			if a := host.auth.Load().(string); a != "" {
				t.Errorf("the download carried an Authorization header")
			}
		})
	}
}

func TestDownloadExportRefuses(t *testing.T) {
	c, _ := testClient(t, "https://api.close.example/api/v1", nil)
	for name, u := range map[string]string{
		"plain http from https": "http://files.example/x.gz",
		"not a URL":             "::",
		"relative":              "/x.gz",
		"user info":             "https://u:p@files.example/x.gz",
		"ftp":                   "ftp://files.example/x.gz",
	} {
		var buf bytes.Buffer
		if _, err := c.DownloadExport(context.Background(), u, &buf, 0); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	host := newFileHost(t, bytes.Repeat([]byte{1}, 100), 0)
	h, _ := testClient(t, host.srv.URL+"/api/v1", nil)
	var buf bytes.Buffer
	if _, err := h.DownloadExport(context.Background(), host.srv.URL+"/x", &buf, 10); err == nil || !strings.Contains(err.Error(), "larger than 10 bytes") {
		t.Errorf("oversized file: err = %v", err)
	}
}

func TestCreateRetriesOnlyUnprocessedAnswers(t *testing.T) {
	tests := []struct {
		name    string
		answers []int
		wantErr bool
		sent    int
	}{
		{"ok", []int{200}, false, 1},
		{"429 then ok", []int{429, 200}, false, 2},
		{"503 then ok", []int{503, 200}, false, 2},
		{"500 is ambiguous, not retried", []int{500}, true, 1},
		{"502 is ambiguous, not retried", []int{502}, true, 1},
		{"400 not retried", []int{400}, true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
				code := tc.answers[min(n, len(tc.answers))-1]
				if code == 200 {
					jsonReply(w, 200, `{"id":"lead_new","contacts":[{"id":"cont_new"}]}`)
					return
				}
				if code == 429 {
					w.Header().Set("RateLimit", "limit=20, remaining=0, reset=1")
				}
				jsonReply(w, code, `{"error":"x"}`)
			})
			c, _ := testClient(t, f.base(), nil)
			out, err := c.Create(context.Background(), KindLead, map[string]any{"name": "A"})
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err == nil && out["id"] != "lead_new" {
				t.Errorf("out = %v", out)
			}
			if f.count() != tc.sent {
				t.Errorf("sent %d times, want %d", f.count(), tc.sent)
			}
			if got := f.requests()[0].Path; got != "/api/v1/lead/" {
				t.Errorf("path = %s", got)
			}
		})
	}
	c, _ := testClient(t, "https://api.close.example/api/v1", nil)
	if _, err := c.Create(context.Background(), Kind("email"), nil); err == nil {
		t.Error("an unknown kind was accepted")
	}
}

func TestEachEventFollowsTheCursor(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		switch r.URL.Query().Get("_cursor") {
		case "":
			jsonReply(w, 200, `{"data":[{"id":"ev_1","action":"deleted","object_type":"lead","object_id":"lead_1","meta":{"bulk_action_id":"bulkdelete_a"},"previous_data":{"name":"A"}}],"cursor_next":"c2"}`)
		case "c2":
			jsonReply(w, 200, `{"data":[{"id":"ev_2","action":"deleted","object_type":"lead","object_id":"lead_2","meta":{},"previous_data":null}],"cursor_next":null}`)
		default:
			jsonReply(w, 400, `{"error":"bad cursor"}`)
		}
	})
	c, _ := testClient(t, f.base(), nil)
	var got []Event
	err := c.EachEvent(context.Background(), EventQuery{ObjectType: "lead", Action: "deleted", Since: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		func(e Event) (bool, error) { got = append(got, e); return true, nil })
	if err != nil || len(got) != 2 {
		t.Fatalf("got %d events, err %v", len(got), err)
	}
	if got[0].BulkActionID() != "bulkdelete_a" || got[1].BulkActionID() != "" || got[1].PreviousData != nil || string(got[0].PreviousData) != `{"name":"A"}` {
		t.Errorf("events = %+v", got)
	}
	q := f.requests()[0].RawQuery
	for _, want := range []string{"object_type=lead", "action=deleted", "_limit=50", "date_updated__gte=2026-12-01T00%3A00%3A00.000000%2B00%3A00"} {
		if !strings.Contains(q, want) {
			t.Errorf("query %q lacks %q", q, want)
		}
	}
}

func TestListByLead(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		jsonReply(w, 200, `{"data":[{"id":"acti_1","note":"x"}],"has_more":false}`)
	})
	c, _ := testClient(t, f.base(), nil)
	got, err := c.ListByLead(context.Background(), KindNote, "lead_abc")
	if err != nil || len(got) != 1 {
		t.Fatalf("got %v, err %v", got, err)
	}
	r := f.requests()[0]
	if r.Path != "/api/v1/activity/note/" || !strings.Contains(r.RawQuery, "lead_id=lead_abc") {
		t.Errorf("request = %s?%s", r.Path, r.RawQuery)
	}
	if _, err := c.ListByLead(context.Background(), KindNote, "cont_x"); !errors.Is(err, ErrInvalidID) {
		t.Errorf("a contact id as lead id: err = %v", err)
	}
}
