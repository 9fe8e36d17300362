package sandbox

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/bulkguard/bulkguard/schema"
)

// queryError is a query the sandbox rejects, as Close rejects an invalid
// query: a 400 whose field-errors entry (under "query" for /data/search/,
// "s_query" for bulk actions) carries Error().
type queryError struct {
	msg string
	// unsupported marks a construct the sandbox cannot evaluate although
	// Close may accept it (unsupported.go).
	unsupported bool
}

func (e *queryError) Error() string { return e.msg }

func at(ptr string) string {
	if ptr == "" {
		return "at the query root"
	}
	return "at " + ptr
}

func qerr(ptr, format string, args ...any) error {
	return &queryError{msg: fmt.Sprintf(format, args...) + " " + at(ptr)}
}

// evaluator runs one query over the store at one moment. It is cheap to
// make and is used for a single request (or a job's match), under the
// server's read lock.
type evaluator struct {
	st   *store
	now  time.Time
	loc  *time.Location // the request's x-tz-offset zone, UTC by default
	user string         // the calling user, for current_user and CURRENT_USER
	// lag keeps objects deleted less than lag ago visible, as Close's search
	// index lags deletes (docs/close-api.md §2.4). Jobs evaluate with lag 0.
	lag   time.Duration
	vis   [numUni]bitset
	views []string // saved searches being expanded, to refuse cycles
	// prefix caches the dictionary words each beginning_of_words word
	// starts (the text node asks once per field).
	prefix map[string]bitset
}

func (e *evaluator) prefixSet(w string) bitset {
	if s, ok := e.prefix[w]; ok {
		return s
	}
	if e.prefix == nil {
		e.prefix = map[string]bitset{}
	}
	s := e.st.prefixSet(w)
	e.prefix[w] = s
	return s
}

// visible is every object of kind u that the search index still shows.
func (e *evaluator) visible(u uni) bitset {
	if e.vis[u] == nil {
		t := e.st.t[u]
		b := newBitset(t.n())
		nowN, lagN := e.now.UnixNano(), int64(e.lag)
		for i, d := range t.dead {
			if d == 0 || (lagN > 0 && nowN-d < lagN) {
				b.set(i)
			}
		}
		e.vis[u] = b
	}
	return e.vis[u]
}

func (e *evaluator) empty(u uni) bitset { return newBitset(e.st.t[u].n()) }

// rootType is the object type a query selects: its object_type clause at
// the root or in a root-level and, lead when it has none. Only lead and
// contact can be searched (docs/close-api.md §2.4 documents those two).
func rootType(n schema.Node) (uni, error) {
	ot, ok := schema.ObjectTypeOf(n)
	if !ok {
		return uLead, nil
	}
	switch ot {
	case "lead":
		return uLead, nil
	case "contact":
		return uContact, nil
	case "opportunity":
		return uOpp, nil
	case "custom_object":
		return uCustomObject, nil
	}
	return 0, &queryError{msg: fmt.Sprintf("object_type %q cannot be searched in the sandbox (lead, contact, opportunity and custom_object can)", ot), unsupported: true}
}

// node evaluates n over the objects of kind u. The result only holds
// visible objects.
func (e *evaluator) node(n schema.Node, u uni, ptr string) (bitset, error) {
	vis := e.visible(u)
	var r bitset
	var err error
	switch x := n.(type) {
	case *schema.And:
		r = vis.clone()
		for i, q := range x.Queries {
			s, err := e.node(q, u, fmt.Sprintf("%s/queries/%d", ptr, i))
			if err != nil {
				return nil, err
			}
			r.and(s)
		}
	case *schema.Or:
		r = e.empty(u)
		for i, q := range x.Queries {
			s, err := e.node(q, u, fmt.Sprintf("%s/queries/%d", ptr, i))
			if err != nil {
				return nil, err
			}
			r.or(s)
		}
	case *schema.ObjectType:
		ot, ok := uniByName(x.ObjectType)
		if !ok {
			return nil, unsup(ptr+"/object_type", "object_type %q is not supported by the sandbox (it models %s)", x.ObjectType, strings.Join(uniName[:], ", "))
		}
		if ot == u {
			r = vis.clone()
		} else {
			r = e.empty(u)
		}
	case *schema.ID:
		r = e.empty(u)
		if i, ok := e.st.t[u].byID[x.Value]; ok {
			r.set(int(i))
		}
	case *schema.Text:
		r, err = e.text(u, x.Mode, x.Value, ptr)
	case *schema.FieldCondition:
		r, err = e.fieldCondition(x, u, ptr)
	case *schema.HasRelated:
		r, err = e.hasRelated(x, u, ptr)
	case *schema.SavedSearch:
		r, err = e.savedSearch(x, u, ptr)
	case *schema.MatchAll:
		r = vis.clone()
	case *schema.UnknownNode:
		return nil, unsup(ptr, "unknown query type %q", x.Type)
	case nil:
		return nil, qerr(ptr, "missing query")
	default:
		return nil, qerr(ptr, "unknown query type %q", n.NodeType())
	}
	if err != nil {
		return nil, err
	}
	if n.Negated() {
		neg := vis.clone()
		neg.andNot(r)
		return neg, nil
	}
	r.and(vis)
	return r, nil
}

