// Package reliability holds bulkguard's cross-cutting reliability and
// security tests; it has no code of its own, only tests (package
// reliability_test).
//
// They live together, outside the packages they exercise, because none of
// them is about one package: each drives the whole stack (the MCP tools,
// the guard, the Close client and the sandbox standing in for Close, or the
// built bulkguard binary) and judges only what a caller and Close can see:
// the tool result a model reads, the requests that reached Close, the jobs
// that exist and the leads that are left. The questions they answer are the
// ones issue 6 asks of a tool that deletes customer data that cannot be
// restored:
//
//   - faults_test.go: when Close misbehaves (429 storms with and without
//     RateLimit/Retry-After, 5xx bursts, latency beyond the client timeout,
//     a connection dropped after the create was accepted, search-index lag)
//     or the server restarts between preview and create, is the result
//     clear, are reads retried within budget, is the create never sent
//     twice, and is the number of jobs exactly what it should be?
//   - hostile_test.go: does every bad or hostile input (wrong JSON types,
//     huge and deeply nested arguments, path tricks in ids, plans that were
//     never issued, expired, used or issued to another credential, forged
//     and replayed elicitation state, prompt injection inside lead names)
//     end in an isError result that names the problem, with nothing created
//     and nothing deleted?
//   - binary_test.go: against the real binary, does the HTTP surface refuse
//     what it must (401, 403, 413, 404, slow headers cut, per-request Close
//     keys only when allowed and plans bound to the credential that
//     previewed them), and does a full flow leave the API key and the HTTP
//     token out of stderr, the audit log and every tool result?
//
// The fuzz targets sit beside the code they fuzz (schema, guards, tools);
// bench/fuzz.sh runs them for a set time and bench/load/ measures latency
// and memory under load.
package reliability
