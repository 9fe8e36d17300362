package sandbox

import (
	"math"
	"strings"
	"sync"
)

// Lead roll-ups: the lead fields Close computes from the lead's graph
// (num_opportunities, last_call_date, avg_annual_won_opportunity_value, …;
// docs/close-filter-fields.md says where each name comes from). They are
// columns like the stored ones, computed when a query first names them
// and kept until the data changes (store.gen), so a query pays for a
// roll-up once per change, not once per request.

type derivedCache struct {
	mu   sync.Mutex
	gen  uint64
	cols map[string]*column
}

// rollup computes one lead column from the store.
type rollup struct {
	kind kind
	calc func(st *store) []float64 // per lead; NaN = unset (dates: unix µs)
}

var rollups = func() map[string]rollup {
	m := map[string]rollup{}
	count := func(k uni, pred func(t *table, j int) bool) rollup {
		return rollup{kNumber, func(st *store) []float64 { return st.aggregate(k, pred, nil, aggCount) }}
	}
	last := func(k uni, pred func(t *table, j int) bool, when func(t *table, j int) int64, op aggOp) rollup {
		return rollup{kDate, func(st *store) []float64 {
			return st.aggregate(k, pred, func(t *table, j int) float64 { return micros(when(t, j)) }, op)
		}}
	}
	m["num_contacts"] = count(uContact, nil)
	m["num_opportunities"] = count(uOpp, nil)
	for _, s := range []string{"active", "won", "lost"} {
		m["num_"+s+"_opportunities"] = count(uOpp, textIs("status_type", s))
	}
	m["num_tasks"] = count(uTask, nil)
	m["num_notes"] = count(uActNote, nil)
	m["num_emails"] = count(uActEmail, nil)
	m["num_calls"] = count(uActCall, nil)
	m["num_inbound_calls"] = count(uActCall, textIs("direction", "inbound"))
	m["num_outbound_calls"] = count(uActCall, textIs("direction", "outbound"))
	m["num_sms"] = count(uActSMS, nil)
	m["num_meetings"] = count(uActMeeting, nil)
	m["num_upcoming_meetings"] = count(uActMeeting, textIs("status", "upcoming"))
	m["times_communicated"] = rollup{kNumber, func(st *store) []float64 {
		out := st.aggregate(uActCall, nil, nil, aggCount)
		addInto(out, st.aggregate(uActEmail, communicated, nil, aggCount))
		addInto(out, st.aggregate(uActSMS, communicated, nil, aggCount))
		return out
	}}
	m["all_urls_count"] = rollup{kNumber, func(st *store) []float64 {
		out := st.aggregate(uURL, nil, nil, aggCount)
		for i, u := range st.t[uLead].cols["url"].str {
			if u != "" {
				out[i]++
			}
		}
		return out
	}}

	created := dateCol("date_created")
	m["last_call_date"] = last(uActCall, nil, created, aggMax)
	m["last_call_created"] = m["last_call_date"]
	m["last_incoming_call_date"] = last(uActCall, textIs("direction", "inbound"), created, aggMax)
	m["last_outgoing_call_date"] = last(uActCall, textIs("direction", "outbound"), created, aggMax)
	m["first_outgoing_call_date"] = last(uActCall, textIs("direction", "outbound"), created, aggMin)
	m["last_email_date"] = last(uActEmail, communicated, sentOrCreated, aggMax)
	m["last_outgoing_email_date"] = last(uActEmail, both(communicated, textIs("direction", "outgoing")), sentOrCreated, aggMax)
	m["last_incoming_email_date"] = last(uActEmail, textIs("direction", "incoming"), sentOrCreated, aggMax)
	m["first_outgoing_email_date"] = last(uActEmail, both(communicated, textIs("direction", "outgoing")), sentOrCreated, aggMin)
	m["last_sms_date"] = last(uActSMS, communicated, sentOrCreated, aggMax)
	m["last_sent_sms_date"] = last(uActSMS, both(communicated, textIs("direction", "outbound")), sentOrCreated, aggMax)
	m["first_outgoing_sms_date"] = last(uActSMS, both(communicated, textIs("direction", "outbound")), sentOrCreated, aggMin)
	m["last_communication_date"] = rollup{kDate, func(st *store) []float64 {
		stored := st.t[uLead].cols["last_communication_date"].tm
		out := make([]float64, len(stored))
		for i, v := range stored {
			out[i] = micros(v)
		}
		when := func(t *table, j int) float64 { return micros(sentOrCreated(t, j)) }
		maxInto(out, st.aggregate(uActCall, nil, func(t *table, j int) float64 { return micros(created(t, j)) }, aggMax))
		maxInto(out, st.aggregate(uActEmail, communicated, when, aggMax))
		maxInto(out, st.aggregate(uActSMS, communicated, when, aggMax))
		return out
	}}
	m["last_opportunity_won_date_won"] = last(uOpp, textIs("status_type", "won"), dateCol("date_won"), aggMax)
	for name, col := range map[string]string{"date_won": "date_won", "created": "date_created", "date_created": "date_created",
		"date_updated": "date_updated", "date_lost": "date_lost"} {
		m["primary_opportunity_"+name] = rollup{kDate, primaryOpp(col, true)}
	}
	for _, col := range []string{"value", "confidence", "annualized_value", "expected_value"} {
		m["primary_opportunity_"+col] = rollup{kNumber, primaryOpp(col, false)}
	}

	// avg_<period>_<status>_opportunity_value over the lead's
	// opportunities of that value period (annualized: all of them, as a
	// yearly value) and status type; either part may be absent.
	for _, period := range []string{"", "annual", "annualized", "monthly", "one_time"} {
		for _, status := range []string{"", "active", "won", "lost"} {
			name := "avg_"
			if period != "" {
				name += period + "_"
			}
			if status != "" {
				name += status + "_"
			}
			name += "opportunity_value"
			val := numCol("value")
			var pred func(t *table, j int) bool
			switch period {
			case "annualized":
				val = numCol("annualized_value")
			case "":
			default:
				pred = textIs("value_period", period)
			}
			if status != "" {
				pred = both(pred, textIs("status_type", status))
			}
			m[name] = rollup{kNumber, func(st *store) []float64 { return st.aggregate(uOpp, pred, val, aggAvg) }}
		}
	}
	return m
}()

