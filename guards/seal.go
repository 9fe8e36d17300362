package guards

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Elicitation state travels through the MCP client (MRTR requestState), so
// it is attacker-controlled (docs/mcp-notes.md §0.5, §C.1). It is sealed with
// AES-GCM and bound to the purpose, target, principal, phrase and a short
// expiry, and each token opens once: the nonce is remembered server-side
// until the token expires. The pattern follows GitHub's delete_repository
// (docs/mcp-notes.md §B.1).

// stateTTL is how long a sealed state lives at most: long enough for a
// person to read and type the phrase, short enough that a leaked token is
// soon useless. It never outlives the plan.
const stateTTL = 5 * time.Minute

// stateAAD separates bulkguard's sealed state from any other use of the key.
var stateAAD = []byte("bulkguard/elicitation-state/v1")

// Purposes of a sealed state.
const (
	PurposeCreate = "create"
	PurposeResume = "resume"
)

type sealedState struct {
	Purpose   string `json:"purpose"`
	Target    string `json:"target"`
	Principal string `json:"principal"`
	Phrase    string `json:"phrase"`
	Expires   int64  `json:"expires"` // unix seconds
	Nonce     string `json:"nonce"`
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// SealState seals what the person is asked to confirm in p for principal.
// The token is base64url (no padding) of GCM nonce ‖ ciphertext.
func (g *Guard) SealState(p *Pending, principal string) (string, error) {
	if p == nil || p.Target == "" || p.Phrase == "" {
		return "", errors.New("guards: SealState needs a pending confirmation with a target and a phrase")
	}
	if principal == "" {
		return "", errors.New("guards: SealState needs a principal")
	}
	purpose := p.Purpose
	if purpose == "" {
		purpose = purposeOf(p.Target)
	}
	exp := g.now().Add(stateTTL)
	if !p.ExpiresAt.IsZero() && p.ExpiresAt.Before(exp) {
		exp = p.ExpiresAt
	}
	st := sealedState{
		Purpose:   purpose,
		Target:    p.Target,
		Principal: principal,
		Phrase:    p.Phrase,
		Expires:   exp.Unix(),
		Nonce:     randomBase62(22),
	}
	plain, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, g.aead.NonceSize())
	rand.Read(nonce)
	sealed := g.aead.Seal(nonce, nonce, plain, stateAAD)
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// OpenState checks a token that came back from the client: it must be
// intact, for this principal, for this target (and the purpose that target
// implies), not expired and not opened before. Each failure is a distinct
// *Refusal. Success burns the token. ctx bounds the nonce store's call
// (cut to nonceSpendTimeout): a call that cancels or times out is refused
// as store_unavailable, and the person is asked again.
func (g *Guard) OpenState(ctx context.Context, token, principal, target string) error {
	st, err := g.openState(token, principal, target)
	if err != nil {
		return err
	}
	if st.Principal != principal {
		return g.refuseState(&Refusal{Code: CodeStateForeign,
			Problem: "the confirmation state was issued to a different Close credential",
			Next:    "Call the tool again with the same credential that started the confirmation; nothing will run on someone else's confirmation."}, principal, target)
	}
	if st.Target != target || st.Purpose != purposeOf(target) {
		return g.refuseState(&Refusal{Code: CodeStateWrongTarget,
			Problem: fmt.Sprintf("the confirmation state is for %s %s, not for %s", st.Purpose, st.Target, target),
			Next:    "Start the confirmation again for " + target + "; a confirmation of one plan or job never applies to another."}, principal, target)
	}
	if !g.now().Before(time.Unix(st.Expires, 0)) {
		return g.refuseState(&Refusal{Code: CodeStateExpired,
			Problem: "the confirmation state expired",
			Next:    "Call the tool again to ask the person once more; " + nextPreviewAgainIfCreate(target)}, principal, target)
	}
	ctx, cancel := context.WithTimeout(ctx, nonceSpendTimeout)
	defer cancel()
	fresh, err := g.nonces.Spend(ctx, principal, st.Nonce, time.Unix(st.Expires, 0))
	if err != nil {
		r, ok := AsRefusal(err)
		if !ok {
			r = StoreUnavailable("check that the confirmation was not used before", err)
		}
		return g.refuseState(r, principal, target)
	}
	if !fresh {
		return g.refuseState(&Refusal{Code: CodeStateReplayed,
			Problem: "the confirmation state was already used",
			Next:    "Each confirmation answers one request. Call the tool again to ask the person once more."}, principal, target)
	}
	return nil
}

// nonceSpendTimeout bounds the nonce store's call whatever the caller's
// deadline: a tool call without one must not wait on a store that hangs.
const nonceSpendTimeout = 5 * time.Second

func (g *Guard) openState(token, principal, target string) (*sealedState, error) {
	tampered := &Refusal{Code: CodeStateTampered,
		Problem: "the confirmation state is not one bulkguard issued, or it was altered",
		Next:    "Call the tool again without the state to start a new confirmation."}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(token))
	if err != nil || len(raw) < g.aead.NonceSize()+g.aead.Overhead() {
		return nil, g.refuseState(tampered, principal, target)
	}
	ns := g.aead.NonceSize()
	plain, err := g.aead.Open(nil, raw[:ns], raw[ns:], stateAAD)
	if err != nil {
		return nil, g.refuseState(tampered, principal, target)
	}
	var st sealedState
	if err := json.Unmarshal(plain, &st); err != nil || st.Nonce == "" {
		return nil, g.refuseState(tampered, principal, target)
	}
	return &st, nil
}

func (g *Guard) refuseState(r *Refusal, principal, target string) error {
	rec := AuditRecord{Principal: principal}
	switch {
	case strings.HasPrefix(target, "plan_"):
		rec.PlanID = target
	case isBackupTarget(target):
		rec = restoreRecord(principal, target)
	default:
		rec.JobID = target
	}
	return g.refuse(r, rec)
}

func purposeOf(target string) string {
	switch {
	case strings.HasPrefix(target, "plan_"):
		return PurposeCreate
	case isBackupTarget(target):
		return PurposeRestore
	}
	return PurposeResume
}

func nextPreviewAgainIfCreate(target string) string {
	switch purposeOf(target) {
	case PurposeCreate:
		return "if the plan has expired too, " + lowerFirst(nextPreviewAgain)
	case PurposeRestore:
		return "nothing is restored until then."
	}
	return "the job stays paused until then."
}

// RecordRefusal puts on the audit record a refusal decided outside the guard
// (the person declined or cancelled the confirmation form, or typed the wrong
// phrase), so that every "no" is recorded like the guard's own refusals.
// target is the plan id (create) or job id (resume). The returned error is
// r itself.
func (g *Guard) RecordRefusal(principal, target string, r *Refusal) error {
	return g.refuseState(r, principal, target)
}
