package sandbox

import (
	"bytes"
	"compress/gzip"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bulkguard/bulkguard/schema"
)

// Exports (POST /export/lead/, GET /export/{id}/, docs/close-sandbox-api.md
// §2; docs/close-api.md §6). An export goes created → started →
// in_progress → done; the lead set is fixed when it starts, honouring
// s_query, sort and results_limit exactly as a bulk delete with the same
// body would, so the file holds precisely the leads such a delete would
// remove. The file is gzip JSON in Close's lead-export format, served from
// a presigned-style link that expires (60 s by default) after the GET that
// issued it.

// downloadBase is where download links point: outside /api/v1/, as
// Close's point to S3, and authorised by the link itself.
const downloadBase = "/sandbox-export-download/"

// ExportFaults make exports misbehave, for fault tests.
type ExportFaults struct {
	// Fail: every export ends in status "error" after starting.
	Fail bool
	// Stall: every export stays "in_progress" for ever.
	Stall bool
	// DropOneID: the file leaves out one lead the query selects, while
	// n_docs still counts it (a silently incomplete export).
	DropOneID bool
}

// export is one lead export and its runner's state (guarded by mu).
type export struct {
	id                                   string
	status                               string
	format, typ, dateFormat              string
	fields                               []string
	sQuery                               json.RawMessage // null when the export is of every lead
	node                                 schema.Node     // nil: every lead
	loc                                  *time.Location
	resultsLimit                         *int
	sortRaw                              json.RawMessage
	sorts                                []schema.Sort
	includeActivities, includeSmart, srd bool
	nDocs                                *int
	nDocsProcessed                       int
	createdBy                            string
	created, updated                     time.Time
	// pending are the ids of the leads fixed at start, until written.
	pending []string
	file    []byte
}

func (x *export) json(orgID, downloadURL string) map[string]any {
	var sq any
	if x.sQuery != nil {
		sq = x.sQuery
	}
	var dl any
	if downloadURL != "" {
		dl = downloadURL
	}
	fields := x.fields
	if fields == nil {
		fields = []string{}
	}
	return map[string]any{
		"id": x.id, "status": x.status, "format": x.format, "type": x.typ, "date_format": x.dateFormat,
		"fields": fields, "s_query": sq, "results_limit": x.resultsLimit, "sort": x.sortRaw,
		"send_done_email": x.srd, "include_activities": x.includeActivities, "include_smart_fields": x.includeSmart,
		"n_docs": x.nDocs, "n_docs_processed": x.nDocsProcessed, "download_url": dl,
		"organization_id": orgID, "created_by": x.createdBy, "updated_by": x.createdBy,
		"date_created": fmtTime(x.created), "date_updated": fmtTime(x.updated),
	}
}

// createExport is POST /export/lead/.
func (c *call) createExport(string) {
	body, loc, ok := c.queryRequest()
	if !ok {
		return
	}
	bad := badFields{}
	x := &export{format: "", typ: "", dateFormat: "original", srd: true, loc: loc, sortRaw: json.RawMessage("[]")}
	x.format, _ = bad.str(body, "format")
	x.typ, _ = bad.str(body, "type")
	switch x.format {
	case "json":
	case "csv":
		bad.add("format", "The sandbox writes JSON exports only; use \"json\".")
	case "":
		bad.add("format", "This field is required.")
	default:
		bad.add("format", "Input should be 'csv' or 'json'")
	}
	switch x.typ {
	case "leads":
	case "contacts", "lead_opps":
		bad.add("type", "The sandbox exports type \"leads\" (in JSON a superset of the other two).")
	case "":
		bad.add("type", "This field is required.")
	default:
		bad.add("type", "Input should be 'leads', 'contacts' or 'lead_opps'")
	}
	for key, dst := range map[string]*bool{"include_activities": &x.includeActivities, "include_smart_fields": &x.includeSmart, "send_done_email": &x.srd} {
		if raw, ok := body[key]; ok && !isNull(raw) {
			if err := json.Unmarshal(raw, dst); err != nil {
				bad.add(key, "Input should be a valid boolean")
			}
		}
	}
	if raw, ok := body["fields"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &x.fields); err != nil {
			bad.add("fields", "Input should be a list of field names")
		}
	}
	if df, ok := bad.str(body, "date_format"); ok && df != "" {
		x.dateFormat = df
	}
	if len(bad) > 0 {
		fieldErrors(c.w, bad)
		return
	}
	if raw, ok := body["s_query"]; ok && !isNull(raw) {
		q, ok := c.readQuery(body, "s_query", true)
		if !ok {
			return
		}
		u, err := rootType(q.node)
		if err == nil && u != uLead {
			err = fmt.Errorf("a lead export selects leads; this s_query selects %s objects", uniName[u])
		}
		if err != nil {
			fieldError(c.w, "s_query", err.Error())
			return
		}
		x.sQuery, x.node, x.resultsLimit, x.sorts, x.sortRaw = compact(q.raw), q.node, q.resultsLimit, q.sorts, q.sortRaw
	} else {
		// results_limit and sort without s_query still apply to all leads.
		var ok bool
		if x.resultsLimit, ok = c.optInt(body, "results_limit"); !ok {
			return
		}
		if raw, has := body["sort"]; has && !isNull(raw) {
			sorts, err := schema.DecodeSort(raw)
			if err != nil {
				fieldError(c.w, "sort", err.Error())
				return
			}
			x.sorts, x.sortRaw = sorts, compact(raw)
		}
	}

	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := &evaluator{st: s.st, now: s.now(), loc: loc, user: c.user.ID}
	if x.node != nil {
		if _, err := ev.node(x.node, uLead, ""); err != nil {
			answerQueryError(c.w, "s_query", err)
			return
		}
	}
	if _, err := ev.sortKeys(x.sorts, uLead); err != nil {
		answerQueryError(c.w, "sort", err)
		return
	}
	now := s.now()
	x.id, x.status, x.createdBy, x.created, x.updated = randID(s.api.expRand, "expo_"), "created", c.user.ID, now, now
	s.api.exports = append(s.api.exports, x)
	s.api.exportBy[x.id] = x
	select {
	case <-s.stop:
	default:
		s.wg.Add(1)
		go s.runExport(x)
	}
	writeJSON(c.w, http.StatusOK, x.json(s.st.orgID, ""))
}

