package closeapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Lead exports (docs/close-api.md §6; what bulkguard relies on and how sure it is:
// docs/close-backup.md): POST /export/lead/ starts one, GET /export/{id}/ reports its
// status, and a done export carries a download_url to a gzip JSON file. The link is presigned
// and lasts about a minute, so the file is fetched as soon as the export is done, and the link
// is fetched again when it has already expired.

const exportPath = "/export/"

var exportIDPattern = regexp.MustCompile(`^expo_[A-Za-z0-9]+$`)

// Export status values (docs/close-api.md §6).
const (
	ExportCreated    = "created"
	ExportStarted    = "started"
	ExportInProgress = "in_progress"
	ExportDone       = "done"
	ExportError      = "error"
)

// ExportRequest is the body of POST /export/lead/. SQuery is the bare query node (as in a
// bulk delete); a nil ResultsLimit is sent as null (no cap).
type ExportRequest struct {
	SQuery             json.RawMessage `json:"s_query,omitempty"`
	Sort               json.RawMessage `json:"sort,omitempty"`
	ResultsLimit       *int            `json:"results_limit"`
	Format             string          `json:"format"`
	Type               string          `json:"type"`
	IncludeActivities  bool            `json:"include_activities"`
	IncludeSmartFields bool            `json:"include_smart_fields"`
	SendDoneEmail      bool            `json:"send_done_email"`
}

// BackupExportRequest is the export a backup before a delete asks for: the delete's own query,
// sort and results_limit, JSON leads with their activities and Smart Fields, and no email.
func BackupExportRequest(sQuery, sort json.RawMessage, resultsLimit *int) ExportRequest {
	return ExportRequest{
		SQuery: sQuery, Sort: nullToNil(sort), ResultsLimit: resultsLimit,
		Format: "json", Type: "leads", IncludeActivities: true, IncludeSmartFields: true, SendDoneEmail: false,
	}
}

// Export is Close's export object (docs/close-api.md §6). DownloadURL is nil until the export
// is done, and is a secret of its own while it lasts: it is never logged.
type Export struct {
	ID             string          `json:"id"`
	Status         string          `json:"status"`
	Format         string          `json:"format"`
	Type           string          `json:"type"`
	SQuery         json.RawMessage `json:"s_query"`
	ResultsLimit   *int            `json:"results_limit"`
	Sort           json.RawMessage `json:"sort"`
	NDocs          *int            `json:"n_docs"`
	NDocsProcessed int             `json:"n_docs_processed"`
	DownloadURL    *string         `json:"download_url"`
	OrganizationID string          `json:"organization_id"`
	CreatedBy      *string         `json:"created_by"`
	DateCreated    *Time           `json:"date_created"`
	DateUpdated    *Time           `json:"date_updated"`
}

// ValidateExportID checks that id looks like an export id: "expo_" followed by letters and
// digits (docs/close-api.md §4.7).
func ValidateExportID(id string) error {
	return validateID(id, exportIDPattern, "an export id", "expo_")
}

// CreateLeadExport starts a lead export (POST /export/lead/). An export only reads, so a
// repeated create costs a second export and nothing else; it is retried like a read.
func (c *Client) CreateLeadExport(ctx context.Context, r ExportRequest) (*Export, error) {
	const path = exportPath + "lead/"
	if len(r.SQuery) > 0 {
		if err := checkJSONObject(r.SQuery, "s_query"); err != nil {
			return nil, fmt.Errorf("closeapi: POST %s: %w", path, err)
		}
	}
	r.Sort = nullToNil(r.Sort)
	if err := checkJSONArray(r.Sort, "sort"); err != nil {
		return nil, fmt.Errorf("closeapi: POST %s: %w", path, err)
	}
	if r.ResultsLimit != nil && *r.ResultsLimit < 0 {
		return nil, fmt.Errorf("closeapi: POST %s: results_limit must not be negative", path)
	}
	if r.Format == "" || r.Type == "" {
		return nil, fmt.Errorf("closeapi: POST %s: format and type are required", path)
	}
	var out Export
	if err := c.do(ctx, call{method: http.MethodPost, path: path, body: r, retry: true}, &out); err != nil {
		return nil, err
	}
	if out.ID == "" {
		return nil, &TransportError{Method: http.MethodPost, Path: path, Sent: true, Attempts: 1,
			Err: errors.New("the answer has no export id"), msg: "the answer has no export id"}
	}
	return &out, nil
}

// GetExport fetches one export (GET /export/{id}/). id is validated first.
func (c *Client) GetExport(ctx context.Context, id string) (*Export, error) {
	if err := ValidateExportID(id); err != nil {
		return nil, err
	}
	var out Export
	if err := c.do(ctx, call{method: http.MethodGet, path: exportPath + id + "/", retry: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ExportFailedError is an export Close reported as failed (status "error").
type ExportFailedError struct{ ID string }

func (e *ExportFailedError) Error() string {
	return "closeapi: export " + e.ID + " ended with status \"error\""
}

// ExportTimeoutError is an export that was not done within the wait the caller allowed. The
// last status seen is kept so a refusal can say how far it got.
type ExportTimeoutError struct {
	ID             string
	Status         string
	NDocs          *int
	NDocsProcessed int
	Waited         time.Duration
}

func (e *ExportTimeoutError) Error() string {
	progress := fmt.Sprintf("%d documents written", e.NDocsProcessed)
	if e.NDocs != nil {
		progress = fmt.Sprintf("%d of %d documents written", e.NDocsProcessed, *e.NDocs)
	}
	return fmt.Sprintf("closeapi: export %s not done after %s (status %q, %s)", e.ID, e.Waited.Round(time.Second), e.Status, progress)
}

// Poll pauses of WaitExport when WaitOptions.Interval is 0.
const (
	firstPoll = 250 * time.Millisecond
	maxPoll   = 2 * time.Second
)

// WaitOptions bound WaitExport.
type WaitOptions struct {
	// Timeout is the longest WaitExport waits for "done"; 0 means 10 minutes.
	Timeout time.Duration
	// Interval is the pause between polls. 0 means pauses that start at 250 ms and double up
	// to 2 s, so a small export is collected at once and a long one costs a GET every 2 s.
	// Polls count against the rate limit of their endpoint group.
	Interval time.Duration
	// Progress, when set, is called after every poll with the export as Close reported it.
	Progress func(Export)
}

// WaitExport polls GET /export/{id}/ until the export is done (returned), failed
// (*ExportFailedError) or the timeout passes (*ExportTimeoutError). A cancelled ctx ends the
// wait with ctx's error.
func (c *Client) WaitExport(ctx context.Context, id string, o WaitOptions) (*Export, error) {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	next := o.Interval
	growing := next <= 0
	if growing {
		next = firstPoll
	}
	start := c.now()
	deadline := start.Add(o.Timeout)
	for {
		x, err := c.GetExport(ctx, id)
		if err != nil {
			return nil, err
		}
		if o.Progress != nil {
			o.Progress(*x)
		}
		switch x.Status {
		case ExportDone:
			if x.DownloadURL == nil || *x.DownloadURL == "" {
				return nil, fmt.Errorf("closeapi: export %s is done but has no download_url", id)
			}
			return x, nil
		case ExportError:
			return nil, &ExportFailedError{ID: id}
		}
		now := c.now()
		if !now.Before(deadline) {
			return nil, &ExportTimeoutError{ID: id, Status: x.Status, NDocs: x.NDocs, NDocsProcessed: x.NDocsProcessed, Waited: now.Sub(start)}
		}
		wait := min(next, deadline.Sub(now))
		if err := c.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("closeapi: waiting for export %s: %w", id, err)
		}
		if growing {
			next = min(2*next, maxPoll)
		}
	}
}

// DownloadError is a download of an export file that failed. Expired reports the answer a
// presigned link gives once it has lapsed (403), after which a fresh link must be fetched.
type DownloadError struct {
	StatusCode int
	Expired    bool
	msg        string
}

func (e *DownloadError) Error() string { return "closeapi: downloading the export file: " + e.msg }

// DefaultMaxDownload bounds an export file; a backup of tens of thousands of leads with their
// activities stays well below it.
const DefaultMaxDownload = 4 << 30

// DownloadExport copies the file behind a download_url to w, byte for byte as served (Close
// serves it gzip-compressed, docs/close-api.md §6), and returns how many bytes were written.
//
// The link is usually on another host (Close's point to S3) and authorises itself, so the
// request carries neither the Close credential nor any header of ours beyond User-Agent: a
// presigned S3 URL refuses a request that also has an Authorization header, and the key must
// never travel to a host other than the API's. Accept-Encoding is set explicitly so Go's
// transport does not unpack the file on the way. A plain-http link is refused unless the API
// itself is reached over http (the sandbox). max ≤ 0 means DefaultMaxDownload; a larger file is
// an error.
func (c *Client) DownloadExport(ctx context.Context, rawURL string, w io.Writer, max int64) (int64, error) {
	if max <= 0 {
		max = DefaultMaxDownload
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return 0, &DownloadError{msg: "the download_url is not an absolute http(s) URL"}
	}
	if u.Scheme == "http" && c.base.Scheme != "http" {
		return 0, &DownloadError{msg: "the download_url is plain http while the API is reached over https; refused"}
	}
	if u.User != nil {
		return 0, &DownloadError{msg: "the download_url carries user info; refused"}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, &DownloadError{msg: c.redact(err.Error())}
	}
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := c.downloadClient().Do(req)
	if err != nil {
		// The URL's query is the link's signature: keep it out of the error.
		return 0, &DownloadError{msg: "host " + u.Host + ": " + c.transportText(err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		de := &DownloadError{StatusCode: resp.StatusCode, Expired: resp.StatusCode == http.StatusForbidden}
		de.msg = fmt.Sprintf("host %s answered %d %s", u.Host, resp.StatusCode, http.StatusText(resp.StatusCode))
		if code := s3Code(body); code != "" {
			de.msg += " (" + code + ")"
		}
		return 0, de
	}
	n, err := io.Copy(w, io.LimitReader(resp.Body, max+1))
	if err != nil {
		return n, &DownloadError{StatusCode: resp.StatusCode, msg: "host " + u.Host + ": reading the file: " + c.transportText(err)}
	}
	if n > max {
		return n, &DownloadError{StatusCode: resp.StatusCode, msg: fmt.Sprintf("the file is larger than %d bytes; stopped", max)}
	}
	return n, nil
}

// downloadClient is the API's HTTP client without its overall timeout (a large file may take
// longer than one API call may; ctx bounds it) and following up to three redirects, which is
// safe because the download request carries no credential.
func (c *Client) downloadClient() *http.Client {
	hc := *c.hc
	hc.Timeout = 0
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 3 {
			return errors.New("too many redirects")
		}
		req.Header.Del("Authorization")
		return nil
	}
	return &hc
}

var s3CodePattern = regexp.MustCompile(`<Code>([A-Za-z]{1,64})</Code>(?:\s*<Message>([^<]{0,120})</Message>)?`)

// s3Code names an S3 error answer ("AccessDenied: Request has expired") without quoting
// anything else from the body.
func s3Code(body []byte) string {
	m := s3CodePattern.FindSubmatch(body)
	if m == nil {
		return ""
	}
	s := string(m[1])
	if len(m[2]) > 0 {
		s += ": " + strings.TrimSpace(string(m[2]))
	}
	return s
}

// FetchExport downloads a done export to w. When the link has expired (the export took a
// while to be collected, or the first attempt was slow), it gets the export again for a fresh
// link and retries, up to attempts times in all (0 means 3). w must be resettable between
// attempts, so it is given as a function returning the writer for each attempt.
func (c *Client) FetchExport(ctx context.Context, x *Export, attempts int, max int64, writer func() (io.Writer, error)) (int64, error) {
	if attempts <= 0 {
		attempts = 3
	}
	cur := x
	var last error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			fresh, err := c.GetExport(ctx, x.ID)
			if err != nil {
				return 0, err
			}
			if fresh.Status != ExportDone || fresh.DownloadURL == nil || *fresh.DownloadURL == "" {
				return 0, fmt.Errorf("closeapi: export %s: no fresh download_url (status %q)", x.ID, fresh.Status)
			}
			cur = fresh
		}
		if cur.DownloadURL == nil || *cur.DownloadURL == "" {
			return 0, fmt.Errorf("closeapi: export %s has no download_url", x.ID)
		}
		w, err := writer()
		if err != nil {
			return 0, err
		}
		n, err := c.DownloadExport(ctx, *cur.DownloadURL, w, max)
		if err == nil {
			return n, nil
		}
		last = err
		var de *DownloadError
		if !errors.As(err, &de) || !de.Expired {
			return n, err
		}
	}
	return 0, last
}
