// Package closeapi is bulkguard's client for the Close CRM REST API: bulk deletes (create,
// list, get, pause/resume), Advanced Filtering search (count and sample), and the lookups the
// guard needs (lead statuses, lead custom fields, Smart Views, users, me).
//
// Reads (GETs and the read-only POST /data/search/) are retried on 429, 502, 503, 504 and
// network errors; the bulk-delete create and the status change are never retried, because
// repeating them could start a second delete. The credential never appears in an error string
// or a log line: errors name the method and the path only, and any text taken from a response
// body has the credential removed.
package closeapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultBaseURL is Close's production API root.
const DefaultBaseURL = "https://api.close.com/api/v1"

const (
	defaultMaxAttempts = 4
	defaultRetryBudget = 30 * time.Second
	defaultTimeout     = 30 * time.Second
	defaultVersion     = "dev"

	// Backoff when Close gives no wait: 500ms, 1s, 2s, … capped at 8s, with jitter. The
	// official Python client sleeps about 2s by default; starting lower keeps a lone 502 cheap.
	backoffBase = 500 * time.Millisecond
	backoffCap  = 8 * time.Second

	// maxErrorBody bounds how much of an error answer is read; maxBody bounds a success body
	// (a search page with many _fields can be large, but never this large).
	maxErrorBody = 64 << 10
	maxBody      = 64 << 20
)

// Options configures a Client. APIKey or BearerToken is required.
type Options struct {
	BaseURL     string        // default DefaultBaseURL; trailing slash optional
	APIKey      string        // HTTP Basic: the key is the user name, the password is empty
	BearerToken string        // OAuth access token; used instead of APIKey when set
	HTTPClient  *http.Client  // default: 30s overall timeout, no redirects followed, the shared transport
	Version     string        // User-Agent: bulkguard/<version>; default "dev"
	MaxAttempts int           // attempts per read call, first included; default 4
	RetryBudget time.Duration // total time a call may spend waiting between retries; default 30s
	TZOffset    string        // sent as x-tz-offset (hours, e.g. "-4" or "5.5") when set
	Logger      *slog.Logger  // debug lines, never the credential; nil discards
}

// String keeps the credential out of anything that prints Options.
func (o Options) String() string {
	return fmt.Sprintf("closeapi.Options{BaseURL:%q, APIKey:%s, BearerToken:%s, Version:%q, MaxAttempts:%d, RetryBudget:%s, TZOffset:%q}",
		o.BaseURL, hidden(o.APIKey), hidden(o.BearerToken), o.Version, o.MaxAttempts, o.RetryBudget, o.TZOffset)
}

// GoString keeps the credential out of %#v.
func (o Options) GoString() string { return o.String() }

// LogValue keeps the credential out of slog output.
func (o Options) LogValue() slog.Value {
	return slog.GroupValue(slog.String("base_url", o.BaseURL), slog.String("api_key", hidden(o.APIKey)),
		slog.String("bearer_token", hidden(o.BearerToken)), slog.String("version", o.Version))
}

func hidden(s string) string {
	if s == "" {
		return `""`
	}
	return "[redacted]"
}

// Client talks to one Close organization with one credential. It is safe for concurrent use.
type Client struct {
	base        *url.URL // without trailing slash
	baseString  string
	authHeader  string
	credential  string
	secrets     []string // forms of the credential that must never be printed
	principal   string
	userAgent   string
	tzOffset    string
	hc          *http.Client
	maxAttempts int
	budget      time.Duration
	log         *slog.Logger

	// Injected by tests so retries run without real waiting; never nil.
	sleep   func(ctx context.Context, d time.Duration) error
	backoff func(retry int) time.Duration // retry counts from 1
	now     func() time.Time
}

