package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/schema"
)

// Request asks for a backup of exactly what one bulk delete will take.
type Request struct {
	PlanID    string
	Principal string
	// ObjectType is lead or contact.
	ObjectType string
	// SQuery, Sort and ResultsLimit are what the delete will send.
	SQuery       json.RawMessage
	Sort         json.RawMessage
	ResultsLimit *int
	// QueryDigest and CanonicalQuery identify the plan's query in the manifest.
	QueryDigest    string
	CanonicalQuery json.RawMessage
	// IDs are the objects the delete will take (the guard fetches them at the recount); the
	// file must hold exactly these.
	IDs []string
	// LeadOf maps each contact id to its lead, for a contact delete. Contacts missing from it
	// are looked up with one search.
	LeadOf map[string]string

	// Timeout bounds the whole backup (export, wait, download, check); 0 means 10 minutes.
	Timeout time.Duration
	// PollInterval is the pause between status polls; 0 means one second.
	PollInterval time.Duration
	// Progress, when set, hears how the export advances.
	Progress func(Progress)
	// MaxBytes bounds the file; 0 means closeapi.DefaultMaxDownload.
	MaxBytes int64
}

// Progress is one step of a backup, for MCP progress notifications.
type Progress struct {
	Stage   string // export, download, verify
	Status  string // the export's status
	Done    int    // documents written so far
	Total   int    // documents in the export, 0 until known
	Message string
}

// MismatchError is a file that does not hold exactly the expected ids.
type MismatchError struct {
	ObjectType string
	Expected   int
	Missing    []string // expected, not in the file
	Extra      []string // in the file, not expected
}

func (e *MismatchError) Error() string {
	var parts []string
	if len(e.Missing) > 0 {
		parts = append(parts, fmt.Sprintf("%d of the %d %ss the delete will take are not in it (%s)", len(e.Missing), e.Expected, e.ObjectType, sample(e.Missing)))
	}
	if len(e.Extra) > 0 {
		parts = append(parts, fmt.Sprintf("it holds %d %ss the delete will not take (%s)", len(e.Extra), e.ObjectType, sample(e.Extra)))
	}
	return "backup: the export does not match the delete: " + strings.Join(parts, "; ")
}

func sample(ids []string) string {
	const n = 3
	if len(ids) <= n {
		return strings.Join(ids, ", ")
	}
	return strings.Join(ids[:n], ", ") + fmt.Sprintf(" and %d more", len(ids)-n)
}

// TimeoutError is a backup that did not finish within Request.Timeout.
type TimeoutError struct {
	Timeout time.Duration
	Err     error
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("backup: not finished within %s: %v", e.Timeout, e.Err)
}

func (e *TimeoutError) Unwrap() error { return e.Err }

