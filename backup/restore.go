package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bulkguard/bulkguard/closeapi"
)

// item is one create a restore sends, in order: each lead, then its opportunities, tasks and
// activities; for a contact delete, each contact onto its (surviving) lead.
type item struct {
	kind    closeapi.Kind
	old     string // the object's id in the backup; the journal's key
	oldLead string // the lead it belonged to
	lead    Lead   // for a lead
	obj     map[string]any
	// relink is set on the step that points a surviving object (kind, old) back at a restored
	// contact, after a contact delete: the contact's id is relink.
	relink string
}

// relinkKind is the journal's kind of a relink step.
func relinkKind(k closeapi.Kind) string { return "relink." + string(k) }

// items flattens a backup into the creates a restore sends, and counts what it will not send.
func items(m *Manifest, leads []Lead) ([]item, map[string]int) {
	var out []item
	skipped := map[string]int{}
	if m.ObjectType == "contact" {
		want := map[string]bool{}
		for _, id := range m.IDs {
			want[id] = true
		}
		for _, l := range leads {
			for _, c := range l.list("contacts") {
				id := str(c, "id")
				if !want[id] {
					continue
				}
				out = append(out, item{kind: closeapi.KindContact, old: id, oldLead: l.ID(), obj: c})
				// The lead's opportunities and activities outlive the contact; those that named
				// it are pointed at the restored one.
				for _, ch := range children(l) {
					if str(ch.obj, "contact_id") == id && str(ch.obj, "id") != "" {
						out = append(out, item{kind: ch.kind, old: str(ch.obj, "id"), oldLead: l.ID(), obj: ch.obj, relink: id})
					}
				}
			}
		}
		return out, skipped
	}
	for _, l := range leads {
		lid := l.ID()
		out = append(out, item{kind: closeapi.KindLead, old: lid, oldLead: lid, lead: l})
		child := func(k closeapi.Kind, o map[string]any, n int) {
			id := str(o, "id")
			if id == "" {
				id = lid + "/" + string(k) + "/" + strconv.Itoa(n)
			}
			out = append(out, item{kind: k, old: id, oldLead: lid, obj: o})
		}
		for n, o := range l.list("opportunities") {
			child(closeapi.KindOpportunity, o, n)
		}
		for n, t := range l.list("tasks") {
			// Only lead tasks can be posted; follow-up and other automatic task types are made
			// by Close itself.
			if tt := str(t, "_type"); tt != "" && tt != "lead" {
				skipped["task."+tt]++
				continue
			}
			child(closeapi.KindTask, t, n)
		}
		for n, a := range l.list("activities") {
			t := str(a, "_type")
			k, ok := activityKinds[t]
			if !ok {
				if t == "" {
					t = "unknown"
				}
				skipped["activity."+t]++
				continue
			}
			child(k, a, n)
		}
	}
	return out, skipped
}

type child struct {
	kind closeapi.Kind
	obj  map[string]any
}

// children are a lead's opportunities and restorable activities.
func children(l Lead) []child {
	var out []child
	for _, o := range l.list("opportunities") {
		out = append(out, child{closeapi.KindOpportunity, o})
	}
	for _, a := range l.list("activities") {
		if k, ok := activityKinds[str(a, "_type")]; ok {
			out = append(out, child{k, a})
		}
	}
	return out
}

// RestorePlan is the dry run of a restore: what it will create and what it cannot.
type RestorePlan struct {
	BackupID   string `json:"backup_id"`
	Source     string `json:"source"`
	ObjectType string `json:"object_type"`
	// Units is how many leads (or contacts) the backup holds; the phrase names it.
	Units int `json:"units"`
	// Create counts the objects still to be created, by kind (contacts and addresses of a lead
	// are created with it, in the same request).
	Create map[string]int `json:"create"`
	// AlreadyRestored counts what an earlier run of this restore created.
	AlreadyRestored map[string]int `json:"already_restored,omitempty"`
	// Uncertain counts creates an earlier run sent without learning their outcome; they are
	// looked up before anything is sent again.
	Uncertain int `json:"uncertain,omitempty"`
	// NotRestored counts what is in the backup but cannot be recreated, by type.
	NotRestored map[string]int `json:"not_restored,omitempty"`
	// Cannot says, in words, what no restore brings back.
	Cannot []string `json:"cannot"`
	// Requests is how many create requests the restore will send (at least).
	Requests int `json:"requests"`
	// Phrase confirms the restore, e.g. "RESTORE 42 LEADS".
	Phrase string `json:"phrase"`
}

