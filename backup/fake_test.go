package backup

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulkguard/bulkguard/closeapi"
)

// fakeClose is a small Close over httptest: leads with nested contacts and addresses, their
// children (opportunities, tasks, activities), the event log, lead exports with download links
// on a second host, and faults. It evaluates no queries: the test says which leads an export
// holds.
type fakeClose struct {
	t     *testing.T
	api   *httptest.Server
	files *httptest.Server

	mu       sync.Mutex
	seq      int
	leads    map[string]map[string]any // id → lead (contacts, addresses nested)
	order    []string
	children map[string][]map[string]any // lead id → opportunities, tasks, activities (with _kind)
	events   []map[string]any
	exports  map[string]*fakeExport
	creates  int
	requests []string // "METHOD /path"

	// Faults.
	exportLeads   []string // the leads an export holds; nil: every lead
	exportFail    bool
	exportStall   bool
	expireLinks   int // this many downloads answer 403 expired
	loseAnswerAt  int // the n-th create is made, then answered 504
	refuseCreate  func(path string, body map[string]any) bool
	downloadAuth  []string
	exportBodies  []map[string]any
	searchQueries []string
}

type fakeExport struct {
	id    string
	polls int
	leads []string
}

func newFakeClose(t *testing.T) *fakeClose {
	f := &fakeClose{t: t, leads: map[string]map[string]any{}, children: map[string][]map[string]any{}, exports: map[string]*fakeExport{}}
	f.api = httptest.NewServer(http.HandlerFunc(f.serveAPI))
	f.files = httptest.NewServer(http.HandlerFunc(f.serveFile))
	t.Cleanup(f.api.Close)
	t.Cleanup(f.files.Close)
	return f
}

