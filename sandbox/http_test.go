package sandbox

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
)

func TestAuth(t *testing.T) {
	e := emptyEnv(t)
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	cases := []struct {
		name, header string
		want         int
	}{
		{"basic key as user", basic(DemoAPIKey, ""), 200},
		{"basic key with a password", basic(DemoAPIKey, "ignored"), 200},
		{"bearer", "Bearer " + DemoAPIKey, 200},
		{"none", "", 401},
		{"wrong key", basic("nope", ""), 401},
		{"key as password", basic("", DemoAPIKey), 401},
		{"wrong bearer", "Bearer nope", 401},
		{"garbage", "Basic !!!", 401},
		{"other scheme", "Token " + DemoAPIKey, 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/me/", nil)
			if c.header != "" {
				req.Header.Set("Authorization", c.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Fatalf("got %d, want %d", resp.StatusCode, c.want)
			}
			if c.want == 401 {
				var body strings.Builder
				buf := make([]byte, 512)
				n, _ := resp.Body.Read(buf)
				body.Write(buf[:n])
				if strings.TrimSpace(body.String()) != `{"error":"Unauthorized"}` {
					t.Errorf("401 body %q", body.String())
				}
			}
		})
	}
	other := newEnv(t, Options{APIKey: "k2", EmptyOrg: true})
	if other.s.APIKey() != "k2" {
		t.Errorf("APIKey %q", other.s.APIKey())
	}
	if code, _, _ := other.do("GET", "/api/v1/me/", nil); code != 200 {
		t.Errorf("own key: %d", code)
	}
}

