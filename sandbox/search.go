package sandbox

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/bulkguard/bulkguard/schema"
)

const (
	// cursorTTL: a data/search cursor expires 30 s after it was issued
	// (docs/close-api.md §2.4).
	cursorTTL = 30 * time.Second
	// maxWalk: one cursor walk returns at most 10,000 objects (§2.4).
	maxWalk = 10_000
	// maxPage is the largest _limit accepted (§2.4: 200 is what Close
	// enforces on /lead/ and what public code uses on /data/search/ [OBS]).
	maxPage = 200
	// defaultPage is the _limit when none is given [INF].
	defaultPage = 100
)

// cursorState is the rest of a cursor walk: the matches were fixed when
// the walk began, as a search engine's scroll snapshot is.
type cursorState struct {
	u       uni
	ids     []int32
	pos     int
	fields  []string
	expires time.Time
}

func (s *Server) evaluator(loc *time.Location, user string, lag time.Duration) *evaluator {
	return &evaluator{st: s.st, now: s.now(), loc: loc, user: user, lag: lag}
}

// sortKey is one resolved sort spec.
type sortKey struct {
	c    *column
	desc bool
}

// sortKeys resolves sort specs on objects of kind u. Only number, date and
// text fields of the object itself sort (docs/close-api.md §3.6).
func (e *evaluator) sortKeys(sorts []schema.Sort, u uni) ([]sortKey, error) {
	var keys []sortKey
	for i, s := range sorts {
		ptr := fmt.Sprintf("/%d", i)
		c, err := e.field(s.Field, u, ptr+"/field")
		if err != nil {
			return nil, err
		}
		switch c.kind {
		case kText, kNumber, kDate:
		default:
			return nil, qerr(ptr+"/field", "cannot sort by %s: only number, date and text fields of the object itself sort", fieldName(u, c))
		}
		switch s.Direction {
		case "asc", "desc":
		default:
			return nil, qerr(ptr+"/direction", "direction must be \"asc\" or \"desc\", got %q", s.Direction)
		}
		keys = append(keys, sortKey{c: c, desc: s.Direction == "desc"})
	}
	return keys, nil
}

