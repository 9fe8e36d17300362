package bench

import (
	"context"
	"io"
	"testing"

	"github.com/mark3labs/mcp-go/server"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bulkguard/bulkguard/bench/internal/bare"
	"github.com/bulkguard/bulkguard/tools"
)

// BenchmarkGetStdio reads one job through bulkguard's tools and through the
// floor (the bare mcp-go server of internal/bare sending the same GET) over
// in-memory stdio pipes, with the client bench/cmd/overhead uses (the
// official Go SDK). Unlike BenchmarkGet it includes the JSON-RPC encoding on
// both sides, where the size of a result costs, so its profile shows all of
// bulkguard's per-call work against the floor's (bench/run-profile.sh).
func BenchmarkGetStdio(b *testing.B) {
	r := cachedRig(b, 2000)
	var plan preview
	r.call(b, tools.ToolPreview, map[string]any{"s_query": junkQuery()}, &plan)
	var j jobOut
	r.call(b, tools.ToolCreate, map[string]any{"plan_id": plan.PlanID, "confirm": plan.ConfirmationPhrase}, &j)
	args := map[string]any{"id": j.Job.ID}
	for _, v := range []struct {
		name string
		srv  *server.MCPServer
		tool string
	}{
		{"floor", bare.NewServer(r.url, r.sb.APIKey()), bare.Get},
		{"bulkguard", r.srv, tools.ToolGet},
	} {
		b.Run(v.name, func(b *testing.B) {
			s := stdioSession(b, v.srv)
			cpuLoop(b, func() {
				res, err := s.CallTool(b.Context(), &sdk.CallToolParams{Name: v.tool, Arguments: args})
				if err != nil || res.IsError {
					b.Fatalf("%s: %v %+v", v.tool, err, res)
				}
			})
		})
	}
}

// stdioSession serves s over a pair of pipes (mcp-go's stdio server) and
// connects a go-sdk client to it, legacy era. mcp-go keeps one stdio session
// per process, so only one may be open at a time.
func stdioSession(b *testing.B, s *server.MCPServer) *sdk.ClientSession {
	b.Helper()
	clientIn, serverOut := io.Pipe()
	serverIn, clientOut := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = server.NewStdioServer(s).Listen(ctx, serverIn, serverOut)
	}()
	c := sdk.NewClient(&sdk.Implementation{Name: "bulkguard-bench", Version: "1"}, nil)
	sess, err := c.Connect(ctx, &sdk.IOTransport{Reader: clientIn, Writer: clientOut}, &sdk.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		b.Fatalf("connect: %v", err)
	}
	b.Cleanup(func() {
		_ = sess.Close()
		cancel()
		_ = serverOut.Close()
		<-done
	})
	return sess
}
