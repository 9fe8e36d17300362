package closeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestClientsShareOneTransport: with per-request keys a Client is built per tool call. 200
// clients with 200 different keys must reuse one connection pool, not leave a transport, an
// idle connection and its two goroutines behind per call.
func TestClientsShareOneTransport(t *testing.T) {
	var conns, requests atomic.Int64
	var auth sync.Map // request number → Authorization
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(requests.Add(1)-1, r.Header.Get("Authorization"))
		jsonReply(w, 200, okJob)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	// Idle connections of earlier tests (same shared pool, other servers) are not ours.
	sharedTransport().CloseIdleConnections()
	before := runtime.NumGoroutine()
	const clients = 200
	for i := range clients {
		c, _ := testClient(t, srv.URL+"/api/v1", func(o *Options) { o.APIKey = fmt.Sprintf("api_key_number_%03d", i) })
		if got := c.hc.Transport; got != sharedTransport() {
			t.Fatalf("client %d has transport %p, want the shared %p", i, got, sharedTransport())
		}
		if _, err := c.GetBulkDelete(context.Background(), "bulkdelete_abc"); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	if n := requests.Load(); n != clients {
		t.Fatalf("%d requests reached the server, want %d", n, clients)
	}
	// Every request carried its own credential although they shared connections.
	for i := range int64(clients) {
		got, _ := auth.Load(i)
		if want := basicFor(fmt.Sprintf("api_key_number_%03d", i)); got != want {
			t.Fatalf("request %d: Authorization %q, want %q", i, got, want)
		}
	}
	// One call at a time: one connection, reused (a new transport per client opened 200).
	if n := conns.Load(); n > 2 {
		t.Errorf("%d connections opened for %d sequential calls of %d clients, want 1 (at most 2)", n, clients, clients)
	}
	// Goroutines settle once the client side is done; allow for the server's own.
	var after int
	for range 50 {
		if after = runtime.NumGoroutine(); after-before <= 10 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if after-before > 10 {
		t.Errorf("%d goroutines before, %d after %d clients: they should share one pool", before, after, clients)
	}
}

// TestCallerHTTPClientKept: a caller's own http.Client (and its transport) is used as given.
func TestCallerHTTPClientKept(t *testing.T) {
	tr := &http.Transport{}
	c, _ := testClient(t, "http://127.0.0.1:1/api/v1", func(o *Options) { o.HTTPClient = &http.Client{Transport: tr} })
	if c.hc.Transport != tr {
		t.Errorf("transport %p, want the caller's %p", c.hc.Transport, tr)
	}
	if c.hc.CheckRedirect == nil {
		t.Error("redirects would be followed")
	}
}

// TestClientDecodesLikeUnmarshalJSON: the client decodes jobs in one pass (bulkDeleteWire);
// the result must equal what BulkDelete.UnmarshalJSON gives, nulls turned into nil included,
// for every call that returns a job.
func TestClientDecodesLikeUnmarshalJSON(t *testing.T) {
	bodies := map[string]string{
		"fixture created":  string(readFixture(t, "bulkdelete-created.json")),
		"fixture done":     string(readFixture(t, "bulkdelete-done-no-offset.json")),
		"nulls":            `{"id":"bulkdelete_x","status":null,"s_query":null,"sort":null,"date_created":null}`,
		"null with spaces": `{"id":"bulkdelete_x","s_query": null ,"sort":[]}`,
	}
	for name, body := range bodies {
		var want BulkDelete
		if err := json.Unmarshal([]byte(body), &want); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		calls := []struct {
			name  string
			reply string
			call  func(c *Client) (*BulkDelete, error)
		}{
			{"get", body, func(c *Client) (*BulkDelete, error) {
				return c.GetBulkDelete(context.Background(), "bulkdelete_abc")
			}},
			{"create", body, func(c *Client) (*BulkDelete, error) {
				return c.CreateBulkDelete(context.Background(), BulkDeleteRequest{SQuery: json.RawMessage(testQuery)})
			}},
			{"status", body, func(c *Client) (*BulkDelete, error) {
				return c.SetBulkDeleteStatus(context.Background(), "bulkdelete_abc", StatusPaused)
			}},
			{"list", `{"data":[` + body + `,` + body + `],"has_more":true}`, func(c *Client) (*BulkDelete, error) {
				l, err := c.ListBulkDeletes(context.Background(), 0, 0)
				if err != nil {
					return nil, err
				}
				if len(l.Data) != 2 || !l.HasMore || !reflect.DeepEqual(l.Data[0], l.Data[1]) {
					return nil, fmt.Errorf("list %+v", l)
				}
				return &l.Data[0], nil
			}},
		}
		for _, cl := range calls {
			t.Run(name+"/"+cl.name, func(t *testing.T) {
				f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, _ []byte) { jsonReply(w, 200, cl.reply) })
				c, _ := testClient(t, f.base(), nil)
				got, err := cl.call(c)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(*got, want) {
					t.Errorf("client decoded\n%+v\nUnmarshalJSON\n%+v", *got, want)
				}
			})
		}
	}
}