// docField is one text field that the query-level text node searches.
type docField struct {
	u   uni
	col string
}

// docFields: a lead's full text is its name, description and URL and its
// contacts' names, emails and phones (the definition); a contact's
// is its name, title, emails and phones.
var docFields = [numUni][]docField{
	uLead:    {{uLead, "name"}, {uLead, "description"}, {uLead, "url"}, {uContact, "name"}, {uEmail, "email"}, {uPhone, "phone"}},
	uContact: {{uContact, "name"}, {uContact, "title"}, {uEmail, "email"}, {uPhone, "phone"}},
	uEmail:   {{uEmail, "email"}},
	uPhone:   {{uPhone, "phone"}},
	uAddress: {{uAddress, "address_1"}, {uAddress, "address_2"}, {uAddress, "city"}, {uAddress, "state"}, {uAddress, "zipcode"}, {uAddress, "country"}},
	// The graph kinds: their text-like fields [INF].
	uURL:          {{uURL, "url"}},
	uOpp:          {{uOpp, "note"}, {uOpp, "status_label"}, {uOpp, "pipeline_name"}},
	uTask:         {{uTask, "text"}},
	uActEmail:     {{uActEmail, "subject"}, {uActEmail, "sender"}},
	uActCall:      {{uActCall, "note"}, {uActCall, "phone"}},
	uActSMS:       {{uActSMS, "text"}},
	uActMeeting:   {{uActMeeting, "title"}},
	uActNote:      {{uActNote, "note"}},
	uCustomObject: {{uCustomObject, "name"}},
}

// lift maps a set of objects of kind from to the set of their owners of
// kind to (from must be to or below it). Deleted children do not count.
func (e *evaluator) lift(set bitset, from, to uni) bitset {
	if from == to {
		return set
	}
	set = set.clone()
	set.and(e.visible(from))
	out := e.empty(to)
	set.forEach(func(i int) { out.set(e.st.ancestor(from, i, to)) })
	return out
}

// text is the query-level text node. full_words and beginning_of_words
// look for each word anywhere in the object's full text (words may come
// from different fields, as a search engine's cross-field match does);
// phrase and exact_value need one field to hold the phrase or the whole
// value [INF: Close documents the modes, not how fields combine].
func (e *evaluator) text(u uni, mode schema.TextMode, value, ptr string) (bitset, error) {
	fields := docFields[u]
	switch mode {
	case schema.FullWords, schema.BeginningOfWords:
		words := queryWords(value)
		r := e.empty(u)
		if len(words) == 0 {
			return r, nil
		}
		for wi, w := range words {
			acc := e.empty(u)
			for _, f := range fields {
				c := e.st.t[f.u].cols[f.col]
				var hit bitset
				if mode == schema.FullWords {
					hit = e.allWords(f.u, c, []string{w})
				} else {
					hit = e.prefixes(f.u, c, []string{w})
				}
				acc.or(e.lift(hit, f.u, u))
			}
			if wi == 0 {
				r = acc
			} else {
				r.and(acc)
			}
		}
		return r, nil
	case schema.Phrase, schema.ExactValue:
		r := e.empty(u)
		for _, f := range fields {
			c := e.st.t[f.u].cols[f.col]
			hit, err := e.textCond(f.u, c, mode, value, ptr)
			if err != nil {
				return nil, err
			}
			r.or(e.lift(hit, f.u, u))
		}
		return r, nil
	}
	return nil, qerr(ptr+"/mode", "unknown text mode %q", mode)
}

