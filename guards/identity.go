package guards

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/schema"
)

// Identity: a plan remembers which objects the person was shown, and create
// checks that the delete would take those and no others. A count alone
// cannot tell "the same 3 leads" from "3 other leads": a query with a
// relative moment (now, an offset, today) or a search index that lags
// writes can swap the matches between preview and create while the count
// stays put (issue 11).

// packIDs stores an id set compactly: sorted, comma-separated, one string
// (one allocation and no per-id header, in memory and in a shared plan
// store). ok is false when an id is empty or holds a comma, which no Close
// id does; such a set is not stored and the plan falls back to its sample.
func packIDs(ids []string) (packed string, ok bool) {
	s := slices.Clone(ids)
	slices.Sort(s)
	for _, id := range s {
		if id == "" || strings.ContainsRune(id, ',') {
			return "", false
		}
	}
	return strings.Join(slices.Compact(s), ","), true
}

// unpackIDs is packIDs' inverse: the sorted ids.
func unpackIDs(packed string) []string {
	if packed == "" {
		return nil
	}
	return strings.Split(packed, ",")
}

// idsDigest names an id set in a line: sha256 of the packed form.
func idsDigest(packed string) string {
	sum := sha256.Sum256([]byte(packed))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// idDiff counts the ids of now that are not in was (added) and of was that
// are not in now (gone). was is sorted.
func idDiff(was, now []string) (added, gone int) {
	seen := make(map[string]bool, len(now))
	for _, id := range now {
		if seen[id] {
			continue
		}
		seen[id] = true
		if _, found := slices.BinarySearch(was, id); !found {
			added++
		}
	}
	for _, id := range was {
		if !seen[id] {
			gone++
		}
	}
	return added, gone
}

// verifyIdentity compares what the delete would take now (m, read with the
// plan's query, sort and the results_limit to be sent) with what the plan
// showed. A plan with its whole id set may delete a subset of it (objects
// deleted or changed by someone else meanwhile are simply not taken) but
// never an id the person was not shown. A plan above the bound keeps only
// its sample, which must still be among the first objects the delete takes.
// It returns how many ids were checked.
func verifyIdentity(plan *Plan, m *closeapi.Matches) (int, *Refusal) {
	if plan.IDs != "" {
		was := unpackIDs(plan.IDs)
		if !m.Complete {
			return 0, &Refusal{Code: CodeIdentityChanged,
				Problem: fmt.Sprintf("the %s the delete would take now could not be read in full (Close's search returned %d of %d), so it cannot be checked that they are the %d previewed", plural(m.Count.Total, plan.ObjectType), len(m.IDs), m.Count.Total, len(was)),
				Next:    nextPreviewAgain}
		}
		added, gone := idDiff(was, m.IDs)
		if added > 0 {
			return 0, &Refusal{Code: CodeIdentityChanged,
				Problem: fmt.Sprintf("the delete would now take %d %s that the person was not shown (%d of the %d previewed no longer match): the matches changed since the preview (a relative date such as now or today, or Close's search index catching up)", added, pluralWord(added, plan.ObjectType), gone, len(was)),
				Next:    nextPreviewAgain}
		}
		return len(m.IDs), nil
	}
	first := make(map[string]bool, len(m.IDs))
	for _, id := range m.IDs {
		first[id] = true
	}
	missing := 0
	for _, id := range plan.SampleIDs {
		if !first[id] {
			missing++
		}
	}
	if missing > 0 {
		return 0, &Refusal{Code: CodeIdentityChanged,
			Problem: fmt.Sprintf("%d of the %d sampled %s are no longer among the first %d the delete would take: the matches changed since the preview", missing, len(plan.SampleIDs), pluralWord(len(plan.SampleIDs), plan.ObjectType), len(m.IDs)),
			Next:    nextPreviewAgain}
	}
	return len(plan.SampleIDs), nil
}

// pluralWord is plural without the number.
func pluralWord(n int, t string) string {
	if n == 1 {
		return t
	}
	return t + "s"
}

// relativeMoments reports whether a date condition of n is relative to
// the moment it is evaluated (now, an offset from now, a named period such
// as today), or of a kind bulkguard does not know (which may be).
func relativeMoments(n schema.Node) bool {
	found := false
	schema.Walk(n, func(_ string, n schema.Node) bool {
		if fc, ok := n.(*schema.FieldCondition); ok {
			if r, ok := fc.Condition.(*schema.MomentRange); ok && (isRelative(r.OnOrAfter) || isRelative(r.Before)) {
				found = true
			}
		}
		return !found
	})
	return found
}

func isRelative(m schema.Moment) bool {
	switch v := m.(type) {
	case nil, *schema.FixedUTC, *schema.FixedLocalDate:
		return false
	case *schema.Offset:
		return isRelative(v.Moment)
	}
	return true
}

// orgTotalTTL is how long a count of every object of a type is reused for
// one principal: previews in one conversation come seconds apart, and the
// count only has to be close enough to tell "everything" from "a part";
// a create by this guard drops it at once.
const orgTotalTTL = 30 * time.Second

// maxOrgTotals bounds the cache (one entry per principal and type).
const maxOrgTotals = 1024

type orgTotalCache struct {
	mu      sync.Mutex
	entries map[string]orgTotalEntry
}

type orgTotalEntry struct {
	total   int
	fetched time.Time
}

// orgTotal counts every object of objectType the principal can see (one
// Close request, cached for orgTotalTTL unless fresh is set). cached says
// the answer came from the cache.
func (g *Guard) orgTotal(ctx context.Context, cl *closeapi.Client, objectType string, fresh bool) (total int, cached bool, err error) {
	key := cl.Principal() + "|" + objectType
	now := g.now()
	c := &g.orgTotals
	if !fresh {
		c.mu.Lock()
		e, ok := c.entries[key]
		c.mu.Unlock()
		if ok && now.Sub(e.fetched) < orgTotalTTL && !now.Before(e.fetched) {
			return e.total, true, nil
		}
	}
	q, err := schema.Encode(&schema.ObjectType{ObjectType: objectType})
	if err != nil {
		return 0, false, err
	}
	cnt, err := cl.Count(ctx, q, nil)
	if err != nil {
		return 0, false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]orgTotalEntry{}
	}
	for k, e := range c.entries {
		if now.Sub(e.fetched) >= orgTotalTTL {
			delete(c.entries, k)
		}
	}
	if len(c.entries) >= maxOrgTotals {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[key] = orgTotalEntry{total: cnt.Total, fetched: now}
	return cnt.Total, false, nil
}

// forgetOrgTotals drops the principal's cached totals: after a delete they
// are too high, and a stale total would let a query that now matches
// everything look like a part.
func (g *Guard) forgetOrgTotals(principal string) {
	c := &g.orgTotals
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if strings.HasPrefix(k, principal+"|") {
			delete(c.entries, k)
		}
	}
}

// shareText says how much of the organization a delete takes, e.g.
// "300 of 300 leads: every lead in the organization" or "3 of 300 leads (1%)".
func shareText(will, orgTotal int, objectType string) string {
	if orgTotal <= 0 {
		return fmt.Sprintf("%d of 0 %ss", will, objectType)
	}
	if will >= orgTotal {
		return fmt.Sprintf("%d of %s: every %s in the organization", will, plural(orgTotal, objectType), objectType)
	}
	pct := float64(will) * 100 / float64(orgTotal)
	p := fmt.Sprintf("%.0f%%", pct)
	if pct < 1 && will > 0 {
		p = "under 1%"
	}
	return fmt.Sprintf("%d of %s (%s)", will, plural(orgTotal, objectType), p)
}