type aggOp uint8

const (
	aggCount aggOp = iota
	aggMax
	aggMin
	aggAvg
)

func micros(v int64) float64 {
	if v == noTime {
		return math.NaN()
	}
	return float64(v)
}

// aggregate folds the live objects of kind k (those pred accepts) into one
// value per lead: their count, or the max/min/average of val (NaN values
// are skipped; a lead without any gets NaN, or 0 for a count).
func (st *store) aggregate(k uni, pred func(t *table, j int) bool, val func(t *table, j int) float64, op aggOp) []float64 {
	lt := st.t[uLead]
	out := make([]float64, lt.n())
	var n []int32
	if op != aggCount {
		for i := range out {
			out[i] = math.NaN()
		}
		if op == aggAvg {
			n = make([]int32, lt.n())
		}
	}
	t := st.t[k]
	direct := uniParent[k] == uLead
	for j, d := range t.dead {
		if d != 0 || (pred != nil && !pred(t, j)) {
			continue
		}
		var li int
		if direct {
			li = int(t.parent[j])
		} else {
			li = st.ancestor(k, j, uLead)
		}
		if op == aggCount {
			out[li]++
			continue
		}
		v := val(t, j)
		if v != v {
			continue
		}
		cur := out[li]
		switch op {
		case aggMax:
			if cur != cur || v > cur {
				out[li] = v
			}
		case aggMin:
			if cur != cur || v < cur {
				out[li] = v
			}
		case aggAvg:
			if cur != cur {
				cur = 0
			}
			out[li] = cur + v
			n[li]++
		}
	}
	if op == aggAvg {
		for i, c := range n {
			if c > 0 {
				out[i] /= float64(c)
			}
		}
	}
	return out
}

func addInto(dst, src []float64) {
	for i, v := range src {
		dst[i] += v
	}
}

func maxInto(dst, src []float64) {
	for i, v := range src {
		if v == v && (dst[i] != dst[i] || v > dst[i]) {
			dst[i] = v
		}
	}
}

func textIs(col, want string) func(t *table, j int) bool {
	return func(t *table, j int) bool { return t.cols[col].str[j] == want }
}

func both(a, b func(t *table, j int) bool) func(t *table, j int) bool {
	if a == nil {
		return b
	}
	return func(t *table, j int) bool { return a(t, j) && b(t, j) }
}

func dateCol(col string) func(t *table, j int) int64 {
	return func(t *table, j int) int64 { return t.cols[col].tm[j] }
}

func numCol(col string) func(t *table, j int) float64 {
	return func(t *table, j int) float64 { return t.cols[col].num[j] }
}

// communicated: an email or sms that went out or came in, not a draft or
// a scheduled one [INF].
func communicated(t *table, j int) bool {
	switch strings.ToLower(t.cols["status"].str[j]) {
	case "draft", "scheduled", "outbox", "error":
		return false
	}
	return true
}

func sentOrCreated(t *table, j int) int64 {
	if v := t.cols["date_sent"].tm[j]; v != noTime {
		return v
	}
	return t.cols["date_created"].tm[j]
}

// primaryOpp reads col of each lead's primary opportunity: its most
// recently updated active one, else its most recently updated one [INF:
// Close does not document how it picks the primary opportunity].
func primaryOpp(col string, date bool) func(st *store) []float64 {
	return func(st *store) []float64 {
		ot := st.t[uOpp]
		lt := st.t[uLead]
		best := make([]int32, lt.n())
		for i := range best {
			best[i] = -1
		}
		upd := ot.cols["date_updated"].tm
		typ := ot.cols["status_type"].str
		better := func(a, b int) bool { // is a better than b
			aa, ba := typ[a] == "active", typ[b] == "active"
			if aa != ba {
				return aa
			}
			return upd[a] > upd[b]
		}
		for j, d := range ot.dead {
			if d != 0 {
				continue
			}
			li := ot.parent[j]
			if best[li] < 0 || better(j, int(best[li])) {
				best[li] = int32(j)
			}
		}
		out := make([]float64, lt.n())
		c := ot.cols[col]
		for i, j := range best {
			switch {
			case j < 0:
				out[i] = math.NaN()
			case date:
				out[i] = micros(c.tm[j])
			default:
				out[i] = c.num[j]
			}
		}
		return out
	}
}

// derivedCol returns the roll-up column name of kind u, computing it if
// the data changed since it was last computed. ok is false when name is
// no roll-up.
func (st *store) derivedCol(u uni, name string) (*column, bool) {
	if u != uLead {
		return nil, false
	}
	r, ok := rollups[name]
	if !ok {
		return nil, false
	}
	d := &st.derived
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gen != st.gen || d.cols == nil {
		d.cols = map[string]*column{}
		d.gen = st.gen
	}
	if c := d.cols[name]; c != nil {
		return c, true
	}
	vals := r.calc(st)
	c := &column{name: name, kind: r.kind}
	if r.kind == kDate {
		c.tm = make([]int64, len(vals))
		for i, v := range vals {
			if v != v {
				c.tm[i] = noTime
			} else {
				c.tm[i] = int64(v)
			}
		}
	} else {
		c.num = vals
	}
	d.cols[name] = c
	return c, true
}
