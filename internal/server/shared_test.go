package server

import (
	"strings"
	"testing"
)

func TestParseSealKey(t *testing.T) {
	key32 := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // base64 of "0123456789abcdef0123456789abcdef"
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"base64", key32, true},
		{"base64 unpadded", strings.TrimRight(key32, "="), true},
		{"base64 with spaces around", "  " + key32 + "\n", true},
		{"hex", "3031323334353637383961626364656630313233343536373839616263646566", true},
		{"base64 of 16 bytes", "MDEyMzQ1Njc4OWFiY2RlZg==", false},
		{"empty", "", false},
		{"not an encoding", "this is not a key!", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseSealKey(tc.in)
			if tc.ok {
				if err != nil || string(k) != "0123456789abcdef0123456789abcdef" {
					t.Fatalf("ParseSealKey = %q, %v", k, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseSealKey accepted %q", tc.in)
			}
			if tc.in != "" && strings.Contains(err.Error(), strings.TrimSpace(tc.in)) {
				t.Fatalf("error %q repeats the secret", err)
			}
		})
	}
}

func TestReplicaAndStoreNames(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{{"bulkguard-1", true}, {"a", true}, {"3f2a9c1d0b7e", true}, {"", false}, {"../etc", false}, {"-x", false}, {"a b", false}, {strings.Repeat("a", 64), false}} {
		if err := CheckReplicaID(tc.id); (err == nil) != tc.ok {
			t.Errorf("CheckReplicaID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
	}
	if err := CheckReplicaID(DefaultReplicaID()); err != nil {
		t.Errorf("the default replica id is not valid: %v", err)
	}
	if got := AuditPathFor("/var/lib/bulkguard/audit-{replica}.jsonl", "b2"); got != "/var/lib/bulkguard/audit-b2.jsonl" {
		t.Errorf("AuditPathFor = %s", got)
	}
	for _, tc := range []struct {
		store string
		ok    bool
	}{{"", true}, {"memory", true}, {"redis://localhost:6379/0", true}, {"rediss://:pw@redis.example:6380", true}, {"http://x", false}, {"Memory", false}} {
		if err := CheckStore(tc.store); (err == nil) != tc.ok {
			t.Errorf("CheckStore(%q) = %v, want ok=%v", tc.store, err, tc.ok)
		}
	}
	if got := RedactStoreURL("redis://user:s3cret@redis:6379/0"); strings.Contains(got, "s3cret") || !strings.Contains(got, "redis:6379") {
		t.Errorf("RedactStoreURL = %s", got)
	}
}
