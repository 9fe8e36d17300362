// Package tools is bulkguard's MCP surface: nine tool definitions (schemas,
// annotations, descriptions), strict argument decoding, the elicitation
// round trip that asks the person for the confirmation phrase, and the
// structured or isError results the model reads. It is thin on purpose:
// every decision about what may be deleted is the guard's (package guards);
// this package only carries the person's answer to it and its answer back.
package tools

import (
	"log/slog"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/bulkguard/bulkguard/backup"
	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/internal/approval"
)

// Deps is what the tools need from the process.
type Deps struct {
	// Guard decides and records every preview, create, pause and resume.
	Guard *guards.Guard
	// Client is the Close client used unless a request brings its own key.
	Client *closeapi.Client
	// Environment is "sandbox" or "close"; it is echoed in every result so
	// that nobody mistakes a rehearsal for the real thing.
	Environment string
	// ReadOnly registers only the four tools that change nothing.
	ReadOnly bool
	// AllowClientKeys lets an HTTP request choose its Close credential with
	// the X-Close-Api-Key header; ClientForKey builds the client for it.
	AllowClientKeys bool
	ClientForKey    func(key string) (*closeapi.Client, error)
	// Logger receives mcp-go's request lines and the tools' refusals
	// (never a credential). nil discards.
	Logger *slog.Logger
	// Version is the server version reported to clients.
	Version string
	// Approvals serves the approval page; nil offers none (then a client
	// without forms confirms only with the phrase in confirm).
	Approvals *approval.Server
	// ElicitTimeout bounds each wait for the person; 0 means
	// DefaultElicitTimeout.
	ElicitTimeout time.Duration
	// Backups is the backup directory restore_bulk_delete and list_backups read; nil: those
	// tools answer that the server keeps no backups.
	Backups *backup.Store
}

// Tool names: part of the contract with clients and models.
const (
	ToolPreview = "preview_bulk_delete"
	ToolCreate  = "create_bulk_delete"
	ToolList    = "list_bulk_deletes"
	ToolGet     = "get_bulk_delete"
	ToolPause   = "pause_bulk_delete"
	ToolResume  = "resume_bulk_delete"
	ToolLookup  = "lookup_close_ids"
)

// ClientKeyHeader carries a per-request Close API key on HTTP transports
// when Deps.AllowClientKeys is set.
const ClientKeyHeader = "X-Close-Api-Key"

// instructions is sent to clients at initialize/discover; it restates the
// contract the tool descriptions spell out one by one.
const instructions = `bulkguard deletes Close CRM leads or contacts in bulk, safely. ` +
	`Always preview_bulk_delete first and show the person the summary, count and sample. ` +
	`create_bulk_delete is irreversible; the person confirms by typing the confirmation phrase themselves, ` +
	`in a form or on the approval page whose approval_url you show them (never invent or type it for them). Follow a job with get_bulk_delete; pause_bulk_delete is the brake. ` +
	`Get status, custom field, user and Smart View ids from lookup_close_ids instead of guessing.`

// NewServer builds the MCP server: the tools (four when read-only), the
// elicitation capability (needed to ask the person for the phrase), panic
// recovery and mcp-go's request logging.
func NewServer(d Deps) *server.MCPServer {
	opts := []server.ServerOption{
		server.WithToolCapabilities(false),
		server.WithElicitation(),
		server.WithRecovery(),
		server.WithInstructions(instructions),
		server.WithTitle("bulkguard: guarded Close bulk deletes"),
	}
	if d.Logger != nil {
		opts = append(opts, server.WithLogger(slog.New(perCallHandler{d.Logger.Handler()})))
	}
	version := d.Version
	if version == "" {
		version = "dev"
	}
	s := server.NewMCPServer("bulkguard", version, opts...)
	s.AddTools(Tools(d)...)
	return s
}

// Tools returns the tool definitions with their handlers, sorted by name as
// tools/list serves them. Read-only mode leaves out create, pause and
// resume entirely (not registered, so not callable), the way GitHub's,
// Grafana's and Terraform's servers do it (docs/mcp-notes.md §A.9).
func Tools(d Deps) []server.ServerTool {
	t := &toolset{d: d, log: d.Logger}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	all := []struct {
		def      toolDef
		handler  handlerFunc
		readOnly bool
	}{
		{defCreate, t.create, false},
		{defGet, t.get, true},
		{defList, t.list, true},
		{defListBackups, t.listBackups, true},
		{defLookup, t.lookup, true},
		{defPause, t.pause, false},
		{defPreview, t.preview, true},
		{defRestore, t.restore, false},
		{defResume, t.resume, false},
	}
	out := make([]server.ServerTool, 0, len(all))
	for _, e := range all {
		if d.ReadOnly && !e.readOnly {
			continue
		}
		out = append(out, server.ServerTool{Tool: e.def.tool(), Handler: t.wrap(e.def.name, e.handler)})
	}
	return out
}

