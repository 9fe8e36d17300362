package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Every measured call goes through one client, the official Go SDK
// (github.com/modelcontextprotocol/go-sdk), so that bulkguard and the floor
// pay the same client-side cost. It is not the library either server is
// built on, which keeps the client from favouring one of them.

// Protocol versions of the two eras.
var eraVersion = map[string]string{"legacy": "2025-11-25", "modern": "2026-07-28"}

var sdkClient = mcp.NewClient(&mcp.Implementation{Name: "bulkguard-overhead", Version: "1"}, nil)

// connect opens a session over tr in the era and checks what was negotiated.
func connect(ctx context.Context, tr mcp.Transport, era string) (*mcp.ClientSession, error) {
	s, err := sdkClient.Connect(ctx, tr, &mcp.ClientSessionOptions{ProtocolVersion: eraVersion[era]})
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if got := s.InitializeResult().ProtocolVersion; got != eraVersion[era] {
		_ = s.Close()
		return nil, fmt.Errorf("negotiated %s, wanted %s (%s era)", got, eraVersion[era], era)
	}
	return s, nil
}

// stdioClient speaks MCP over the process's stdin and stdout.
func stdioClient(ctx context.Context, p *proc, era string) (*mcp.ClientSession, error) {
	s, err := connect(ctx, &mcp.IOTransport{Reader: p.stdout, Writer: p.stdin}, era)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.name, err)
	}
	return s, nil
}

// httpClient speaks streamable HTTP to url with hc, with a bearer token if
// given. No standalone SSE stream: only the calls are measured, and both
// servers are treated alike.
func httpClient(ctx context.Context, hc *http.Client, url, token, era string) (*mcp.ClientSession, error) {
	if token != "" {
		cp := *hc
		cp.Transport = bearer{token: token, next: hc.Transport}
		hc = &cp
	}
	s, err := connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: hc, MaxRetries: -1, DisableStandaloneSSE: true}, era)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	return s, nil
}

// newHTTPTransport is the client side's connection pool, sized for the
// concurrent clients so the client itself does not reconnect.
func newHTTPTransport(conns int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = conns + 10
	t.MaxIdleConnsPerHost = conns + 10
	return t
}

type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

func callTool(ctx context.Context, s *mcp.ClientSession, name string, args map[string]any) (*mcp.CallToolResult, error) {
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		return nil, err
	}
	if res.IsError {
		var text []string
		for _, c := range res.Content {
			if t, ok := c.(*mcp.TextContent); ok {
				text = append(text, t.Text)
			}
		}
		return nil, fmt.Errorf("%s: isError: %s", name, strings.Join(text, " "))
	}
	return res, nil
}

func remarshal(in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}