// Phrase is what a person types to confirm restoring n objects of a type.
func Phrase(n int, objectType string) string {
	t := objectType
	if n != 1 {
		t += "s"
	}
	return strings.ToUpper(fmt.Sprintf("RESTORE %d %s", n, t))
}

// cannot is said in every dry run (docs/close-backup.md §5).
var cannot = []string{
	"original ids: every restored object gets a new id (the journal maps old to new)",
	"emails and email threads (Close brings them back by mailbox sync, not through the API)",
	"lead and opportunity status change history, task completions and other activities Close writes itself",
	"call recordings (calls come back as external calls without them)",
	"date_updated, created_by and updated_by (Close sets them); date_created only where Close accepts it",
	"Smart Fields (Close computes them again)",
}

// PlanRestore is the dry run: nothing is sent to Close.
func (s *Store) PlanRestore(id string) (*RestorePlan, error) {
	m, err := s.Get(id)
	if err != nil {
		return nil, err
	}
	if err := checkRestorable(m); err != nil {
		return nil, err
	}
	leads, err := s.ReadLeads(m)
	if err != nil {
		return nil, err
	}
	dir, err := s.Path(m.ID)
	if err != nil {
		return nil, err
	}
	state, err := readJournal(filepath.Join(dir, JournalName))
	if err != nil {
		return nil, err
	}
	its, skipped := items(m, leads)
	p := &RestorePlan{BackupID: m.ID, Source: m.Source, ObjectType: m.ObjectType, Create: map[string]int{},
		AlreadyRestored: map[string]int{}, NotRestored: skipped, Cannot: slices.Concat(cannot, m.Missing)}
	for _, it := range its {
		if it.relink != "" {
			if e := state[key(relinkKind(it.kind), it.old)]; e == nil || e.Op != opDone {
				p.Create["relink"]++
				p.Requests++
			}
			continue
		}
		e := state[key(string(it.kind), it.old)]
		switch {
		case e != nil && e.Op == opDone:
			p.AlreadyRestored[string(it.kind)]++
			continue
		case e != nil && e.Op == opBegin:
			p.Uncertain++
		}
		p.Create[string(it.kind)]++
		p.Requests++
		if it.kind == closeapi.KindLead {
			p.Create["contact"] += len(it.lead.list("contacts"))
			p.Create["address"] += len(it.lead.list("addresses"))
		}
		if it.kind == closeapi.KindLead || it.kind == closeapi.KindContact {
			p.Units++
		}
	}
	p.Units += p.AlreadyRestored[m.ObjectType]
	for _, it := range its {
		if it.kind == closeapi.KindCall && str(it.obj, "recording_url") != "" {
			p.NotRestored["call_recording"]++
		}
	}
	if len(p.NotRestored) == 0 {
		p.NotRestored = nil
	}
	if len(p.AlreadyRestored) == 0 {
		p.AlreadyRestored = nil
	}
	p.Phrase = Phrase(p.Units, m.ObjectType)
	return p, nil
}

func checkRestorable(m *Manifest) error {
	switch m.State {
	case StateReady, StateRestoring, StatePartial, StateRestored:
		return nil
	}
	msg := fmt.Sprintf("backup: %s cannot be restored: its state is %s", m.ID, m.State)
	if m.Error != "" {
		msg += " (" + m.Error + ")"
	}
	return errors.New(msg)
}

// RestoreOptions tune an executed restore.
type RestoreOptions struct {
	// Progress, when set, hears every step (for progress notifications and the audit record).
	Progress func(RestoreStep)
	// Pace is a pause between creates, to stay well under Close's rate limits on top of the
	// 429 handling every create has; 0 sends as fast as Close answers.
	Pace time.Duration
}

