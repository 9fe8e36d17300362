package guards

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func TestSealOpen(t *testing.T) {
	const alice, bob = "cred_aaaaaaaaaaaaaaaa", "cred_bbbbbbbbbbbbbbbb"
	createPending := func(g *Guard, plan string, exp time.Time) *Pending {
		return &Pending{Purpose: PurposeCreate, Target: plan, Phrase: "DELETE 3 LEADS", ExpiresAt: exp}
	}
	flip := func(tok string) string {
		raw, _ := base64.RawURLEncoding.DecodeString(tok)
		raw[len(raw)-3] ^= 0x01
		return base64.RawURLEncoding.EncodeToString(raw)
	}
	tests := []struct {
		name string
		// run seals with g and returns what to open and with which
		// principal and target; other is a second guard (different key).
		run  func(t *testing.T, g, other *Guard, clock *testClock) (g2 *Guard, token, principal, target string)
		code string // "" = opens
	}{
		{"opens", func(t *testing.T, g, _ *Guard, c *testClock) (*Guard, string, string, string) {
			tok := seal(t, g, createPending(g, "plan_A", c.Now().Add(time.Hour)), alice)
			return g, tok, alice, "plan_A"
		}, ""},
		{"resume opens", func(t *testing.T, g, _ *Guard, c *testClock) (*Guard, string, string, string) {
			tok := seal(t, g, &Pending{Purpose: PurposeResume, Target: "bulkdelete_X1", Phrase: "RESUME bulkdelete_X1"}, alice)
			return g, tok, alice, "bulkdelete_X1"
		}, ""},
		{"tampered byte", func(t *testing.T, g, _ *Guard, c *testClock) (*Guard, string, string, string) {
			tok := seal(t, g, createPending(g, "plan_A", c.Now().Add(time.Hour)), alice)
			return g, flip(tok), alice, "plan_A"
		}, CodeStateTampered},
		{"garbage", func(t *testing.T, g, _ *Guard, c *testClock) (*Guard, string, string, string) {
			return g, "not-a-token!", alice, "plan_A"
		}, CodeStateTampered},
		{"truncated", func(t *testing.T, g, _ *Guard, c *testClock) (*Guard, string, string, string) {
			tok := seal(t, g, createPending(g, "plan_A", c.Now().Add(time.Hour)), alice)
			return g, tok[:10], alice, "plan_A"
		}, CodeStateTampered},
		{"sealed by another server", func(t *testing.T, g, other *Guard, c *testClock) (*Guard, string, string, string) {
			tok := seal(t, other, createPending(other, "plan_A", c.Now().Add(time.Hour)), alice)
			return g, tok, alice, "plan_A"
		}, CodeStateTampered},
		{"foreign principal", func(t *testing.T, g, _ *Guard, c *testClock) (*Guard, string, string, string) {
			tok := seal(t, g, createPending(g, "plan_A", c.Now().Add(time.Hour)), alice)
			return g, tok, bob, "plan_A"
		}, CodeStateForeign},
		{"other plan", func(t *testing.T, g, _ *Guard, c *testClock) (*Guard, string, string, string) {
			tok := seal(t, g, createPending(g, "plan_A", c.Now().Add(time.Hour)), alice)
			return g, tok, alice, "plan_B"
		}, CodeStateWrongTarget},
		{"create state used for a resume", func(t *testing.T, g, _ *Guard, c *testClock) (*Guard, string, string, string) {
			tok := seal(t, g, createPending(g, "plan_A", c.Now().Add(time.Hour)), alice)
			return g, tok, alice, "bulkdelete_X1"
		}, CodeStateWrongTarget},
		{"expired after five minutes", func(t *testing.T, g, _ *Guard, c *testClock) (*Guard, string, string, string) {
			tok := seal(t, g, createPending(g, "plan_A", c.Now().Add(time.Hour)), alice)
			c.Advance(stateTTL + time.Second)
			return g, tok, alice, "plan_A"
		}, CodeStateExpired},
		{"never outlives the plan", func(t *testing.T, g, _ *Guard, c *testClock) (*Guard, string, string, string) {
			tok := seal(t, g, createPending(g, "plan_A", c.Now().Add(time.Minute)), alice)
			c.Advance(2 * time.Minute)
			return g, tok, alice, "plan_A"
		}, CodeStateExpired},
		{"replayed", func(t *testing.T, g, _ *Guard, c *testClock) (*Guard, string, string, string) {
			tok := seal(t, g, createPending(g, "plan_A", c.Now().Add(time.Hour)), alice)
			if err := g.OpenState(context.Background(), tok, alice, "plan_A"); err != nil {
				t.Fatalf("first open: %v", err)
			}
			return g, tok, alice, "plan_A"
		}, CodeStateReplayed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newTestClock()
			g, _ := newTestGuard(t, Policy{}, clock)
			other, _ := newTestGuard(t, Policy{}, clock)
			g2, tok, principal, target := tc.run(t, g, other, clock)
			err := g2.OpenState(context.Background(), tok, principal, target)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("open: %v", err)
				}
				return
			}
			r := refusalOf(t, err, tc.code)
			if !strings.Contains(r.Error(), "Nothing was deleted.") || r.Next == "" {
				t.Errorf("refusal lacks the standard parts: %q", r.Error())
			}
		})
	}
}