// textCond matches one text column. A value with no words matches nothing
// (as a search engine's match query does) except in exact_value mode.
func (e *evaluator) textCond(u uni, c *column, mode schema.TextMode, value, ptr string) (bitset, error) {
	switch mode {
	case schema.FullWords:
		return e.allWords(u, c, queryWords(value)), nil
	case schema.BeginningOfWords:
		return e.prefixes(u, c, queryWords(value)), nil
	case schema.Phrase:
		return e.phrase(u, c, queryWords(value)), nil
	case schema.ExactValue:
		r := e.empty(u)
		want := strings.TrimSpace(value)
		if c.phone {
			for i, s := range c.str {
				if s != "" && sameDigits(s, want) {
					r.set(i)
				}
			}
			return r, nil
		}
		for i, s := range c.str {
			if strings.EqualFold(strings.TrimSpace(s), want) {
				r.set(i)
			}
		}
		return r, nil
	}
	return nil, qerr(ptr+"/mode", "unknown text mode %q", mode)
}

// sameDigits compares two phone numbers by their digits alone.
func sameDigits(a, b string) bool {
	i, j := 0, 0
	for {
		for i < len(a) && (a[i] < '0' || a[i] > '9') {
			i++
		}
		for j < len(b) && (b[j] < '0' || b[j] > '9') {
			j++
		}
		if i == len(a) || j == len(b) {
			return i == len(a) && j == len(b)
		}
		if a[i] != b[j] {
			return false
		}
		i++
		j++
	}
}

func (e *evaluator) wordIDs(words []string) ([]uint32, bool) {
	ids := make([]uint32, len(words))
	for k, w := range words {
		id, ok := e.st.dict[w]
		if !ok {
			return nil, false
		}
		ids[k] = id
	}
	return ids, true
}

func contains(toks []uint32, id uint32) bool {
	for _, t := range toks {
		if t == id {
			return true
		}
	}
	return false
}

// allWords: every word present, in any order.
func (e *evaluator) allWords(u uni, c *column, words []string) bitset {
	r := e.empty(u)
	ids, ok := e.wordIDs(words)
	if !ok || len(ids) == 0 {
		return r
	}
	arena := e.st.arena
	for i, s := range c.tok {
		toks := arena[s.off : s.off+s.n]
		all := true
		for _, id := range ids {
			if !contains(toks, id) {
				all = false
				break
			}
		}
		if all {
			r.set(i)
		}
	}
	return r
}

// prefixes: every word is the beginning of some word of the value.
func (e *evaluator) prefixes(u uni, c *column, words []string) bitset {
	r := e.empty(u)
	if len(words) == 0 {
		return r
	}
	sets := make([]bitset, len(words))
	for k, w := range words {
		sets[k] = e.prefixSet(w)
		if sets[k].count() == 0 {
			return r
		}
	}
	arena := e.st.arena
	for i, s := range c.tok {
		toks := arena[s.off : s.off+s.n]
		all := true
		for _, set := range sets {
			found := false
			for _, t := range toks {
				if set.has(int(t)) {
					found = true
					break
				}
			}
			if !found {
				all = false
				break
			}
		}
		if all {
			r.set(i)
		}
	}
	return r
}

// phrase: the words adjacent and in order.
func (e *evaluator) phrase(u uni, c *column, words []string) bitset {
	r := e.empty(u)
	ids, ok := e.wordIDs(words)
	if !ok || len(ids) == 0 {
		return r
	}
	arena := e.st.arena
	for i, s := range c.tok {
		toks := arena[s.off : s.off+s.n]
		for k := 0; k+len(ids) <= len(toks); k++ {
			if toks[k] != ids[0] {
				continue
			}
			m := 1
			for m < len(ids) && toks[k+m] == ids[m] {
				m++
			}
			if m == len(ids) {
				r.set(i)
				break
			}
		}
	}
	return r
}

// fieldName names a column for messages: "lead.name", or the custom
// field's name and id.
func fieldName(u uni, c *column) string {
	if c.cf != nil {
		return fmt.Sprintf("custom field %q (%s)", c.cf.Name, c.cf.ID)
	}
	return uniName[u] + "." + c.name
}