// RestoreStep is one create of a restore.
type RestoreStep struct {
	Kind    string `json:"kind"`
	Old     string `json:"old"`
	New     string `json:"new,omitempty"`
	Outcome string `json:"outcome"` // created, adopted (found after a lost answer), skipped, failed
	Error   string `json:"error,omitempty"`
	Done    int    `json:"done"`
	Total   int    `json:"total"`
}

// Failure is one object a restore could not create.
type Failure struct {
	Kind  string `json:"kind"`
	Old   string `json:"old"`
	Error string `json:"error"`
}

// RestoreResult is what an executed restore did.
type RestoreResult struct {
	Plan     RestorePlan       `json:"plan"`
	Created  map[string]int    `json:"created"`
	Adopted  int               `json:"adopted,omitempty"`
	Skipped  int               `json:"skipped"`
	Failed   []Failure         `json:"failed,omitempty"`
	Leads    map[string]string `json:"leads"` // old lead id → new
	State    string            `json:"state"`
	Journal  string            `json:"journal"`
	Duration time.Duration     `json:"duration_ns"`
}

// ErrBusy is returned when a restore of the same backup is already running in this process.
var ErrBusy = errors.New("a restore of this backup is already running")

var running sync.Map // backup dir → struct{}

// Restore recreates the backup's objects in Close. It can be run again after an interruption
// or a failure: what the journal records as done is skipped, a create whose outcome was lost
// is looked for in the event log before anything is sent again, and only failed or unsent
// creates are sent. A context cancelled half-way stops it between two creates.
func (s *Store) Restore(ctx context.Context, c *closeapi.Client, id string, o RestoreOptions) (*RestoreResult, error) {
	start := s.now()
	plan, err := s.PlanRestore(id)
	if err != nil {
		return nil, err
	}
	m, err := s.Get(id)
	if err != nil {
		return nil, err
	}
	dir, err := s.Path(id)
	if err != nil {
		return nil, err
	}
	if _, busy := running.LoadOrStore(dir, struct{}{}); busy {
		return nil, fmt.Errorf("backup: %s: %w", id, ErrBusy)
	}
	defer running.Delete(dir)

	leads, err := s.ReadLeads(m)
	if err != nil {
		return nil, err
	}
	j, err := openJournal(filepath.Join(dir, JournalName))
	if err != nil {
		return nil, err
	}
	defer j.close()
	if err := s.update(id, func(m *Manifest) { m.State = StateRestoring }); err != nil {
		return nil, err
	}

	its, _ := items(m, leads)
	res := &RestoreResult{Plan: *plan, Created: map[string]int{}, Leads: map[string]string{}, Journal: j.path}
	r := &restorer{s: s, c: c, j: j, o: o, res: res, total: len(its)}
	var stop error
	for n, it := range its {
		if err := ctx.Err(); err != nil {
			stop = err
			break
		}
		if err := r.one(ctx, it); err != nil {
			stop = err
			break
		}
		if o.Pace > 0 && n+1 < len(its) {
			if err := sleep(ctx, o.Pace); err != nil {
				stop = err
				break
			}
		}
	}
	for _, l := range leads {
		if e := j.get(string(closeapi.KindLead), l.ID()); e != nil && e.Op == opDone {
			res.Leads[l.ID()] = e.New
		}
	}
	res.Duration = s.now().Sub(start)
	state := StateRestored
	if stop != nil || len(res.Failed) > 0 {
		state = StatePartial
	}
	res.State = state
	if err := s.update(id, func(m *Manifest) {
		m.State = state
		if state == StateRestored {
			now := s.now().UTC()
			m.Restored = &now
		}
	}); err != nil {
		return res, errors.Join(stop, err)
	}
	if stop != nil {
		return res, fmt.Errorf("backup: restore of %s stopped after %d of %d creates; run it again to continue: %w", id, r.done, len(its), stop)
	}
	return res, nil
}

type restorer struct {
	s     *Store
	c     *closeapi.Client
	j     *journal
	o     RestoreOptions
	res   *RestoreResult
	total int
	done  int
}