// runExport walks an export through its states, one per step.
func (s *Server) runExport(x *export) {
	defer s.wg.Done()
	for {
		if !s.waitStep() {
			return
		}
		s.mu.Lock()
		f := s.api.expFault
		finished := false
		switch x.status {
		case "created":
			x.status = "started"
		case "started":
			if f.Fail {
				x.status, finished = "error", true
				break
			}
			s.fixExport(x)
			x.status = "in_progress"
		case "in_progress":
			if f.Stall {
				finished = true
				break
			}
			// Rendering only reads: other requests go on meanwhile.
			ids := x.pending
			s.mu.Unlock()
			s.mu.RLock()
			file, n := s.renderExport(x, ids, f.DropOneID)
			s.mu.RUnlock()
			s.mu.Lock()
			x.file, x.nDocsProcessed, x.pending = file, n, nil
			x.status, finished = "done", true
			s.log.Debug("sandbox: export done", "export", x.id, "leads", x.nDocsProcessed)
		default:
			finished = true
		}
		x.updated = s.now()
		s.mu.Unlock()
		s.stepped()
		if finished {
			return
		}
	}
}

// fixExport evaluates the export's query over what exists now (the
// database, not the lagging index, as a bulk delete's match set).
func (s *Server) fixExport(x *export) {
	ev := &evaluator{st: s.st, now: s.now(), loc: x.loc, user: x.createdBy}
	var set bitset
	if x.node != nil {
		var err error
		if set, err = ev.node(x.node, uLead, ""); err != nil {
			x.status = "error"
			return
		}
	} else {
		lt := s.st.t[uLead]
		set = newBitset(lt.n())
		for i, d := range lt.dead {
			if d == 0 {
				set.set(i)
			}
		}
	}
	keys, err := ev.sortKeys(x.sorts, uLead)
	if err != nil {
		x.status = "error"
		return
	}
	limit := set.count()
	if x.resultsLimit != nil && *x.resultsLimit < limit {
		limit = *x.resultsLimit
	}
	matches := ev.order(set, keys, limit)
	ids := make([]string, len(matches))
	for n, i := range matches {
		ids[n] = s.st.t[uLead].ids[i]
	}
	n := len(matches)
	x.nDocs = &n
	x.pending = ids
}

// renderExport renders the fixed leads that still exist into the gzip
// file and counts them. The caller holds mu for reading; x's options do
// not change after creation.
func (s *Server) renderExport(x *export, ids []string, dropOne bool) ([]byte, int) {
	if dropOne && len(ids) > 0 {
		ids = append(append([]string(nil), ids[:len(ids)/2]...), ids[len(ids)/2+1:]...)
	}
	var buf bytes.Buffer
	// Speed over size: the file lives in memory for a minute's download.
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed) // a valid level cannot fail
	_, _ = zw.Write([]byte("["))
	n := 0
	lt := s.st.t[uLead]
	for _, id := range ids {
		i, ok := lt.byID[id]
		if !ok || lt.dead[i] != 0 {
			continue
		}
		obj := s.st.exportLeadJSON(int(i), x.includeActivities, x.includeSmart)
		if len(x.fields) > 0 {
			// "fields" makes a smaller export of the named top-level
			// fields; the id is always kept so the file stays usable
			// [DOC names the option; keeping id is INF].
			small := map[string]any{"id": obj["id"]}
			for _, f := range x.fields {
				if v, ok := obj[f]; ok {
					small[f] = v
				}
			}
			obj = small
		}
		b, err := json.Marshal(obj)
		if err != nil {
			continue
		}
		if n > 0 {
			_, _ = zw.Write([]byte(",\n"))
		}
		n++
		_, _ = zw.Write(b)
	}
	_, _ = zw.Write([]byte("]\n"))
	_ = zw.Close()
	return buf.Bytes(), n
}

