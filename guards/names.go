package guards

import (
	"context"
	"fmt"
	"slices"
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

// Kinds of id a query can refer to, each listed by one Close lookup. They
// are also the kinds of the lookup_close_ids tool.
const (
	LookupLeadStatuses = "lead_statuses"
	LookupCustomFields = "custom_fields"
	LookupSmartViews   = "smart_views"
	LookupUsers        = "users"
)

var lookupKinds = []string{LookupLeadStatuses, LookupCustomFields, LookupSmartViews, LookupUsers}

// LookupKinds returns the kinds Lookup accepts (a copy).
func LookupKinds() []string { return slices.Clone(lookupKinds) }

// LookupItem is one id Close knows, with what a person calls it.
type LookupItem struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Type    string   `json:"type,omitempty"`
	Choices []string `json:"choices,omitempty"`
	Email   string   `json:"email,omitempty"`
}

// nameCache holds, per principal and kind, the items of one lookup, for
// namesTTL and at most maxNameEntries of them.
type nameCache struct {
	mu      sync.Mutex
	entries *timedMap[[]LookupItem] // principal + "|" + kind
}

// Lookup lists the ids of one kind (one Close request, always fresh, since
// the caller is about to write a query with them) and keeps the answer for
// the summaries of later previews, so a lookup followed by a preview asks
// Close once. Errors are Close's, unwrapped: a read changes nothing.
func (g *Guard) Lookup(ctx context.Context, cl *closeapi.Client, kind string) ([]LookupItem, error) {
	var items []LookupItem
	switch kind {
	case LookupLeadStatuses:
		list, err := cl.LeadStatuses(ctx)
		if err != nil {
			return nil, err
		}
		for _, s := range list {
			items = append(items, LookupItem{ID: s.ID, Name: s.Label})
		}
	case LookupCustomFields:
		list, err := cl.LeadCustomFields(ctx)
		if err != nil {
			return nil, err
		}
		for _, f := range list {
			items = append(items, LookupItem{ID: f.ID, Name: f.Name, Type: f.Type, Choices: f.Choices})
		}
	case LookupSmartViews:
		list, err := cl.SmartViews(ctx)
		if err != nil {
			return nil, err
		}
		for _, v := range list {
			items = append(items, LookupItem{ID: v.ID, Name: v.Name, Type: v.Type})
		}
	case LookupUsers:
		list, err := cl.Users(ctx)
		if err != nil {
			return nil, err
		}
		for _, u := range list {
			name := u.DisplayName
			if name == "" {
				name = strings.TrimSpace(u.FirstName + " " + u.LastName)
			}
			items = append(items, LookupItem{ID: u.ID, Name: name, Email: u.Email})
		}
	default:
		return nil, fmt.Errorf("guards: %q is not a kind of id (%s)", kind, strings.Join(lookupKinds, ", "))
	}
	g.names.mu.Lock()
	if g.names.entries == nil {
		g.names.entries = newTimedMap[[]LookupItem](namesTTL, maxNameEntries)
	}
	g.names.entries.put(cl.Principal()+"|"+kind, items, g.now())
	g.names.mu.Unlock()
	return slices.Clone(items), nil
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
		for _, it := range g.cachedLookup(ctx, cl, kind) {
			names[it.ID] = it.Name
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
			kinds[LookupSmartViews] = true
		case *schema.FieldCondition:
			if _, ok := v.Field.(*schema.CustomField); ok {
				kinds[LookupCustomFields] = true
			}
			if r, ok := v.Condition.(*schema.Reference); ok {
				for _, id := range r.ObjectIDs {
					switch {
					case strings.HasPrefix(id, "stat_"):
						kinds[LookupLeadStatuses] = true
					case strings.HasPrefix(id, "user_"):
						kinds[LookupUsers] = true
					}
				}
			}
		}
		return true
	})
	return kinds
}

// cachedLookup is Lookup's answer from the cache while it is younger than
// namesTTL; a failed lookup is nil and not cached.
func (g *Guard) cachedLookup(ctx context.Context, cl *closeapi.Client, kind string) []LookupItem {
	var items []LookupItem
	ok := false
	g.names.mu.Lock()
	if g.names.entries != nil {
		items, ok = g.names.entries.get(cl.Principal()+"|"+kind, g.now())
	}
	g.names.mu.Unlock()
	if ok {
		return items
	}
	items, err := g.Lookup(ctx, cl, kind)
	if err != nil {
		return nil
	}
	return items
}