func (r *restorer) step(st RestoreStep) {
	r.done++
	st.Done, st.Total = r.done, r.total
	if r.o.Progress != nil {
		r.o.Progress(st)
	}
}

// one brings back one object. It returns an error only when the restore must stop: the
// journal cannot be written, the context ended, or a create's outcome cannot be known.
func (r *restorer) one(ctx context.Context, it item) error {
	if it.relink != "" {
		return r.relinkOne(ctx, it)
	}
	kind := string(it.kind)
	prev := r.j.get(kind, it.old)
	if prev != nil && prev.Op == opDone {
		r.res.Skipped++
		r.step(RestoreStep{Kind: kind, Old: it.old, New: prev.New, Outcome: "skipped"})
		return nil
	}

	var body map[string]any
	var newLead string
	switch it.kind {
	case closeapi.KindLead:
		body = leadBody(it.lead)
	case closeapi.KindContact:
		// A contact delete leaves the lead in place: the contact goes back onto it.
		body = contactBody(it.obj)
		body["lead_id"] = it.oldLead
		newLead = it.oldLead
	default:
		le := r.j.get(string(closeapi.KindLead), it.oldLead)
		if le == nil || le.Op != opDone {
			// The lead itself failed: its children have nowhere to go.
			r.fail(it, "its lead was not restored")
			return nil
		}
		newLead = le.New
		body = childBody(it.kind, it.obj, le.New, le.Contacts)
	}

	if prev != nil && prev.Op == opBegin {
		found, contacts, err := r.lookFor(ctx, it, body, newLead, prev.At)
		if err != nil {
			return err
		}
		if found != "" {
			if err := r.j.record(entry{Op: opDone, Kind: kind, Old: it.old, New: found, Lead: newLead, Contacts: contacts, At: r.s.now().UTC()}); err != nil {
				return err
			}
			r.res.Adopted++
			r.step(RestoreStep{Kind: kind, Old: it.old, New: found, Outcome: "adopted"})
			return nil
		}
	}

	if err := r.j.record(entry{Op: opBegin, Kind: kind, Old: it.old, Lead: newLead, At: r.s.now().UTC()}); err != nil {
		return err
	}
	out, err := r.c.Create(ctx, it.kind, body)
	if err != nil {
		if closeapi.IsAmbiguous(err) || ctx.Err() != nil {
			// The create may have taken effect; the begin stays open and the next run looks
			// for it before sending again.
			return fmt.Errorf("creating %s %s: %w", kind, it.old, err)
		}
		if rerr := r.j.record(entry{Op: opFailed, Kind: kind, Old: it.old, Error: err.Error(), At: r.s.now().UTC()}); rerr != nil {
			return rerr
		}
		r.fail(it, err.Error())
		return nil
	}
	newID, _ := out["id"].(string)
	var contacts map[string]string
	if it.kind == closeapi.KindLead {
		contacts = mapContacts(it.lead.list("contacts"), objects(out["contacts"]))
	}
	if err := r.j.record(entry{Op: opDone, Kind: kind, Old: it.old, New: newID, Lead: newLead, Contacts: contacts, At: r.s.now().UTC()}); err != nil {
		return err
	}
	r.res.Created[kind]++
	if it.kind == closeapi.KindLead {
		r.res.Created["contact"] += len(contacts)
		r.res.Created["address"] += len(it.lead.list("addresses"))
	}
	r.step(RestoreStep{Kind: kind, Old: it.old, New: newID, Outcome: "created"})
	return nil
}

