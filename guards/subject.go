package guards

import "context"

type subjectKey struct{}

// WithSubject returns ctx carrying who is making the call, as an
// authorization server vouched for it (the subject of the OAuth access
// token the HTTP transport verified). The guard puts it on the audit
// records of the deletes and resumes that person confirmed, next to the
// Close credential (Principal) the call used.
func WithSubject(ctx context.Context, subject string) context.Context {
	if subject == "" {
		return ctx
	}
	return context.WithValue(ctx, subjectKey{}, subject)
}

// Subject is the subject WithSubject put on ctx, or "" (stdio, or HTTP with
// a shared bearer token, where nobody vouches for a person).
func Subject(ctx context.Context) string {
	s, _ := ctx.Value(subjectKey{}).(string)
	return s
}
