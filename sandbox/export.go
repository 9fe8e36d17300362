package sandbox

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"time"
)

// Loading a Close JSON lead export (POST /export/lead/ with format json and
// type leads, close-api.md §6): a JSON array of lead objects, each with its
// contacts (emails, phones), addresses and custom fields, as Close's lead
// object (§8.1). The download is gzip-compressed; both forms load. Ids,
// names, statuses, users and dates are kept, so a rehearsal on the copy
// matches what the same query matches in Close.
//
// What an export does not carry is made up: lead statuses come from the
// status_id/status_label pairs seen; users from created_by/updated_by (and
// their *_name); custom fields from the flat "custom.cf_…" keys, their type
// inferred from the values (numbers → number, YYYY-MM-DD → date, other
// timestamps → datetime, lists → multi-value choices, else text) and their
// name from the deprecated nested "custom" dict when its values line up.
// The API key belongs to an extra "Sandbox Rehearsal" user.

type exportEmail struct {
	Email        string `json:"email"`
	Type         string `json:"type"`
	Unsubscribed bool   `json:"is_unsubscribed"`
}

type exportPhone struct {
	Phone string `json:"phone"`
	Type  string `json:"type"`
}

type exportContact struct {
	ID          string        `json:"id"`
	Name        string        `json:"name"`
	Title       string        `json:"title"`
	Emails      []exportEmail `json:"emails"`
	Phones      []exportPhone `json:"phones"`
	DateCreated string        `json:"date_created"`
	DateUpdated string        `json:"date_updated"`
}

type exportAddress struct {
	Label    string `json:"label"`
	Address1 string `json:"address_1"`
	Address2 string `json:"address_2"`
	City     string `json:"city"`
	State    string `json:"state"`
	Zipcode  string `json:"zipcode"`
	Country  string `json:"country"`
}

type exportLead struct {
	ID                    string          `json:"id"`
	Name                  string          `json:"name"`
	DisplayName           string          `json:"display_name"`
	Description           string          `json:"description"`
	URL                   string          `json:"url"`
	StatusID              string          `json:"status_id"`
	StatusLabel           string          `json:"status_label"`
	OrganizationID        string          `json:"organization_id"`
	CreatedBy             string          `json:"created_by"`
	CreatedByName         string          `json:"created_by_name"`
	UpdatedBy             string          `json:"updated_by"`
	UpdatedByName         string          `json:"updated_by_name"`
	DateCreated           string          `json:"date_created"`
	DateUpdated           string          `json:"date_updated"`
	LastCommunicationDate string          `json:"last_communication_date"`
	Contacts              []exportContact `json:"contacts"`
	Addresses             []exportAddress `json:"addresses"`
	Custom                map[string]any  `json:"custom"`
	flat                  map[string]any
}

func loadExportFile(path string, seed int64, now time.Time) (*store, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return loadExport(f, seed, now)
}

// loadExport reads an export and builds the organization from it.
func loadExport(r io.Reader, seed int64, now time.Time) (*store, error) {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer gz.Close()
		br = bufio.NewReader(gz)
	}
	leads, err := decodeExport(br)
	if err != nil {
		return nil, err
	}
	if len(leads) > MaxLeads {
		return nil, fmt.Errorf("the export has %d leads; the sandbox holds at most %d", len(leads), MaxLeads)
	}
	return buildFromExport(leads, seed, now)
}

func decodeExport(r io.Reader) ([]*exportLead, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not a Close JSON lead export: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, errors.New("not a Close JSON lead export: expected a JSON array of leads")
	}
	var leads []*exportLead
	for dec.More() {
		var raw map[string]json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("lead %d: %w", len(leads)+1, err)
		}
		b, _ := json.Marshal(raw)
		l := &exportLead{}
		if err := json.Unmarshal(b, l); err != nil {
			return nil, fmt.Errorf("lead %d: %w", len(leads)+1, err)
		}
		l.flat = map[string]any{}
		for k, v := range raw {
			if strings.HasPrefix(k, "custom.cf_") {
				var x any
				d := json.NewDecoder(bytes.NewReader(v))
				d.UseNumber()
				if err := d.Decode(&x); err != nil {
					return nil, fmt.Errorf("lead %d, %s: %w", len(leads)+1, k, err)
				}
				l.flat[strings.TrimPrefix(k, "custom.")] = x
			}
		}
		leads = append(leads, l)
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not a Close JSON lead export: %w", err)
	}
	return leads, nil
}

// inferType guesses a custom field's type from its values.
func inferType(vals []any) (typ string, multiple bool) {
	allNum, allDate, allTime, any_ := true, true, true, false
	for _, v := range vals {
		if v == nil {
			continue
		}
		any_ = true
		switch x := v.(type) {
		case json.Number:
			allDate, allTime = false, false
		case string:
			allNum = false
			if _, err := time.Parse("2006-01-02", x); err != nil {
				allDate = false
			}
			if _, err := parseCloseTime(x); err != nil || len(x) <= 10 {
				allTime = false
			}
		case []any:
			multiple = true
			allNum, allDate, allTime = false, false, false
		default:
			allNum, allDate, allTime = false, false, false
		}
	}
	switch {
	case !any_:
		return "text", false
	case multiple:
		return "choices", true
	case allNum:
		return "number", false
	case allDate:
		return "date", false
	case allTime:
		return "datetime", false
	}
	return "text", false
}

func exportValue(v any, typ string) any {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return nil
		}
		if typ == "number" {
			return f
		}
		return x.String()
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			parts = append(parts, fmt.Sprint(e))
		}
		return strings.Join(parts, ", ")
	}
	return v
}