// New checks the options and builds a Client. It fails without a credential, with a base URL
// that is not http(s) or that carries user info, and with a malformed TZOffset.
func New(o Options) (*Client, error) {
	cred, auth := "", ""
	var secrets []string
	switch {
	case o.BearerToken != "":
		cred = o.BearerToken
		auth = "Bearer " + o.BearerToken
		secrets = []string{cred, auth}
	case o.APIKey != "":
		cred = o.APIKey
		enc := base64.StdEncoding.EncodeToString([]byte(o.APIKey + ":"))
		auth = "Basic " + enc
		secrets = []string{cred, enc, url.QueryEscape(cred), url.PathEscape(cred)}
	default:
		return nil, errors.New("closeapi: no credential: set an API key or a bearer token")
	}
	if strings.ContainsAny(cred, "\r\n") {
		return nil, errors.New("closeapi: the credential contains a line break")
	}
	raw := o.BaseURL
	if raw == "" {
		raw = DefaultBaseURL
	}
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("closeapi: base URL must be an absolute http(s) URL such as " + DefaultBaseURL)
	}
	if u.User != nil {
		// A key in the URL would end up in every error that quotes the URL.
		return nil, errors.New("closeapi: base URL must not contain user info; pass the key as APIKey")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("closeapi: base URL must not have a query or fragment")
	}
	if o.TZOffset != "" {
		f, err := strconv.ParseFloat(o.TZOffset, 64)
		if err != nil || f < -12 || f > 14 {
			return nil, fmt.Errorf("closeapi: TZOffset %q must be hours from UTC between -12 and 14, e.g. -4 or 5.5", o.TZOffset)
		}
	}
	version := o.Version
	if version == "" {
		version = defaultVersion
	}
	c := &Client{
		base:        u,
		baseString:  u.String(),
		authHeader:  auth,
		credential:  cred,
		principal:   fingerprint(cred),
		userAgent:   "bulkguard/" + version,
		tzOffset:    o.TZOffset,
		hc:          httpClient(o.HTTPClient),
		maxAttempts: o.MaxAttempts,
		budget:      o.RetryBudget,
		log:         o.Logger,
		sleep:       sleepCtx,
		backoff:     jitteredBackoff,
		now:         time.Now,
	}
	for _, s := range secrets {
		if len(s) >= 4 {
			c.secrets = append(c.secrets, s)
		}
	}
	if c.maxAttempts <= 0 {
		c.maxAttempts = defaultMaxAttempts
	}
	if c.budget <= 0 {
		c.budget = defaultRetryBudget
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// maxIdleConnsPerHost is how many idle connections to Close are kept. bulkguard talks to one
// host, and concurrent tool calls (50 HTTP clients in bench/) each hold a connection; net/http's
// default of 2 closes the rest after every burst and pays a new TCP and TLS handshake for each.
const maxIdleConnsPerHost = 100

// sharedTransport is the one connection pool of every Client built without an HTTPClient.
// With per-request keys (--allow-client-keys) a Client is built per tool call; a transport of
// its own would leave its idle connection and two goroutines behind for the idle timeout
// (90 s) after every call. Close authenticates each request by its Authorization header, not
// by the connection, so clients with different credentials can share connections.
var sharedTransport = sync.OnceValue(func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = defaultTimeout
	t.MaxIdleConns = maxIdleConnsPerHost
	t.MaxIdleConnsPerHost = maxIdleConnsPerHost
	return t
})

