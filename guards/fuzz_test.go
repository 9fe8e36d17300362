package guards_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulkguard/bulkguard/guards"
)

// sealedToken is a token this process sealed, for whom and for what.
type sealedToken struct {
	token, principal, target string
}

// FuzzOpenState: opening elicitation state never panics, refuses every
// failure with one of the state refusal codes, and never accepts a token
// this guard did not seal for exactly this principal and target, nor the
// same token twice. The state travels through the MCP client, so it is
// attacker-controlled (docs/mcp-notes.md §0.5).
//
// Inputs either are a token as given (raw), or start from a token this
// process sealed and XOR edit into its decoded bytes at position at, so the
// fuzzer explores near-valid tokens (an empty edit leaves the token valid,
// which keeps the accept and replay paths reachable).
func FuzzOpenState(f *testing.F) {
	principals := []string{"cred_aaaaaaaaaaaaaaaa", "cred_bbbbbbbbbbbbbbbb", ""}
	targets := []string{"plan_A", "plan_B", "bulkdelete_J", ""}
	log, err := guards.OpenAuditLog(filepath.Join(f.TempDir(), "audit.jsonl"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { log.Close() })
	start := time.Now()
	g, err := guards.New(guards.Config{Audit: log, Environment: "sandbox", Now: func() time.Time { return start }, Policy: guards.Policy{Backup: guards.BackupOff},
		SealKey: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		f.Fatal(err)
	}
	seal := func(principal, target string) sealedToken {
		p := &guards.Pending{Target: target, Phrase: "DELETE 3 LEADS", Purpose: guards.PurposeCreate, ExpiresAt: start.Add(time.Hour)}
		if strings.HasPrefix(target, "bulkdelete_") {
			p.Purpose, p.Phrase, p.ExpiresAt = guards.PurposeResume, "RESUME "+target, time.Time{}
		}
		tok, err := g.SealState(p, principal)
		if err != nil {
			f.Fatal(err)
		}
		return sealedToken{tok, principal, target}
	}
	// One live token per (principal, target); an accepted one is replaced
	// by a fresh one, and remembered as used.
	var live []sealedToken
	for _, p := range principals[:2] {
		for _, tg := range targets[:3] {
			live = append(live, seal(p, tg))
		}
	}
	var used []sealedToken
	// The property below means something only if sealed tokens do open:
	// one does, once.
	probe := seal(principals[0], targets[0])
	if err := g.OpenState(context.Background(), probe.token, probe.principal, probe.target); err != nil {
		f.Fatalf("a freshly sealed token does not open: %v", err)
	}
	if err := g.OpenState(context.Background(), probe.token, probe.principal, probe.target); err == nil {
		f.Fatal("a sealed token opened twice")
	}
	decode := func(tok string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(tok))
		if err != nil {
			return nil
		}
		return b
	}
	stateCodes := map[string]bool{
		guards.CodeStateTampered: true, guards.CodeStateForeign: true, guards.CodeStateWrongTarget: true,
		guards.CodeStateExpired: true, guards.CodeStateReplayed: true,
	}

	f.Add(false, "", uint8(0), []byte{}, uint16(0), uint8(0), uint8(0))     // a valid token
	f.Add(false, "", uint8(0), []byte{}, uint16(0), uint8(1), uint8(0))     // another principal
	f.Add(false, "", uint8(1), []byte{}, uint16(0), uint8(0), uint8(0))     // another target
	f.Add(false, "", uint8(2), []byte{}, uint16(0), uint8(0), uint8(2))     // a resume token
	f.Add(false, "", uint8(0), []byte{1}, uint16(20), uint8(0), uint8(0))   // one bit flipped
	f.Add(false, "", uint8(0), []byte{0x80}, uint16(0), uint8(0), uint8(0)) // nonce changed
	for _, raw := range []string{
		"", "forged-state", "forged-state-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "====", "not base64 at all!",
		strings.Repeat("A", 4096), "eyJwdXJwb3NlIjoiY3JlYXRlIn0", "../../lead", "bulkdelete_ junk",
		" \t\n", "\x00\xff\xfe",
	} {
		f.Add(true, raw, uint8(0), []byte{}, uint16(0), uint8(0), uint8(0))
	}

	f.Fuzz(func(t *testing.T, useRaw bool, raw string, base uint8, edit []byte, at uint16, who, what uint8) {
		principal := principals[int(who)%len(principals)]
		target := targets[int(what)%len(targets)]
		tok := raw
		if !useRaw {
			b := decode(live[int(base)%len(live)].token)
			for i, x := range edit {
				b[(int(at)+i)%len(b)] ^= x
			}
			tok = base64.RawURLEncoding.EncodeToString(b)
		}
		err := g.OpenState(context.Background(), tok, principal, target)
		if err != nil {
			var r *guards.Refusal
			if !errors.As(err, &r) || !stateCodes[r.Code] {
				t.Fatalf("OpenState failed with %T %v, not a state refusal", err, err)
			}
			if !strings.Contains(err.Error(), "Nothing was deleted") {
				t.Fatalf("refusal does not say nothing was deleted: %v", err)
			}
			return
		}
		got := decode(tok)
		for i, s := range live {
			if got != nil && bytes.Equal(got, decode(s.token)) && s.principal == principal && s.target == target {
				used = append(used, s)
				live[i] = seal(s.principal, s.target)
				return
			}
		}
		for _, s := range used {
			if bytes.Equal(got, decode(s.token)) {
				t.Fatalf("accepted a token a second time (replay): %q", tok)
			}
		}
		t.Fatalf("accepted a token it did not seal for %q/%q: %q", principal, target, tok)
	})
}