// Take runs the export, downloads it, checks it and keeps it. It returns the manifest of a
// ready backup, or an error saying why there is none; the manifest is then returned too (state
// failed) when a directory was made, so the failure can be pointed at.
func (s *Store) Take(ctx context.Context, c *closeapi.Client, req Request) (*Manifest, error) {
	if req.ObjectType != "lead" && req.ObjectType != "contact" {
		return nil, fmt.Errorf("backup: object type %q cannot be backed up; only lead and contact", req.ObjectType)
	}
	if len(req.IDs) == 0 {
		return nil, errors.New("backup: no ids: the caller must say which objects the delete will take")
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	m := &Manifest{
		State: StateTaking, Source: SourceExport, PlanID: req.PlanID, Principal: req.Principal,
		ObjectType: req.ObjectType, QueryDigest: req.QueryDigest, CanonicalQuery: req.CanonicalQuery,
		Sort: req.Sort, ResultsLimit: req.ResultsLimit, IDs: append([]string(nil), req.IDs...),
	}
	if err := s.create(m); err != nil {
		return nil, err
	}
	fail := func(err error) (*Manifest, error) {
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			err = &TimeoutError{Timeout: timeout, Err: err}
		}
		m.State, m.Error = StateFailed, err.Error()
		now := s.now().UTC()
		m.Finished = &now
		if serr := s.save(m); serr != nil {
			err = errors.Join(err, serr)
		}
		return m, err
	}
	progress := func(p Progress) {
		if req.Progress != nil {
			req.Progress(p)
		}
	}

	exportReq := closeapi.BackupExportRequest(req.SQuery, req.Sort, req.ResultsLimit)
	if req.ObjectType == "contact" {
		leadOf, err := parents(ctx, c, req.IDs, req.LeadOf)
		if err != nil {
			return fail(err)
		}
		m.LeadOf = leadOf
		q, err := leadsByID(leadOf)
		if err != nil {
			return fail(err)
		}
		// The parent leads are exported whole; the delete's sort and results_limit pick
		// contacts, not leads, so they do not apply to this export.
		exportReq = closeapi.BackupExportRequest(q, nil, nil)
	}
	m.ExportQuery = exportReq.SQuery
	progress(Progress{Stage: "export", Status: "starting", Message: "asking Close for an export"})
	x, err := c.CreateLeadExport(ctx, exportReq)
	if err != nil {
		return fail(err)
	}
	m.ExportID = x.ID
	if err := s.save(m); err != nil {
		return fail(err)
	}
	done, err := c.WaitExport(ctx, x.ID, closeapi.WaitOptions{
		Timeout: timeout, Interval: req.PollInterval,
		Progress: func(x closeapi.Export) {
			p := Progress{Stage: "export", Status: x.Status, Done: x.NDocsProcessed}
			if x.NDocs != nil {
				p.Total = *x.NDocs
			}
			p.Message = fmt.Sprintf("export %s: %s", x.Status, docs(p.Done, p.Total))
			progress(p)
		},
	})
	if err != nil {
		return fail(err)
	}

	dir, err := s.Path(m.ID)
	if err != nil {
		return fail(err)
	}
	progress(Progress{Stage: "download", Status: done.Status, Message: "downloading the export"})
	tmp := filepath.Join(dir, "."+ExportName+".part")
	var f *os.File
	var h hash.Hash
	closeF := func() {
		if f != nil {
			_ = f.Close()
			f = nil
		}
	}
	defer closeF()
	n, err := c.FetchExport(ctx, done, 3, req.MaxBytes, func() (io.Writer, error) {
		closeF()
		var err error
		f, err = os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, err
		}
		h = sha256.New()
		return io.MultiWriter(f, h), nil
	})
	if err == nil && f != nil {
		err = f.Sync()
	}
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		f = nil
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fail(err)
	}

	progress(Progress{Stage: "verify", Message: "checking the file holds exactly the objects the delete will take"})
	counts, compressed, err := verify(tmp, m)
	if err != nil {
		_ = os.Remove(tmp)
		return fail(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, ExportName)); err != nil {
		return fail(err)
	}
	if err := syncDir(dir); err != nil {
		return fail(err)
	}
	now := s.now().UTC()
	m.State, m.File, m.Bytes, m.Compressed, m.Counts, m.Finished = StateReady, ExportName, n, compressed, counts, &now
	m.SHA256 = "sha256:" + hex.EncodeToString(h.Sum(nil))
	if err := s.save(m); err != nil {
		return fail(err)
	}
	return m, nil
}

func docs(done, total int) string {
	if total > 0 {
		return fmt.Sprintf("%d of %d leads written", done, total)
	}
	return fmt.Sprintf("%d leads written", done)
}

