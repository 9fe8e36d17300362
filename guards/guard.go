// Package guards is the safety layer between a model and Close's bulk
// delete: plan → confirm → execute (docs/design.md "The guard").
//
// Preview judges the query by policy without Close, counts, samples and
// lists the ids of its matches in one Close search (one more per 200 ids)
// with exactly the query, sort and results_limit the delete will use,
// counts every object of the type to judge match-all and share by number,
// and saves a Plan. Create loads the plan (single use, bound to the
// credential that previewed it, expiring), checks the person's confirmation,
// recounts, refuses when more objects match than were shown or when the
// delete would take an object the person was not shown, and sends the
// bulk delete with results_limit capped at the confirmed count, so Close can
// never delete more than the person agreed to. Every step is written to an
// append-only audit log, and a create that cannot be recorded is not sent.
//
// The package knows nothing about MCP: the tools layer turns a *Refusal into
// an isError tool result and runs the elicitation round trip with
// SealState/OpenState.
package guards

import (
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bulkguard/bulkguard/closeapi"
)

// ConfirmMode says which confirmations count.
type ConfirmMode string

const (
	// ConfirmAuto accepts an elicited phrase, or else the phrase passed as
	// the confirm argument.
	ConfirmAuto ConfirmMode = "auto"
	// ConfirmElicit accepts only an elicited phrase; a typed-through
	// argument is refused (the model could have written it itself).
	ConfirmElicit ConfirmMode = "elicit"
	// ConfirmPhrase accepts only the phrase passed as the confirm argument
	// and never asks through a form: for clients that declare elicitation
	// but cannot show the form (reported of some desktop clients, which
	// answer cancel at once), so that deleting stays possible there.
	ConfirmPhrase ConfirmMode = "phrase"
	// ConfirmPage accepts only an approval the person gave on bulkguard's
	// own loopback page: neither the model nor the client can give it.
	ConfirmPage ConfirmMode = "page"
)

// Ways a confirmation arrived (Confirmation.By, Receipt.ConfirmedBy).
const (
	ConfirmedByElicitation = "elicitation"
	ConfirmedByPhrase      = "phrase"
	// ConfirmedByPage: the person typed the phrase on the approval page.
	ConfirmedByPage = "page"
)

// Defaults of Policy.
const (
	DefaultMaxObjects = 1000
	DefaultPlanTTL    = 10 * time.Minute
	DefaultSampleSize = 10
	MaxSampleSize     = 50
	// NoSample as PreviewInput.SampleSize asks for the count only.
	NoSample = -1
	// DefaultVerifyIDsUpTo is Policy.VerifyIDsUpTo's default: the default
	// MaxObjects, so every delete the default policy allows is checked id
	// by id.
	DefaultVerifyIDsUpTo = DefaultMaxObjects
	// DefaultMaxShare is Policy.MaxShare's default. A cleanup removes a
	// part of an organization; a job that would take more than half of
	// every lead is a reset or a query that means more than it says (a
	// tautology a few objects short of everything, or a count taken while
	// the index lagged), and is worth a deliberate --max-share.
	DefaultMaxShare = 0.5
)

// DefaultAllowedObjectTypes are the object types Close's search documents
// (docs/close-api.md §2.4), and so the only ones a count can be trusted for.
var DefaultAllowedObjectTypes = []string{"lead", "contact"}

// indexLagWindow is how long after a delete Close's search may still count
// deleted objects (30–60 s observed, docs/close-api.md §2.4 [OBS]).
const indexLagWindow = 60 * time.Second

// Policy is what the operator allows.
type Policy struct {
	// MaxObjects caps will_delete of an executable plan. 0 → 1000.
	MaxObjects int
	// AllowedObjectTypes that may be deleted. nil → lead, contact.
	AllowedObjectTypes []string
	// AllowMatchAll permits queries that match every object of the type.
	AllowMatchAll bool
	// Confirm mode. "" → ConfirmAuto.
	Confirm ConfirmMode
	// PlanTTL is how long a plan can be executed. 0 → 10 minutes.
	PlanTTL time.Duration
	// VerifyIDsUpTo: a plan that deletes at most this many objects stores
	// every id the delete would take, and create refuses unless the delete
	// would still take only those; larger plans are checked by their
	// sample. 0 → 1000; at most closeapi.MaxIDWalk (one cursor walk).
	VerifyIDsUpTo int
	// MaxShare is the largest share of all objects of the type (will_delete
	// / org_total) an executable plan may take, in (0, 1]. 0 → 0.5.
	// AllowMatchAll lifts it.
	MaxShare float64
	// MaxPlansPerPrincipal and MaxPlanBytes cap the unexpired plans one
	// credential holds (count) and all of them hold (encoded bytes); a
	// preview past a cap is refused as plans_full. 0 → 100 and 64 MiB.
	MaxPlansPerPrincipal int
	MaxPlanBytes         int64
	// Backup says whether a verified backup must be taken before each delete. "" →
	// BackupRequired, which needs Config.Backups.
	Backup BackupMode
	// BackupTimeout bounds one backup. 0 → DefaultBackupTimeout.
	BackupTimeout time.Duration
}

