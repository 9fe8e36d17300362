package sandbox

import (
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSeedIsDeterministic(t *testing.T) {
	org := func(seed int64) []map[string]any {
		e := newEnv(t, Options{Seed: seed, Leads: 300})
		_, m, _ := e.do("GET", "/api/v1/lead/?_limit=200", nil)
		var out []map[string]any
		for _, d := range m["data"].([]any) {
			out = append(out, d.(map[string]any))
		}
		return out
	}
	a, b, c := org(42), org(42), org(43)
	if !reflect.DeepEqual(a, b) {
		t.Error("the same seed gave different organizations")
	}
	if reflect.DeepEqual(a, c) {
		t.Error("different seeds gave the same organization")
	}
	// The empty org has the same metadata as a seeded one.
	e1 := newEnv(t, Options{Seed: 42, EmptyOrg: true})
	e2 := newEnv(t, Options{Seed: 42, Leads: 10})
	for _, p := range []string{"/api/v1/me/", "/api/v1/status/lead/", "/api/v1/custom_field/lead/", "/api/v1/saved_search/"} {
		_, m1, _ := e1.do("GET", p, nil)
		_, m2, _ := e2.do("GET", p, nil)
		if !reflect.DeepEqual(m1, m2) {
			t.Errorf("%s differs between an empty and a seeded org", p)
		}
	}
	if e1.s.NumLeads() != 0 || e2.s.NumLeads() != 10 {
		t.Errorf("leads: empty %d, seeded %d", e1.s.NumLeads(), e2.s.NumLeads())
	}
}

// TestSeedContents checks what cleanup rehearsals rely on: default size,
// every status, duplicates, junk, contacts with emails and phones, dates
// over two years, and views that match something.
func TestSeedContents(t *testing.T) {
	e := newEnv(t, Options{})
	if n := e.s.NumLeads(); n != 2000 {
		t.Fatalf("default org has %d leads, want 2000", n)
	}
	for _, l := range statusLabels {
		if n := e.count(leads(fc("lead", "status_label", fmt.Sprintf(`{"type":"term","values":[%q]}`, l)))); n == 0 {
			t.Errorf("no %s leads", l)
		}
	}
	checks := []struct {
		name     string
		query    string
		min, max int
	}{
		{"ACME duplicates", leads(fc("lead", "name", text("full_words", "acme"))), 5, 60},
		{"junk", leads(or(fc("lead", "name", text("exact_value", "test")), fc("lead", "name", text("exact_value", "asdf")), fc("lead", "name", text("exact_value", "zzz")))), 3, 40},
		{"leads without contacts", leads(negate(related("lead", "contact", `{"type":"match_all"}`))), 0, 0},
		{"contacts with a phone", contacts(fc("contact", "phones_count", `{"type":"number_range","gte":1}`)), 500, 4000},
		{"contacts with an email", contacts(fc("contact", "emails_count", `{"type":"number_range","gte":1}`)), 1500, 6000},
		{"created in the last year", leads(fc("lead", "date_created", mrange(offset("past", 365, 0, "start"), "null"))), 800, 1200},
		{"created over two years ago", leads(fc("lead", "date_created", mrange("null", offset("past", 731, 0, "start")))), 0, 0},
		{"Software industry", leads(cfc(e.s.st.cfs[0].ID, `{"type":"term","values":["Software"]}`)), 100, 400},
	}
	for _, c := range checks {
		if n := e.count(c.query); n < c.min || n > c.max {
			t.Errorf("%s: %d, want %d..%d", c.name, n, c.min, c.max)
		}
	}
	for _, v := range []string{"Bad Fit leads", "Junk / test leads", "No contact in a year", "All Leads", "My leads"} {
		id, _ := e.s.SmartViewID(v)
		n := e.count(leads(fmt.Sprintf(`{"type":"saved_search","saved_search_id":%q}`, id)))
		if n == 0 || (v != "All Leads" && n == 2000) {
			t.Errorf("view %q matches %d leads", v, n)
		}
	}
	if got := len(e.s.LeadIDs()); got != 2000 {
		t.Errorf("LeadIDs: %d", got)
	}
}

func TestLoadExport(t *testing.T) {
	gz := filepath.Join(t.TempDir(), "export.json.gz")
	raw, err := os.ReadFile("testdata/export.json")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(gz)
	if err != nil {
		t.Fatal(err)
	}
	w := gzip.NewWriter(f)
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"testdata/export.json", gz} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			e := newEnv(t, Options{LoadExport: path, Leads: 5000})
			if e.s.NumLeads() != 3 || e.s.NumContacts() != 3 {
				t.Fatalf("%d leads, %d contacts", e.s.NumLeads(), e.s.NumContacts())
			}
			_, m, _ := e.do("GET", "/api/v1/lead/lead_exportAcme0000000000000000000000000000000000/", nil)
			if m["name"] != "Acme Rockets" || m["organization_id"] != "orga_exportOrg0000000000000000000000000000000000" ||
				m["date_created"] != "2024-03-01T10:00:00.123456+00:00" || m["status_label"] != "Potential" ||
				m["created_by_name"] != "Wile Coyote" || m["custom.cf_exportSeats00000000000000000000000000000000"] != 12.0 ||
				m["custom.cf_exportRenewal0000000000000000000000000000000"] != "2026-06-30" {
				t.Errorf("lead: %v", m)
			}
			_, m, _ = e.do("GET", "/api/v1/custom_field/lead/", nil)
			got := map[string]string{}
			for _, d := range m["data"].([]any) {
				cf := d.(map[string]any)
				got[cf["name"].(string)] = cf["type"].(string)
			}
			want := map[string]string{"Industry": "text", "Seats": "number", "Renewal": "date", "Tags": "choices"}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("custom fields %v, want %v", got, want)
			}
			_, m, _ = e.do("GET", "/api/v1/status/lead/", nil)
			if n := len(m["data"].([]any)); n != 2 {
				t.Errorf("%d statuses, want the 2 seen", n)
			}
			_, m, _ = e.do("GET", "/api/v1/user/", nil)
			if n := len(m["data"].([]any)); n != 3 {
				t.Errorf("%d users, want the rehearsal user and the 2 seen", n)
			}
			cases := []struct {
				name, query string
				want        int
			}{
				{"industry", leads(cfc("cf_exportIndustry000000000000000000000000000000", text("exact_value", "aerospace"))), 1},
				{"multi-value term", leads(cfc("cf_exportTags000000000000000000000000000000000", `{"type":"term","values":["anvils"]}`)), 1},
				{"seats", leads(cfc("cf_exportSeats00000000000000000000000000000000", `{"type":"number_range","lt":10}`)), 1},
				{"renewal", leads(cfc("cf_exportRenewal0000000000000000000000000000000", mrange(localDate("2026-06-30", "start"), localDate("2026-06-30", "end")))), 1},
				{"bad fit", leads(fc("lead", "status_label", `{"type":"term","values":["Bad Fit"]}`)), 1},
				{"date without offset", leads(fc("lead", "date_created", mrange(localDate("2025-09-09", "start"), localDate("2025-09-09", "end")))), 1},
				{"unsubscribed email", leads(related("lead", "contact_email", fc("contact_email", "is_unsubscribed", `{"type":"boolean","value":true}`))), 1},
				{"uk phone", leads(`{"type":"text","mode":"exact_value","value":"+44 20 7183 8750"}`), 1},
				{"junk view", leads(fmt.Sprintf(`{"type":"saved_search","saved_search_id":%q}`, must(e.s.SmartViewID("Junk / test leads")))), 1},
				{"created by", leads(fc("lead", "created_by", `{"type":"reference","reference_type":"user","object_ids":["user_exportWile000000000000000000000000000000000"]}`)), 2},
			}
			for _, c := range cases {
				if n := e.count(c.query); n != c.want {
					t.Errorf("%s: %d, want %d", c.name, n, c.want)
				}
			}
			// A nameless contact shows its email.
			_, m, _ = e.do("GET", "/api/v1/contact/cont_exportCoyo000000000000000000000000000000000/", nil)
			if m["display_name"] != "anon@beep.example" {
				t.Errorf("nameless contact: %v", m["display_name"])
			}
		})
	}
	for _, bad := range []string{`{"data":[]}`, `[{"id": 1}]`, `[`, ``} {
		p := filepath.Join(t.TempDir(), "bad.json")
		if err := os.WriteFile(p, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if s, err := New(Options{LoadExport: p}); err == nil {
			s.Close()
			t.Errorf("export %q loaded", bad)
		} else if !strings.Contains(err.Error(), "bad.json") {
			t.Errorf("error does not name the file: %v", err)
		}
	}
}

func must(s string, ok bool) string {
	if !ok {
		panic("missing")
	}
	return s
}
