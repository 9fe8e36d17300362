package backup

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/bulkguard/bulkguard/closeapi"
)

// What is posted back for each kind of object: the fields a person entered, never ids, Close's
// bookkeeping (organization, created_by, updated_by, date_updated) or computed values (Smart
// Fields, display names, status labels next to status ids). These lists are also what
// "every restorable field" means when a restore is compared with the original
// (docs/close-backup.md §3, §5).
var restorable = map[closeapi.Kind][]string{
	closeapi.KindLead:        {"name", "description", "url", "status_id", "date_created"},
	closeapi.KindContact:     {"name", "title"},
	closeapi.KindOpportunity: {"status_id", "value", "value_period", "value_currency", "confidence", "note", "user_id", "date_won"},
	closeapi.KindTask:        {"text", "assigned_to", "date", "is_complete"},
	closeapi.KindNote:        {"note", "note_html", "user_id", "date_created"},
	closeapi.KindCall:        {"direction", "duration", "phone", "note", "status", "disposition", "user_id", "date_created"},
	closeapi.KindSMS:         {"text", "direction", "status", "local_phone", "remote_phone", "user_id", "date_created"},
	closeapi.KindMeeting:     {"title", "note", "location", "starts_at", "ends_at", "duration", "user_id", "date_created"},
}

// RestorableFields lists the fields a restore brings back for one kind, besides custom fields
// (every custom.cf_… key) and, for leads and contacts, their nested addresses, emails, phones
// and urls.
func RestorableFields(k closeapi.Kind) []string { return append([]string(nil), restorable[k]...) }

// activityKinds maps an export's activity _type to what it is restored as; types not here are
// not restored (docs/close-backup.md §5).
var activityKinds = map[string]closeapi.Kind{
	"Note":    closeapi.KindNote,
	"Call":    closeapi.KindCall,
	"SMS":     closeapi.KindSMS,
	"Meeting": closeapi.KindMeeting,
}

// copyFields copies the listed fields that are present and not null, then every custom field.
func copyFields(dst, src map[string]any, fields []string) {
	for _, f := range fields {
		if v, ok := src[f]; ok && v != nil {
			dst[f] = v
		}
	}
	flat := false
	for k, v := range src {
		if strings.HasPrefix(k, "custom.") && v != nil {
			dst[k] = v
			flat = true
		}
	}
	// Older exports carry only the deprecated nested dict (keyed by field name); Close still
	// reads it on writes [DOC leads: deprecated, not yet removed].
	if c, ok := src["custom"].(map[string]any); ok && !flat && len(c) > 0 {
		dst["custom"] = c
	}
}

// subList keeps the listed keys of every object in a nested list (emails, phones, urls,
// addresses).
func subList(v any, keys ...string) []any {
	in := objects(v)
	out := make([]any, 0, len(in))
	for _, o := range in {
		m := map[string]any{}
		for _, k := range keys {
			if x, ok := o[k]; ok && x != nil {
				m[k] = x
			}
		}
		if len(m) > 0 {
			out = append(out, m)
		}
	}
	return out
}

var addressKeys = []string{"label", "address_1", "address_2", "city", "state", "zipcode", "country"}

func contactBody(c map[string]any) map[string]any {
	b := map[string]any{}
	copyFields(b, c, restorable[closeapi.KindContact])
	for _, k := range []struct{ list, field string }{{"emails", "email"}, {"phones", "phone"}, {"urls", "url"}} {
		if l := subList(c[k.list], k.field, "type"); len(l) > 0 {
			b[k.list] = l
		}
	}
	return b
}

// leadBody is the POST /lead/ body: the lead's fields, its addresses and its contacts nested.
func leadBody(l Lead) map[string]any {
	b := map[string]any{}
	copyFields(b, l, restorable[closeapi.KindLead])
	if _, ok := b["status_id"]; !ok {
		if s := str(l, "status_label"); s != "" {
			b["status"] = s
		}
	}
	if a := subList(l["addresses"], addressKeys...); len(a) > 0 {
		b["addresses"] = a
	}
	contacts := l.list("contacts")
	if len(contacts) > 0 {
		cs := make([]any, len(contacts))
		for i, c := range contacts {
			cs[i] = contactBody(c)
		}
		b["contacts"] = cs
	}
	return b
}