// Config builds a Guard.
type Config struct {
	Policy Policy
	// Store keeps plans. nil → a MemoryStore on the guard's clock.
	Store PlanStore
	// Nonces remembers spent elicitation states. nil → MemoryNonces on the
	// guard's clock; replicas must share one (and SealKey).
	Nonces NonceStore
	// Audit is required: a guard that cannot record does not delete.
	Audit *AuditLog
	// Environment is "sandbox" or "close"; it is echoed in every preview
	// and audit record so nobody mistakes one for the other.
	Environment string
	// Now is the clock (tests inject one). nil → time.Now.
	Now func() time.Time
	// Backups take the backup before each delete; required unless Policy.Backup is BackupOff.
	Backups Backups
	// SealKey is the AES key (16, 24 or 32 bytes) for elicitation state.
	// nil → a random 32-byte key, which is right for one process (stdio);
	// replicas behind a load balancer must share one.
	SealKey []byte
}

// Guard enforces the policy. It is safe for concurrent use.
type Guard struct {
	policy  Policy
	store   PlanStore
	log     *AuditLog
	backups Backups
	env     string
	now     func() time.Time
	aead    cipher.AEAD

	nonces NonceStore

	mu         sync.Mutex
	knownJobs  *timedMap[struct{}] // jobs this guard created or reconciled
	lastCreate *timedMap[struct{}] // principal → when it last sent a create

	names     nameCache     // names of ids, for summaries
	orgTotals orgTotalCache // objects of each type, for match_all and the share

	plans *planBudget // caps on the plans saved
}