// verify reads the downloaded file and checks it against the manifest's ids: for leads, the
// file's lead ids must be exactly the expected ones; for contacts, the file's leads must be
// exactly the parents and every expected contact must be on its parent.
func verify(path string, m *Manifest) (map[string]int, bool, error) {
	rc, compressed, err := openFile(path)
	if err != nil {
		return nil, false, err
	}
	defer rc.Close()
	counts := map[string]int{}
	leads := map[string]bool{}
	found := map[string]string{} // contact → lead
	err = eachLead(rc, func(l Lead) error {
		id := l.ID()
		if id == "" {
			return errors.New("backup: a lead in the file has no id")
		}
		if leads[id] {
			return fmt.Errorf("backup: lead %s appears twice in the file", id)
		}
		leads[id] = true
		count(counts, l)
		contactParents(l, found)
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	switch m.ObjectType {
	case "lead":
		if e := compare("lead", m.IDs, leads); e != nil {
			return nil, false, e
		}
	case "contact":
		parentsWanted := map[string]bool{}
		for _, l := range m.LeadOf {
			parentsWanted[l] = true
		}
		want := make([]string, 0, len(parentsWanted))
		for l := range parentsWanted {
			want = append(want, l)
		}
		if e := compare("lead", want, leads); e != nil {
			return nil, false, e
		}
		var missing []string
		for _, cid := range m.IDs {
			if found[cid] != m.LeadOf[cid] {
				missing = append(missing, cid)
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			return nil, false, &MismatchError{ObjectType: "contact", Expected: len(m.IDs), Missing: missing}
		}
		counts["contact_deleted"] = len(m.IDs)
	}
	return counts, compressed, nil
}

func compare(what string, want []string, got map[string]bool) *MismatchError {
	e := &MismatchError{ObjectType: what, Expected: len(want)}
	wantSet := make(map[string]bool, len(want))
	for _, id := range want {
		wantSet[id] = true
		if !got[id] {
			e.Missing = append(e.Missing, id)
		}
	}
	for id := range got {
		if !wantSet[id] {
			e.Extra = append(e.Extra, id)
		}
	}
	if len(e.Missing) == 0 && len(e.Extra) == 0 {
		return nil
	}
	sort.Strings(e.Missing)
	sort.Strings(e.Extra)
	return e
}

// parents completes the contact → lead map with one search over the contacts not in it.
func parents(ctx context.Context, c *closeapi.Client, ids []string, known map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(ids))
	var ask []string
	for _, id := range ids {
		if l := known[id]; l != "" {
			out[id] = l
		} else {
			ask = append(ask, id)
		}
	}
	if len(ask) == 0 {
		return out, nil
	}
	byID := make([]schema.Node, len(ask))
	for i, id := range ask {
		byID[i] = &schema.ID{Value: id}
	}
	q, err := schema.Encode(&schema.And{Queries: []schema.Node{&schema.ObjectType{ObjectType: "contact"}, &schema.Or{Queries: byID}}})
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	limit := len(ask)
	req := closeapi.SearchRequest{Query: q, ResultsLimit: &limit, Limit: min(limit, 200), Fields: map[string][]string{"contact": {"id", "lead_id"}}}
	for page := 0; page < 10_000; page++ {
		resp, err := c.Search(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("backup: looking up the contacts' leads: %w", err)
		}
		for _, row := range resp.Data {
			id, _ := row["id"].(string)
			lead, _ := row["lead_id"].(string)
			if id != "" && lead != "" {
				out[id] = lead
			}
		}
		if resp.Cursor == nil || *resp.Cursor == "" || len(resp.Data) == 0 {
			break
		}
		req.Cursor = resp.Cursor
	}
	var missing []string
	for _, id := range ask {
		if out[id] == "" {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return nil, &MismatchError{ObjectType: "contact", Expected: len(ids), Missing: missing}
	}
	return out, nil
}

// leadsByID is the export query for exactly these parent leads.
func leadsByID(leadOf map[string]string) (json.RawMessage, error) {
	seen := map[string]bool{}
	var ids []string
	for _, l := range leadOf {
		if !seen[l] {
			seen[l] = true
			ids = append(ids, l)
		}
	}
	sort.Strings(ids)
	byID := make([]schema.Node, len(ids))
	for i, id := range ids {
		byID[i] = &schema.ID{Value: id}
	}
	q, err := schema.Encode(&schema.And{Queries: []schema.Node{&schema.ObjectType{ObjectType: "lead"}, &schema.Or{Queries: byID}}})
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return q, nil
}
