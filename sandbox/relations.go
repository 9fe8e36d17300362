package sandbox

import (
	"strings"

	"github.com/bulkguard/bulkguard/schema"
)

// fieldAliases are other names of a stored field [INF: a task's due date
// is "date" on the task object; filters have been seen with due_date].
var fieldAliases = map[uni]map[string]string{
	uTask: {"due_date": "date"},
}

// regularField resolves a built-in field of kind u: a stored column, an
// alias of one, or a lead roll-up. last_communication_date is a roll-up
// over the stored value (kept from an export) and the lead's activities.
func (e *evaluator) regularField(u uni, name, ptr string) (*column, error) {
	t := e.st.t[u]
	if a, ok := fieldAliases[u][name]; ok {
		name = a
	}
	if c, ok := e.st.derivedCol(u, name); ok {
		return c, nil
	}
	if c := t.cols[name]; c != nil && c.cf == nil {
		return c, nil
	}
	return nil, unsup(ptr, "unknown field %s.%s (the sandbox does not model it)", uniName[u], name)
}

// customField resolves a custom field of kind u by id: cf_…, lcf_… or
// without a prefix (normalizeCFID).
func (e *evaluator) customField(id string, u uni, ptr string) (*column, error) {
	nid := normalizeCFID(id)
	if c := e.st.t[u].cols["custom."+nid]; c != nil {
		return c, nil
	}
	if cf := e.st.cfByID[nid]; cf != nil {
		return nil, qerr(ptr, "custom field %q (%s) is not a %s field", cf.Name, cf.ID, uniName[u])
	}
	return nil, qerr(ptr, "unknown custom field %s", id)
}

func anyPart(s string, want []string) bool {
	for _, p := range strings.Split(s, multiSep) {
		for _, w := range want {
			if p == w {
				return true
			}
		}
	}
	return false
}

// refLink finds a column of kind from that holds ids of kind to (an
// opportunity's or activity's contact_id), or nil.
func (st *store) refLink(from, to uni) *column {
	for _, c := range st.t[from].order {
		if c.kind == kRef && c.refType == uniName[to] && c.cf == nil {
			return c
		}
	}
	return nil
}

// hasRelated matches objects of kind u with at least one related object
// matching the related query. Kinds are related through ownership (a lead
// and everything it owns, in both directions, at any depth) or through a
// reference (an opportunity's or activity's contact_id).
func (e *evaluator) hasRelated(h *schema.HasRelated, u uni, ptr string) (bitset, error) {
	this, ok := uniByName(h.ThisObjectType)
	if !ok || this != u {
		return nil, qerr(ptr+"/this_object_type", "this_object_type %q does not match the objects filtered here (%s)", h.ThisObjectType, uniName[u])
	}
	rel, ok := uniByName(h.RelatedObjectType)
	if !ok {
		return nil, unsup(ptr+"/related_object_type", "related_object_type %q is not supported by the sandbox (it models %s)", h.RelatedObjectType, strings.Join(uniName[:], ", "))
	}
	tree := rel != u && (isAncestor(rel, u) || isAncestor(u, rel))
	var fwd, back *column // rel's column naming u objects; u's column naming rel objects
	if !tree && rel != u {
		fwd, back = e.st.refLink(rel, u), e.st.refLink(u, rel)
	}
	if !tree && fwd == nil && back == nil {
		return nil, unsup(ptr+"/related_object_type", "%s objects have no related %s objects in the sandbox", uniName[u], uniName[rel])
	}
	sub, err := e.node(h.RelatedQuery, rel, ptr+"/related_query")
	if err != nil {
		return nil, err
	}
	r := e.empty(u)
	switch {
	case tree && isAncestor(u, rel):
		return e.lift(sub, rel, u), nil
	case tree:
		e.visible(u).forEach(func(i int) {
			if sub.has(e.st.ancestor(u, i, rel)) {
				r.set(i)
			}
		})
	case fwd != nil:
		byID := e.st.t[u].byID
		sub.forEach(func(j int) {
			if i, ok := byID[fwd.str[j]]; ok {
				r.set(int(i))
			}
		})
	default:
		byID := e.st.t[rel].byID
		e.visible(u).forEach(func(i int) {
			if j, ok := byID[back.str[i]]; ok && sub.has(int(j)) {
				r.set(i)
			}
		})
	}
	return r, nil
}