// exportLeadJSON is a lead as Close's JSON lead export writes it: the lead
// object (docs/close-api.md §8.1) with its opportunities, tasks and custom
// objects, its activities (each with its _type) when asked for, its
// custom fields both as flat custom.cf_… keys and in the deprecated nested
// custom dict by name (the loader reads either; a multi-value field as a
// list), and its Smart Fields when asked for (docs/close-api.md §6, §9).
func (st *store) exportLeadJSON(i int, activities, smart bool) map[string]any {
	obj := st.leadJSON(i)
	custom := map[string]any{}
	for _, cf := range st.cfs {
		v := cf.col.value(i)
		if v == nil {
			continue
		}
		if s, ok := v.(string); ok && cf.Multiple {
			parts := []any{}
			for _, p := range strings.Split(s, multiSep) {
				parts = append(parts, p)
			}
			v = parts
			obj["custom."+cf.ID] = parts
		}
		custom[cf.Name] = v
	}
	obj["custom"] = custom
	st.graphJSON(i, obj, activities)
	if smart {
		for k, v := range st.smartFields(obj) {
			obj[k] = v
		}
	}
	return obj
}

// downloadURL signs a link to x's file valid for the configured time from
// now, on the host the client reached the API at.
func (c *call) downloadURL(x *export) string {
	s := c.s
	scheme := "http"
	if c.r.TLS != nil {
		scheme = "https"
	}
	date := s.now().UTC().Format("20060102T150405Z")
	exp := strconv.Itoa(int(s.api.urlTTL / time.Second))
	if s.api.urlTTL%time.Second != 0 || exp == "0" {
		exp = s.api.urlTTL.String()
	}
	return fmt.Sprintf("%s://%s%s%s.json.gz?X-Amz-Date=%s&X-Amz-Expires=%s&X-Amz-Signature=%s",
		scheme, c.r.Host, downloadBase, x.id, date, exp, s.api.sign(x.id, date, exp))
}

func (a *apiState) sign(id, date, exp string) string {
	m := hmac.New(sha256.New, a.secret[:])
	m.Write([]byte(id + "\n" + date + "\n" + exp))
	return hex.EncodeToString(m.Sum(nil))
}

// s3Error answers as S3 answers a presigned GET it refuses.
func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message></Error>\n", code, msg)
}

// download serves an export file through its signed link: 403 once the
// link has expired (S3's AccessDenied, "Request has expired") or when the
// signature does not match.
func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s3Error(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
		return
	}
	id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, downloadBase), ".json.gz")
	q := r.URL.Query()
	date, exp, sig := q.Get("X-Amz-Date"), q.Get("X-Amz-Expires"), q.Get("X-Amz-Signature")
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !hmac.Equal([]byte(sig), []byte(s.api.sign(id, date, exp))) {
		s3Error(w, http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
		return
	}
	issued, err := time.Parse("20060102T150405Z", date)
	ttl, err2 := parseTTL(exp)
	if err != nil || err2 != nil {
		s3Error(w, http.StatusBadRequest, "AuthorizationQueryParametersError", "X-Amz-Date and X-Amz-Expires must be valid.")
		return
	}
	if !s.now().Before(issued.Add(ttl)) {
		s3Error(w, http.StatusForbidden, "AccessDenied", "Request has expired")
		return
	}
	x := s.api.exportBy[id]
	if x == nil || x.file == nil {
		s3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Encoding", "gzip")
	w.Header().Set("Content-Length", strconv.Itoa(len(x.file)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(x.file)
	}
}

// parseTTL reads X-Amz-Expires: whole seconds, or (for sub-second test
// settings) a Go duration.
func parseTTL(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(s)
}

// getExport is GET /export/{id}/ (and /export/lead/{id}/). A done export
// carries a fresh download_url on every GET.
func (c *call) getExport(id string) {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	x := c.s.api.exportBy[id]
	if x == nil {
		errorJSON(c.w, http.StatusNotFound, "Not found.")
		return
	}
	url := ""
	if x.status == "done" {
		url = c.downloadURL(x)
	}
	writeJSON(c.w, http.StatusOK, c.selectFields(x.json(c.s.st.orgID, url)))
}

// listExports is GET /export/ and /export/lead/: newest first, _limit and
// _skip, {data, has_more}; download_url is only given by the GET of one.
func (c *call) listExports(string) {
	limit, skip, ok := c.page(1, 0, 0)
	if !ok {
		return
	}
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	xs := c.s.api.exports
	data := []any{}
	for k := skip; k < len(xs) && k < skip+limit; k++ {
		data = append(data, c.selectFields(xs[len(xs)-1-k].json(c.s.st.orgID, "")))
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"data": data, "has_more": skip+limit < len(xs)})
}
