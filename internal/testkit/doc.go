// Package testkit is support shared by bulkguard's tests and benchmarks:
// building the bulkguard binary once, running it (or `bulkguard sandbox`)
// as a child process with its stderr kept, reading the lines it prints when
// it is ready, an environment without the developer's bulkguard settings and
// credentials, and a clock a test can move forward.
//
// It is for tests and benchmark commands only; production code never
// imports it.
package testkit
