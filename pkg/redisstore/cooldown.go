package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cognitokit/cognitokit/pkg/cognito"
)

// The store is a [cognito.CooldownStore]: when one instance's token request is rejected
// (a wrong secret, a scope the client lacks) or the token endpoint is failing, it records
// the cool-down the authenticator started under the token's key, and the other instances
// read it in the round trip that would have taken the fetch lock: they make no request
// until it ends. The cool-down's Redis TTL is what is left of it, so that Redis's clock
// alone decides when it ends, whatever the instances' clocks say. A token stored ends it.
var _ cognito.CooldownStore = (*Store)(nil)

// cooldownRecord is the stored form of a cool-down: the endpoint's answer and how many
// times in a row it came, never a secret or a token.
type cooldownRecord struct {
	V           int    `json:"v"`
	Reason      string `json:"reason"`
	ErrorCode   string `json:"error_code,omitempty"`
	Description string `json:"error_description,omitempty"`
	Status      int    `json:"status,omitempty"`
	Streak      int    `json:"streak"`
}

func encodeCooldown(c *cognito.Cooldown) string {
	b, _ := json.Marshal(cooldownRecord{V: recordVersion, Reason: c.Reason, ErrorCode: c.ErrorCode,
		Description: c.ErrorDescription, Status: c.StatusCode, Streak: c.Streak}) // strings and integers only
	return string(b)
}

// decodeCooldown returns the cool-down of a stored value with remaining left of it. A
// value it does not understand still holds requests off for its TTL, as a rejection
// with no code: a cool-down is safe to honour, unsafe to ignore.
func decodeCooldown(v string, remaining time.Duration) *cognito.Cooldown {
	var r cooldownRecord
	if json.Unmarshal([]byte(v), &r) != nil || r.V != recordVersion {
		r = cooldownRecord{}
	}
	return &cognito.Cooldown{Reason: r.Reason, ErrorCode: r.ErrorCode, ErrorDescription: r.Description,
		StatusCode: r.Status, Streak: r.Streak, Remaining: remaining}
}

// LoadCooldown returns the cool-down in force for key, or nil. The authenticator reads
// it with the fetch lock instead (Coalesce); it calls LoadCooldown only when Coalesce
// failed.
func (s *Store) LoadCooldown(ctx context.Context, key string) (*cognito.Cooldown, error) {
	var res []any
	err := s.call(ctx, "load cooldown", s.timeout, func(ctx context.Context) error {
		var err error
		res, err = s.client.Eval(ctx, loadCooldownLua, []string{cooldownKey(s.RedisKey(key))}).Slice()
		if errors.Is(err, redis.Nil) {
			return nil
		}
		return err
	})
	if err != nil || len(res) != 2 {
		return nil, err
	}
	v, _ := res[0].(string)
	left, _ := res[1].(int64)
	if v == "" || left <= 0 {
		return nil, nil
	}
	s.heldOff.Add(1)
	return decodeCooldown(v, time.Duration(left)*time.Millisecond), nil
}

// StoreCooldown records c for key for c.Remaining.
func (s *Store) StoreCooldown(ctx context.Context, key string, c *cognito.Cooldown) error {
	if c == nil || c.Remaining < time.Millisecond {
		return nil
	}
	err := s.call(ctx, "store cooldown", s.timeout, func(ctx context.Context) error {
		return s.client.Set(ctx, cooldownKey(s.RedisKey(key)), encodeCooldown(c), c.Remaining).Err()
	})
	if err == nil {
		s.cooldowns.Add(1)
	}
	return err
}
