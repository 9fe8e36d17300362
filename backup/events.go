package backup

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/bulkguard/bulkguard/closeapi"
)

// Restoring where no backup was taken (docs/close-backup.md §4): Close's event log keeps a
// deleted object's data in previous_data for 30 days (one hour for non-admins), and a bulk
// delete's events carry its job id. FromEventLog assembles those into a backup in the export's
// shape, marked as coming from the event log and saying what it lacks, so the same restore
// brings it back.

// childEventTypes are the deleted objects gathered under each lead, with the export key and
// activity _type they take.
var childEventTypes = []struct {
	objectType string
	list       string
	typ        string
}{
	{"contact", "contacts", ""},
	{"opportunity", "opportunities", ""},
	{"task.lead", "tasks", "lead"},
	{"activity.note", "activities", "Note"},
	{"activity.call", "activities", "Call"},
	{"activity.sms", "activities", "SMS"},
	{"activity.meeting", "activities", "Meeting"},
}

// EventLogRequest names the bulk delete to bring back.
type EventLogRequest struct {
	JobID      string
	ObjectType string // lead or contact
	// Since bounds how far back the log is read; zero means 30 days, all Close keeps.
	Since time.Time
	// Principal is the credential the backup belongs to (closeapi.Client.Principal).
	Principal string
}

