package schema

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Describe renders a query in plain English for the person who confirms a
// delete, e.g.
//
//	leads whose name has all the words "ACME Inc." and whose created date is before 2024-01-01
//
// Every construct shows: negation, nesting (parenthesised where "and" and
// "or" meet), and unknown constructs as a bracketed placeholder naming
// their type. Values a person or model typed are quoted Go-style (%q), and
// names from the query (field names, object types, ids) appear as bare
// identifiers only when they are plain identifiers, so text inside a query
// cannot read as an instruction to whoever reads the summary.
//
// The root's object_type clause becomes the subject ("leads"); clauses that
// add nothing inside an and (match_all, a repeat of the subject's
// object_type) are left out.
func Describe(n Node) string { return DescribeNamed(n, nil) }

// DescribeNamed is Describe with names shown beside the ids they stand
// for: names maps an id (stat_…, cf_…, user_…, save_…) to what a person
// knows it by, e.g. "Bad Fit", so the summary a person confirms reads
// `status is lead status "Bad Fit" (stat_…)` rather than an opaque id.
// Names come from Close's lookups; ids without one render as in Describe.
func DescribeNamed(n Node, names map[string]string) string {
	d := describer{names: names}
	if isNil(n) {
		return "[no query]"
	}
	if a, ok := n.(*And); ok && a.Negate {
		return "every object except " + d.describeSet(a.Queries)
	}
	if n.Negated() {
		return "objects " + d.clause(n, "", false).pos
	}
	if a, ok := n.(*And); ok {
		return d.describeSet(a.Queries)
	}
	return d.describeSet([]Node{n})
}

// describer carries what every rendering function needs beyond the node:
// the names of ids, for DescribeNamed.
type describer struct {
	names map[string]string
}

// idText renders an id for a person: the quoted id, preceded by its quoted
// name when one is known. Both are quoted so that a name (which anyone in
// the organisation can edit) cannot read as an instruction.
func (d describer) idText(id string) string {
	return d.named(id, strconv.Quote(id))
}

// refIDText is idText for an id of a reference, except that a lead status
// given by its label rather than its stat_ id says so: Close looks statuses
// up by id, so the summary must not read as if the status had been found.
func (d describer) refIDText(refType, id string) string {
	if refType == "status.lead" && !strings.HasPrefix(id, "stat_") {
		return strconv.Quote(id) + " (a name, not a status id)"
	}
	return d.idText(id)
}

// named puts an id's known name, quoted, in front of shown (the way the id
// is rendered anyway).
func (d describer) named(id, shown string) string {
	if name, ok := d.names[id]; ok && name != "" {
		return strconv.Quote(name) + " (" + shown + ")"
	}
	return shown
}

// describeSet renders the objects matching every one of qs.
func (d describer) describeSet(qs []Node) string {
	var cs []Node
	for _, q := range qs {
		cs = append(cs, conjuncts(q)...)
	}
	var types []string
	var rest []Node
	for _, c := range cs {
		switch v := c.(type) {
		case *ObjectType:
			if !isNil(c) && !v.Negate {
				if !contains(types, v.ObjectType) {
					types = append(types, v.ObjectType)
				}
				continue
			}
		case *MatchAll:
			if !isNil(c) && !v.Negate {
				continue
			}
		}
		rest = append(rest, c)
	}
	subject, ctx := "objects", ""
	if len(types) > 0 {
		ctx = types[0]
		subject = plural(ctx)
	}
	var ps []phrase
	for _, t := range typesAfterFirst(types) {
		ps = append(ps, phrase{pos: "that are " + plural(t), neg: "that are not " + plural(t)})
	}
	for _, c := range rest {
		ps = append(ps, d.clause(c, ctx, false))
	}
	if len(ps) == 0 {
		return "all " + subject
	}
	return subject + " " + join(ps, "and")
}

