package sandbox

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"github.com/bulkguard/bulkguard/schema"
)

// maxPaused is how long a bulk action may stay paused and still be
// resumed (docs/close-api.md §1.4).
const maxPaused = 7 * 24 * time.Hour

// Job is a bulk-delete job exactly as Close shows it: the 17 properties of
// BulkDeleteAction (docs/close-api.md §1.3). Dates are Close-formatted strings
// (microseconds, +00:00).
type Job struct {
	ID                string          `json:"id"`
	BulkObjectType    string          `json:"bulk_object_type"`
	Status            string          `json:"status"`
	SQuery            json.RawMessage `json:"s_query"`
	Query             *string         `json:"query"`
	ResultsLimit      *int            `json:"results_limit"`
	Sort              json.RawMessage `json:"sort"`
	SendDoneEmail     bool            `json:"send_done_email"`
	NLeads            *int            `json:"n_leads"`
	NLeadsProcessed   int             `json:"n_leads_processed"`
	NObjects          *int            `json:"n_objects"`
	NObjectsProcessed int             `json:"n_objects_processed"`
	OrganizationID    string          `json:"organization_id"`
	CreatedBy         *string         `json:"created_by"`
	UpdatedBy         *string         `json:"updated_by"`
	DateCreated       string          `json:"date_created"`
	DateUpdated       string          `json:"date_updated"`
}

// job is a bulk delete and its runner's state. The Server's mutex guards it.
type job struct {
	id            string
	u             uni
	sQuery        json.RawMessage
	node          schema.Node
	loc           *time.Location
	resultsLimit  *int
	sortRaw       json.RawMessage
	sorts         []schema.Sort
	sendDoneEmail bool
	status        string
	orgID         string
	createdBy     string
	updatedBy     string
	created       time.Time
	updated       time.Time
	pausedAt      time.Time

	nLeads, nObjects                   *int
	nLeadsProcessed, nObjectsProcessed int
	// matches is the match set, fixed when processing starts (honouring
	// results_limit and sort); pos is how far the deletes have got.
	matches   []int32
	fixed     bool
	pos       int
	leadsSeen map[int32]bool
	// wake interrupts the runner's pacing or pause (buffered, 1).
	wake chan struct{}
}

func (j *job) view() Job {
	cb, ub := j.createdBy, j.updatedBy
	return Job{
		ID: j.id, BulkObjectType: uniName[j.u], Status: j.status, SQuery: j.sQuery, Query: nil,
		ResultsLimit: j.resultsLimit, Sort: j.sortRaw, SendDoneEmail: j.sendDoneEmail,
		NLeads: j.nLeads, NLeadsProcessed: j.nLeadsProcessed, NObjects: j.nObjects, NObjectsProcessed: j.nObjectsProcessed,
		OrganizationID: j.orgID, CreatedBy: &cb, UpdatedBy: &ub,
		DateCreated: fmtTime(j.created), DateUpdated: fmtTime(j.updated),
	}
}

