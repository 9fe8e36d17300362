package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/internal/server"
	"github.com/bulkguard/bulkguard/tools"
)

// runPreview is `bulkguard preview [flags] FILE`: a dry run of a query
// file. It builds the server serve would build, read-only (no tool that
// deletes is even registered), and calls its preview_bulk_delete, so the
// file is decoded, judged by the policy and counted exactly as a model's
// call would be; then it prints the summary, count and sample.
func runPreview(ctx context.Context, args []string, lookup func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) int {
	cfg := &serveConfig{}
	c := newServeFlags(cfg)
	c.maxArgs = 1
	var asJSON bool
	c.fs.BoolVar(&asJSON, "json", false, "print the preview result as JSON (the tool's structuredContent)")
	c.note("json", "", "false")
	c.usage = func(w io.Writer) {
		fmt.Fprint(w, `Usage: bulkguard preview [flags] FILE

A dry run: counts what the query in FILE ("-" reads stdin) matches, as a
delete would, and prints the summary, the count and a sample. It never
deletes anything. FILE holds either an s_query (as Close's Smart Views and
the API take it) or the arguments of the preview_bulk_delete tool, such as
{"s_query": {...}, "sample_size": 20} or {"smart_view_id": "save_..."}.
It takes the flags of bulkguard serve, so the policy is the server's.

`)
		c.printFlags(w, "Flags (those of bulkguard serve, plus --json)", "Sandbox flags")
	}
	if err := c.parse(args, lookup); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.usage(stdout)
			return 0
		}
		return reportUsage(stderr, err, "bulkguard preview --help")
	}
	if c.fs.NArg() != 1 {
		return reportUsage(stderr, fmt.Errorf("%w: name the query file: bulkguard preview FILE (or - for stdin)", errUsage), "bulkguard preview --help")
	}
	if err := cfg.finish(c, lookup); err != nil {
		return reportUsage(stderr, err, "bulkguard preview --help")
	}
	file := c.fs.Arg(0)
	raw, err := readQueryFile(file, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "bulkguard: %v\n", err)
		return 1
	}
	arguments, err := previewArguments(raw)
	if err != nil {
		fmt.Fprintf(stderr, "bulkguard: %s: %v\n", file, err)
		return 1
	}

	// Start-up lines are noise for a one-shot command: warnings and errors
	// only, unless a level was asked for.
	level := cfg.level
	if !c.isSet("log-level") {
		level = max(level, slog.LevelWarn)
	}
	logger := newLogger(stderr, level, cfg.LogFormat)
	sc := cfg.serverConfig(logger, stderr)
	sc.Transport = server.TransportStdio
	sc.ReadOnly = true
	s, cleanup, err := server.New(sc)
	if err != nil {
		var ce *server.ConfigError
		if errors.As(err, &ce) {
			return reportUsage(stderr, ce, "bulkguard preview --help")
		}
		fmt.Fprintf(stderr, "bulkguard: %v\n", err)
		return 1
	}
	defer cleanup()
	tool := s.MCP().GetTool(tools.ToolPreview)
	if tool == nil {
		fmt.Fprintf(stderr, "bulkguard: the server has no %s tool\n", tools.ToolPreview)
		return 1
	}
	res, err := tool.Handler(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: tools.ToolPreview, RawArguments: arguments}})
	if err != nil {
		fmt.Fprintf(stderr, "bulkguard: preview failed: %v\n", err)
		return 1
	}
	if res.IsError {
		fmt.Fprintf(stderr, "bulkguard: %s", toolText(res))
		return 1
	}
	out, err := json.Marshal(res.StructuredContent)
	if err != nil {
		fmt.Fprintf(stderr, "bulkguard: %v\n", err)
		return 1
	}
	if asJSON {
		fmt.Fprintf(stdout, "%s\n", out)
		return 0
	}
	var p previewOut
	if err := json.Unmarshal(out, &p); err != nil {
		fmt.Fprintf(stderr, "bulkguard: %v\n", err)
		return 1
	}
	printPreview(stdout, &p)
	return 0
}