// httpClient returns the caller's client, or one with timeouts on the shared transport, and
// makes sure redirects are not followed: Close only redirects for a missing trailing slash, and
// following a redirect would turn a POST into a GET.
func httpClient(hc *http.Client) *http.Client {
	if hc == nil {
		hc = &http.Client{Timeout: defaultTimeout, Transport: sharedTransport()}
	} else {
		cp := *hc
		hc = &cp
	}
	if hc.CheckRedirect == nil {
		hc.CheckRedirect = noRedirects
	}
	return hc
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func fingerprint(cred string) string {
	sum := sha256.Sum256([]byte(cred))
	return "cred_" + hex.EncodeToString(sum[:])[:16]
}

// Principal identifies the credential without revealing it: "cred_" and the first 16 hex
// digits of its SHA-256. Plans and audit records are bound to it.
func (c *Client) Principal() string { return c.principal }

// BaseURL is the API root in use, without a trailing slash.
func (c *Client) BaseURL() string { return c.baseString }

// String keeps the credential out of anything that prints a Client.
func (c *Client) String() string {
	return "closeapi.Client{base:" + c.baseString + ", principal:" + c.principal + "}"
}

// GoString keeps the credential out of %#v.
func (c *Client) GoString() string { return c.String() }

// LogValue keeps the credential out of slog output.
func (c *Client) LogValue() slog.Value {
	return slog.GroupValue(slog.String("base_url", c.baseString), slog.String("principal", c.principal))
}

// redact removes every form of the credential from s. Error and log text built from server
// answers goes through it.
func (c *Client) redact(s string) string {
	return redactSecrets(s, c.secrets)
}

// call describes one logical API call.
type call struct {
	method string
	path   string // below the base URL, with leading and trailing slash
	query  url.Values
	body   any // JSON-encoded when non-nil
	// retry marks calls that are safe to repeat: GETs and the read-only search POST.
	retry bool
}

// do runs c with retries (when allowed) and decodes a 2xx JSON body into out (when non-nil).
func (c *Client) do(ctx context.Context, cl call, out any) error {
	var payload []byte
	if cl.body != nil {
		b, err := json.Marshal(cl.body)
		if err != nil {
			return fmt.Errorf("closeapi: %s %s: encoding the request body: %w", cl.method, cl.path, err)
		}
		payload = b
	}
	target := c.baseString + cl.path
	if len(cl.query) > 0 {
		target += "?" + cl.query.Encode()
	}

	var waited time.Duration
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return &TransportError{Method: cl.method, Path: cl.path, Attempts: attempt - 1, Err: err, msg: err.Error()}
		}
		resp, sent, err := c.send(ctx, cl.method, target, payload, !cl.retry)
		if err != nil {
			te := &TransportError{Method: cl.method, Path: cl.path, Sent: sent, Attempts: attempt, Err: err, msg: c.transportText(err)}
			c.log.DebugContext(ctx, "closeapi request failed", "method", cl.method, "path", cl.path,
				"attempt", attempt, "sent", sent, "error", te.msg)
			if !cl.retry || attempt >= c.maxAttempts || ctx.Err() != nil {
				return te
			}
			wait := c.backoff(attempt)
			if werr := c.waitRetry(ctx, cl, attempt, wait, "backoff", &waited, te); werr != nil {
				return werr
			}
			continue
		}

		c.log.DebugContext(ctx, "closeapi response", "method", cl.method, "path", cl.path,
			"status", resp.StatusCode, "attempt", attempt)
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return c.decode(resp, cl, attempt, out)
		}

		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		ae, bodyReset := newAPIError(cl.method, cl.path, resp.StatusCode, body, c.redact)
		ae.Attempts = attempt
		ae.SandboxUnsupported = resp.StatusCode == http.StatusBadRequest && resp.Header.Get(SandboxUnsupportedHeader) == "1"
		wait, source := c.serverWait(resp, bodyReset)
		ae.RetryAfter = wait
		if !cl.retry || !retryableStatus(resp.StatusCode) || attempt >= c.maxAttempts {
			return ae
		}
		if source == "" {
			wait, source = c.backoff(attempt), "backoff"
		}
		if werr := c.waitRetry(ctx, cl, attempt, wait, source, &waited, ae); werr != nil {
			return werr
		}
	}
}

// waitRetry sleeps before the next attempt unless that would overrun the call's retry budget
// (then the last error is returned as is) or ctx ends first (then an error wrapping both the
// context error and the last error is returned).
func (c *Client) waitRetry(ctx context.Context, cl call, attempt int, wait time.Duration, source string, waited *time.Duration, last error) error {
	if wait < 0 {
		wait = 0
	}
	if *waited+wait > c.budget {
		c.log.DebugContext(ctx, "closeapi retry budget exhausted", "method", cl.method, "path", cl.path,
			"attempt", attempt, "next_wait", wait, "waited", *waited, "budget", c.budget)
		return last
	}
	c.log.DebugContext(ctx, "closeapi retry", "method", cl.method, "path", cl.path,
		"attempt", attempt, "wait", wait, "wait_source", source)
	if err := c.sleep(ctx, wait); err != nil {
		return fmt.Errorf("closeapi: %s %s: %w while waiting to retry; last error: %w", cl.method, cl.path, err, last)
	}
	*waited += wait
	return nil
}

// send performs one HTTP exchange. With traceWrite, sent reports whether the whole request was
// written to the connection, which is what makes a failure ambiguous for a call that is not
// retried (the create and the status change). Reads change nothing in Close, so they skip the
// trace (a per-request allocation and callback on the hot path) and report sent as false.
func (c *Client) send(ctx context.Context, method, target string, payload []byte, traceWrite bool) (*http.Response, bool, error) {
	var wrote atomic.Bool
	if traceWrite {
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			WroteRequest: func(info httptrace.WroteRequestInfo) {
				if info.Err == nil {
					wrote.Store(true)
				}
			},
		})
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Authorization", c.authHeader)
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.tzOffset != "" {
		req.Header.Set("X-TZ-Offset", c.tzOffset)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, wrote.Load(), err
	}
	return resp, true, nil
}