// FromEventLog builds a backup of what bulk delete job req.JobID removed, from the event log.
func (s *Store) FromEventLog(ctx context.Context, c *closeapi.Client, req EventLogRequest) (*Manifest, error) {
	if err := closeapi.ValidateBulkDeleteID(req.JobID); err != nil {
		return nil, err
	}
	if req.ObjectType != "lead" && req.ObjectType != "contact" {
		return nil, fmt.Errorf("backup: object type %q cannot be restored; only lead and contact", req.ObjectType)
	}
	since := req.Since
	if since.IsZero() {
		since = s.now().Add(-30 * 24 * time.Hour)
	}
	m := &Manifest{State: StateTaking, Source: SourceEventLog, JobID: req.JobID, ObjectType: req.ObjectType, Principal: req.Principal}
	var noData, noParent int
	leads := map[string]Lead{}
	var order []string
	addLead := func(id string, l Lead) {
		if _, ok := leads[id]; !ok {
			order = append(order, id)
		}
		leads[id] = l
	}

	read := func(objectType string, fn func(e closeapi.Event, prev map[string]any)) error {
		return c.EachEvent(ctx, closeapi.EventQuery{ObjectType: objectType, Action: "deleted", Since: since}, func(e closeapi.Event) (bool, error) {
			if b := e.BulkActionID(); b != "" && b != req.JobID {
				return true, nil
			}
			var prev map[string]any
			if len(e.PreviousData) > 0 {
				dec := json.NewDecoder(bytes.NewReader(e.PreviousData))
				dec.UseNumber()
				if err := dec.Decode(&prev); err != nil {
					prev = nil
				}
			}
			fn(e, prev)
			return true, nil
		})
	}

	if req.ObjectType == "lead" {
		err := read("lead", func(e closeapi.Event, prev map[string]any) {
			if e.BulkActionID() != req.JobID {
				return
			}
			if len(prev) == 0 {
				noData++
				return
			}
			prev["id"] = e.ObjectID
			// Contacts come from their own events, which carry their ids; a lead's
			// previous_data may hold them too, without the activities that name them.
			if _, ok := prev["contacts"]; !ok {
				prev["contacts"] = []any{}
			}
			addLead(e.ObjectID, Lead(prev))
		})
		if err != nil {
			return nil, fmt.Errorf("backup: reading the event log: %w", err)
		}
		for _, ct := range childEventTypes {
			fromEvents := map[string][]any{}
			err := read(ct.objectType, func(e closeapi.Event, prev map[string]any) {
				lid := ""
				if e.LeadID != nil {
					lid = *e.LeadID
				}
				if _, ok := leads[lid]; !ok {
					return
				}
				if len(prev) == 0 {
					noData++
					return
				}
				prev["id"] = e.ObjectID
				if _, has := prev["_type"]; !has && ct.typ != "" {
					prev["_type"] = ct.typ
				}
				// The log is newest first; prepending keeps the objects in the order they
				// were deleted.
				fromEvents[lid] = append([]any{prev}, fromEvents[lid]...)
			})
			if err != nil {
				return nil, fmt.Errorf("backup: reading the event log: %w", err)
			}
			for lid, objs := range fromEvents {
				l := leads[lid]
				if ct.list == "contacts" {
					l["contacts"] = objs // the events' contacts replace any copy in the lead's data
					continue
				}
				// A lead's previous_data may hold its opportunities and tasks too; the
				// events' copies replace those with the same id.
				l[ct.list] = mergeByID(l[ct.list], objs)
			}
		}
	} else {
		byLead := map[string][]any{}
		err := read("contact", func(e closeapi.Event, prev map[string]any) {
			if e.BulkActionID() != req.JobID {
				return
			}
			if len(prev) == 0 {
				noData++
				return
			}
			lid := ""
			if e.LeadID != nil {
				lid = *e.LeadID
			}
			if lid == "" {
				noParent++
				return
			}
			prev["id"] = e.ObjectID
			byLead[lid] = append(byLead[lid], prev)
			m.IDs = append(m.IDs, e.ObjectID)
		})
		if err != nil {
			return nil, fmt.Errorf("backup: reading the event log: %w", err)
		}
		m.LeadOf = map[string]string{}
		for lid, cs := range byLead {
			addLead(lid, Lead{"id": lid, "contacts": cs})
			for _, c := range cs {
				m.LeadOf[str(c.(map[string]any), "id")] = lid
			}
		}
		sort.Strings(order)
	}
	if req.ObjectType == "lead" {
		m.IDs = append([]string(nil), order...)
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("backup: the event log holds no deleted %ss of job %s with their data since %s (events are kept 30 days, and their data only one hour for non-admins)",
			req.ObjectType, req.JobID, since.UTC().Format(time.RFC3339))
	}

	m.Missing = []string{
		"emails, whose deleted events are not used (Close brings emails back by mailbox sync)",
		"anything not in the events' previous_data: addresses and custom fields only if the lead's data held them",
	}
	if noData > 0 {
		m.Missing = append(m.Missing, fmt.Sprintf("%d deleted objects whose events carry no previous_data (older than one hour for a non-admin key, or never recorded)", noData))
	}
	if noParent > 0 {
		m.Missing = append(m.Missing, fmt.Sprintf("%d contacts whose events name no lead", noParent))
	}
	if err := s.create(m); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	arr := make([]Lead, 0, len(order))
	counts := map[string]int{}
	for _, id := range order {
		arr = append(arr, leads[id])
		count(counts, leads[id])
	}
	if err := json.NewEncoder(zw).Encode(arr); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	dir, err := s.Path(m.ID)
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(dir, ExportName, buf.Bytes()); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(buf.Bytes())
	now := s.now().UTC()
	m.State, m.File, m.Compressed, m.Bytes, m.Counts, m.Finished = StateReady, ExportName, true, int64(buf.Len()), counts, &now
	m.SHA256 = "sha256:" + hex.EncodeToString(sum[:])
	if err := s.save(m); err != nil {
		return nil, err
	}
	return m, nil
}

// mergeByID is list with objs added, an object of objs replacing one of list with its id.
func mergeByID(list any, objs []any) []any {
	existing, _ := list.([]any)
	pos := map[string]int{}
	out := make([]any, 0, len(existing)+len(objs))
	for _, o := range existing {
		if m, ok := o.(map[string]any); ok && str(m, "id") != "" {
			pos[str(m, "id")] = len(out)
		}
		out = append(out, o)
	}
	for _, o := range objs {
		if m, ok := o.(map[string]any); ok {
			if i, dup := pos[str(m, "id")]; dup {
				out[i] = o
				continue
			}
		}
		out = append(out, o)
	}
	return out
}