// isSet reports whether a flag was given on the command line or by its
// variable.
func (c *cliFlags) isSet(name string) bool {
	if _, ok := c.fromEnv[name]; ok {
		return true
	}
	set := false
	c.fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// previewOut is what the command prints of the tool's result.
type previewOut struct {
	Environment string `json:"environment"`
	ObjectType  string `json:"object_type"`
	Total       int    `json:"total"`
	WillDelete  int    `json:"will_delete"`
	Summary     string `json:"summary"`
	Sample      []struct {
		ID          string `json:"id"`
		DisplayName string `json:"display_name"`
	} `json:"sample"`
	Warnings   []string `json:"warnings"`
	Executable bool     `json:"executable"`
	Refusal    *struct {
		Code    string `json:"code"`
		Problem string `json:"problem"`
		Next    string `json:"next"`
	} `json:"refusal"`
	ConfirmationPhrase string `json:"confirmation_phrase"`
}

func printPreview(w io.Writer, p *previewOut) {
	fmt.Fprintf(w, "Dry run on %s: nothing was deleted.\n", p.Environment)
	fmt.Fprintf(w, "Query:    %s\n", p.Summary)
	fmt.Fprintf(w, "Matches:  %d %s\n", p.Total, plural(p.Total, p.ObjectType))
	fmt.Fprintf(w, "Would delete: %d\n", p.WillDelete)
	if len(p.Sample) > 0 {
		fmt.Fprintf(w, "Sample (%d of %d):\n", len(p.Sample), p.Total)
		for _, s := range p.Sample {
			fmt.Fprintf(w, "  %s  %q\n", s.ID, s.DisplayName)
		}
	}
	for _, warn := range p.Warnings {
		fmt.Fprintf(w, "Warning:  %s\n", warn)
	}
	switch {
	case p.Executable:
		fmt.Fprintf(w, "Executable: yes; through an MCP client the person would confirm by typing %s.\n", p.ConfirmationPhrase)
	case p.Refusal != nil && p.Refusal.Code == guards.CodeReadOnly:
		// This command serves read-only on purpose; what the operator wants
		// to know is whether a server that may delete would take the plan.
		fmt.Fprintf(w, "Executable: yes, by a bulkguard that may delete (this command never does); previewed there, the person would confirm by typing %s.\n",
			guards.DeletePhrase(p.WillDelete, p.ObjectType))
	case p.Refusal != nil:
		fmt.Fprintf(w, "Executable: no (%s): %s. %s\n", p.Refusal.Code, p.Refusal.Problem, p.Refusal.Next)
	default:
		fmt.Fprintln(w, "Executable: no.")
	}
}

// plural names n objects of a type: "1 lead", "2 leads".
func plural(n int, objectType string) string {
	if objectType == "" {
		objectType = "object"
	}
	if n == 1 {
		return objectType
	}
	return objectType + "s"
}

// readQueryFile reads FILE, or stdin for "-".
func readQueryFile(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, maxQueryFile+1))
		if err != nil {
			return nil, fmt.Errorf("read stdin: %w", err)
		}
		if len(b) > maxQueryFile {
			return nil, fmt.Errorf("stdin: more than %d bytes; a query file is small", maxQueryFile)
		}
		return b, nil
	}
	st, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxQueryFile {
		return nil, fmt.Errorf("%s: %d bytes, more than %d; a query file is small", name, st.Size(), maxQueryFile)
	}
	return os.ReadFile(name) //nolint:gosec // G304: reading the file the operator named is the point
}

// maxQueryFile bounds a query file: the largest s_query seen in real Smart
// Views is a few KiB.
const maxQueryFile = 1 << 20

// previewArguments turns the file into preview_bulk_delete arguments: the
// arguments themselves, or an s_query wrapped as {"s_query": …}.
func previewArguments(raw []byte) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || top == nil {
		return nil, errors.New("want a JSON object: an s_query, or preview_bulk_delete's arguments ({\"s_query\": …})")
	}
	for _, k := range []string{"s_query", "smart_view_id"} {
		if _, ok := top[k]; ok {
			return raw, nil
		}
	}
	return json.Marshal(map[string]json.RawMessage{"s_query": raw})
}

// toolText joins a tool result's text blocks.
func toolText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if t, ok := c.(mcp.TextContent); ok {
			b.WriteString(t.Text)
			if !strings.HasSuffix(t.Text, "\n") {
				b.WriteString("\n")
			}
		}
	}
	return b.String()
}