func (j *job) poke() {
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

// createJob is POST /bulk_action/delete/. It validates the body as Close
// does (400 field-errors), derives bulk_object_type from the query's
// object_type clause (lead when there is none; docs/close-api.md open question
// 2, [INF]), and answers the job as created.
func (c *call) createJob(string) {
	body, loc, ok := c.queryRequest()
	if !ok {
		return
	}
	q, ok := c.readQuery(body, "s_query", true)
	if !ok {
		return
	}
	node, resultsLimit, sorts, sortRaw := q.node, q.resultsLimit, q.sorts, q.sortRaw
	sendDone := true
	if raw, ok := body["send_done_email"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &sendDone); err != nil {
			fieldError(c.w, "send_done_email", "Input should be a valid boolean")
			return
		}
	}
	u, err := rootType(node)
	if err != nil {
		answerQueryError(c.w, "s_query", err)
		return
	}
	if raw, ok := body["bulk_object_type"]; ok && !isNull(raw) {
		var bt string
		if json.Unmarshal(raw, &bt) != nil || bt != uniName[u] {
			fieldError(c.w, "bulk_object_type", "bulk_object_type must match the object_type of s_query ("+uniName[u]+")")
			return
		}
	}

	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	// Validate the whole query now, as Close rejects an invalid s_query at
	// creation; the match set itself is fixed when processing starts.
	ev := &evaluator{st: s.st, now: s.now(), loc: loc, user: c.user.ID}
	if _, err := ev.node(node, u, ""); err != nil {
		answerQueryError(c.w, "s_query", err)
		return
	}
	if _, err := ev.sortKeys(sorts, u); err != nil {
		answerQueryError(c.w, "sort", err)
		return
	}
	now := s.now()
	j := &job{
		id: randID(s.jobRand, "bulkdelete_"), u: u, sQuery: compact(q.raw), node: node, loc: loc,
		resultsLimit: resultsLimit, sortRaw: sortRaw, sorts: sorts, sendDoneEmail: sendDone,
		status: "created", orgID: s.st.orgID, createdBy: c.user.ID, updatedBy: c.user.ID,
		created: now, updated: now, wake: make(chan struct{}, 1),
	}
	s.jobs = append(s.jobs, j)
	s.jobByID[j.id] = j
	// After Close no runner starts: the job stays "created".
	select {
	case <-s.stop:
	default:
		s.wg.Add(1)
		go s.run(j)
	}
	s.log.Debug("sandbox: bulk delete created", "job", j.id, "object_type", uniName[u])

	s.fmu.Lock()
	if s.createsLeft > 0 {
		s.createsLeft--
		c.drop = s.createsLeft == 0
	}
	s.fmu.Unlock()
	if c.drop {
		s.log.Debug("sandbox: dropping the connection after an accepted create", "job", j.id)
		return
	}
	writeJSON(c.w, http.StatusOK, j.view())
}

// listJobs is GET /bulk_action/delete/: newest first, _limit (default 100)
// and _skip, {data, has_more}.
func (c *call) listJobs(string) {
	limit, skip, ok := c.page(1, 0, 0)
	if !ok {
		return
	}
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	data := []any{}
	n := len(c.s.jobs)
	for k := skip; k < n && k < skip+limit; k++ {
		data = append(data, c.selectFields(jobMap(c.s.jobs[n-1-k])))
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"data": data, "has_more": skip+limit < n})
}

