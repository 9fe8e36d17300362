// Package e2e holds bulkguard's end-to-end tests. They build the real binary,
// spawn it over every transport (stdio, streamable HTTP, HTTP+SSE), and drive
// it with clients nobody on the project wrote:
//
//   - the MCP Inspector from npm, pinned (@modelcontextprotocol/inspector@2.12.0):
//     its one-shot `--cli` (one request per process) and its `mcpdo` connection
//     CLI (one session across many commands, whose elicitations are answered
//     with `mcpdo elicitation/respond`);
//   - the official Go SDK, github.com/modelcontextprotocol/go-sdk, with an
//     elicitation handler that types the confirmation phrase.
//
// The Close side is a separate `bulkguard sandbox` process; the server under
// test talks to it with CLOSE_API_KEY and --close-url, and the tests inspect it
// afterwards over its own HTTP API (a deleted lead answers 404).
//
// What these clients do, as observed here (the tests pin each behaviour):
//
//   - Inspector 2.12.0 `--cli` never declares elicitation (it is built with
//     elicit: false), in either era and on every transport. bulkguard
//     therefore asks it for the typed phrase in `confirm`, and a create
//     without it is refused. The "legacy answers cancel, modern hangs" of
//     docs/mcp-notes.md §E.1 is what happens to a server that elicits without
//     checking the capability; bulkguard checks.
//   - Inspector `--cli` is one process per request: over stdio every call
//     starts a new server, so a plan previewed in one call is unknown in the
//     next (refused, nothing deleted). Stateful flows over stdio use mcpdo.
//   - mcpdo declares form elicitation; with the legacy era bulkguard's form
//     arrives as a server request (origin "server-request"), with 2026-07-28
//     as an input_required result (origin "input-required"). Both work over
//     stdio and streamable HTTP.
//   - The Inspector's SSE transport cannot speak 2026-07-28: it sends no
//     Mcp-Method header, and mcp-go rejects the request (exit 1).
//   - A wrong or missing bearer token is exit 3 (AUTH_REQUIRED); the tests
//     pass --stored-auth-only so the CLI never starts an OAuth login.
//   - The Go SDK negotiates either era on request. Over legacy SSE, where a
//     session cannot carry a server request, bulkguard falls back to the
//     phrase although the client declared elicitation.
//
// The tests need Node.js and npx. Without them they fail with a message that
// says so; they are never skipped. The first run downloads the Inspector into
// the npm cache (~/.npm); later runs reuse it.
package e2e
