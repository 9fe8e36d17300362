package closeapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
)

const searchPath = "/data/search/"

// maxSearchPage is the page size used when a sample needs several pages. Close documents no
// maximum _limit for /data/search/; 200 is what public code uses and what /lead/ allows
// (docs/close-api.md §2.4, [OBS]).
const maxSearchPage = 200

var objectTypePattern = regexp.MustCompile(`^[a-z][a-z_.]{0,63}$`)

// sampleFields are requested for every sampled object. "name" is asked for besides
// "display_name" because contact rows may come back without a display name; the sample then
// falls back to the name, then to the id.
var sampleFields = []string{"id", "display_name", "name"}

// sampleExtras are asked for, in the same request, so that the person can tell a sampled
// object apart from a namesake: a lead's status and creation date, a contact's creation date
// and the lead it belongs to (docs/close-api.md §8.1, §8.2). Other types get only
// sampleFields, since Close may refuse a field the type does not have.
var sampleExtras = map[string][]string{
	"lead":    {"status_label", "date_created"},
	"contact": {"lead_id", "date_created"},
}

// sampleFieldsFor is the _fields list of a sample of objectType.
func sampleFieldsFor(objectType string) []string {
	return append(slices.Clip(sampleFields), sampleExtras[objectType]...)
}

// Search runs one POST /data/search/ request. It only reads, so it is retried like a GET.
func (c *Client) Search(ctx context.Context, r SearchRequest) (*SearchResponse, error) {
	if err := checkJSONObject(r.Query, "query"); err != nil {
		return nil, fmt.Errorf("closeapi: POST %s: %w", searchPath, err)
	}
	r.Sort = nullToNil(r.Sort)
	if err := checkJSONArray(r.Sort, "sort"); err != nil {
		return nil, fmt.Errorf("closeapi: POST %s: %w", searchPath, err)
	}
	if r.ResultsLimit != nil && *r.ResultsLimit < 0 {
		return nil, fmt.Errorf("closeapi: POST %s: results_limit must not be negative", searchPath)
	}
	if r.Limit < 0 {
		return nil, fmt.Errorf("closeapi: POST %s: _limit must not be negative", searchPath)
	}
	var out SearchResponse
	if err := c.do(ctx, call{method: http.MethodPost, path: searchPath, body: r, retry: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Count asks Close how many objects match without fetching any: include_counts true and
// results_limit 0 (docs/close-api.md §2.3). Total is every match; Limited is 0 for such a call.
// The index lags writes by up to a minute, so a count right after a delete can be stale [OBS].
func (c *Client) Count(ctx context.Context, query, sort json.RawMessage) (Count, error) {
	zero := 0
	resp, err := c.Search(ctx, SearchRequest{Query: query, Sort: sort, ResultsLimit: &zero, IncludeCounts: true})
	if err != nil {
		return Count{}, err
	}
	if resp.Count == nil {
		return Count{}, errNoCount
	}
	return *resp.Count, nil
}

var errNoCount = errors.New("closeapi: POST " + searchPath + ": the answer has no count although include_counts was sent")

// Sample returns the first n matching objects (id and display name) in the order sort gives,
// which is the order a bulk delete with the same sort and results_limit n would pick them.
// objectType names the _fields key (lead or contact). n 0 returns nothing without a request.
func (c *Client) Sample(ctx context.Context, query, sort json.RawMessage, objectType string, n int) ([]SampleItem, error) {
	_, items, err := c.sample(ctx, query, sort, objectType, n, false)
	return items, err
}

// CountAndSample counts matches and fetches the first n in one request: include_counts true,
// results_limit n, _limit n and _fields {objectType: [id, display_name, name]}. With n 0 it is
// Count. The returned Count's Limited is min(total, n). Samples larger than one page
// (200) continue with the cursor.
func (c *Client) CountAndSample(ctx context.Context, query, sort json.RawMessage, objectType string, n int) (Count, []SampleItem, error) {
	if n == 0 {
		cnt, err := c.Count(ctx, query, sort)
		return cnt, nil, err
	}
	cnt, items, err := c.sample(ctx, query, sort, objectType, n, true)
	if err != nil {
		return Count{}, nil, err
	}
	return *cnt, items, nil
}

func (c *Client) sample(ctx context.Context, query, sort json.RawMessage, objectType string, n int, withCount bool) (*Count, []SampleItem, error) {
	if n < 0 {
		return nil, nil, fmt.Errorf("closeapi: POST %s: sample size must not be negative", searchPath)
	}
	if !objectTypePattern.MatchString(objectType) {
		return nil, nil, fmt.Errorf("closeapi: POST %s: object type must be a Close object type such as lead or contact", searchPath)
	}
	if n == 0 {
		return nil, []SampleItem{}, nil
	}
	limit := n
	req := SearchRequest{
		Query:         query,
		Sort:          sort,
		ResultsLimit:  &limit,
		Limit:         min(n, maxSearchPage),
		IncludeCounts: withCount,
		Fields:        map[string][]string{objectType: sampleFieldsFor(objectType)},
	}
	var cnt *Count
	items := make([]SampleItem, 0, min(n, maxSearchPage))
	for {
		resp, err := c.Search(ctx, req)
		if err != nil {
			return nil, nil, err
		}
		if withCount && cnt == nil {
			if resp.Count == nil {
				return nil, nil, errNoCount
			}
			cnt = resp.Count
		}
		for _, row := range resp.Data {
			if it, ok := sampleItem(row); ok && len(items) < n {
				items = append(items, it)
			}
		}
		// Stop on the last page, when enough were collected, or on an empty page (a server
		// that keeps returning a cursor without rows would otherwise loop forever).
		if len(items) >= n || resp.Cursor == nil || *resp.Cursor == "" || len(resp.Data) == 0 {
			return cnt, items, nil
		}
		req.Cursor = resp.Cursor
		req.IncludeCounts = false
		req.Limit = min(n-len(items), maxSearchPage)
	}
}

// sampleItem reads one search row: display_name, else name, else the id as the label.
func sampleItem(row map[string]any) (SampleItem, bool) {
	id, _ := row["id"].(string)
	if id == "" {
		return SampleItem{}, false
	}
	it := SampleItem{ID: id, DisplayName: id}
	for _, k := range []string{"name", "display_name"} {
		if s, ok := row[k].(string); ok && s != "" {
			it.DisplayName = s
		}
	}
	it.Status, _ = row["status_label"].(string)
	it.DateCreated, _ = row["date_created"].(string)
	it.LeadID, _ = row["lead_id"].(string)
	return it, true
}

// MaxIDWalk is the most ids one cursor walk of /data/search/ returns (docs/close-api.md §2.4):
// a delete's whole id set can be read in one walk only up to this size.
const MaxIDWalk = 10_000

// MatchRequest asks which objects a bulk delete with Query, Sort and ResultsLimit would take.
type MatchRequest struct {
	Query, Sort  json.RawMessage
	ObjectType   string
	ResultsLimit *int
	// Sample is how many of the first matches to return with their names (0 = none).
	Sample int
	// AllIDsUpTo: when the delete would take at most this many objects, every id it would take
	// is returned, in order, following the cursor page by page. At most MaxIDWalk; 0 = never.
	AllIDsUpTo int
}

// Matches is what a MatchRequest found.
type Matches struct {
	Count Count
	// Sample holds the first Sample matches (with names), in the delete's order.
	Sample []SampleItem
	// IDs are the ids a delete with the same query, sort and results_limit would take, in
	// order, when it would take at most AllIDsUpTo; else only the first page's ids. Complete
	// says which.
	IDs      []string
	Complete bool
}

// Matches counts the matches and lists the objects a delete would take in as few requests as
// the answer allows: the first page carries the count (include_counts) with the delete's own
// query, sort and results_limit, and the walk continues by cursor only when every id is wanted.
// A walk that ends before the count says (the index moving under it) leaves Complete false.
func (c *Client) Matches(ctx context.Context, r MatchRequest) (*Matches, error) {
	if !objectTypePattern.MatchString(r.ObjectType) {
		return nil, fmt.Errorf("closeapi: POST %s: object type must be a Close object type such as lead or contact", searchPath)
	}
	if r.Sample < 0 || r.AllIDsUpTo < 0 || r.AllIDsUpTo > MaxIDWalk {
		return nil, fmt.Errorf("closeapi: POST %s: sample must not be negative and all-ids bound must be between 0 and %d", searchPath, MaxIDWalk)
	}
	fields := []string{"id"}
	if r.Sample > 0 {
		fields = sampleFieldsFor(r.ObjectType)
	}
	// A page as large as Close serves, unless only a small sample is wanted.
	page := maxSearchPage
	if r.AllIDsUpTo == 0 && r.Sample > 0 {
		page = min(r.Sample, maxSearchPage)
	}
	req := SearchRequest{
		Query:         r.Query,
		Sort:          r.Sort,
		ResultsLimit:  r.ResultsLimit,
		Limit:         page,
		IncludeCounts: true,
		Fields:        map[string][]string{r.ObjectType: fields},
	}
	out := &Matches{Sample: []SampleItem{}}
	want := -1 // ids to collect; known after the first page
	for {
		resp, err := c.Search(ctx, req)
		if err != nil {
			return nil, err
		}
		if want < 0 {
			if resp.Count == nil {
				return nil, errNoCount
			}
			out.Count = *resp.Count
			will := out.Count.Total
			if r.ResultsLimit != nil && *r.ResultsLimit < will {
				will = *r.ResultsLimit
			}
			out.Complete = will <= r.AllIDsUpTo
			want = max(will, 0)
			if !out.Complete {
				want = min(want, max(r.Sample, len(resp.Data)))
			}
			out.IDs = make([]string, 0, min(want, MaxIDWalk))
		}
		for _, row := range resp.Data {
			it, ok := sampleItem(row)
			if !ok || len(out.IDs) >= want {
				continue
			}
			out.IDs = append(out.IDs, it.ID)
			if len(out.Sample) < r.Sample {
				out.Sample = append(out.Sample, it)
			}
		}
		if len(out.IDs) >= want {
			return out, nil
		}
		// The last page, or an empty one (a server that keeps returning a cursor without rows
		// would otherwise loop forever): the walk ended short of the count.
		if resp.Cursor == nil || *resp.Cursor == "" || len(resp.Data) == 0 {
			out.Complete = false
			return out, nil
		}
		req.Cursor = resp.Cursor
		req.IncludeCounts = false
	}
}