func TestRoutingAndErrors(t *testing.T) {
	e := emptyEnv(t)
	cases := []struct {
		name, method, path, body string
		want                     int
		wantErr                  string // the {"error"} message, if any
	}{
		{"unknown path", "GET", "/api/v1/widget/", "", 404, "Not found."},
		{"outside the API", "GET", "/v2/me/", "", 404, "Not found."},
		{"wrong method", "DELETE", "/api/v1/me/", "", 405, "Method not allowed."},
		{"wrong method on jobs", "DELETE", "/api/v1/bulk_action/delete/", "", 405, "Method not allowed."},
		{"GET search", "GET", "/api/v1/data/search/", "", 405, "Method not allowed."},
		{"invalid JSON", "POST", "/api/v1/data/search/", "{nope", 400, "The request contains invalid JSON."},
		{"JSON not an object", "POST", "/api/v1/data/search/", "[1,2]", 400, "The request contains invalid JSON."},
		{"two JSON values", "POST", "/api/v1/bulk_action/delete/", "{} {}", 400, "The request contains invalid JSON."},
		{"POST without slash", "POST", "/api/v1/bulk_action/delete", "{}", 404, "Not found. Close paths end with a slash: /api/v1/bulk_action/delete/"},
		{"missing job", "GET", "/api/v1/bulk_action/delete/bulkdelete_nope/", "", 404, "Not found."},
		{"missing lead", "GET", "/api/v1/lead/lead_nope/", "", 404, "Not found."},
		{"missing view", "GET", "/api/v1/saved_search/save_nope/", "", 404, "Not found."},
		{"missing contact", "GET", "/api/v1/contact/cont_nope/", "", 404, "Not found."},
		{"missing user", "GET", "/api/v1/user/user_nope/", "", 404, "Not found."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			var body any
			if c.body != "" {
				body = c.body
			}
			code, m, h := e.do(c.method, c.path, body)
			if code != c.want {
				t.Fatalf("got %d %v, want %d", code, m, c.want)
			}
			if m["error"] != c.wantErr {
				t.Errorf("error %q, want %q", m["error"], c.wantErr)
			}
			if code == 405 && h.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
	// GET without the trailing slash is redirected, as Close does.
	code, _, h := e.do("GET", "/api/v1/me?x=1", nil)
	if code != http.StatusPermanentRedirect || h.Get("Location") != "/api/v1/me/?x=1" {
		t.Errorf("GET without slash: %d Location %q", code, h.Get("Location"))
	}
}

func TestLookups(t *testing.T) {
	e := newEnv(t, Options{Leads: 50})
	me := e.s.st.users[0]

	code, m, _ := e.do("GET", "/api/v1/me/", nil)
	if code != 200 || m["id"] != me.ID || m["first_name"] != "Alex" || m["email"] == "" {
		t.Fatalf("me: %d %v", code, m)
	}
	orgs := m["organizations"].([]any)
	if len(orgs) != 1 || orgs[0].(map[string]any)["id"] != e.s.st.orgID {
		t.Errorf("me organizations: %v", orgs)
	}

	code, m, _ = e.do("GET", "/api/v1/user/", nil)
	if code != 200 || len(m["data"].([]any)) != 5 || m["has_more"] != false {
		t.Fatalf("users: %d %v", code, m)
	}
	code, m, _ = e.do("GET", "/api/v1/user/?_limit=2&_skip=1", nil)
	if code != 200 || len(m["data"].([]any)) != 2 || m["has_more"] != true {
		t.Fatalf("users page: %d %v", code, m)
	}

	code, m, _ = e.do("GET", "/api/v1/status/lead/", nil)
	var labels []string
	for _, s := range m["data"].([]any) {
		st := s.(map[string]any)
		if !strings.HasPrefix(st["id"].(string), "stat_") {
			t.Errorf("status id %v", st["id"])
		}
		labels = append(labels, st["label"].(string))
	}
	if code != 200 || strings.Join(labels, ",") != "Potential,Qualified,Bad Fit,Customer,Canceled" {
		t.Fatalf("statuses: %d %v", code, labels)
	}
	if m["has_more"] != false || m["data"].([]any)[0].(map[string]any)["color"] != nil {
		t.Errorf("/status/lead/ has has_more false and a null color by default: %v", m)
	}

	_, m, _ = e.do("GET", "/api/v1/custom_field/lead/", nil)
	types := map[string]bool{}
	for _, f := range m["data"].([]any) {
		cf := f.(map[string]any)
		types[cf["type"].(string)] = true
		if cf["type"] == "choices" && len(cf["choices"].([]any)) == 0 {
			t.Errorf("choices field without choices: %v", cf)
		}
		if !strings.HasPrefix(cf["id"].(string), "cf_") {
			t.Errorf("custom field id %v", cf["id"])
		}
	}
	for _, k := range []string{"choices", "text", "number", "date"} {
		if !types[k] {
			t.Errorf("no %s custom field", k)
		}
	}

	code, m, _ = e.do("GET", "/api/v1/saved_search/", nil)
	views := m["data"].([]any)
	if code != 200 || m["has_more"] != false {
		t.Fatalf("saved searches: %d %v", code, m)
	}
	byName := map[string]map[string]any{}
	for _, v := range views {
		sv := v.(map[string]any)
		byName[sv["name"].(string)] = sv
		for _, k := range []string{"id", "name", "type", "s_query", "query", "is_shared", "is_user_dependent", "organization_id", "user_id", "description", "date_created", "date_updated"} {
			if _, ok := sv[k]; !ok {
				t.Errorf("view %v lacks %s", sv["name"], k)
			}
		}
		if sv["type"] != "lead" {
			t.Errorf("default type filter is lead, got %v", sv["type"])
		}
	}
	for _, n := range []string{"All Leads", "Bad Fit leads", "Junk / test leads", "No contact in a year", "My leads", "Old string search"} {
		if byName[n] == nil {
			t.Errorf("no Smart View %q", n)
		}
	}
	sq := byName["Bad Fit leads"]["s_query"].(map[string]any)
	if _, ok := sq["query"].(map[string]any); !ok || sq["results_limit"] != nil || len(sq["sort"].([]any)) != 0 {
		t.Errorf("Smart View s_query is not the {query, results_limit, sort} wrapper: %v", sq)
	}
	if byName["Old string search"]["s_query"] != nil || byName["Old string search"]["query"] != "*" {
		t.Errorf("legacy view: %v", byName["Old string search"])
	}
	if byName["My leads"]["is_user_dependent"] != true {
		t.Errorf("My leads should be user-dependent")
	}
	code, m, _ = e.do("GET", "/api/v1/saved_search/?type=contact", nil)
	if code != 200 || len(m["data"].([]any)) != 1 {
		t.Errorf("contact views: %d %v", code, m)
	}
	code, m, _ = e.do("GET", "/api/v1/saved_search/?_limit=2&_skip=0", nil)
	if code != 200 || len(m["data"].([]any)) != 2 || m["has_more"] != true {
		t.Errorf("views page: %d %v", code, m)
	}
	id := byName["All Leads"]["id"].(string)
	code, m, _ = e.do("GET", "/api/v1/saved_search/"+id+"/", nil)
	if code != 200 || m["name"] != "All Leads" {
		t.Errorf("get view: %d %v", code, m)
	}

	// leads
	code, m, _ = e.do("GET", "/api/v1/lead/?_limit=10", nil)
	if code != 200 || len(m["data"].([]any)) != 10 || m["has_more"] != true {
		t.Fatalf("leads: %d %v", code, m)
	}
	lead := m["data"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "name", "display_name", "status_id", "status_label", "description", "url", "html_url", "organization_id",
		"contacts", "addresses", "created_by", "updated_by", "date_created", "date_updated"} {
		if _, ok := lead[k]; !ok {
			t.Errorf("lead lacks %s: %v", k, lead)
		}
	}
	c0 := lead["contacts"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "lead_id", "name", "display_name", "title", "emails", "phones", "date_created"} {
		if _, ok := c0[k]; !ok {
			t.Errorf("contact lacks %s: %v", k, c0)
		}
	}
	code, m, _ = e.do("GET", "/api/v1/lead/?_limit=100&_skip=40", nil)
	if code != 200 || len(m["data"].([]any)) != 10 || m["has_more"] != false {
		t.Fatalf("leads last page: %d %d %v", code, len(m["data"].([]any)), m["has_more"])
	}
	if msg := e.fieldErr("GET", "/api/v1/lead/?_limit=201", nil, "_limit"); msg != "Input should be less than or equal to 200" {
		t.Errorf("_limit 201: %q", msg)
	}
	lid := lead["id"].(string)
	code, m, _ = e.do("GET", "/api/v1/lead/"+lid+"/?_fields=id,display_name", nil)
	if code != 200 || len(m) != 2 || m["id"] != lid {
		t.Errorf("lead with _fields: %d %v", code, m)
	}
	cid := c0["id"].(string)
	if code, m, _ = e.do("GET", "/api/v1/contact/"+cid+"/", nil); code != 200 || m["lead_id"] != lid {
		t.Errorf("contact: %d %v", code, m)
	}
	// DELETE /lead/{id}/ → 200 {} then 404; its contacts go with it.
	if code, m, _ = e.do("DELETE", "/api/v1/lead/"+lid+"/", nil); code != 200 || len(m) != 0 {
		t.Errorf("delete lead: %d %v", code, m)
	}
	if code, _, _ = e.do("DELETE", "/api/v1/lead/"+lid+"/", nil); code != 404 {
		t.Errorf("second delete: %d", code)
	}
	if code, _, _ = e.do("GET", "/api/v1/contact/"+cid+"/", nil); code != 404 || e.s.HasLead(lid) || e.s.HasContact(cid) || e.s.NumLeads() != 49 {
		t.Errorf("the lead's contact survived: %d", code)
	}
}
