package bare

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
)

// fakeClose answers GET /bulk_action/delete/{id}/ for one id and key, as
// the sandbox would for an existing job.
func fakeClose(t *testing.T) *httptest.Server {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _, ok := r.BasicAuth()
		switch {
		case !ok || user != "key":
			http.Error(w, `{"error": "Unauthorized"}`, http.StatusUnauthorized)
		case r.Method != http.MethodGet || r.URL.Path != "/api/v1/bulk_action/delete/bulkdelete_1/":
			http.Error(w, `{"error": "Not found"}`, http.StatusNotFound)
		default:
			_, _ = w.Write([]byte(`{"id": "bulkdelete_1", "status": "done"}`))
		}
	}))
	t.Cleanup(hs.Close)
	return hs
}

func TestGetJob(t *testing.T) {
	hs := fakeClose(t)
	base := hs.URL + "/api/v1"
	cases := []struct {
		name, key, id, want, wantErr string
	}{
		{"found", "key", "bulkdelete_1", `"status": "done"`, ""},
		{"unknown job", "key", "bulkdelete_2", "", "HTTP 404"},
		{"wrong key", "other", "bulkdelete_1", "", "HTTP 401"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body, err := GetJob(context.Background(), hs.Client(), base, c.key, c.id)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("GetJob error = %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil || !strings.Contains(string(body), c.want) {
				t.Fatalf("GetJob = %s, %v", body, err)
			}
		})
	}
}

func TestServerTools(t *testing.T) {
	hs := fakeClose(t)
	c, err := client.NewInProcessClient(NewServer(hs.URL+"/api/v1", "key"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Initialize(ctx, mcp.InitializeRequest{}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		tool    string
		args    map[string]any
		isError bool
		want    string
	}{
		{"noop", Noop, nil, false, "ok"},
		{"get", Get, map[string]any{"id": "bulkdelete_1"}, false, `"status": "done"`},
		{"get of an unknown job", Get, map[string]any{"id": "bulkdelete_2"}, true, "HTTP 404"},
		{"get without an id", Get, map[string]any{}, true, "id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := mcp.CallToolRequest{}
			req.Params.Name = tc.tool
			req.Params.Arguments = tc.args
			res, err := c.CallTool(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			text := ""
			if len(res.Content) > 0 {
				if tx, ok := res.Content[0].(mcp.TextContent); ok {
					text = tx.Text
				}
			}
			if res.IsError != tc.isError || !strings.Contains(text, tc.want) {
				t.Fatalf("isError %v, text %q; want isError %v and %q", res.IsError, text, tc.isError, tc.want)
			}
		})
	}
}