// New checks the configuration and fills in defaults.
func New(c Config) (*Guard, error) {
	if c.Audit == nil {
		return nil, errors.New("guards: an audit log is required")
	}
	p := c.Policy
	if p.MaxObjects < 0 {
		return nil, errors.New("guards: MaxObjects must not be negative")
	}
	if p.MaxObjects == 0 {
		p.MaxObjects = DefaultMaxObjects
	}
	if p.PlanTTL < 0 {
		return nil, errors.New("guards: PlanTTL must not be negative")
	}
	if p.PlanTTL == 0 {
		p.PlanTTL = DefaultPlanTTL
	}
	if p.VerifyIDsUpTo < 0 || p.VerifyIDsUpTo > closeapi.MaxIDWalk {
		return nil, fmt.Errorf("guards: VerifyIDsUpTo must be between 0 and %d (one cursor walk), not %d", closeapi.MaxIDWalk, p.VerifyIDsUpTo)
	}
	if p.VerifyIDsUpTo == 0 {
		p.VerifyIDsUpTo = DefaultVerifyIDsUpTo
	}
	if p.MaxShare < 0 || p.MaxShare > 1 || math.IsNaN(p.MaxShare) {
		return nil, fmt.Errorf("guards: MaxShare must be a fraction between 0 and 1, not %g", p.MaxShare)
	}
	if p.MaxShare == 0 {
		p.MaxShare = DefaultMaxShare
	}
	if p.MaxPlansPerPrincipal < 0 || p.MaxPlanBytes < 0 {
		return nil, errors.New("guards: plan caps must not be negative")
	}
	if p.MaxPlansPerPrincipal == 0 {
		p.MaxPlansPerPrincipal = DefaultMaxPlansPerPrincipal
	}
	if p.MaxPlanBytes == 0 {
		p.MaxPlanBytes = DefaultMaxPlanBytes
	}
	switch p.Confirm {
	case "":
		p.Confirm = ConfirmAuto
	case ConfirmAuto, ConfirmElicit, ConfirmPhrase, ConfirmPage:
	default:
		return nil, fmt.Errorf("guards: confirm mode %q is not auto, elicit, phrase or page", p.Confirm)
	}
	switch p.Backup {
	case "":
		p.Backup = BackupRequired
	case BackupRequired, BackupOff:
	default:
		return nil, fmt.Errorf("guards: backup mode %q is not required or off", p.Backup)
	}
	if p.Backup == BackupRequired && c.Backups == nil {
		return nil, errors.New("guards: --backup required needs a backup directory (Config.Backups); set Policy.Backup to off to delete without backups")
	}
	if p.BackupTimeout < 0 {
		return nil, errors.New("guards: BackupTimeout must not be negative")
	}
	if p.BackupTimeout == 0 {
		p.BackupTimeout = DefaultBackupTimeout
	}
	types := p.AllowedObjectTypes
	if types == nil {
		types = DefaultAllowedObjectTypes
	}
	p.AllowedObjectTypes = nil
	for _, t := range types {
		t = strings.ToLower(strings.TrimSpace(t))
		if t != "" && !slices.Contains(p.AllowedObjectTypes, t) {
			p.AllowedObjectTypes = append(p.AllowedObjectTypes, t)
		}
	}
	if len(p.AllowedObjectTypes) == 0 {
		return nil, errors.New("guards: no object type is allowed")
	}
	now := c.Now
	if now == nil {
		now = time.Now
	}
	store := c.Store
	if store == nil {
		store = NewMemoryStoreClock(now)
	}
	nonces := c.Nonces
	if nonces == nil {
		nonces = NewMemoryNonces(now)
	}
	key := c.SealKey
	if key == nil {
		key = make([]byte, 32)
		rand.Read(key)
	}
	switch len(key) {
	case 16, 24, 32:
	default:
		return nil, fmt.Errorf("guards: SealKey must be 16, 24 or 32 bytes, not %d", len(key))
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, fmt.Errorf("guards: seal key: %w", err)
	}
	return &Guard{
		policy:     p,
		store:      store,
		log:        c.Audit,
		backups:    c.Backups,
		env:        c.Environment,
		now:        now,
		aead:       aead,
		nonces:     nonces,
		knownJobs:  newTimedMap[struct{}](knownJobsTTL, maxTracked),
		lastCreate: newTimedMap[struct{}](indexLagWindow, maxTracked),
		plans:      newPlanBudget(p.MaxPlansPerPrincipal, p.MaxPlanBytes, p.PlanTTL),
	}, nil
}

// Policy returns the effective policy (defaults filled in).
func (g *Guard) Policy() Policy {
	p := g.policy
	p.AllowedObjectTypes = slices.Clone(p.AllowedObjectTypes)
	return p
}

// audit writes a record stamped with the guard's clock and environment.
func (g *Guard) audit(r AuditRecord) (string, error) {
	if r.Time.IsZero() {
		r.Time = g.now().UTC()
	}
	if r.Environment == "" {
		r.Environment = g.env
	}
	return g.log.Append(r)
}

// refuse records r (best effort: a refusal deletes nothing, so a failed
// write must not turn it into something else) and returns it as an error.
func (g *Guard) refuse(r *Refusal, rec AuditRecord) error {
	rec.Event = EventRefusal
	rec.Code = r.Code
	rec.Reason = r.Error()
	rec.Outcome = "refused"
	_, _ = g.audit(rec)
	return r
}

func planRecord(p *Plan) AuditRecord {
	return AuditRecord{
		PlanID:      p.ID,
		Principal:   p.Principal,
		ObjectType:  p.ObjectType,
		QueryDigest: p.QueryDigest,
		Summary:     p.Summary,
		Total:       intp(p.Total),
		WillDelete:  intp(p.WillDelete),
	}
}

func intp(v int) *int { return &v }

// plural names n objects of type t, e.g. "42 leads", "1 contact".
func plural(n int, t string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, t)
	}
	return fmt.Sprintf("%d %ss", n, t)
}

// DeletePhrase is what the person types to confirm, e.g. "DELETE 42 LEADS".
// It carries the count so that confirming is confirming a number.
func DeletePhrase(n int, objectType string) string {
	return "DELETE " + strings.ToUpper(plural(n, objectType))
}

// resumePhrase is what the person types to resume a paused job.
func resumePhrase(jobID string) string { return "RESUME " + jobID }