// transportText describes a transport failure without the URL (which *url.Error quotes) and
// without the credential.
func (c *Client) transportText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		err = ue.Err
	}
	return c.redact(err.Error())
}

// decode reads a 2xx body. A failure here is reported as a TransportError with Sent set:
// Close answered success, so the call took effect even though its result is unknown.
func (c *Client) decode(resp *http.Response, cl call, attempt int, out any) error {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err == nil && out != nil {
		if len(bytes.TrimSpace(body)) == 0 {
			err = errors.New("empty response body")
		} else if uerr := json.Unmarshal(body, out); uerr != nil {
			err = fmt.Errorf("decoding the %d response: %w; body starts: %s", resp.StatusCode, uerr, excerpt(string(body), c.redact))
		}
	}
	if err != nil {
		return &TransportError{Method: cl.method, Path: cl.path, Sent: true, Attempts: attempt, Err: err, msg: c.redact(err.Error())}
	}
	return nil
}

func retryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// serverWait is how long the answer asks us to wait, and where that came from ("" when it
// does not say). Close's docs prefer the RateLimit header's reset (more precise) over
// Retry-After (docs/close-api.md §4.4), as does the official Python client. RateLimit appears on
// most answers, so its reset is only a wait when the answer is a 429 or the window is used up.
// Then come the RateLimit-Reset header and the rate_reset of older 429 bodies.
func (c *Client) serverWait(resp *http.Response, bodyReset float64) (time.Duration, string) {
	if reset, remaining, ok := parseRateLimit(resp.Header.Get("RateLimit")); ok {
		if resp.StatusCode == http.StatusTooManyRequests || remaining == 0 {
			return seconds(reset), "ratelimit"
		}
	}
	if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), c.now()); ok {
		return d, "retry-after"
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		if f, err := strconv.ParseFloat(strings.TrimSpace(resp.Header.Get("RateLimit-Reset")), 64); err == nil && f >= 0 {
			return seconds(f), "ratelimit-reset"
		}
		if bodyReset >= 0 {
			return seconds(bodyReset), "body-rate-reset"
		}
	}
	return 0, ""
}

// parseRateLimit reads `limit=100, remaining=50, reset=5` (reset in seconds, may be decimal).
// Separators "," and ";" are both accepted and "rate_reset" is read like "reset", because
// third-party notes quote the header that way. remaining is -1 when absent.
func parseRateLimit(h string) (reset float64, remaining int, ok bool) {
	remaining = -1
	if h == "" {
		return 0, remaining, false
	}
	for _, part := range strings.FieldsFunc(h, func(r rune) bool { return r == ',' || r == ';' }) {
		k, v, found := strings.Cut(strings.TrimSpace(part), "=")
		if !found {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.Trim(strings.TrimSpace(v), `"`)
		switch k {
		case "reset", "rate_reset":
			if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 {
				reset, ok = f, true
			}
		case "remaining":
			if n, err := strconv.Atoi(v); err == nil {
				remaining = n
			}
		}
	}
	return reset, remaining, ok
}

// parseRetryAfter reads delay-seconds (decimals tolerated) or an HTTP date.
func parseRetryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if f, err := strconv.ParseFloat(h, 64); err == nil {
		if f < 0 {
			return 0, false
		}
		return seconds(f), true
	}
	if t, err := http.ParseTime(h); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

func seconds(f float64) time.Duration {
	// Waits above a day are nonsense; clamp before converting so the budget check rejects
	// them instead of overflowing.
	if f > 86400 {
		f = 86400
	}
	return time.Duration(f * float64(time.Second))
}

// jitteredBackoff is capped exponential backoff with "equal jitter": half the step fixed,
// half random, so concurrent clients spread out but never retry immediately.
func jitteredBackoff(retry int) time.Duration {
	d := backoffBase
	for i := 1; i < retry && d < backoffCap; i++ {
		d *= 2
	}
	if d > backoffCap {
		d = backoffCap
	}
	half := d / 2
	return half + rand.N(half+1)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
