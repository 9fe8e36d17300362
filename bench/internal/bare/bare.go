// Package bare is the library floor of the overhead measurements: an
// mcp-go server with nothing of bulkguard's, and the direct GET both it and
// bulkguard are compared with.
package bare

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// The bare server is the library floor: mcp-go with nothing of bulkguard's.
// It has two tools. "noop" answers a constant: what mcp-go and the
// transport alone cost per call. "get" sends the same GET the direct
// baseline sends, with net/http, and returns the body as text: the floor of
// any MCP server that proxies one Close read, against which bulkguard's own
// work (argument decoding, the Close client, structured results) shows.

// Tool names.
const (
	Noop = "noop"
	Get  = "get"
)

// NewServer builds the bare MCP server. target is the sandbox's API
// base URL and key its API key (for the get tool).
func NewServer(target, key string) *server.MCPServer {
	s := server.NewMCPServer("bare", "1", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool(Noop, mcp.WithDescription("Does nothing.")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText("ok"), nil
		})
	hc := &http.Client{Timeout: 30 * time.Second}
	s.AddTool(mcp.NewTool(Get, mcp.WithDescription("GETs one bulk delete."), mcp.WithString("id", mcp.Required())),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			id, err := req.RequireString("id")
			if err != nil {
				return mcp.NewToolResultError(err.Error()), nil
			}
			body, err := GetJob(ctx, hc, target, key, id)
			if err != nil {
				return mcp.NewToolResultError(err.Error()), nil
			}
			return mcp.NewToolResultText(string(body)), nil
		})
	return s
}

// GetJob is the direct baseline: one GET of a bulk delete, body read whole.
func GetJob(ctx context.Context, hc *http.Client, base, key, id string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/bulk_action/delete/"+id+"/", nil)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(key, "")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET bulk delete: HTTP %d: %.200s", resp.StatusCode, body)
	}
	return body, nil
}