// field resolves the field of a condition or a sort on objects of kind u.
func (e *evaluator) field(f schema.Field, u uni, ptr string) (*column, error) {
	switch x := f.(type) {
	case *schema.RegularField:
		ou, ok := uniByName(x.ObjectType)
		if !ok {
			return nil, unsup(ptr+"/object_type", "fields of %q objects are not supported by the sandbox (it models %s)", x.ObjectType, strings.Join(uniName[:], ", "))
		}
		if ou != u {
			return nil, qerr(ptr, "field %s.%s cannot be used on %s objects (use has_related to reach %s fields)", x.ObjectType, x.FieldName, uniName[u], x.ObjectType)
		}
		if strings.HasPrefix(x.FieldName, "custom.") {
			return e.customField(strings.TrimPrefix(x.FieldName, "custom."), u, ptr+"/field_name")
		}
		return e.regularField(u, x.FieldName, ptr+"/field_name")
	case *schema.CustomField:
		return e.customField(x.CustomFieldID, u, ptr+"/custom_field_id")
	case *schema.UnknownField:
		return nil, unsup(ptr, "unknown field type %q", x.Type)
	case nil:
		return nil, qerr(ptr, "missing field")
	}
	return nil, qerr(ptr, "unknown field type %q", f.FieldType())
}

func wrongCond(ptr, cond string, u uni, c *column) error {
	return qerr(ptr, "condition %q cannot be used with %s (a %s field)", cond, fieldName(u, c), kindName[c.kind])
}

func (e *evaluator) fieldCondition(fc *schema.FieldCondition, u uni, ptr string) (bitset, error) {
	c, err := e.field(fc.Field, u, ptr+"/field")
	if err != nil {
		return nil, err
	}
	cptr := ptr + "/condition"
	r := e.empty(u)
	switch x := fc.Condition.(type) {
	case *schema.TextCondition:
		if c.kind != kText {
			return nil, wrongCond(cptr, "text", u, c)
		}
		return e.textCond(u, c, x.Mode, x.Value, cptr)
	case *schema.Term:
		switch c.kind {
		case kText, kRef:
		default:
			return nil, wrongCond(cptr, "term", u, c)
		}
		// term compares whole values exactly (case-sensitive), as an
		// enum or choice value is matched [INF].
		want := map[string]bool{}
		for _, v := range x.Values {
			want[v] = true
		}
		for i, s := range c.str {
			if s == "" {
				continue
			}
			if want[s] {
				r.set(i)
			} else if c.multi {
				for _, part := range strings.Split(s, ", ") {
					if want[part] {
						r.set(i)
						break
					}
				}
			}
		}
	case *schema.Boolean:
		if c.kind != kBool {
			return nil, wrongCond(cptr, "boolean", u, c)
		}
		var want int8
		if x.Value {
			want = 1
		}
		for i, v := range c.bl {
			if v == want {
				r.set(i)
			}
		}
	case *schema.NumberRange:
		if c.kind != kNumber {
			return nil, wrongCond(cptr, "number_range", u, c)
		}
		if x.GT == nil && x.GTE == nil && x.LT == nil && x.LTE == nil {
			return nil, qerr(cptr, "number_range needs at least one of gt, gte, lt, lte")
		}
		lo, hi := math.Inf(-1), math.Inf(1)
		loIncl, hiIncl := true, true
		if x.GTE != nil {
			lo = *x.GTE
		}
		if x.GT != nil && *x.GT >= lo {
			lo, loIncl = *x.GT, false
		}
		if x.LTE != nil {
			hi = *x.LTE
		}
		if x.LT != nil && *x.LT <= hi {
			hi, hiIncl = *x.LT, false
		}
		for i, v := range c.num {
			if v != v { // NaN: unset
				continue
			}
			if (v > lo || (loIncl && v == lo)) && (v < hi || (hiIncl && v == hi)) {
				r.set(i)
			}
		}
	case *schema.Reference:
		if c.kind != kRef {
			return nil, wrongCond(cptr, "reference", u, c)
		}
		if !refTypeFits(c.refType, x.ReferenceType) {
			return nil, qerr(cptr+"/reference_type", "reference_type %q does not fit %s (a %q reference)", x.ReferenceType, fieldName(u, c), c.refType)
		}
		// A reference names a handful of ids; scanning that short list
		// beats hashing every row's id into a map (the hot path of a
		// 1M-lead preview, bench/results.md).
		want := make([]string, 0, len(x.ObjectIDs))
		for _, id := range x.ObjectIDs {
			if id == "CURRENT_USER" {
				id = e.user
			}
			if id != "" && !slices.Contains(want, id) {
				want = append(want, id)
			}
		}
		for i, s := range c.str {
			if s != "" && (slices.Contains(want, s) || (c.multi && anyPart(s, want))) {
				r.set(i)
			}
		}
	case *schema.CurrentUser:
		if c.kind != kRef || c.refType != "user" {
			return nil, qerr(cptr, "condition \"current_user\" needs a user field, not %s", fieldName(u, c))
		}
		for i, s := range c.str {
			if s == e.user {
				r.set(i)
			}
		}
	case *schema.Exists:
		switch c.kind {
		case kText:
			for i, s := range c.str {
				if strings.TrimSpace(s) != "" {
					r.set(i)
				}
			}
		case kRef:
			for i, s := range c.str {
				if s != "" {
					r.set(i)
				}
			}
		case kDate:
			for i, v := range c.tm {
				if v != noTime {
					r.set(i)
				}
			}
		case kNumber:
			for i, v := range c.num {
				if v == v {
					r.set(i)
				}
			}
		case kBool:
			for i, v := range c.bl {
				if v >= 0 {
					r.set(i)
				}
			}
		}
	case *schema.MomentRange:
		if c.kind != kDate {
			return nil, wrongCond(cptr, "moment_range", u, c)
		}
		lo, hi := int64(math.MinInt64+1), int64(math.MaxInt64)
		if x.OnOrAfter != nil {
			t, err := e.moment(x.OnOrAfter, cptr+"/on_or_after")
			if err != nil {
				return nil, err
			}
			lo = t.UnixMicro()
		}
		if x.Before != nil {
			t, err := e.moment(x.Before, cptr+"/before")
			if err != nil {
				return nil, err
			}
			hi = t.UnixMicro()
		}
		for i, v := range c.tm {
			if v != noTime && v >= lo && v < hi {
				r.set(i)
			}
		}
	case *schema.UnknownCondition:
		return nil, unsup(cptr, "unknown condition type %q", x.Type)
	case nil:
		return nil, qerr(cptr, "missing condition")
	default:
		return nil, qerr(cptr, "unknown condition type %q", fc.Condition.ConditionType())
	}
	return r, nil
}