func parseOrZero(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := parseCloseTime(s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func buildFromExport(leads []*exportLead, seed int64, now time.Time) (*store, error) {
	st := newStore(seed)
	r := rand.New(rand.NewPCG(uint64(seed), 0xe4b0))
	st.idRand = r
	st.orgName = "Sandbox copy of a Close export"
	for _, l := range leads {
		if l.OrganizationID != "" {
			st.orgID = l.OrganizationID
			break
		}
	}
	if st.orgID == "" {
		st.orgID = randID(r, "orga_")
	}
	start := now.AddDate(-3, 0, 0).Truncate(time.Second)
	st.addUser(&user{ID: randID(r, "user_"), FirstName: "Sandbox", LastName: "Rehearsal", Email: "rehearsal@sandbox.example", Created: start})

	// users and statuses, in order of first appearance.
	addUser := func(id, name string) {
		if id == "" || st.userByID[id] != nil {
			return
		}
		first, last, _ := strings.Cut(name, " ")
		st.addUser(&user{ID: id, FirstName: first, LastName: last, Created: start})
	}
	for _, l := range leads {
		addUser(l.CreatedBy, l.CreatedByName)
		addUser(l.UpdatedBy, l.UpdatedByName)
		if l.StatusID != "" {
			if _, ok := st.statusByID[l.StatusID]; !ok {
				st.addStatus(status{ID: l.StatusID, Label: orStr(l.StatusLabel, l.StatusID)})
			}
		}
	}
	if len(st.statuses) == 0 {
		for _, lab := range statusLabels {
			st.addStatus(status{ID: randID(r, "stat_"), Label: lab})
		}
	}

	// custom fields: ids from the flat keys; names voted from the nested dict.
	vals := map[string][]any{}
	votes := map[string]map[string]int{}
	for _, l := range leads {
		for id, v := range l.flat {
			vals[id] = append(vals[id], v)
			for name, nv := range l.Custom {
				if v != nil && fmt.Sprint(nv) == fmt.Sprint(v) {
					if votes[id] == nil {
						votes[id] = map[string]int{}
					}
					votes[id][name]++
				}
			}
		}
	}
	// Exports that only have the nested dict get ids made from the names.
	byName := map[string]string{}
	if len(vals) == 0 {
		for _, l := range leads {
			for name, v := range l.Custom {
				h := fnv.New64a()
				h.Write([]byte(name))
				id := fmt.Sprintf("cf_export%016x", h.Sum64())
				byName[name] = id
				vals[id] = append(vals[id], v)
				votes[id] = map[string]int{name: 1}
			}
		}
	}
	for _, id := range sortedKeys(vals) {
		typ, multi := inferType(vals[id])
		name := id
		best := 0
		for _, n := range sortedKeys(votes[id]) {
			if votes[id][n] > best {
				name, best = n, votes[id][n]
			}
		}
		cf := &customField{ID: id, Name: name, Type: typ, Multiple: multi, Created: start}
		if typ == "choices" {
			seen := map[string]bool{}
			for _, v := range vals[id] {
				if list, ok := v.([]any); ok {
					for _, e := range list {
						seen[fmt.Sprint(e)] = true
					}
				}
			}
			cf.Choices = sortedKeys(seen)
		}
		st.addCustomField(cf)
	}

	for n, l := range leads {
		sp := LeadSpec{ID: l.ID, Name: l.Name, Description: l.Description, URL: l.URL, Status: l.StatusID,
			CreatedBy: l.CreatedBy, UpdatedBy: l.UpdatedBy,
			DateCreated: parseOrZero(l.DateCreated), DateUpdated: parseOrZero(l.DateUpdated),
			LastCommunicationDate: parseOrZero(l.LastCommunicationDate), Custom: map[string]any{}}
		if sp.Name == "" && l.DisplayName != "" && len(l.Contacts) == 0 {
			sp.Name = l.DisplayName
		}
		for id, v := range l.flat {
			sp.Custom[id] = exportValue(v, st.cfByID[id].Type)
		}
		for name, v := range l.Custom {
			if id, ok := byName[name]; ok {
				sp.Custom[id] = exportValue(v, st.cfByID[id].Type)
			}
		}
		for _, c := range l.Contacts {
			cs := ContactSpec{ID: c.ID, Name: c.Name, Title: c.Title, DateCreated: parseOrZero(c.DateCreated), DateUpdated: parseOrZero(c.DateUpdated)}
			for _, e := range c.Emails {
				cs.Emails = append(cs.Emails, EmailSpec{Email: e.Email, Type: e.Type, Unsubscribed: e.Unsubscribed})
			}
			for _, p := range c.Phones {
				cs.Phones = append(cs.Phones, PhoneSpec{Phone: p.Phone, Type: p.Type})
			}
			sp.Contacts = append(sp.Contacts, cs)
		}
		for _, a := range l.Addresses {
			sp.Addresses = append(sp.Addresses, AddressSpec{Label: a.Label, Address1: a.Address1, Address2: a.Address2,
				City: a.City, State: a.State, Zipcode: a.Zipcode, Country: a.Country})
		}
		in, err := st.resolve(&sp, now)
		if err != nil {
			return nil, fmt.Errorf("lead %d (%s): %w", n+1, l.ID, err)
		}
		if sp.CreatedBy == "" {
			sp.CreatedBy = st.users[0].ID
		}
		st.insertLead(in)
	}
	seedViews(st, now)
	return st, nil
}