func typesAfterFirst(ts []string) []string {
	if len(ts) < 2 {
		return nil
	}
	return ts[1:]
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// phrase is a relative clause ("whose name is …") in its positive and its
// negated form. op is "and"/"or" when the form is a compound that needs
// parentheses inside a different connective.
type phrase struct {
	pos, neg     string
	posOp, negOp string
}

func (p phrase) negate() phrase {
	return phrase{pos: p.neg, neg: p.pos, posOp: p.negOp, negOp: p.posOp}
}

func simple(pos, neg string) phrase { return phrase{pos: pos, neg: neg} }

func join(ps []phrase, op string) string {
	if len(ps) == 1 {
		return ps[0].pos
	}
	parts := make([]string, len(ps))
	for i, p := range ps {
		if p.posOp != "" && p.posOp != op {
			parts[i] = "(" + p.pos + ")"
		} else {
			parts[i] = p.pos
		}
	}
	return strings.Join(parts, " "+op+" ")
}

// compound renders several phrases joined by op, with n's negation.
func compound(ps []phrase, op string, negated bool) phrase {
	in := join(ps, op)
	p := phrase{pos: in, posOp: op, neg: "not (" + in + ")"}
	if negated {
		return p.negate()
	}
	return p
}

// clause renders n, negation included, as a relative clause about objects
// of type ctx ("" when unknown).
func (d describer) clause(n Node, ctx string, one bool) phrase {
	if isNil(n) {
		return simple("[missing query node]", "not [missing query node]")
	}
	var p phrase
	switch v := n.(type) {
	case *And:
		var kids []phrase
		for _, q := range v.Queries {
			for _, c := range conjuncts(q) {
				if redundantInAnd(c, ctx) {
					continue
				}
				kids = append(kids, d.clause(c, ctx, one))
			}
		}
		switch len(kids) {
		case 0:
			p = simple(v3(one, "that match")+" everything", v3(one, "that match")+" nothing")
		case 1:
			p = kids[0]
		default:
			return compound(kids, "and", v.Negate)
		}
	case *Or:
		var kids []phrase
		for _, q := range v.Queries {
			kids = append(kids, d.clause(q, ctx, one))
		}
		switch len(kids) {
		case 0:
			p = simple(`[an empty "or" with no conditions]`, `not [an empty "or" with no conditions]`)
		case 1:
			p = kids[0]
		default:
			return compound(kids, "or", v.Negate)
		}
	case *ObjectType:
		p = simple(v3(one, "that are")+" "+nounFor(one, v.ObjectType), v3(one, "that are")+" not "+nounFor(one, v.ObjectType))
	case *MatchAll:
		p = simple(v3(one, "that match")+" everything", v3(one, "that match")+" nothing")
	case *ID:
		p = simple("whose id is "+strconv.Quote(v.Value), "whose id is not "+strconv.Quote(v.Value))
	case *Text:
		p = textNode(v.Mode, v.Value, one)
	case *FieldCondition:
		label := d.fieldLabel(v.Field, ctx)
		pr := d.predicate(v.Condition)
		p = simple("whose "+label+" "+pr.pos, "whose "+label+" "+pr.neg)
	case *HasRelated:
		p = d.hasRelated(v, ctx, one)
	case *SavedSearch:
		id := d.named(v.SavedSearchID, ident(v.SavedSearchID))
		p = simple("in Smart View "+id, "not in Smart View "+id)
	case *UnknownNode:
		u := fmt.Sprintf("[unrecognised query node %q]", v.Type)
		p = simple(u, "not "+u)
		if v.Negated() {
			return p.negate()
		}
		return p
	default:
		u := fmt.Sprintf("[unrecognised query node %T]", n)
		return simple(u, "not "+u)
	}
	if n.Negated() {
		return p.negate()
	}
	return p
}

// redundantInAnd: inside an and about ctx objects, match_all and a repeat
// of object_type ctx change nothing.
func redundantInAnd(c Node, ctx string) bool {
	switch v := c.(type) {
	case *MatchAll:
		return !isNil(c) && !v.Negate
	case *ObjectType:
		return !isNil(c) && !v.Negate && ctx != "" && v.ObjectType == ctx
	}
	return false
}

func textNode(mode TextMode, value string, one bool) phrase {
	q := strconv.Quote(value)
	have, doNot, match := v3(one, "that have"), v3(one, "that do")+" not have", v3(one, "that match")
	switch mode {
	case FullWords:
		return simple(have+" all the words "+q+" in a text field", doNot+" all the words "+q+" in any text field")
	case Phrase:
		return simple(have+" the phrase "+q+" in a text field", doNot+" the phrase "+q+" in any text field")
	case BeginningOfWords:
		return simple(have+" words starting with "+q+" in a text field", doNot+" words starting with "+q+" in any text field")
	case ExactValue:
		return simple(have+" a text field that is "+q+ignoringCase, have+" no text field that is "+q+ignoringCase)
	}
	m := fmt.Sprintf("%s %s in text mode %q", match, q, string(mode))
	return simple(m, "not "+m)
}

func (d describer) hasRelated(v *HasRelated, ctx string, one bool) phrase {
	rel := v.RelatedObjectType
	var kids []phrase
	if !isNil(v.RelatedQuery) {
		for _, c := range conjuncts(v.RelatedQuery) {
			if redundantInAnd(c, rel) {
				continue
			}
			kids = append(kids, d.clause(c, rel, true))
		}
	} else {
		kids = append(kids, simple("[missing related query]", "not [missing related query]"))
	}
	obj := withArticle(singular(rel))
	body := ""
	switch {
	case len(kids) == 1 && kids[0].posOp == "":
		body = " " + kids[0].pos
	case len(kids) > 0:
		body = " (" + join(kids, "and") + ")"
	}
	through := ""
	if ctx != "" && v.ThisObjectType != ctx {
		through = " (as " + plural(v.ThisObjectType) + ")"
	}
	have := strings.TrimPrefix(v3(one, "that have"), "that ")
	do := strings.TrimPrefix(v3(one, "that do"), "that ")
	return simple("that"+through+" "+have+" "+obj+body, "that"+through+" "+do+" not have "+obj+body)
}

// ignoringCase follows an exact_value text match: Close compares the whole
// value but not its case (inferred from observed searches, docs/close-api.md
// §3.4; the sandbox models it so), and "is exactly" would promise the person
// a match "Test" does not make with "test".
const ignoringCase = " (ignoring case)"

// predicate renders a condition as what follows "whose <field>".
func (d describer) predicate(c Condition) phrase {
	switch v := c.(type) {
	case *TextCondition:
		if v == nil {
			break
		}
		q := strconv.Quote(v.Value)
		switch v.Mode {
		case FullWords:
			return simple("has all the words "+q, "does not have all the words "+q)
		case Phrase:
			return simple("has the phrase "+q, "does not have the phrase "+q)
		case BeginningOfWords:
			return simple("has words starting with "+q, "does not have words starting with "+q)
		case ExactValue:
			return simple("is "+q+ignoringCase, "is not "+q+ignoringCase)
		}
		m := fmt.Sprintf("matches %s in text mode %q", q, string(v.Mode))
		return simple(m, "does not match "+q+" in text mode "+strconv.Quote(string(v.Mode)))
	case *Term:
		if v == nil {
			break
		}
		switch len(v.Values) {
		case 0:
			return simple("is one of (no values)", "is not one of (no values)")
		case 1:
			return simple("is "+strconv.Quote(v.Values[0]), "is not "+strconv.Quote(v.Values[0]))
		}
		l := quoteJoin(v.Values)
		return simple("is one of "+l, "is none of "+l)
	case *Boolean:
		if v == nil {
			break
		}
		b := strconv.FormatBool(v.Value)
		return simple("is "+b, "is not "+b)
	case *NumberRange:
		if v == nil {
			break
		}
		var parts []string
		if v.GTE != nil && v.LTE != nil && *v.GTE == *v.LTE && v.GT == nil && v.LT == nil {
			parts = []string{"equal to " + numText(*v.GTE)}
		} else {
			if v.GT != nil {
				parts = append(parts, "more than "+numText(*v.GT))
			}
			if v.GTE != nil {
				parts = append(parts, "at least "+numText(*v.GTE))
			}
			if v.LT != nil {
				parts = append(parts, "less than "+numText(*v.LT))
			}
			if v.LTE != nil {
				parts = append(parts, "at most "+numText(*v.LTE))
			}
		}
		return rangePhrase(parts, "any number")
	case *Reference:
		if v == nil {
			break
		}
		sing, plur := refNouns(v.ReferenceType)
		if len(v.ObjectIDs) == 1 {
			id := v.ObjectIDs[0]
			if id == "CURRENT_USER" {
				return simple("is the current user", "is not the current user")
			}
			return simple("is "+sing+" "+d.refIDText(v.ReferenceType, id), "is not "+sing+" "+d.refIDText(v.ReferenceType, id))
		}
		ids := make([]string, len(v.ObjectIDs))
		for i, id := range v.ObjectIDs {
			if id == "CURRENT_USER" {
				ids[i] = "the current user"
			} else {
				ids[i] = d.refIDText(v.ReferenceType, id)
			}
		}
		l := strings.Join(ids, ", ")
		return simple("is one of "+plur+" "+l, "is none of "+plur+" "+l)
	case *CurrentUser:
		if v == nil {
			break
		}
		return simple("is the current user", "is not the current user")
	case *Exists:
		if v == nil {
			break
		}
		return simple("is set", "is not set")
	case *MomentRange:
		if v == nil {
			break
		}
		if last, ok := lastPeriod(v); ok {
			return simple("is in the last "+last, "is not in the last "+last)
		}
		var parts []string
		if v.OnOrAfter != nil {
			parts = append(parts, "on or after "+momentText(v.OnOrAfter))
		}
		if v.Before != nil {
			parts = append(parts, "before "+momentText(v.Before))
		}
		return rangePhrase(parts, "any date")
	case *UnknownCondition:
		if v == nil {
			break
		}
		u := fmt.Sprintf("[unrecognised condition %q]", v.Type)
		return simple("matches "+u, "does not match "+u)
	}
	return simple("matches [missing condition]", "does not match [missing condition]")
}

// lastPeriod reads the range Close's UI sends for "in the last N days"
// (from the start of the day N days ago, up to now or open-ended) the way
// a person says it, keeping the exact start in brackets.
func lastPeriod(v *MomentRange) (string, bool) {
	o, ok := v.OnOrAfter.(*Offset)
	if !ok || o == nil || o.Direction != "past" || o.WhichDayEnd != Start {
		return "", false
	}
	if _, fromNow := o.Moment.(*Now); !fromNow {
		return "", false
	}
	if _, toNow := v.Before.(*Now); v.Before != nil && !toNow {
		return "", false
	}
	amount := durationText(o.Offset)
	if amount == "" {
		return "", false
	}
	return amount + " (since " + offsetText(o) + ")", true
}

func rangePhrase(parts []string, none string) phrase {
	switch len(parts) {
	case 0:
		return simple("is "+none, "is not "+none)
	case 1:
		return simple("is "+parts[0], "is not "+parts[0])
	}
	in := strings.Join(parts, " and ")
	return simple("is "+in, "is not ("+in+")")
}

func quoteJoin(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}

func numText(f float64) string {
	if f != 0 && (f >= 1e21 || f <= -1e21 || (f < 1e-6 && f > -1e-6)) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

var (
	identRE = regexp.MustCompile(`^[A-Za-z0-9_.\-]{1,100}$`)
	dateRE  = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
	instRE  = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9:.]+([Zz]|[+\-][0-9]{2}:?[0-9]{2})?$`)
)

// ident shows a name from the query bare when it is a plain identifier,
// quoted otherwise. Underscores stay: turning an unknown name into words
// would let a crafted name read as a sentence.
func ident(s string) string {
	if identRE.MatchString(s) {
		return s
	}
	return strconv.Quote(s)
}

// objectNouns: singular and plural for the object types of docs/close-api.md
// §3.7 (some are observed only).
var objectNouns = map[string][2]string{
	"lead":                     {"lead", "leads"},
	"contact":                  {"contact", "contacts"},
	"opportunity":              {"opportunity", "opportunities"},
	"custom_object":            {"custom object", "custom objects"},
	"contact_email":            {"email address", "email addresses"},
	"contact_phone":            {"phone number", "phone numbers"},
	"contact_url":              {"URL", "URLs"},
	"address":                  {"address", "addresses"},
	"activity.call":            {"call", "calls"},
	"activity.email":           {"email", "emails"},
	"activity.meeting":         {"meeting", "meetings"},
	"activity.note":            {"note", "notes"},
	"activity.sms":             {"SMS message", "SMS messages"},
	"activity.custom_activity": {"custom activity", "custom activities"},
	"sequence_subscription":    {"sequence subscription", "sequence subscriptions"},
	"task":                     {"task", "tasks"},
	"user":                     {"user", "users"},
}

func singular(t string) string {
	if n, ok := objectNouns[t]; ok {
		return n[0]
	}
	if identRE.MatchString(t) {
		return t + " object"
	}
	return "object of type " + strconv.Quote(t)
}

func plural(t string) string {
	if n, ok := objectNouns[t]; ok {
		return n[1]
	}
	if identRE.MatchString(t) {
		return t + " objects"
	}
	return "objects of type " + strconv.Quote(t)
}

func withArticle(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case 'a', 'e', 'i', 'o', 'u':
		return "an " + s
	}
	if strings.HasPrefix(s, "SMS") {
		return "an " + s
	}
	return "a " + s
}

// fieldNames humanises the regular fields a person is likely to meet
// (docs/close-api.md §8.3 and the real queries); others show as identifiers.
var fieldNames = map[string]string{
	"date_created":                 "created date",
	"date_updated":                 "updated date",
	"created_by":                   "creator",
	"updated_by":                   "last editor",
	"status_id":                    "status",
	"status_label":                 "status label",
	"status_type":                  "status type",
	"status":                       "status",
	"display_name":                 "display name",
	"name":                         "name",
	"description":                  "description",
	"title":                        "title",
	"url":                          "URL",
	"email":                        "email address",
	"phone":                        "phone number",
	"type":                         "type",
	"user_id":                      "user",
	"lead_id":                      "lead",
	"contact_id":                   "contact",
	"sequence_id":                  "sequence",
	"custom_object_type_id":        "custom object type",
	"custom_activity_type_id":      "custom activity type",
	"value":                        "value",
	"note":                         "note",
	"date_won":                     "won date",
	"date_lost":                    "lost date",
	"last_communication_date":      "last communication date",
	"last_lead_status_change_date": "last status change date",
	"num_opportunities":            "number of opportunities",
	"num_won_opportunities":        "number of won opportunities",
	"num_tasks":                    "number of tasks",
	"num_notes":                    "number of notes",
	"num_emails":                   "number of emails",
	"num_calls":                    "number of calls",
	"num_contacts":                 "number of contacts",
	"addresses_count":              "number of addresses",
	"all_urls_count":               "number of URLs",
	"emails_count":                 "number of email addresses",
	"phones_count":                 "number of phone numbers",
	"urls_count":                   "number of URLs",
	"times_communicated":           "number of times communicated",
}

var cfRE = regexp.MustCompile(`^cf_[A-Za-z0-9]+$`)

// fieldLabel names a field; a regular field of another object than ctx
// gets that object's name in front ("contact's title").
func (d describer) fieldLabel(f Field, ctx string) string {
	switch v := f.(type) {
	case *RegularField:
		if v == nil {
			break
		}
		name, ok := fieldNames[v.FieldName]
		if !ok {
			name = ident(v.FieldName)
		}
		if ctx != "" && v.ObjectType != ctx {
			return singular(v.ObjectType) + "'s " + name
		}
		return name
	case *CustomField:
		if v == nil {
			break
		}
		shown := strconv.Quote(v.CustomFieldID)
		if cfRE.MatchString(v.CustomFieldID) {
			shown = v.CustomFieldID
		}
		return "custom field " + d.named(v.CustomFieldID, shown)
	case *UnknownField:
		if v == nil {
			break
		}
		return fmt.Sprintf("[unrecognised field %q]", v.Type)
	}
	return "[missing field]"
}

// refNouns: what kind of id a reference condition holds.
var refKinds = map[string][2]string{
	"user":               {"user", "users"},
	"group":              {"group", "groups"},
	"user_or_group":      {"user or group", "users or groups"},
	"status.lead":        {"lead status", "lead statuses"},
	"status.opportunity": {"opportunity status", "opportunity statuses"},
	"sequence":           {"sequence", "sequences"},
	"lead":               {"lead", "leads"},
	"contact":            {"contact", "contacts"},
	"opportunity":        {"opportunity", "opportunities"},
}

func refNouns(t string) (string, string) {
	if k, ok := refKinds[t]; ok {
		return k[0], k[1]
	}
	return "id of type " + ident(t), "ids of type " + ident(t)
}

// periodNames: start_end_of_predefined_relative_period ranges. Only
// "today" is observed; the others are inferred names.
var periodNames = map[string]string{
	"today": "today", "yesterday": "yesterday", "tomorrow": "tomorrow",
	"this_week": "this week", "last_week": "last week", "next_week": "next week",
	"this_month": "this month", "last_month": "last month", "next_month": "next month",
	"this_quarter": "this quarter", "last_quarter": "last quarter", "next_quarter": "next quarter",
	"this_year": "this year", "last_year": "last year", "next_year": "next year",
}

func momentText(m Moment) string {
	switch v := m.(type) {
	case *Now:
		if v != nil {
			return "now"
		}
	case *FixedUTC:
		if v != nil {
			if instRE.MatchString(v.Value) {
				return v.Value
			}
			return strconv.Quote(v.Value)
		}
	case *FixedLocalDate:
		if v != nil {
			d := v.Value
			if !dateRE.MatchString(d) {
				d = strconv.Quote(d)
			}
			return startEnd(v.Which, d, d)
		}
	case *Offset:
		if v != nil {
			return offsetText(v)
		}
	case *PredefinedPeriod:
		if v != nil {
			name, ok := periodNames[v.Range]
			if !ok {
				name = "the period " + strconv.Quote(v.Range)
			}
			return startEnd(v.Which, "the start of "+name, name)
		}
	case *UnknownMoment:
		if v != nil {
			return fmt.Sprintf("[unrecognised moment %q]", v.Type)
		}
	}
	return "[missing moment]"
}

// startEnd renders a start-or-end moment: start is how the start reads
// (a bare date already means its start), x is what "the end of" applies to.
func startEnd(w Which, start, x string) string {
	switch w {
	case Start:
		return start
	case End:
		return "the end of " + x
	}
	return fmt.Sprintf("%s (which %q)", x, string(w))
}

func offsetText(v *Offset) string {
	amount := durationText(v.Offset)
	_, fromNow := v.Moment.(*Now)
	base := momentText(v.Moment)
	var t string
	switch {
	case amount == "" && fromNow:
		t = "today"
	case amount == "":
		t = "the day of " + base
	case v.Direction == "past" && fromNow:
		t = "the day " + amount + " ago"
	case v.Direction == "future" && fromNow:
		t = "the day " + amount + " from now"
	case v.Direction == "past":
		t = "the day " + amount + " before " + base
	case v.Direction == "future":
		t = "the day " + amount + " after " + base
	default:
		t = fmt.Sprintf("the day %s in direction %q from %s", amount, v.Direction, base)
	}
	switch v.WhichDayEnd {
	case Start:
		return "the start of " + t
	case End:
		return "the end of " + t
	}
	return fmt.Sprintf("%s (which_day_end %q)", t, string(v.WhichDayEnd))
}

func durationText(d Duration) string {
	units := []struct {
		n    int
		name string
	}{{d.Years, "year"}, {d.Months, "month"}, {d.Weeks, "week"}, {d.Days, "day"}, {d.Hours, "hour"}, {d.Minutes, "minute"}, {d.Seconds, "second"}}
	var parts []string
	for _, u := range units {
		if u.n == 0 {
			continue
		}
		s := strconv.Itoa(u.n) + " " + u.name
		if u.n != 1 {
			s += "s"
		}
		parts = append(parts, s)
	}
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// DescribeSort renders sort specs, e.g. "newest created first" or
// "by name ascending, then oldest won first".
func DescribeSort(s []Sort) string {
	var d describer
	if len(s) == 0 {
		return "Close's default order"
	}
	parts := make([]string, len(s))
	for i, sp := range s {
		parts[i] = d.sortText(sp)
	}
	return strings.Join(parts, ", then ")
}

func (d describer) sortText(sp Sort) string {
	label := d.fieldLabel(sp.Field, "")
	isDate := false
	if rf, ok := sp.Field.(*RegularField); ok && rf != nil {
		if n, known := fieldNames[rf.FieldName]; known && strings.HasSuffix(n, " date") {
			isDate = true
			label = strings.TrimSuffix(n, " date")
		} else if !known && strings.Contains(rf.FieldName, "date") {
			isDate = true
		}
	}
	switch {
	case isDate && sp.Direction == "desc":
		return "newest " + label + " first"
	case isDate && sp.Direction == "asc":
		return "oldest " + label + " first"
	case sp.Direction == "asc":
		return "by " + label + " ascending"
	case sp.Direction == "desc":
		return "by " + label + " descending"
	}
	return fmt.Sprintf("by %s in direction %q", label, sp.Direction)
}

// v3 makes a "that <verb>" phrase agree with its subject: plural for the
// root's objects ("leads that have"), singular inside has_related ("a
// contact that has").
func v3(one bool, pluralForm string) string {
	if !one {
		return pluralForm
	}
	switch pluralForm {
	case "that are":
		return "that is"
	case "that have":
		return "that has"
	case "that do":
		return "that does"
	case "that match":
		return "that matches"
	}
	return pluralForm
}

// nounFor names objects of type t as one ("a contact") or many ("contacts").
func nounFor(one bool, t string) string {
	if one {
		return withArticle(singular(t))
	}
	return plural(t)
}
