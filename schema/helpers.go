package schema

import "strconv"

// conjuncts lists what a non-negated And requires, looking through nested
// non-negated Ands (an and inside an and adds no meaning of its own). Any
// other node is its own single conjunct.
func conjuncts(n Node) []Node {
	a, ok := n.(*And)
	if !ok || isNil(n) || a.Negate {
		return []Node{n}
	}
	var out []Node
	for _, q := range a.Queries {
		out = append(out, conjuncts(q)...)
	}
	return out
}

// ObjectTypeOf returns the object type a query selects: the value of a
// non-negated object_type clause at the root, or among the conjuncts of a
// non-negated root and (nested non-negated ands included, as in Copy
// Filters output that repeats the clause). ok is false when there is none,
// when the root is negated, and when clauses disagree (such a query matches
// nothing, and naming one of its types would mislead a policy check).
func ObjectTypeOf(n Node) (string, bool) {
	if isNil(n) || n.Negated() {
		return "", false
	}
	found := ""
	for _, c := range conjuncts(n) {
		ot, ok := c.(*ObjectType)
		if !ok || isNil(c) || ot.Negate {
			continue
		}
		if found != "" && found != ot.ObjectType {
			return "", false
		}
		found = ot.ObjectType
	}
	return found, found != ""
}

// MatchesEverything reports whether a query puts no real limit on which
// objects of its type match, so that a delete with it would take every
// lead (or contact). It is a syntactic check that errs towards true:
//   - match_all, an empty and, a lone object_type;
//   - an and whose members are all unfiltered (object_type clauses,
//     negated ones included, match_all, empty ands);
//   - an or with any unfiltered member, or with no members (Close's
//     behaviour for an empty or is unknown);
//   - any negated root (it matches everything except something, which is
//     rarely what a person means by a delete);
//   - a negation of something that matches nothing (not match_all inside
//     an and, not has_related(… that matches nothing)).
//
// Unknown nodes count as filters: their meaning is unknown, and they are
// reported separately through Request.Unrecognised.
func MatchesEverything(n Node) bool {
	if isNil(n) {
		return true
	}
	if n.Negated() {
		return true
	}
	return unfiltered(n)
}

// unfiltered: n (with its own negate applied) matches every object of the
// query's type, as far as syntax shows.
func unfiltered(n Node) bool {
	if isNil(n) {
		return true
	}
	if n.Negated() {
		if _, ok := n.(*ObjectType); ok {
			// "not contacts" restricts only by type.
			return true
		}
		return matchesNothingPositive(n)
	}
	return unfilteredPositive(n)
}

func unfilteredPositive(n Node) bool {
	switch v := n.(type) {
	case *MatchAll, *ObjectType:
		return true
	case *And:
		for _, q := range v.Queries {
			if !unfiltered(q) {
				return false
			}
		}
		return true
	case *Or:
		if len(v.Queries) == 0 {
			return true
		}
		for _, q := range v.Queries {
			if unfiltered(q) {
				return true
			}
		}
	}
	return false
}

// matchesNothing: n (with its own negate applied) matches no object.
func matchesNothing(n Node) bool {
	if isNil(n) {
		return false
	}
	if n.Negated() {
		return unfilteredPositive(n)
	}
	return matchesNothingPositive(n)
}

// matchesNothingPositive: n, ignoring its own negate, matches no object.
// Uncertain cases say true, because its callers negate the answer into
// "matches everything", where true is the cautious side.
func matchesNothingPositive(n Node) bool {
	switch v := n.(type) {
	case *And:
		for _, q := range v.Queries {
			if matchesNothing(q) {
				return true
			}
		}
	case *Or:
		for _, q := range v.Queries {
			if !matchesNothing(q) {
				return false
			}
		}
		return true
	case *HasRelated:
		return matchesNothing(v.RelatedQuery)
	}
	return false
}

// Walk visits n and every query node below it in pre-order (the children
// of and/or, the related_query of has_related). pointer is the node's JSON
// pointer relative to the query root ("" for the root). When fn returns
// false Walk does not descend into that node's children.
func Walk(n Node, fn func(pointer string, n Node) bool) {
	walk("", n, fn)
}

func walk(ptr string, n Node, fn func(string, Node) bool) {
	if isNil(n) || !fn(ptr, n) {
		return
	}
	switch v := n.(type) {
	case *And:
		for i, q := range v.Queries {
			walk(ptr+"/queries/"+strconv.Itoa(i), q, fn)
		}
	case *Or:
		for i, q := range v.Queries {
			walk(ptr+"/queries/"+strconv.Itoa(i), q, fn)
		}
	case *HasRelated:
		walk(ptr+"/related_query", v.RelatedQuery, fn)
	}
}

// isNil reports a nil Node, including a typed nil pointer (which a
// hand-built tree may hold; calling its methods would panic).
func isNil(n Node) bool {
	switch v := n.(type) {
	case nil:
		return true
	case *And:
		return v == nil
	case *Or:
		return v == nil
	case *ObjectType:
		return v == nil
	case *ID:
		return v == nil
	case *Text:
		return v == nil
	case *FieldCondition:
		return v == nil
	case *HasRelated:
		return v == nil
	case *SavedSearch:
		return v == nil
	case *MatchAll:
		return v == nil
	case *UnknownNode:
		return v == nil
	}
	return false
}
