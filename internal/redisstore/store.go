// Package redisstore keeps the guard's shared state in Redis, so that
// several bulkguard replicas behind a load balancer act as one: a plan
// previewed on one replica can be executed on another, and runs once
// whichever replicas its creates reach; a sealed confirmation opens once
// across all of them.
//
// Keys (prefix "bulkguard" by default; {…} is the Redis Cluster hash tag):
//
//	bulkguard:{cred_…}:plan:<plan id>   hash: plan (JSON), state (0–3)
//	bulkguard:{cred_…}:nonce:<nonce>    spent elicitation nonce
//	bulkguard:{cred_…}:plans            plan caps: ids by expiry (budget.go)
//	bulkguard:{cred_…}:planbytes        plan caps: id → encoded size
//	bulkguard:planowner:<plan id>       the plan's principal
//
// Everything a principal owns lives in that principal's slot, so scripts
// over several of its keys (the plan caps' two keys) stay valid on a
// cluster. The guard asks for a plan by id alone, so the owner
// key maps an id to its principal; it is written once, before the plan,
// and never changes, so reading it first needs no atomicity with the
// plan's own state changes, which are single-key Lua scripts.
//
// Every error is a *guards.Refusal with code store_unavailable (the guard
// passes it on wrapped, and the tools layer shows it as a refusal): no
// store call happens after a bulk delete was sent, so "nothing was
// deleted" is true of all of them.
package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulkguard/bulkguard/guards"
)

// Grace is how long a plan is kept after it expires, as the in-memory
// store does, so a late create is told "expired", not "unknown".
const Grace = time.Hour

// DefaultTimeout bounds every store call: a Redis that does not answer
// within it makes the call refuse rather than hold a create.
const DefaultTimeout = 2 * time.Second

// Options configure a Store.
type Options struct {
	// Prefix of every key. "" → "bulkguard".
	Prefix string
	// Timeout of one store call. 0 → DefaultTimeout.
	Timeout time.Duration
	// Now is the clock TTLs are computed with; the guard's clock judges
	// expiry. nil → time.Now.
	Now func() time.Time
	// Grace is how long a plan is kept past its expiry. 0 → Grace.
	Grace time.Duration
}

// Store is a guards.PlanStore, guards.PlanCounter and guards.NonceStore
// on Redis. It is safe for concurrent use; every replica opens its own
// Store on the same Redis.
type Store struct {
	rdb     redis.UniversalClient
	prefix  string
	timeout time.Duration
	grace   time.Duration
	now     func() time.Time
}

var (
	_ guards.PlanStore  = (*Store)(nil)
	_ guards.NonceStore = (*Store)(nil)
)

