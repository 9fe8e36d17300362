package sandbox

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSearchShapesAndLimits(t *testing.T) {
	e, _ := evalOrg(t)
	sortBy := func(field, dir string) string {
		return fmt.Sprintf(`[{"direction":%q,"field":{"type":"regular_field","object_type":"lead","field_name":%q}}]`, dir, field)
	}
	order := func(body string) []string {
		m := e.search(body)
		var out []string
		for _, d := range m["data"].([]any) {
			out = append(out, d.(map[string]any)["display_name"].(string))
		}
		return out
	}
	fields := `"_fields":{"lead":["display_name"]}`

	// docs/close-api.md §2.3: the dry-run count.
	m := e.search(`{"query":` + leads() + `,"include_counts":true,"results_limit":0}`)
	if !reflect.DeepEqual(m, map[string]any{"data": []any{}, "cursor": nil, "count": map[string]any{"total": 5.0, "limited": 0.0}}) {
		t.Errorf("count-only: %v", m)
	}
	// Without _fields a record is only __object_type and id; no count
	// without include_counts; no has_more ever.
	m = e.search(`{"query":` + leads() + `,"_limit":1}`)
	rec := m["data"].([]any)[0].(map[string]any)
	if len(rec) != 2 || rec["__object_type"] != "lead" || !strings.HasPrefix(rec["id"].(string), "lead_") {
		t.Errorf("bare record: %v", rec)
	}
	if _, ok := m["count"]; ok {
		t.Error("count without include_counts")
	}
	if _, ok := m["has_more"]; ok {
		t.Error("data/search has no has_more")
	}
	// results_limit caps and count.limited follows it.
	m = e.search(`{"query":` + leads() + `,"include_counts":true,"results_limit":2,` + fields + `}`)
	if c := m["count"].(map[string]any); c["total"] != 5.0 || c["limited"] != 2.0 || len(m["data"].([]any)) != 2 || m["cursor"] != nil {
		t.Errorf("results_limit 2: %v", m)
	}
	// sort asc/desc on text, date, number (custom) fields; empty values last.
	cases := []struct {
		name, sort string
		want       []string
	}{
		{"no sort is insertion order", `[]`, list(nAcme, nAcmeInc, nGlobex, nTest, nWayne)},
		{"name asc", sortBy("name", "asc"), list(nAcme, nAcmeInc, nGlobex, nTest, nWayne)},
		{"name desc", sortBy("name", "desc"), list(nWayne, nTest, nGlobex, nAcmeInc, nAcme)},
		{"created desc", sortBy("date_created", "desc"), list(nTest, nAcmeInc, nWayne, nAcme, nGlobex)},
		{"created asc", sortBy("date_created", "asc"), list(nGlobex, nAcme, nWayne, nAcmeInc, nTest)},
		{"last communication asc, unset last", sortBy("last_communication_date", "asc"), list(nGlobex, nAcme, nAcmeInc, nTest, nWayne)},
		{"last communication desc, unset last", sortBy("last_communication_date", "desc"), list(nAcme, nGlobex, nAcmeInc, nTest, nWayne)},
		{"custom number desc", `[{"direction":"desc","field":{"type":"custom_field","custom_field_id":"` + e.s.st.cfs[3].ID + `"}}]`, list(nWayne, nAcmeInc, nAcme, nGlobex, nTest)},
		{"two keys", `[{"direction":"asc","field":{"type":"regular_field","object_type":"lead","field_name":"status_label"}},` +
			`{"direction":"desc","field":{"type":"regular_field","object_type":"lead","field_name":"date_created"}}]`, list(nAcmeInc, nGlobex, nTest, nAcme, nWayne)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			got := order(`{"query":` + leads() + `,"sort":` + c.sort + `,` + fields + `}`)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
	e.t = t
	// results_limit takes the first N in sort order.
	if got := order(`{"query":` + leads() + `,"results_limit":2,"sort":` + sortBy("date_created", "desc") + `,` + fields + `}`); !reflect.DeepEqual(got, list(nTest, nAcmeInc)) {
		t.Errorf("newest two: %q", got)
	}
	// _fields: columns, custom fields flat, contacts, and the contact side.
	m = e.search(`{"query":` + leads(`{"type":"id","value":"`+e.s.LeadIDs()[0]+`"}`) + `,"_fields":{"lead":["id","name","status_label","date_created","custom.` + e.s.st.cfs[0].ID + `","custom","contacts"]}}`)
	rec = m["data"].([]any)[0].(map[string]any)
	if rec["name"] != nAcme || rec["status_label"] != "Potential" || rec["date_created"] != "2025-10-26T12:00:00.000000+00:00" ||
		rec["custom."+e.s.st.cfs[0].ID] != "Software" || rec["custom."+e.s.st.cfs[3].ID] != 50.0 || len(rec["contacts"].([]any)) != 1 {
		t.Errorf("_fields record: %v", rec)
	}
	m = e.search(`{"query":` + contacts(fc("contact", "name", text("full_words", "lucius"))) + `,"_fields":{"contact":["id","display_name","title","lead_id","emails"]}}`)
	rec = m["data"].([]any)[0].(map[string]any)
	if rec["__object_type"] != "contact" || rec["title"] != "CTO" || len(rec["emails"].([]any)) != 2 || !strings.HasPrefix(rec["id"].(string), "cont_") {
		t.Errorf("contact record: %v", rec)
	}

	// validation
	bad := []struct {
		name, body, key, want string
	}{
		{"_limit above 200", `{"query":` + leads() + `,"_limit":201}`, "_limit", "Input should be less than or equal to 200"},
		{"_limit not a number", `{"query":` + leads() + `,"_limit":"ten"}`, "_limit", "Input should be a valid integer"},
		{"results_limit negative", `{"query":` + leads() + `,"results_limit":-1}`, "results_limit", "Input should be greater than or equal to 0"},
		{"no query", `{"include_counts":true}`, "query", "This field is required."},
		{"null query", `{"query":null}`, "query", "This field is required."},
		{"query not an object", `{"query":"name:acme"}`, "query", ""},
		{"bad sort", `{"query":` + leads() + `,"sort":[{"direction":"up","field":{"type":"regular_field","object_type":"lead","field_name":"name"}}]}`, "sort", "/0/direction"},
		{"unknown _fields name", `{"query":` + leads() + `,"_fields":{"lead":["id","favourite_colour"]}}`, "_fields", `unknown field "favourite_colour" for lead objects`},
		{"_fields not an object", `{"query":` + leads() + `,"_fields":["id"]}`, "_fields", ""},
		{"include_counts not a bool", `{"query":` + leads() + `,"include_counts":"yes"}`, "include_counts", "Input should be a valid boolean"},
		{"garbage cursor", `{"query":` + leads() + `,"cursor":"nope"}`, "cursor", "Invalid cursor"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			msg := e.fieldErr("POST", "/api/v1/data/search/", c.body, c.key)
			if !strings.Contains(msg, c.want) {
				t.Errorf("%q does not contain %q", msg, c.want)
			}
		})
	}
}

func TestCursorPaging(t *testing.T) {
	e := newEnv(t, Options{Leads: 10_050, Seed: 7})
	all := leads()
	body := func(cursor any) string {
		return fmt.Sprintf(`{"query":%s,"_limit":200,"include_counts":true,"cursor":%s}`, all, jsonStr(cursor))
	}
	// The walk: pages of 200 until null, never more than 10,000 objects, no
	// object twice, and the total count is the whole match.
	seen := map[string]bool{}
	var cursor any
	pages := 0
	for {
		m := e.search(body(cursor))
		if pages == 0 {
			if c := m["count"].(map[string]any); c["total"] != 10050.0 || c["limited"] != 10050.0 {
				t.Fatalf("count: %v", c)
			}
		}
		for _, d := range m["data"].([]any) {
			id := d.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("%s returned twice", id)
			}
			seen[id] = true
		}
		pages++
		if m["cursor"] == nil {
			break
		}
		cursor = m["cursor"]
		e.clk.Advance(29 * time.Second) // each page renews the 30 s
	}
	if len(seen) != 10_000 || pages != 50 {
		t.Fatalf("walked %d objects in %d pages, want 10000 in 50", len(seen), pages)
	}

	// A cursor expires 30 s after it was issued.
	m := e.search(body(nil))
	cur := m["cursor"].(string)
	e.clk.Advance(31 * time.Second)
	if msg := e.fieldErr("POST", "/api/v1/data/search/", body(cur), "cursor"); msg != "Expired cursor" {
		t.Errorf("expired cursor: %q", msg)
	}
	// A cursor serves one page: the next page comes with a new cursor.
	m = e.search(body(nil))
	cur = m["cursor"].(string)
	m2 := e.search(body(cur))
	if m2["cursor"] == nil || m2["cursor"] == cur {
		t.Errorf("second page cursor %v", m2["cursor"])
	}
	if msg := e.fieldErr("POST", "/api/v1/data/search/", body(cur), "cursor"); msg != "Invalid cursor" {
		t.Errorf("reused cursor: %q", msg)
	}
	// results_limit bounds the walk too.
	m = e.search(fmt.Sprintf(`{"query":%s,"_limit":200,"results_limit":250}`, all))
	m2 = e.search(fmt.Sprintf(`{"query":%s,"_limit":200,"cursor":%q}`, all, m["cursor"]))
	if len(m2["data"].([]any)) != 50 || m2["cursor"] != nil {
		t.Errorf("results_limit 250: second page has %d and cursor %v", len(m2["data"].([]any)), m2["cursor"])
	}
	// default page size is 100
	if m = e.search(`{"query":` + all + `}`); len(m["data"].([]any)) != 100 {
		t.Errorf("default page: %d", len(m["data"].([]any)))
	}
}