// toolDef is everything tools/list says about one tool.
type toolDef struct {
	name, title, description string
	readOnly, destructive    bool
	idempotent, openWorld    bool
	input, output            func() []byte
}

// tool builds the mcp.Tool from a struct literal with raw schemas. It never
// uses mcp.NewTool + WithRawInputSchema: that combination fails to marshal
// and takes the whole tools/list down with it (docs/mcp-notes.md §0.2).
func (d toolDef) tool() mcp.Tool {
	t := mcp.Tool{
		Name:            d.name,
		Title:           d.title,
		Description:     d.description,
		RawInputSchema:  d.input(),
		RawOutputSchema: d.output(),
	}
	// All four hints explicitly: directories and clients fail closed on an
	// omitted hint, and the spec defaults (destructive, open world) would
	// misdescribe the read-only tools (docs/mcp-notes.md §0.3, §A.4).
	// The title is Tool.Title only: repeating it as annotations.title would
	// cost payload budget for the few clients that read only the latter.
	t.Annotations = mcp.ToolAnnotation{
		ReadOnlyHint:    mcp.ToBoolPtr(d.readOnly),
		DestructiveHint: mcp.ToBoolPtr(d.destructive),
		IdempotentHint:  mcp.ToBoolPtr(d.idempotent),
		OpenWorldHint:   mcp.ToBoolPtr(d.openWorld),
	}
	return t
}

// The annotation table follows docs/design.md "Tools". openWorldHint is true on
// every tool: each one talks to Close, a system outside this server.
var (
	defPreview = toolDef{
		name:  ToolPreview,
		title: "Preview bulk delete",
		description: "Step 1, deletes nothing: counts what s_query or smart_view_id matches, as the delete would, and saves a plan. " +
			"Show the person the summary, count and sample. Take ids from lookup_close_ids; never guess them.",
		readOnly: true, destructive: false, idempotent: true, openWorld: true,
		input: previewInputSchema, output: outputSchemaFor[previewResult],
	}
	defCreate = toolDef{
		name:  ToolCreate,
		title: "Create bulk delete",
		description: "Step 2, IRREVERSIBLE: runs a plan the person has seen. They type the phrase in the form, " +
			"on the page at approval_url, or to you for confirm. Never invent or type it yourself. pause_bulk_delete is the brake.",
		readOnly: false, destructive: true, idempotent: false, openWorld: true,
		input: inputSchemaFor[createArgs], output: outputSchemaFor[createResult],
	}
	defList = toolDef{
		name:        ToolList,
		title:       "List bulk deletes",
		description: "Bulk-delete jobs; filter by status or object_type; page with skip=next_skip.",
		readOnly:    true, destructive: false, idempotent: true, openWorld: true,
		input: inputSchemaFor[listArgs], output: outputSchemaFor[listResult],
	}
	defGet = toolDef{
		name:        ToolGet,
		title:       "Get bulk delete",
		description: "A job and its progress; wait_seconds waits for the end (or poll until terminal).",
		readOnly:    true, destructive: false, idempotent: true, openWorld: true,
		input: inputSchemaFor[getArgs], output: outputSchemaFor[jobResult],
	}
	defPause = toolDef{
		name:        ToolPause,
		title:       "Pause bulk delete",
		description: "The brake: pauses a running job now. Use it whenever the person hesitates or anything looks wrong.",
		readOnly:    false, destructive: false, idempotent: true, openWorld: true,
		input: inputSchemaFor[idArgs], output: outputSchemaFor[jobResult],
	}
	defResume = toolDef{
		name:  ToolResume,
		title: "Resume bulk delete",
		description: "Resumes a paused job; deleting goes on, IRREVERSIBLE. Confirmed like create_bulk_delete (phrase RESUME and the job id). " +
			"Never type it yourself.",
		readOnly: false, destructive: true, idempotent: false, openWorld: true,
		input: inputSchemaFor[resumeArgs], output: outputSchemaFor[jobResult],
	}
	defLookup = toolDef{
		name:        ToolLookup,
		title:       "Look up Close ids",
		description: "Ids for queries: lead statuses, custom fields (type, choices), Smart Views, users.",
		readOnly:    true, destructive: false, idempotent: true, openWorld: true,
		input: inputSchemaFor[lookupArgs], output: outputSchemaFor[lookupResult],
	}
)