// order lists the members of set in sort order and keeps the first limit.
// Without a sort the order is insertion order [INF: Close's default order
// is not documented]. Empty values sort last in either direction; ties
// keep insertion order.
func (e *evaluator) order(set bitset, keys []sortKey, limit int) []int32 {
	idx := set.indexes()
	if len(keys) > 0 && len(idx) > 1 {
		type prepared struct {
			str  []string
			num  []float64
			null []bool
		}
		prep := make([]prepared, len(keys))
		for k, key := range keys {
			p := prepared{null: make([]bool, len(idx))}
			switch key.c.kind {
			case kText:
				p.str = make([]string, len(idx))
				for n, i := range idx {
					v := key.c.str[i]
					p.str[n] = strings.ToLower(v)
					p.null[n] = strings.TrimSpace(v) == ""
				}
			case kNumber:
				p.num = make([]float64, len(idx))
				for n, i := range idx {
					v := key.c.num[i]
					p.num[n] = v
					p.null[n] = v != v
				}
			case kDate:
				p.num = make([]float64, len(idx))
				for n, i := range idx {
					v := key.c.tm[i]
					p.num[n] = float64(v)
					p.null[n] = v == noTime
				}
			}
			prep[k] = p
		}
		pos := make([]int, len(idx))
		for n := range pos {
			pos[n] = n
		}
		slices.SortStableFunc(pos, func(a, b int) int {
			for k, key := range keys {
				p := prep[k]
				na, nb := p.null[a], p.null[b]
				if na || nb {
					if na == nb {
						continue
					}
					if na {
						return 1
					}
					return -1
				}
				var c int
				if p.str != nil {
					c = strings.Compare(p.str[a], p.str[b])
				} else if p.num[a] < p.num[b] {
					c = -1
				} else if p.num[a] > p.num[b] {
					c = 1
				}
				if key.desc {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return a - b
		})
		sorted := make([]int32, len(idx))
		for n, p := range pos {
			sorted[n] = idx[p]
		}
		idx = sorted
	}
	if limit < len(idx) {
		idx = idx[:limit]
	}
	return idx
}

// searchFields are the names _fields may ask for, beyond the object's own
// columns.
var searchExtras = [numUni][]string{
	uLead:    {"id", "organization_id", "html_url", "contacts", "contact_ids", "addresses", "custom"},
	uContact: {"id", "organization_id", "emails", "phones", "urls"},
}

// checkFields validates a _fields selection for objects of kind u.
func (st *store) checkFields(u uni, fields []string) error {
	for _, f := range fields {
		if f == "__object_type" || st.t[u].cols[f] != nil || slices.Contains(searchExtras[u], f) {
			continue
		}
		return fmt.Errorf("unknown field %q for %s objects", f, uniName[u])
	}
	return nil
}

// record renders one search result: __object_type and id, plus fields.
func (st *store) record(u uni, i int, fields []string) map[string]any {
	t := st.t[u]
	obj := map[string]any{"__object_type": uniName[u], "id": t.ids[i]}
	var full map[string]any
	for _, f := range fields {
		if c := t.cols[f]; c != nil {
			if f == "display_name" {
				obj[f] = c.str[i]
			} else {
				obj[f] = c.value(i)
			}
			continue
		}
		switch f {
		case "id", "__object_type":
		case "custom":
			if u != uLead {
				for _, cf := range st.objectCFs[u] {
					obj["custom."+cf.ID] = cf.cols[u].value(i)
				}
				continue
			}
			for _, cf := range st.cfs {
				obj["custom."+cf.ID] = cf.col.value(i)
			}
		default:
			if full == nil {
				full = st.objectJSON(u, i)
			}
			obj[f] = full[f]
		}
	}
	return obj
}

func newCursorToken() string { return rand.Text() }

// search is POST /data/search/ (docs/close-api.md §2).
func (c *call) search(string) {
	body, loc, ok := c.queryRequest()
	if !ok {
		return
	}
	limit, ok := c.optInt(body, "_limit")
	if !ok {
		return
	}
	pageSize := defaultPage
	if limit != nil && *limit > 0 {
		pageSize = *limit
	}
	if pageSize > maxPage {
		fieldError(c.w, "_limit", fmt.Sprintf("Input should be less than or equal to %d", maxPage))
		return
	}
	if raw, ok := body["cursor"]; ok && !isNull(raw) {
		var tok string
		if json.Unmarshal(raw, &tok) != nil || tok == "" {
			fieldError(c.w, "cursor", "Invalid cursor")
			return
		}
		c.nextPage(tok, pageSize)
		return
	}
	q, ok := c.readQuery(body, "query", false)
	if !ok {
		return
	}
	node, resultsLimit, sorts := q.node, q.resultsLimit, q.sorts
	var fields map[string][]string
	if raw, ok := body["_fields"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &fields); err != nil {
			fieldError(c.w, "_fields", "Input should be an object of field-name lists, e.g. {\"lead\": [\"id\", \"display_name\"]}")
			return
		}
	}
	includeCounts := false
	if raw, ok := body["include_counts"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &includeCounts); err != nil {
			fieldError(c.w, "include_counts", "Input should be a valid boolean")
			return
		}
	}

	lag := c.s.Faults().IndexLag
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	ev := c.s.evaluator(loc, c.user.ID, lag)
	u, err := rootType(node)
	if err != nil {
		answerQueryError(c.w, "query", err)
		return
	}
	set, err := ev.node(node, u, "")
	if err != nil {
		answerQueryError(c.w, "query", err)
		return
	}
	keys, err := ev.sortKeys(sorts, u)
	if err != nil {
		answerQueryError(c.w, "sort", err)
		return
	}
	sel := fields[uniName[u]]
	if err := c.s.st.checkFields(u, sel); err != nil {
		fieldError(c.w, "_fields", err.Error())
		return
	}
	total := set.count()
	limited := total
	if resultsLimit != nil && *resultsLimit < total {
		limited = *resultsLimit
	}
	var ids []int32
	if walk := min(limited, maxWalk); walk > 0 {
		ids = ev.order(set, keys, walk)
	}
	resp := c.s.page(u, ids, 0, pageSize, sel)
	if includeCounts {
		resp["count"] = map[string]any{"total": total, "limited": limited}
	}
	writeJSON(c.w, http.StatusOK, resp)
}

// page renders ids[pos:pos+size] and, when more remain, issues a cursor
// for the rest. The caller holds the read lock.
func (s *Server) page(u uni, ids []int32, pos, size int, fields []string) map[string]any {
	end := min(pos+size, len(ids))
	data := make([]any, 0, end-pos)
	for _, i := range ids[pos:end] {
		data = append(data, s.st.record(u, int(i), fields))
	}
	resp := map[string]any{"data": data, "cursor": nil}
	if end < len(ids) {
		tok := newCursorToken()
		s.cmu.Lock()
		now := s.now()
		for k, cs := range s.cursors {
			if now.After(cs.expires.Add(10 * time.Minute)) {
				delete(s.cursors, k) // long expired: forget it
			}
		}
		s.cursors[tok] = &cursorState{u: u, ids: ids, pos: end, fields: fields, expires: now.Add(cursorTTL)}
		s.cmu.Unlock()
		resp["cursor"] = tok
	}
	return resp
}

// nextPage continues a cursor walk. The query of the request is ignored:
// the walk continues the snapshot it started with.
func (c *call) nextPage(tok string, size int) {
	c.s.cmu.Lock()
	cs := c.s.cursors[tok]
	if cs != nil {
		delete(c.s.cursors, tok) // a cursor is good for one page
	}
	c.s.cmu.Unlock()
	if cs == nil {
		fieldError(c.w, "cursor", "Invalid cursor")
		return
	}
	if c.s.now().After(cs.expires) {
		fieldError(c.w, "cursor", "Expired cursor")
		return
	}
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	writeJSON(c.w, http.StatusOK, c.s.page(cs.u, cs.ids, cs.pos, size, cs.fields))
}

// answerQueryError writes a rejected query as a field error under key.
func answerQueryError(w http.ResponseWriter, key string, err error) {
	var qe *queryError
	if errors.As(err, &qe) {
		if qe.unsupported {
			answerUnsupported(w, key, qe.msg)
			return
		}
		fieldError(w, key, qe.msg)
		return
	}
	fieldError(w, key, err.Error())
}