func (f *fakeClose) client(t *testing.T) *closeapi.Client {
	c, err := closeapi.New(closeapi.Options{BaseURL: f.api.URL + "/api/v1", APIKey: "api_fakekey_0123456789", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fakeClose) id(prefix string) string {
	f.seq++
	return fmt.Sprintf("%s%06d", prefix, f.seq)
}

func (f *fakeClose) event(action, objectType, objectID, leadID string, data, prev map[string]any, meta map[string]any) {
	if meta == nil {
		meta = map[string]any{}
	}
	f.events = append(f.events, map[string]any{
		"id": f.id("ev_"), "action": action, "object_type": objectType, "object_id": objectID, "lead_id": leadID,
		"data": data, "previous_data": prev, "meta": meta, "date_updated": time.Now().UTC().Format(time.RFC3339Nano),
	})
}

// seed adds a lead as an export would show it; ids are kept.
func (f *fakeClose) seed(l map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := l["id"].(string)
	kids := []map[string]any{}
	for _, k := range []string{"opportunities", "tasks", "activities"} {
		for _, o := range objects(l[k]) {
			o["lead_id"] = id
			o["_kind"] = k
			kids = append(kids, o)
		}
		delete(l, k)
	}
	f.leads[id] = l
	f.order = append(f.order, id)
	f.children[id] = kids
}

// exportJSON is lead id as an export writes it.
func (f *fakeClose) exportJSON(id string) map[string]any {
	l := map[string]any{}
	for k, v := range f.leads[id] {
		l[k] = v
	}
	l["opportunities"], l["tasks"], l["activities"] = []any{}, []any{}, []any{}
	for _, o := range f.children[id] {
		k := o["_kind"].(string)
		c := map[string]any{}
		for kk, v := range o {
			if kk != "_kind" {
				c[kk] = v
			}
		}
		l[k] = append(l[k].([]any), c)
	}
	return l
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var (
	exportGet = regexp.MustCompile(`^/api/v1/export/(expo_[0-9]+)/$`)
	leadGet   = regexp.MustCompile(`^/api/v1/lead/(lead_[A-Za-z0-9]+)/$`)
	idValue   = regexp.MustCompile(`"value":"([a-z]+_[A-Za-z0-9]+)"`)
)

func (f *fakeClose) serveAPI(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	var in map[string]any
	if len(body) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&in); err != nil {
			reply(w, 400, map[string]any{"error": "bad json"})
			return
		}
	}
	p := r.URL.Path
	switch {
	case r.Method == "POST" && p == "/api/v1/export/lead/":
		f.exportBodies = append(f.exportBodies, in)
		x := &fakeExport{id: f.id("expo_")}
		if f.exportLeads != nil {
			x.leads = append([]string(nil), f.exportLeads...)
		} else if q, _ := json.Marshal(in["s_query"]); strings.Contains(string(q), `"type":"id"`) {
			for _, m := range idValue.FindAllStringSubmatch(string(q), -1) {
				x.leads = append(x.leads, m[1])
			}
		} else {
			x.leads = append([]string(nil), f.order...)
		}
		f.exports[x.id] = x
		reply(w, 200, map[string]any{"id": x.id, "status": "created", "n_docs": nil, "n_docs_processed": 0, "download_url": nil})
	case r.Method == "GET" && exportGet.MatchString(p):
		x := f.exports[exportGet.FindStringSubmatch(p)[1]]
		if x == nil {
			reply(w, 404, map[string]any{"error": "Not found."})
			return
		}
		x.polls++
		st := []string{"started", "in_progress", "done"}[min(x.polls, 3)-1]
		if f.exportFail && x.polls >= 2 {
			st = "error"
		}
		if f.exportStall && st == "done" {
			st = "in_progress"
		}
		var dl any
		if st == "done" {
			dl = fmt.Sprintf("%s/files/%s.json.gz?X-Amz-Expires=60&X-Amz-Signature=sig%d", f.files.URL, x.id, x.polls)
		}
		reply(w, 200, map[string]any{"id": x.id, "status": st, "n_docs": len(x.leads), "n_docs_processed": len(x.leads) * min(x.polls, 3) / 3, "download_url": dl})
	case r.Method == "POST" && p == "/api/v1/data/search/":
		q, _ := json.Marshal(in["query"])
		f.searchQueries = append(f.searchQueries, string(q))
		rows := []any{}
		for _, m := range idValue.FindAllStringSubmatch(string(q), -1) {
			for _, lid := range f.order {
				for _, c := range objects(f.leads[lid]["contacts"]) {
					if c["id"] == m[1] {
						rows = append(rows, map[string]any{"id": m[1], "lead_id": lid})
					}
				}
			}
		}
		reply(w, 200, map[string]any{"data": rows, "cursor": nil})
	case r.Method == "GET" && leadGet.MatchString(p):
		l := f.leads[leadGet.FindStringSubmatch(p)[1]]
		if l == nil {
			reply(w, 404, map[string]any{"error": "Not found."})
			return
		}
		reply(w, 200, l)
	case r.Method == "GET" && p == "/api/v1/event/":
		q := r.URL.Query()
		var since time.Time
		if s := q.Get("date_updated__gte"); s != "" {
			t, err := closeapi.ParseTime(s)
			if err != nil {
				reply(w, 400, map[string]any{"error": "bad date"})
				return
			}
			since = t.Time
		}
		out := []any{}
		for i := len(f.events) - 1; i >= 0; i-- {
			e := f.events[i]
			if q.Get("object_type") != "" && e["object_type"] != q.Get("object_type") ||
				q.Get("action") != "" && e["action"] != q.Get("action") ||
				q.Get("lead_id") != "" && e["lead_id"] != q.Get("lead_id") {
				continue
			}
			if at, _ := time.Parse(time.RFC3339Nano, e["date_updated"].(string)); at.Before(since) {
				continue
			}
			out = append(out, e)
		}
		reply(w, 200, map[string]any{"data": out, "cursor_next": nil})
	case r.Method == "POST":
		f.create(w, p, in)
	case r.Method == "PUT":
		id := p[strings.LastIndex(strings.TrimSuffix(p, "/"), "/")+1 : len(p)-1]
		for _, kids := range f.children {
			for _, o := range kids {
				if o["id"] == id {
					for k, v := range in {
						o[k] = v
					}
					reply(w, 200, o)
					return
				}
			}
		}
		reply(w, 404, map[string]any{"error": "Not found."})
	default:
		reply(w, 404, map[string]any{"error": "no route " + r.Method + " " + p})
	}
}

var childPaths = map[string]string{
	"/api/v1/opportunity/":      "opportunities",
	"/api/v1/task/":             "tasks",
	"/api/v1/activity/note/":    "activities:Note",
	"/api/v1/activity/call/":    "activities:Call",
	"/api/v1/activity/sms/":     "activities:SMS",
	"/api/v1/activity/meeting/": "activities:Meeting",
	"/api/v1/contact/":          "contact",
	"/api/v1/lead/":             "lead",
}

var eventTypeOf = map[string]string{"opportunities": "opportunity", "tasks": "task.lead", "Note": "activity.note", "Call": "activity.call", "SMS": "activity.sms", "Meeting": "activity.meeting"}

func (f *fakeClose) create(w http.ResponseWriter, p string, in map[string]any) {
	what, ok := childPaths[p]
	if !ok {
		reply(w, 404, map[string]any{"error": "no route POST " + p})
		return
	}
	if f.refuseCreate != nil && f.refuseCreate(p, in) {
		reply(w, 400, map[string]any{"error": "refused", "field-errors": map[string]any{"user_id": "Not a member."}})
		return
	}
	f.creates++
	var out map[string]any
	switch what {
	case "lead":
		id := f.id("lead_")
		l := map[string]any{}
		for k, v := range in {
			l[k] = v
		}
		l["id"] = id
		cs := []any{}
		for _, c := range objects(in["contacts"]) {
			c["id"], c["lead_id"] = f.id("cont_"), id
			cs = append(cs, c)
		}
		l["contacts"] = cs
		f.leads[id] = l
		f.order = append(f.order, id)
		f.event("created", "lead", id, id, map[string]any{"name": l["name"]}, nil, nil)
		out = l
	case "contact":
		lid, _ := in["lead_id"].(string)
		l := f.leads[lid]
		if l == nil {
			reply(w, 400, map[string]any{"field-errors": map[string]any{"lead_id": "Unknown lead."}})
			return
		}
		c := map[string]any{}
		for k, v := range in {
			c[k] = v
		}
		c["id"] = f.id("cont_")
		l["contacts"] = append(l["contacts"].([]any), c)
		f.event("created", "contact", c["id"].(string), lid, map[string]any{"name": c["name"]}, nil, nil)
		out = c
	default:
		lid, _ := in["lead_id"].(string)
		if f.leads[lid] == nil {
			reply(w, 400, map[string]any{"field-errors": map[string]any{"lead_id": "Unknown lead."}})
			return
		}
		kind, typ, _ := strings.Cut(what, ":")
		o := map[string]any{}
		for k, v := range in {
			o[k] = v
		}
		prefix := "acti_"
		switch kind {
		case "opportunities":
			prefix = "oppo_"
		case "tasks":
			prefix = "task_"
			o["_type"] = "lead"
		}
		if typ != "" {
			o["_type"] = typ
		}
		o["id"], o["_kind"] = f.id(prefix), kind
		f.children[lid] = append(f.children[lid], o)
		et := eventTypeOf[kind]
		if typ != "" {
			et = eventTypeOf[typ]
		}
		data := map[string]any{}
		for k, v := range o {
			if k != "_kind" {
				data[k] = v
			}
		}
		f.event("created", et, o["id"].(string), lid, data, nil, nil)
		out = o
	}
	if f.loseAnswerAt > 0 && f.creates == f.loseAnswerAt {
		reply(w, http.StatusGatewayTimeout, map[string]any{"error": "gateway timeout"})
		return
	}
	reply(w, 200, out)
}

func (f *fakeClose) serveFile(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.downloadAuth = append(f.downloadAuth, r.Header.Get("Authorization"))
	if f.expireLinks > 0 {
		f.expireLinks--
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>`)
		return
	}
	id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/files/"), ".json.gz")
	x := f.exports[id]
	if x == nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	arr := []any{}
	for _, lid := range x.leads {
		if f.leads[lid] != nil {
			arr = append(arr, f.exportJSON(lid))
		}
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_ = json.NewEncoder(zw).Encode(arr)
	_ = zw.Close()
	w.Header().Set("Content-Encoding", "gzip")
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(buf.Bytes())
}

// deleteLeads removes leads as a bulk delete would, with deleted events carrying previous_data
// and the job id.
func (f *fakeClose) deleteLeads(job string, ids ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	meta := map[string]any{"bulk_action_id": job}
	for _, id := range ids {
		full := f.exportJSON(id)
		for _, c := range objects(full["contacts"]) {
			f.event("deleted", "contact", c["id"].(string), id, nil, c, meta)
		}
		for _, o := range f.children[id] {
			typ, _ := o["_type"].(string)
			et := eventTypeOf[o["_kind"].(string)]
			if o["_kind"] == "activities" {
				et = eventTypeOf[typ]
				if et == "" {
					et = "activity." + strings.ToLower(typ)
				}
			}
			prev := map[string]any{}
			for k, v := range o {
				if k != "_kind" {
					prev[k] = v
				}
			}
			f.event("deleted", et, o["id"].(string), id, nil, prev, meta)
		}
		lead := map[string]any{}
		for k, v := range f.leads[id] {
			if k != "contacts" {
				lead[k] = v
			}
		}
		f.event("deleted", "lead", id, id, nil, lead, meta)
		delete(f.leads, id)
		delete(f.children, id)
		for i, o := range f.order {
			if o == id {
				f.order = append(f.order[:i], f.order[i+1:]...)
				break
			}
		}
	}
}

// snapshot is every lead's restorable content, ids replaced by content, sorted, so two orgs
// compare equal exactly when a restore brought back every restorable field.
func (f *fakeClose) snapshot() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, id := range f.order {
		l := f.leads[id]
		contactName := map[string]string{}
		var parts []string
		parts = append(parts, "lead "+fields(l, closeapi.KindLead))
		for _, c := range objects(l["contacts"]) {
			contactName[str(c, "id")] = str(c, "name")
			parts = append(parts, "  contact "+fields(contactBody(c), closeapi.KindContact)+" "+canon(contactBody(c)["emails"])+canon(contactBody(c)["phones"]))
		}
		parts = append(parts, "  addresses "+canon(subList(l["addresses"], addressKeys...)))
		var kids []string
		for _, o := range f.children[id] {
			kind := closeapi.KindOpportunity
			switch o["_kind"] {
			case "tasks":
				kind = closeapi.KindTask
				if tt := str(o, "_type"); tt != "" && tt != "lead" {
					continue // Close makes these itself; the dry run lists them as not restored
				}
			case "activities":
				kind = activityKinds[str(o, "_type")]
			}
			if kind == "" {
				continue
			}
			kids = append(kids, fmt.Sprintf("  %s %s contact=%s", kind, fields(o, kind), contactName[str(o, "contact_id")]))
		}
		sort.Strings(kids)
		out = append(out, strings.Join(append(parts, kids...), "\n"))
	}
	sort.Strings(out)
	return out
}

func fields(o map[string]any, k closeapi.Kind) string {
	m := map[string]any{}
	copyFields(m, o, RestorableFields(k))
	return canon(m)
}

func canon(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