// Open connects to the Redis at rawURL (redis:// or rediss://, as
// redis.ParseURL reads it: password, database, TLS) and checks that it
// answers. A URL with cluster=true, or with addr= parameters naming more
// nodes, opens a Redis Cluster client instead (redis.ParseClusterURL):
// every script touches one key or two keys of one principal, and every
// key a principal owns carries its hash tag, so nothing here crosses slots.
func Open(ctx context.Context, rawURL string, o Options) (*Store, error) {
	// The parsers' messages may quote the URL, which may hold a password.
	errBad := errors.New("redisstore: the store URL is not a valid redis:// or rediss:// URL")
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errBad
	}
	var rdb redis.UniversalClient
	if q := u.Query(); q.Get("cluster") == "true" || q.Has("addr") {
		q.Del("cluster")
		u.RawQuery = q.Encode()
		copt, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, errBad
		}
		t := timeout(o)
		copt.DialTimeout, copt.ReadTimeout, copt.WriteTimeout = t, t, t
		copt.ContextTimeoutEnabled = true
		copt.MaxRetries = -1 // as tuneClient says; MOVED redirects still follow
		rdb = redis.NewClusterClient(copt)
	} else {
		opt, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, errBad
		}
		tuneClient(opt, o)
		rdb = redis.NewClient(opt)
	}
	s := New(rdb, o)
	if err := s.Ping(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// tuneClient makes the client fail fast and never resend by itself.
func tuneClient(opt *redis.Options, o Options) {
	t := timeout(o)
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = t, t, t
	opt.ContextTimeoutEnabled = true
	// A claim or a nonce spend whose answer was lost must not be sent
	// again: the second run would find the plan claimed (or the nonce
	// spent) by the first and refuse the caller that holds it. One attempt,
	// and a refusal when it fails, is safe; a retry is the caller's.
	opt.MaxRetries = -1
}

func timeout(o Options) time.Duration {
	if o.Timeout <= 0 {
		return DefaultTimeout
	}
	return o.Timeout
}

// New wraps a client the caller built (for example a redis.ClusterClient).
// Close closes it.
func New(rdb redis.UniversalClient, o Options) *Store {
	s := &Store{rdb: rdb, prefix: o.Prefix, timeout: o.Timeout, grace: o.Grace, now: o.Now}
	if s.grace <= 0 {
		s.grace = Grace
	}
	if s.prefix == "" {
		s.prefix = "bulkguard"
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Close closes the connection pool.
func (s *Store) Close() error { return s.rdb.Close() }

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return guards.StoreUnavailable("reach Redis", err)
	}
	return nil
}

func (s *Store) planKey(principal, id string) string {
	return s.prefix + ":{" + principal + "}:plan:" + id
}

func (s *Store) ownerKey(id string) string { return s.prefix + ":planowner:" + id }

func (s *Store) nonceKey(principal, nonce string) string {
	return s.prefix + ":{" + principal + "}:nonce:" + nonce
}

// ttl keeps a plan until it expires plus the grace.
func (s *Store) ttl(p *guards.Plan) time.Duration {
	return max(p.ExpiresAt.Sub(s.now()), 0) + s.grace
}

// savePlan writes the plan in state available unless the key exists.
var savePlan = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'plan', ARGV[1], 'state', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`)

// claimPlan is the compare-and-set available → claimed. It answers
// {state} when the plan is not available, {-1} when there is none, and
// {claimed, plan} on success.
var claimPlan = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return {-1} end
if st ~= '0' then return {tonumber(st)} end
redis.call('HSET', KEYS[1], 'state', '1')
return {1, redis.call('HGET', KEYS[1], 'plan')}`)