func seal(t *testing.T, g *Guard, p *Pending, principal string) string {
	t.Helper()
	tok, err := g.SealState(p, principal)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestSealStateConcurrentOpenOnce(t *testing.T) {
	clock := newTestClock()
	g, _ := newTestGuard(t, Policy{}, clock)
	tok := seal(t, g, &Pending{Purpose: PurposeCreate, Target: "plan_A", Phrase: "DELETE 1 LEAD", ExpiresAt: clock.Now().Add(time.Hour)}, "cred_a")
	const n = 20
	errs := make(chan error, n)
	for range n {
		go func() { errs <- g.OpenState(context.Background(), tok, "cred_a", "plan_A") }()
	}
	ok := 0
	for range n {
		err := <-errs
		if err == nil {
			ok++
			continue
		}
		wantRefusal(t, err, CodeStateReplayed)
	}
	if ok != 1 {
		t.Fatalf("%d opens succeeded, want exactly 1", ok)
	}
}

func TestSealStateRejectsBadInput(t *testing.T) {
	g, _ := newTestGuard(t, Policy{}, newTestClock())
	for _, p := range []*Pending{nil, {Target: "plan_A"}, {Phrase: "X"}} {
		if _, err := g.SealState(p, "cred_a"); err == nil {
			t.Errorf("SealState(%+v) sealed", p)
		}
	}
	if _, err := g.SealState(&Pending{Target: "plan_A", Phrase: "X"}, ""); err == nil {
		t.Error("sealed without a principal")
	}
}

func TestNewConfig(t *testing.T) {
	log, err := OpenAuditLog(t.TempDir() + "/a.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults (backup off)", Config{Audit: log, Policy: Policy{Backup: BackupOff}}, true},
		{"backup required without backups", Config{Audit: log}, false},
		{"bad backup mode", Config{Audit: log, Policy: Policy{Backup: "maybe"}}, false},
		{"negative backup timeout", Config{Audit: log, Policy: Policy{Backup: BackupOff, BackupTimeout: -time.Second}}, false},
		{"no audit", Config{}, false},
		{"bad confirm", Config{Audit: log, Policy: Policy{Confirm: "maybe"}}, false},
		{"negative max", Config{Audit: log, Policy: Policy{MaxObjects: -1}}, false},
		{"negative ttl", Config{Audit: log, Policy: Policy{PlanTTL: -time.Second}}, false},
		{"no types", Config{Audit: log, Policy: Policy{AllowedObjectTypes: []string{" "}}}, false},
		{"short key", Config{Audit: log, SealKey: []byte("short")}, false},
		{"16-byte key", Config{Audit: log, SealKey: make([]byte, 16), Policy: Policy{Backup: BackupOff}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := New(tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("New: err=%v, want ok=%v", err, tc.ok)
			}
			if g == nil {
				return
			}
			p := g.Policy()
			if p.MaxObjects != DefaultMaxObjects || p.PlanTTL != DefaultPlanTTL || p.Confirm != ConfirmAuto ||
				strings.Join(p.AllowedObjectTypes, ",") != "lead,contact" {
				t.Errorf("defaults not applied: %+v", p)
			}
		})
	}
}
