package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/sandbox"
)

// TestNewBackend: which Close API New picks, and which configurations it
// refuses (a ConfigError is a usage error on the command line).
func TestNewBackend(t *testing.T) {
	tests := []struct {
		name        string
		cfg         Config
		wantEnv     string
		wantURL     string // prefix
		wantSandbox bool
		wantLog     string
		wantConfig  bool // a ConfigError
		wantErr     string
	}{
		{name: "no key: sandbox", cfg: Config{}, wantEnv: EnvSandbox, wantURL: "http://127.0.0.1:", wantSandbox: true,
			wantLog: "no CLOSE_API_KEY is set"},
		{name: "key: Close", cfg: Config{CloseAPIKey: "api_x"}, wantEnv: EnvClose, wantURL: closeapi.DefaultBaseURL,
			wantLog: "close_url=" + closeapi.DefaultBaseURL},
		{name: "key and close url", cfg: Config{CloseAPIKey: "api_x", CloseURL: "https://close.example/api/v1"}, wantEnv: EnvClose,
			wantURL: "https://close.example/api/v1", wantLog: "close_url=https://close.example/api/v1"},
		{name: "--sandbox wins over the key", cfg: Config{CloseAPIKey: "api_x", Sandbox: true, CloseURL: "https://close.example/api/v1"},
			wantEnv: EnvSandbox, wantURL: "http://127.0.0.1:", wantSandbox: true, wantLog: "--close-url is ignored"},
		{name: "a backend of the caller's", cfg: Config{Backend: &Backend{BaseURL: "http://127.0.0.1:9/api/v1", APIKey: "k", Environment: EnvSandbox}},
			wantEnv: EnvSandbox, wantURL: "http://127.0.0.1:9/api/v1"},
		{name: "bad sandbox option", cfg: Config{SandboxOptions: sandbox.Options{Leads: -1}}, wantConfig: true, wantErr: "leads"},
		{name: "unreadable export", cfg: Config{SandboxOptions: sandbox.Options{LoadExport: "no-such-export.json"}}, wantConfig: true, wantErr: "no-such-export.json"},
		{name: "audit log in a missing directory", cfg: Config{CloseAPIKey: "api_x", AuditLog: filepath.Join(os.DevNull, "audit.jsonl")}, wantErr: "audit log"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			cfg := tc.cfg
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			if cfg.AuditLog == "" {
				cfg.AuditLog = filepath.Join(t.TempDir(), "audit.jsonl")
			}
			cfg.SandboxOptions.EmptyOrg = cfg.SandboxOptions.LoadExport == "" && cfg.SandboxOptions.Leads == 0
			s, cleanup, err := New(cfg)
			if tc.wantErr != "" {
				var ce *ConfigError
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || errors.As(err, &ce) != tc.wantConfig {
					t.Fatalf("New: err %v, want one mentioning %q (ConfigError %v)", err, tc.wantErr, tc.wantConfig)
				}
				if s != nil || cleanup != nil {
					t.Error("a failed New returned a server or a cleanup")
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer cleanup()
			b := s.Backend()
			if b.Environment != tc.wantEnv || !strings.HasPrefix(b.BaseURL, tc.wantURL) {
				t.Errorf("backend %+v, want environment %s at %s…", b, tc.wantEnv, tc.wantURL)
			}
			if (s.Sandbox() != nil) != tc.wantSandbox {
				t.Errorf("Sandbox() = %v, want a sandbox: %v", s.Sandbox(), tc.wantSandbox)
			}
			if s.MCP() == nil || s.Guard() == nil || s.Client() == nil {
				t.Error("New left a part unwired")
			}
			if !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("log lacks %q:\n%s", tc.wantLog, logs.String())
			}
			if strings.Contains(logs.String(), "api_x") {
				t.Error("the Close API key reached the log")
			}
		})
	}
}

// TestServeStdio: one initialize request on stdin gets its answer on
// stdout, and the end of stdin ends the session without an error.
func TestServeStdio(t *testing.T) {
	s, cleanup, err := New(Config{AuditLog: filepath.Join(t.TempDir(), "audit.jsonl"), SandboxOptions: sandbox.Options{EmptyOrg: true},
		Version: "stdio-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	var out bytes.Buffer
	if err := s.Serve(context.Background(), strings.NewReader(initBody+"\n"), &out); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if !strings.Contains(out.String(), `"serverInfo"`) || !strings.Contains(out.String(), `"stdio-test"`) {
		t.Errorf("stdout: %s", out.String())
	}
}

// TestAuditLogModeWarning: an audit log found readable by others is set to
// 0600, and the server says so once, at startup.
func TestAuditLogModeWarning(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil { //nolint:gosec // the loose mode the server must tighten
		t.Fatal(err)
	}
	var logs bytes.Buffer
	_, cleanup, err := New(Config{AuditLog: path, SandboxOptions: sandbox.Options{EmptyOrg: true},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode after startup: %v %v", st.Mode(), err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "its mode is now 0600") || !strings.Contains(logs.String(), "was=0644") {
		t.Errorf("no warning about the mode:\n%s", logs.String())
	}
}

// TestSandboxBehindCloseURL: a bulkguard sandbox reached through
// --close-url is labelled sandbox; any other Close URL stays close.
func TestSandboxBehindCloseURL(t *testing.T) {
	sb, err := sandbox.New(sandbox.Options{Leads: 5})
	if err != nil {
		t.Fatal(err)
	}
	sbs := httptest.NewServer(sb)
	t.Cleanup(func() { sbs.Close(); sb.Close() })
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(other.Close)
	for _, tc := range []struct {
		name, url, want string
	}{
		{"a sandbox", sbs.URL + "/api/v1", EnvSandbox},
		{"not a sandbox", other.URL + "/api/v1", EnvClose},
		{"unreachable", "http://127.0.0.1:1/api/v1", EnvClose},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, cleanup, err := New(Config{CloseURL: tc.url, CloseAPIKey: sb.APIKey(), AuditLog: filepath.Join(t.TempDir(), "audit.jsonl"),
				Policy: guards.Policy{Backup: guards.BackupOff}, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(cleanup)
			if got := s.Backend().Environment; got != tc.want {
				t.Errorf("environment %q, want %q", got, tc.want)
			}
		})
	}
}
