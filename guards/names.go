package guards

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/schema"
)

// namesTTL bounds how stale a cached name may be. Statuses, users, custom
// fields and Smart Views are renamed rarely, and a stale name only changes
// the words of a summary, never what is counted or deleted (the id beside
// it is what Close acts on).
const namesTTL = 5 * time.Minute

// Kinds of id a query can refer to, each named by one Close lookup.
const (
	kindStatuses     = "lead_statuses"
	kindUsers        = "users"
	kindCustomFields = "custom_fields"
	kindSmartViews   = "smart_views"
)

// nameCache holds, per principal and kind, the id → name map of one lookup.
type nameCache struct {
	mu      sync.Mutex
	entries map[string]nameEntry // principal + "|" + kind
}

type nameEntry struct {
	names   map[string]string
	fetched time.Time
}

// idNames names the ids the query refers to (lead statuses, users, custom
// fields, Smart Views), so the summary a person confirms reads "Bad Fit"
// rather than an opaque stat_… id. Only the lookups the query needs are
// made, each cached per credential for namesTTL. A lookup that fails leaves
// its ids unnamed: naming is a courtesy to the reader and never stands in
// the way of a preview.
func (g *Guard) idNames(ctx context.Context, cl *closeapi.Client, n schema.Node) map[string]string {
	kinds := referencedKinds(n)
	if len(kinds) == 0 {
		return nil
	}
	names := map[string]string{}
	for kind := range kinds {
		for id, name := range g.lookupNames(ctx, cl, kind) {
			names[id] = name
		}
	}
	return names
}

// referencedKinds lists which lookups would name the ids in n.
func referencedKinds(n schema.Node) map[string]bool {
	kinds := map[string]bool{}
	schema.Walk(n, func(_ string, node schema.Node) bool {
		switch v := node.(type) {
		case *schema.SavedSearch:
			kinds[kindSmartViews] = true
		case *schema.FieldCondition:
			if _, ok := v.Field.(*schema.CustomField); ok {
				kinds[kindCustomFields] = true
			}
			if r, ok := v.Condition.(*schema.Reference); ok {
				for _, id := range r.ObjectIDs {
					switch {
					case strings.HasPrefix(id, "stat_"):
						kinds[kindStatuses] = true
					case strings.HasPrefix(id, "user_"):
						kinds[kindUsers] = true
					}
				}
			}
		}
		return true
	})
	return kinds
}

func (g *Guard) lookupNames(ctx context.Context, cl *closeapi.Client, kind string) map[string]string {
	key := cl.Principal() + "|" + kind
	now := g.now()
	g.names.mu.Lock()
	e, ok := g.names.entries[key]
	g.names.mu.Unlock()
	if ok && now.Sub(e.fetched) < namesTTL {
		return e.names
	}
	names := map[string]string{}
	switch kind {
	case kindStatuses:
		list, err := cl.LeadStatuses(ctx)
		if err != nil {
			return nil
		}
		for _, s := range list {
			names[s.ID] = s.Label
		}
	case kindUsers:
		list, err := cl.Users(ctx)
		if err != nil {
			return nil
		}
		for _, u := range list {
			names[u.ID] = u.DisplayName
		}
	case kindCustomFields:
		list, err := cl.LeadCustomFields(ctx)
		if err != nil {
			return nil
		}
		for _, f := range list {
			names[f.ID] = f.Name
		}
	case kindSmartViews:
		list, err := cl.SmartViews(ctx)
		if err != nil {
			return nil
		}
		for _, v := range list {
			names[v.ID] = v.Name
		}
	}
	g.names.mu.Lock()
	if g.names.entries == nil {
		g.names.entries = map[string]nameEntry{}
	}
	g.names.entries[key] = nameEntry{names: names, fetched: now}
	g.names.mu.Unlock()
	return names
}