func jobMap(j *job) map[string]any {
	b, _ := json.Marshal(j.view())
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func (c *call) getJob(id string) {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	j := c.s.jobByID[id]
	if j == nil {
		errorJSON(c.w, http.StatusNotFound, "Not found.")
		return
	}
	if c.r.URL.Query().Get("_fields") != "" {
		writeJSON(c.w, http.StatusOK, c.selectFields(jobMap(j)))
		return
	}
	writeJSON(c.w, http.StatusOK, j.view())
}

// updateJob is PUT /bulk_action/delete/{id}/ (the endpoint is inferred,
// docs/close-api.md §1.4). It is a partial update: without "status" nothing
// changes. {"status": "paused"} pauses a job that has not finished;
// {"status": "resuming"} resumes a paused one, unless it has been paused
// for more than 7 days.
func (c *call) updateJob(id string) {
	body := c.body()
	if body == nil {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobByID[id]
	if j == nil {
		errorJSON(c.w, http.StatusNotFound, "Not found.")
		return
	}
	raw, ok := body["status"]
	if ok {
		var want string
		if json.Unmarshal(raw, &want) != nil {
			fieldError(c.w, "status", "Input should be a valid string")
			return
		}
		now := s.now()
		switch want {
		case "paused":
			switch j.status {
			case "created", "loading", "processing", "resuming":
				j.status, j.pausedAt = "paused", now
			case "paused":
			default:
				fieldError(c.w, "status", "A bulk action with status \""+j.status+"\" cannot be paused.")
				return
			}
		case "resuming":
			if j.status != "paused" {
				fieldError(c.w, "status", "Only a paused bulk action can be resumed; this one is \""+j.status+"\".")
				return
			}
			if now.Sub(j.pausedAt) > maxPaused {
				fieldError(c.w, "status", "A bulk action paused for more than 7 days cannot be resumed.")
				return
			}
			j.status = "resuming"
		default:
			fieldError(c.w, "status", "Input should be 'paused' or 'resuming'")
			return
		}
		j.updated, j.updatedBy = now, c.user.ID
		j.poke()
		s.log.Debug("sandbox: bulk delete status set", "job", j.id, "status", j.status)
	}
	writeJSON(c.w, http.StatusOK, j.view())
}

// waitStep and stepped implement the test-only step gate (Server.step).
func (s *Server) waitStep() bool {
	if s.step == nil {
		return true
	}
	select {
	case <-s.step:
		return true
	case <-s.stop:
		return false
	}
}

func (s *Server) stepped() {
	if s.stepDone == nil {
		return
	}
	select {
	case s.stepDone <- struct{}{}:
	case <-s.stop:
	}
}

// run is a job's runner: created → loading, loading/resuming → processing
// (the match set is fixed the first time), then batches of deletes paced by DeleteRate until
// done. A paused job waits for a resume.
func (s *Server) run(j *job) {
	defer s.wg.Done()
	for {
		if !s.waitStep() {
			return
		}
		s.mu.Lock()
		n, finished := 0, false
		switch j.status {
		case "paused":
			s.mu.Unlock()
			s.stepped()
			for {
				select {
				case <-j.wake:
				case <-s.stop:
					return
				}
				s.mu.RLock()
				still := j.status == "paused"
				s.mu.RUnlock()
				if !still {
					break
				}
			}
			continue
		case "created":
			// Close lists loading between created and processing
			// (docs/close-api.md §1.4 [SPEC enum, order INF]): the
			// runner's first step; the matches are loaded by the next.
			j.status = "loading"
			j.updated = s.now()
		case "loading", "resuming":
			if !j.fixed {
				s.fix(j)
			}
			if j.status != "error" {
				j.status = "processing"
			}
			j.updated = s.now()
			finished = j.status == "error"
		case "processing":
			n = s.deleteBatch(j)
			if j.pos >= len(j.matches) {
				j.status = "done"
				finished = true
			}
			j.updated = s.now()
		default:
			finished = true
		}
		st := j.status
		s.mu.Unlock()
		s.stepped()
		if finished {
			s.log.Debug("sandbox: bulk delete finished", "job", j.id, "status", st)
			return
		}
		if n > 0 && s.opts.DeleteRate > 0 && s.step == nil {
			d := time.Duration(float64(n) / s.opts.DeleteRate * float64(time.Second))
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-j.wake:
				t.Stop()
			case <-s.stop:
				t.Stop()
				return
			}
		}
	}
}

// fix evaluates the job's query over what exists now (no index lag: the
// job reads the database, not the search index) and fixes the match set.
func (s *Server) fix(j *job) {
	ev := &evaluator{st: s.st, now: s.now(), loc: j.loc, user: j.createdBy}
	set, err := ev.node(j.node, j.u, "")
	var keys []sortKey
	if err == nil {
		keys, err = ev.sortKeys(j.sorts, j.u)
	}
	if err != nil {
		// e.g. a saved search it refers to has changed since creation.
		j.status = "error"
		s.log.Debug("sandbox: bulk delete failed", "job", j.id, "err", err)
		return
	}
	limit := set.count()
	if j.resultsLimit != nil && *j.resultsLimit < limit {
		limit = *j.resultsLimit
	}
	j.matches = ev.order(set, keys, limit)
	j.fixed = true
	n := len(j.matches)
	j.nObjects = &n
	if j.u == uLead {
		nl := n
		j.nLeads = &nl
		return
	}
	leads := map[int32]bool{}
	for _, i := range j.matches {
		leads[int32(s.st.ancestor(j.u, int(i), uLead))] = true
	}
	nl := len(leads)
	j.nLeads = &nl
	j.leadsSeen = map[int32]bool{}
}

// deleteBatch deletes the next batch of the match set. An object already
// gone (deleted by another job, or its lead deleted) counts as processed.
func (s *Server) deleteBatch(j *job) int {
	end := min(j.pos+s.opts.BatchSize, len(j.matches))
	at := s.deleteAt()
	s.api.cur = &origin{userID: j.createdBy, bulkID: j.id}
	defer func() { s.api.cur = nil }()
	for _, i := range j.matches[j.pos:end] {
		s.st.deleteObject(j.u, int(i), at, j.id)
		if j.u != uLead {
			j.leadsSeen[int32(s.st.ancestor(j.u, int(i), uLead))] = true
		}
	}
	n := end - j.pos
	j.pos = end
	j.nObjectsProcessed += n
	if j.u == uLead {
		j.nLeadsProcessed += n
	} else {
		j.nLeadsProcessed = len(j.leadsSeen)
	}
	return n
}