// refTypeFits: user fields take "user" and "user_or_group" references
// (docs/close-api.md §3.4); the others their own type.
func refTypeFits(field, given string) bool {
	if field == "user" {
		return given == "user" || given == "user_or_group"
	}
	return field == given
}

// savedSearch matches what the Smart View's query matches. The view's own
// results_limit and sort do not apply inside another query [INF].
func (e *evaluator) savedSearch(s *schema.SavedSearch, u uni, ptr string) (bitset, error) {
	v := e.st.viewByID[s.SavedSearchID]
	if v == nil {
		return nil, qerr(ptr+"/saved_search_id", "saved search %s not found", s.SavedSearchID)
	}
	for _, id := range e.views {
		if id == v.ID {
			return nil, qerr(ptr+"/saved_search_id", "saved search %s refers to itself", v.ID)
		}
	}
	if len(e.views) >= 8 {
		return nil, qerr(ptr+"/saved_search_id", "saved searches nested too deeply")
	}
	if v.SQuery == nil {
		return nil, qerr(ptr+"/saved_search_id", "saved search %s has no structured query (its s_query is null)", v.ID)
	}
	if v.Type != uniName[u] {
		return nil, qerr(ptr+"/saved_search_id", "saved search %s is a %s view and cannot filter %s objects", v.ID, v.Type, uniName[u])
	}
	req, err := schema.Decode(v.SQuery)
	if err != nil {
		return nil, qerr(ptr+"/saved_search_id", "saved search %s has an invalid query: %v", v.ID, err)
	}
	e.views = append(e.views, v.ID)
	defer func() { e.views = e.views[:len(e.views)-1] }()
	r, err := e.node(req.Query, u, "")
	if err != nil {
		return nil, qerr(ptr+"/saved_search_id", "in saved search %s: %v", v.ID, err)
	}
	return r, nil
}
