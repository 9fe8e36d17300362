package redisstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/bulkguard/bulkguard/guards"
)

var _ guards.PlanCounter = (*Store)(nil)

// The plan caps are counted per principal, in two keys of its slot:
//
//	bulkguard:{cred_…}:plans       sorted set: plan id, scored by expiry (Unix ms)
//	bulkguard:{cred_…}:planbytes   hash: plan id → its encoded size
//
// so every replica sees every plan of the principal, and one script checks
// and adds atomically. --max-plans-per-principal holds exactly as on one
// process. --max-plan-bytes holds per principal here, not for the server
// as a whole: a total over all principals would be a key outside every
// principal's slot, and a script may only touch keys of one slot on a
// Redis Cluster (CROSSSLOT otherwise); checking a global total in a second
// step would not be atomic, so two replicas could both pass it. What all
// principals together may hold is bounded by Redis itself (maxmemory, with
// the noeviction policy so a full Redis refuses writes, which the guard
// reports as store_unavailable, rather than evicting plans).
func (s *Store) budgetKeys(principal string) []string {
	base := s.prefix + ":{" + principal + "}:"
	return []string{base + "plans", base + "planbytes"}
}

// reservePlan drops the plans expired by ARGV[1], then adds ARGV[2] unless
// the principal holds ARGV[5] plans or ARGV[3] more bytes would pass
// ARGV[6]. It answers {admitted (0/1), plans before, bytes before}. The
// keys live a minute past the last plan's expiry; an idle principal
// leaves nothing behind.
var reservePlan = redis.NewScript(`
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for i = 1, #gone, 500 do
  redis.call('HDEL', KEYS[2], unpack(gone, i, math.min(i + 499, #gone)))
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local n = redis.call('ZCARD', KEYS[1])
local used = 0
for _, v in ipairs(redis.call('HVALS', KEYS[2])) do used = used + tonumber(v) end
if n >= tonumber(ARGV[5]) or used + tonumber(ARGV[3]) > tonumber(ARGV[6]) then
  return {0, n, used}
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local ttl = math.max(tonumber(last[2]) - tonumber(ARGV[1]), 0) + 60000
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return {1, n, used}`)

// unreservePlan removes ARGV[1] from both keys.
var unreservePlan = redis.NewScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1`)

// ReservePlan counts a plan against the principal's caps in one script,
// so of concurrent previews on any number of replicas no more than the
// cap are admitted. Expiry is judged with the guard's clock (r.Now).
func (s *Store) ReservePlan(ctx context.Context, r guards.PlanReservation) (guards.PlanUsage, error) {
	if r.Principal == "" || r.ID == "" {
		return guards.PlanUsage{}, errors.New("redisstore: ReservePlan needs a principal and a plan id")
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	res, err := reservePlan.Run(ctx, s.rdb, s.budgetKeys(r.Principal),
		r.Now.UnixMilli(), r.ID, r.Bytes, r.ExpiresAt.UnixMilli(), r.MaxPlans, r.MaxBytes).Int64Slice()
	if err != nil {
		return guards.PlanUsage{}, guards.StoreUnavailable("count the plans this credential holds", err)
	}
	if len(res) != 3 {
		return guards.PlanUsage{}, fmt.Errorf("redisstore: reserve answered %d values", len(res))
	}
	return guards.PlanUsage{Admitted: res[0] == 1, Plans: int(res[1]), Bytes: res[2], BytesPerPrincipal: true}, nil
}

// UnreservePlan stops counting a plan that was not saved.
func (s *Store) UnreservePlan(ctx context.Context, principal, id string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := unreservePlan.Run(ctx, s.rdb, s.budgetKeys(principal), id).Err(); err != nil {
		return guards.StoreUnavailable("stop counting a plan that was not saved", err)
	}
	return nil
}