// relinkOne points a surviving opportunity or activity back at its restored contact. The
// update is idempotent, so an unknown outcome is simply sent again.
func (r *restorer) relinkOne(ctx context.Context, it item) error {
	kind := relinkKind(it.kind)
	if e := r.j.get(kind, it.old); e != nil && e.Op == opDone {
		r.res.Skipped++
		r.step(RestoreStep{Kind: kind, Old: it.old, New: e.New, Outcome: "skipped"})
		return nil
	}
	ce := r.j.get(string(closeapi.KindContact), it.relink)
	if ce == nil || ce.Op != opDone {
		r.res.Failed = append(r.res.Failed, Failure{Kind: kind, Old: it.old, Error: "its contact was not restored"})
		r.step(RestoreStep{Kind: kind, Old: it.old, Outcome: "failed", Error: "its contact was not restored"})
		return nil
	}
	if _, err := r.c.Update(ctx, it.kind, it.old, map[string]any{"contact_id": ce.New}); err != nil {
		if ctx.Err() != nil {
			return err
		}
		if rerr := r.j.record(entry{Op: opFailed, Kind: kind, Old: it.old, Error: err.Error(), At: r.s.now().UTC()}); rerr != nil {
			return rerr
		}
		r.res.Failed = append(r.res.Failed, Failure{Kind: kind, Old: it.old, Error: err.Error()})
		r.step(RestoreStep{Kind: kind, Old: it.old, Outcome: "failed", Error: err.Error()})
		return nil
	}
	if err := r.j.record(entry{Op: opDone, Kind: kind, Old: it.old, New: ce.New, At: r.s.now().UTC()}); err != nil {
		return err
	}
	r.res.Created["relink"]++
	r.step(RestoreStep{Kind: kind, Old: it.old, New: ce.New, Outcome: "relinked"})
	return nil
}

func (r *restorer) fail(it item, msg string) {
	r.res.Failed = append(r.res.Failed, Failure{Kind: string(it.kind), Old: it.old, Error: msg})
	r.step(RestoreStep{Kind: string(it.kind), Old: it.old, Outcome: "failed", Error: msg})
}

// mapContacts pairs the exported contacts with the created ones by position: Close answers a
// lead create with its contacts in the order they were sent (docs/close-backup.md §3).
func mapContacts(old, created []map[string]any) map[string]string {
	m := map[string]string{}
	for i := range old {
		if i < len(created) {
			if o, n := str(old[i], "id"), str(created[i], "id"); o != "" && n != "" {
				m[o] = n
			}
		}
	}
	return m
}

// lookFor finds a create an earlier run sent without learning whether it took effect: a
// created event of the same kind since the begin (on the new lead, for a child) whose object is
// not already in the journal and whose distinguishing field matches what is about to be sent.
// One match is adopted; none means the create never took effect; more than one stops the
// restore, because sending again or adopting either could be wrong.
func (r *restorer) lookFor(ctx context.Context, it item, body map[string]any, newLead string, since time.Time) (string, map[string]string, error) {
	q := closeapi.EventQuery{ObjectType: eventTypes[it.kind], Action: "created", Since: since.Add(-5 * time.Second)}
	if it.kind != closeapi.KindLead {
		q.LeadID = newLead
	}
	field := matchField[it.kind]
	want := fmt.Sprint(body[field])
	var found []string
	err := r.c.EachEvent(ctx, q, func(e closeapi.Event) (bool, error) {
		if r.j.news[e.ObjectID] || e.ObjectID == "" {
			return true, nil
		}
		var data map[string]any
		if len(e.Data) > 0 {
			if err := json.Unmarshal(e.Data, &data); err != nil {
				return true, nil
			}
		}
		if fmt.Sprint(data[field]) == want {
			found = append(found, e.ObjectID)
		}
		return true, nil
	})
	if err != nil {
		return "", nil, fmt.Errorf("looking in the event log for %s %s, whose create may have reached Close: %w", it.kind, it.old, err)
	}
	sort.Strings(found)
	found = compactStrings(found)
	switch len(found) {
	case 0:
		return "", nil, nil
	case 1:
	default:
		return "", nil, fmt.Errorf("%s %s: its create may have reached Close and %d candidates were made since (%s); check them, remove the duplicates, and record the right one before restoring again",
			it.kind, it.old, len(found), strings.Join(found, ", "))
	}
	var contacts map[string]string
	if it.kind == closeapi.KindLead {
		l, err := r.c.GetLead(ctx, found[0])
		if err != nil {
			return "", nil, fmt.Errorf("reading lead %s, found after a lost answer: %w", found[0], err)
		}
		contacts = mapContacts(it.lead.list("contacts"), objects(l["contacts"]))
	}
	return found[0], contacts, nil
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
