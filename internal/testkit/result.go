package testkit

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
)

// ResultText is the text content of a tool result, its text blocks joined
// without a separator.
func ResultText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// Initialize starts c (on a context that lives as long as the client: the
// stdio transport answers the server's requests on it) and initializes it
// as clientName within timeout. A failure fails tb.
func Initialize(tb testing.TB, c *client.Client, clientName string, timeout time.Duration) *mcp.InitializeResult {
	tb.Helper()
	if err := c.Start(context.Background()); err != nil {
		tb.Fatalf("client start: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	res, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{
		ClientInfo: mcp.Implementation{Name: clientName, Version: "1"},
	}})
	if err != nil {
		tb.Fatalf("initialize: %v", err)
	}
	return res
}