// childBody is the body of an opportunity, task or activity, posted to newLead with contact ids
// mapped; a contact that was not restored is left out rather than pointing at a deleted id.
func childBody(k closeapi.Kind, o map[string]any, newLead string, contacts map[string]string) map[string]any {
	b := map[string]any{"lead_id": newLead}
	copyFields(b, o, restorable[k])
	if old := str(o, "contact_id"); old != "" {
		if nc := contacts[old]; nc != "" {
			b["contact_id"] = nc
		}
	}
	switch k {
	case closeapi.KindOpportunity:
		if _, ok := b["status_id"]; !ok {
			if s := str(o, "status_label"); s != "" {
				b["status"] = s
			}
		}
	case closeapi.KindCall:
		// A call comes back as an external call without its recording (Close's scripts do
		// the same, docs/close-backup.md §3).
		b["source"] = "External"
	case closeapi.KindSMS:
		if s := str(o, "status"); s == "outbox" || s == "scheduled" {
			b["status"] = "draft"
		}
	}
	return b
}

// matchField is the field that tells two objects of a kind apart when a restore looks for a
// create whose answer was lost.
var matchField = map[closeapi.Kind]string{
	closeapi.KindLead:        "name",
	closeapi.KindContact:     "name",
	closeapi.KindOpportunity: "note",
	closeapi.KindTask:        "text",
	closeapi.KindNote:        "note",
	closeapi.KindCall:        "note",
	closeapi.KindSMS:         "text",
	closeapi.KindMeeting:     "title",
}

// eventTypes are the event log's object_type for each kind [DOC list of events].
var eventTypes = map[closeapi.Kind]string{
	closeapi.KindLead:        "lead",
	closeapi.KindContact:     "contact",
	closeapi.KindOpportunity: "opportunity",
	closeapi.KindTask:        "task.lead",
	closeapi.KindNote:        "activity.note",
	closeapi.KindCall:        "activity.call",
	closeapi.KindSMS:         "activity.sms",
	closeapi.KindMeeting:     "activity.meeting",
}

// Describe renders what a restore of l would bring back, in a form two leads share exactly
// when one is a faithful restore of the other: the lead's restorable fields, its addresses and
// contacts (in order), and every restorable child, with contact ids replaced by the contacts'
// names (ids change in a restore) and children sorted. Fields matching an ignore pattern are
// left out: "field" anywhere, "kind:field" only on that kind (lead, contact, opportunity, …),
// and a trailing "*" matches a prefix ("contact:custom.*"), for a copy of Close that does not
// keep some field a client writes.
func Describe(l Lead, ignore ...string) string {
	drop := func(kind string, m map[string]any) map[string]any {
		for _, pat := range ignore {
			if k, f, ok := strings.Cut(pat, ":"); ok {
				if k != kind {
					continue
				}
				pat = f
			}
			for key := range m {
				if key == pat || strings.HasSuffix(pat, "*") && strings.HasPrefix(key, strings.TrimSuffix(pat, "*")) {
					delete(m, key)
				}
			}
		}
		return m
	}
	b := drop("lead", leadBody(l))
	contacts, _ := b["contacts"].([]any)
	delete(b, "contacts")
	lines := []string{"lead " + canonical(b)}
	names := map[string]string{}
	for i, c := range l.list("contacts") {
		names[str(c, "id")] = str(c, "name")
		if i < len(contacts) {
			lines = append(lines, "  contact "+canonical(drop("contact", contacts[i].(map[string]any))))
		}
	}
	its, _ := items(&Manifest{ObjectType: "lead"}, []Lead{l})
	var kids []string
	for _, it := range its {
		if it.kind == closeapi.KindLead {
			continue
		}
		cb := drop(string(it.kind), childBody(it.kind, it.obj, "", nil))
		delete(cb, "lead_id")
		kids = append(kids, "  "+string(it.kind)+" "+canonical(cb)+" contact="+names[str(it.obj, "contact_id")])
	}
	sort.Strings(kids)
	return strings.Join(append(lines, kids...), "\n")
}

func canonical(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