// leaveClaimed moves a claimed plan to ARGV[1]. It answers -1 when there
// is no plan, the state it found when that was not claimed, and -2 on
// success.
var leaveClaimed = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return -1 end
if st ~= '1' then return tonumber(st) end
redis.call('HSET', KEYS[1], 'state', ARGV[1])
return -2`)

// Save stores a new plan as available.
func (s *Store) Save(ctx context.Context, p *guards.Plan) error {
	if p == nil || p.ID == "" || p.Principal == "" {
		return errors.New("redisstore: cannot save a plan without an id and a principal")
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("redisstore: encode plan: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	ttl := s.ttl(p)
	fresh, err := s.rdb.SetNX(ctx, s.ownerKey(p.ID), p.Principal, ttl).Result()
	if err != nil {
		return guards.StoreUnavailable("save the plan", err)
	}
	if !fresh {
		return errors.New("redisstore: duplicate plan id")
	}
	n, err := savePlan.Run(ctx, s.rdb, []string{s.planKey(p.Principal, p.ID)}, raw, ttl.Milliseconds()).Int()
	if err != nil {
		// Without its plan the owner key only makes the id "unknown", which
		// it is; removing it is tidiness, so a failure here is ignored.
		_ = s.rdb.Del(context.WithoutCancel(ctx), s.ownerKey(p.ID)).Err()
		return guards.StoreUnavailable("save the plan", err)
	}
	if n != 1 {
		return errors.New("redisstore: duplicate plan id")
	}
	return nil
}

// owner finds the principal a plan id belongs to.
func (s *Store) owner(ctx context.Context, id, what string) (string, error) {
	principal, err := s.rdb.Get(ctx, s.ownerKey(id)).Result()
	if errors.Is(err, redis.Nil) {
		return "", guards.ErrPlanNotFound
	}
	if err != nil {
		return "", guards.StoreUnavailable(what, err)
	}
	return principal, nil
}

// Load returns the plan and its state.
func (s *Store) Load(ctx context.Context, id string) (*guards.Plan, guards.PlanState, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	principal, err := s.owner(ctx, id, "load the plan")
	if err != nil {
		return nil, 0, err
	}
	vals, err := s.rdb.HMGet(ctx, s.planKey(principal, id), "plan", "state").Result()
	if err != nil {
		return nil, 0, guards.StoreUnavailable("load the plan", err)
	}
	raw, ok1 := vals[0].(string)
	st, ok2 := vals[1].(string)
	if !ok1 || !ok2 {
		return nil, 0, guards.ErrPlanNotFound
	}
	state, err := parseState(st)
	if err != nil {
		return nil, 0, err
	}
	p, err := decodePlan(raw)
	if err != nil {
		return nil, 0, err
	}
	return p, state, nil
}

// Claim moves an available plan to claimed in one script, so of any
// number of concurrent claims on any number of replicas exactly one wins.
func (s *Store) Claim(ctx context.Context, id string) (*guards.Plan, guards.PlanState, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	principal, err := s.owner(ctx, id, "claim the plan")
	if err != nil {
		return nil, 0, err
	}
	res, err := claimPlan.Run(ctx, s.rdb, []string{s.planKey(principal, id)}).Slice()
	if err != nil {
		return nil, 0, guards.StoreUnavailable("claim the plan", err)
	}
	code, ok := res[0].(int64)
	if !ok {
		return nil, 0, fmt.Errorf("redisstore: claim answered %T", res[0])
	}
	switch {
	case code == -1:
		return nil, 0, guards.ErrPlanNotFound
	case code == int64(guards.PlanClaimed) && len(res) == 2:
		raw, ok := res[1].(string)
		if !ok {
			return nil, 0, fmt.Errorf("redisstore: claim answered a plan of type %T", res[1])
		}
		p, err := decodePlan(raw)
		if err != nil {
			return nil, 0, err
		}
		return p, guards.PlanClaimed, nil
	}
	state, err := parseState(strconv.FormatInt(code, 10))
	if err != nil {
		return nil, 0, err
	}
	return nil, state, guards.ErrPlanNotAvailable
}

// Release moves a claimed plan back to available.
func (s *Store) Release(ctx context.Context, id string) error {
	return s.leave(ctx, id, "release", guards.PlanAvailable)
}

// Finish moves a claimed plan to consumed or discarded.
func (s *Store) Finish(ctx context.Context, id string, final guards.PlanState) error {
	if final != guards.PlanConsumed && final != guards.PlanDiscarded {
		return errors.New("redisstore: Finish needs PlanConsumed or PlanDiscarded")
	}
	return s.leave(ctx, id, "finish", final)
}

func (s *Store) leave(ctx context.Context, id, verb string, to guards.PlanState) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	what := verb + " the plan"
	principal, err := s.owner(ctx, id, what)
	if err != nil {
		return err
	}
	code, err := leaveClaimed.Run(ctx, s.rdb, []string{s.planKey(principal, id)}, int(to)).Int64()
	if err != nil {
		return guards.StoreUnavailable(what, err)
	}
	switch code {
	case -2:
		return nil
	case -1:
		return guards.ErrPlanNotFound
	}
	state, err := parseState(strconv.FormatInt(code, 10))
	if err != nil {
		return err
	}
	return errors.New("redisstore: " + verb + " of a plan that is " + state.String())
}

// Spend records a nonce with SET NX: the first replica to set it wins, and
// it stays until the state it belongs to expired plus guards.NonceGrace.
func (s *Store) Spend(ctx context.Context, principal, nonce string, until time.Time) (bool, error) {
	if principal == "" || nonce == "" {
		return false, errors.New("redisstore: Spend needs a principal and a nonce")
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	ttl := max(until.Sub(s.now()), 0) + guards.NonceGrace
	fresh, err := s.rdb.SetNX(ctx, s.nonceKey(principal, nonce), "1", ttl).Result()
	if err != nil {
		return false, guards.StoreUnavailable("check that the confirmation was not used before", err)
	}
	return fresh, nil
}

func parseState(st string) (guards.PlanState, error) {
	n, err := strconv.Atoi(st)
	if err != nil || n < int(guards.PlanAvailable) || n > int(guards.PlanDiscarded) {
		return 0, fmt.Errorf("redisstore: a plan has the unknown state %q", st)
	}
	return guards.PlanState(n), nil
}

func decodePlan(raw string) (*guards.Plan, error) {
	var p guards.Plan
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return nil, fmt.Errorf("redisstore: decode plan: %w", err)
	}
	return &p, nil
}
