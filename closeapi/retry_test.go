package closeapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// answer is one scripted reply of the fake server.
type answer struct {
	status  int
	headers map[string]string
	body    string
	hangUp  bool // close the connection without answering
}

func scripted(t *testing.T, script []answer) func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
	return func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		a := script[len(script)-1] // the last answer repeats
		if n <= len(script) {
			a = script[n-1]
		}
		if a.hangUp {
			hangUp(t, w)
			return
		}
		for k, v := range a.headers {
			w.Header().Set(k, v)
		}
		jsonReply(w, a.status, a.body)
	}
}

const okJob = `{"id":"bulkdelete_abc","bulk_object_type":"lead","status":"done","s_query":{},"query":null,"results_limit":null,"sort":[],"send_done_email":true,"n_leads":1,"n_leads_processed":1,"n_objects":1,"n_objects_processed":1,"organization_id":"orga_x","created_by":null,"updated_by":null,"date_created":null,"date_updated":null}`

var fixedNow = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// TestRetryReads drives a GET through scripted failures. Waits are recorded, never slept; the
// injected backoff is 100ms × retry number, so a backoff wait is recognisable.
func TestRetryReads(t *testing.T) {
	rl429 := func(h map[string]string) answer {
		return answer{status: 429, headers: h, body: `{"status":429,"title":"Rate limit exceeded"}`}
	}
	ok := answer{status: 200, body: okJob}
	tests := []struct {
		name      string
		script    []answer
		budget    time.Duration
		wantReqs  int
		wantWaits []time.Duration
		wantErr   func(error) bool // nil: success expected
		wantRetry time.Duration    // APIError.RetryAfter on failure
	}{
		{name: "429 with RateLimit reset (decimal)", script: []answer{rl429(map[string]string{"RateLimit": "limit=20, remaining=0, reset=1.5"}), ok},
			wantReqs: 2, wantWaits: []time.Duration{1500 * time.Millisecond}},
		{name: "429 with Retry-After seconds", script: []answer{rl429(map[string]string{"Retry-After": "2"}), ok},
			wantReqs: 2, wantWaits: []time.Duration{2 * time.Second}},
		{name: "429 with Retry-After HTTP date", script: []answer{rl429(map[string]string{"Retry-After": fixedNow.Add(3 * time.Second).Format(http.TimeFormat)}), ok},
			wantReqs: 2, wantWaits: []time.Duration{3 * time.Second}},
		{name: "RateLimit reset wins over Retry-After", script: []answer{rl429(map[string]string{"RateLimit": "limit=100, remaining=0, reset=0.25", "Retry-After": "1"}), ok},
			wantReqs: 2, wantWaits: []time.Duration{250 * time.Millisecond}},
		{name: "semicolon RateLimit with rate_reset", script: []answer{rl429(map[string]string{"RateLimit": "limit=100;remaining=0;rate_reset=4"}), ok},
			wantReqs: 2, wantWaits: []time.Duration{4 * time.Second}},
		{name: "429 without headers uses rate_reset from the body", script: []answer{{status: 429, body: `{"error":"Too many requests","rate_reset":1.25}`}, ok},
			wantReqs: 2, wantWaits: []time.Duration{1250 * time.Millisecond}},
		{name: "429 mock body without headers backs off", script: []answer{rl429(nil), ok},
			wantReqs: 2, wantWaits: []time.Duration{100 * time.Millisecond}},
		{name: "503 without headers backs off", script: []answer{{status: 503, body: "Service Unavailable"}, ok},
			wantReqs: 2, wantWaits: []time.Duration{100 * time.Millisecond}},
		{name: "503 with Retry-After", script: []answer{{status: 503, headers: map[string]string{"Retry-After": "5"}}, ok},
			wantReqs: 2, wantWaits: []time.Duration{5 * time.Second}},
		{name: "RateLimit with quota left is not a wait on 503", script: []answer{{status: 503, headers: map[string]string{"RateLimit": "limit=100, remaining=50, reset=5"}}, ok},
			wantReqs: 2, wantWaits: []time.Duration{100 * time.Millisecond}},
		{name: "RateLimit with quota used up is a wait on 503", script: []answer{{status: 503, headers: map[string]string{"RateLimit": "limit=100, remaining=0, reset=2"}}, ok},
			wantReqs: 2, wantWaits: []time.Duration{2 * time.Second}},
		{name: "502, 504, 503 then success", script: []answer{{status: 502}, {status: 504}, {status: 503}, ok},
			wantReqs: 4, wantWaits: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}},
		{name: "connection closed twice then success", script: []answer{{hangUp: true}, {hangUp: true}, ok},
			wantReqs: 3, wantWaits: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}},
		{name: "attempts exhausted", script: []answer{{status: 503, body: `{"error":"down"}`}},
			wantReqs: 4, wantWaits: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond},
			wantErr: func(err error) bool {
				var ae *APIError
				return errors.As(err, &ae) && ae.StatusCode == 503 && ae.Attempts == 4
			}},
		{name: "connection failures exhausted", script: []answer{{hangUp: true}},
			wantReqs: 4, wantWaits: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond},
			wantErr: func(err error) bool {
				var te *TransportError
				return errors.As(err, &te) && te.Attempts == 4
			}},
		{name: "budget stops before a wait that would overrun it", script: []answer{rl429(map[string]string{"Retry-After": "20"})},
			budget: 30 * time.Second, wantReqs: 2, wantWaits: []time.Duration{20 * time.Second},
			wantErr: IsRateLimited, wantRetry: 20 * time.Second},
		{name: "reset longer than the budget: no retry at all", script: []answer{rl429(map[string]string{"RateLimit": "limit=20, remaining=0, reset=100"})},
			budget: 30 * time.Second, wantReqs: 1, wantErr: IsRateLimited, wantRetry: 100 * time.Second},
		{name: "500 is not retried", script: []answer{{status: 500, body: "oops"}}, wantReqs: 1,
			wantErr: func(err error) bool { return statusIs(err, 500) }},
		{name: "404 is not retried", script: []answer{{status: 404, body: `{"error":"Not found"}`}}, wantReqs: 1, wantErr: IsNotFound},
		{name: "401 is not retried", script: []answer{{status: 401, body: `{"error":"Unauthorized"}`}}, wantReqs: 1, wantErr: IsUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, scripted(t, tt.script))
			c, wr := testClient(t, f.base(), func(o *Options) { o.RetryBudget = tt.budget })
			c.now = func() time.Time { return fixedNow }
			job, err := c.GetBulkDelete(context.Background(), "bulkdelete_abc")
			if tt.wantErr == nil {
				if err != nil || job.ID != "bulkdelete_abc" {
					t.Fatalf("job %v err %v", job, err)
				}
			} else if err == nil || !tt.wantErr(err) {
				t.Fatalf("err %v (%T)", err, err)
			}
			if got := f.count(); got != tt.wantReqs {
				t.Errorf("%d requests, want %d", got, tt.wantReqs)
			}
			if !reflect.DeepEqual(wr.waits, tt.wantWaits) {
				t.Errorf("waits %v, want %v", wr.waits, tt.wantWaits)
			}
			var ae *APIError
			if tt.wantRetry != 0 && (!errors.As(err, &ae) || ae.RetryAfter != tt.wantRetry) {
				t.Errorf("RetryAfter of %v, want %s", err, tt.wantRetry)
			}
		})
	}
}

// TestSearchRetried: the read-only search POST is retried, with the same body each time.
func TestSearchRetried(t *testing.T) {
	f := newFake(t, scripted(t, []answer{{status: 503}, {status: 429, headers: map[string]string{"Retry-After": "1"}}, {status: 200, body: `{"data":[],"count":{"total":5,"limited":0}}`}}))
	c, wr := testClient(t, f.base(), nil)
	cnt, err := c.Count(context.Background(), json.RawMessage(testQuery), nil)
	if err != nil || cnt.Total != 5 {
		t.Fatalf("count %v err %v", cnt, err)
	}
	reqs := f.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests", len(reqs))
	}
	for _, r := range reqs[1:] {
		if string(r.Body) != string(reqs[0].Body) || r.Method != "POST" {
			t.Errorf("retry sent %s %s, first sent %s", r.Method, r.Body, reqs[0].Body)
		}
	}
	if !reflect.DeepEqual(wr.waits, []time.Duration{100 * time.Millisecond, time.Second}) {
		t.Errorf("waits %v", wr.waits)
	}
}

// TestWritesNeverRetried: the create POST and the status PUT reach the server exactly once
// whatever happens, and IsAmbiguous says whether Close may have acted.
func TestWritesNeverRetried(t *testing.T) {
	writes := []struct {
		name string
		call func(ctx context.Context, c *Client) error
	}{
		{"create", func(ctx context.Context, c *Client) error {
			_, err := c.CreateBulkDelete(ctx, BulkDeleteRequest{SQuery: json.RawMessage(testQuery)})
			return err
		}},
		{"set status", func(ctx context.Context, c *Client) error {
			_, err := c.SetBulkDeleteStatus(ctx, "bulkdelete_abc", StatusPaused)
			return err
		}},
	}
	hang := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}
	tests := []struct {
		name          string
		handle        func(t *testing.T) func(w http.ResponseWriter, r *http.Request, n int, body []byte)
		clientTimeout time.Duration
		ctxTimeout    time.Duration
		ambiguous     bool
		check         func(error) bool
	}{
		{name: "503", handle: func(t *testing.T) func(http.ResponseWriter, *http.Request, int, []byte) {
			return scripted(t, []answer{{status: 503, body: "unavailable"}, {status: 200, body: okJob}})
		}, check: func(err error) bool { return statusIs(err, 503) }},
		{name: "429 with Retry-After", handle: func(t *testing.T) func(http.ResponseWriter, *http.Request, int, []byte) {
			return scripted(t, []answer{{status: 429, headers: map[string]string{"Retry-After": "1"}, body: `{"status":429,"title":"Rate limit exceeded"}`}, {status: 200, body: okJob}})
		}, check: IsRateLimited},
		{name: "400 validation", handle: func(t *testing.T) func(http.ResponseWriter, *http.Request, int, []byte) {
			return scripted(t, []answer{{status: 400, body: `{"errors":[],"field-errors":{"s_query":"This field is required."}}`}})
		}, check: IsValidation},
		{name: "502", handle: func(t *testing.T) func(http.ResponseWriter, *http.Request, int, []byte) {
			return scripted(t, []answer{{status: 502}, {status: 200, body: okJob}})
		}, ambiguous: true},
		{name: "504", handle: func(t *testing.T) func(http.ResponseWriter, *http.Request, int, []byte) {
			return scripted(t, []answer{{status: 504}, {status: 200, body: okJob}})
		}, ambiguous: true},
		{name: "500", handle: func(t *testing.T) func(http.ResponseWriter, *http.Request, int, []byte) {
			return scripted(t, []answer{{status: 500}, {status: 200, body: okJob}})
		}, ambiguous: true},
		{name: "connection closed after the body was read", handle: func(t *testing.T) func(http.ResponseWriter, *http.Request, int, []byte) {
			return scripted(t, []answer{{hangUp: true}, {status: 200, body: okJob}})
		}, ambiguous: true},
		{name: "client timeout", handle: func(t *testing.T) func(http.ResponseWriter, *http.Request, int, []byte) {
			return func(w http.ResponseWriter, r *http.Request, n int, body []byte) { hang(w, r) }
		}, clientTimeout: 50 * time.Millisecond, ambiguous: true, check: sentTimeout},
		{name: "context deadline", handle: func(t *testing.T) func(http.ResponseWriter, *http.Request, int, []byte) {
			return func(w http.ResponseWriter, r *http.Request, n int, body []byte) { hang(w, r) }
		}, ctxTimeout: 50 * time.Millisecond, ambiguous: true,
			check: func(err error) bool { return errors.Is(err, context.DeadlineExceeded) && sentTimeout(err) }},
		{name: "success status with an unreadable body", handle: func(t *testing.T) func(http.ResponseWriter, *http.Request, int, []byte) {
			return scripted(t, []answer{{status: 200, body: `{"id": "bulkdelete_x", "status": `}})
		}, ambiguous: true},
	}
	for _, w := range writes {
		for _, tt := range tests {
			t.Run(w.name+"/"+tt.name, func(t *testing.T) {
				f := newFake(t, tt.handle(t))
				c, wr := testClient(t, f.base(), func(o *Options) {
					if tt.clientTimeout > 0 {
						o.HTTPClient = &http.Client{Timeout: tt.clientTimeout}
					}
				})
				ctx := context.Background()
				if tt.ctxTimeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.ctxTimeout)
					defer cancel()
				}
				err := w.call(ctx, c)
				if err == nil {
					t.Fatal("no error")
				}
				if n := f.count(); n != 1 {
					t.Errorf("%d requests reached the server, want exactly 1", n)
				}
				if len(wr.waits) != 0 {
					t.Errorf("waited %v before a retry", wr.waits)
				}
				if IsAmbiguous(err) != tt.ambiguous {
					t.Errorf("IsAmbiguous(%v) = %v, want %v", err, !tt.ambiguous, tt.ambiguous)
				}
				if tt.check != nil && !tt.check(err) {
					t.Errorf("unexpected error %v", err)
				}
			})
		}
	}
}

func sentTimeout(err error) bool {
	var te *TransportError
	return errors.As(err, &te) && te.Sent && te.Timeout() && strings.Contains(err.Error(), "may have reached Close")
}

// TestNothingSentIsNotAmbiguous: when the connection cannot even be made, Close cannot have
// acted, so a create may safely be tried again.
func TestNothingSentIsNotAmbiguous(t *testing.T) {
	f := newFake(t, scripted(t, []answer{{status: 200, body: okJob}}))
	base := f.base()
	f.srv.Close()
	c, _ := testClient(t, base, nil)
	_, err := c.CreateBulkDelete(context.Background(), BulkDeleteRequest{SQuery: json.RawMessage(testQuery)})
	var te *TransportError
	if !errors.As(err, &te) || te.Sent || IsAmbiguous(err) {
		t.Fatalf("err %v, sent %v, ambiguous %v", err, te != nil && te.Sent, IsAmbiguous(err))
	}
}

// TestCancelDuringWait uses the real sleep: the caller's context is cancelled as soon as the
// 429 (with a 10s Retry-After) has been received, so the wait must end at once with an error
// carrying both the context error and the last answer.
func TestCancelDuringWait(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFake(t, scripted(t, []answer{{status: 429, headers: map[string]string{"Retry-After": "10"}, body: `{"status":429,"title":"Rate limit exceeded"}`}}))
	c, _ := testClient(t, f.base(), func(o *Options) {
		o.HTTPClient = &http.Client{Transport: cancelAfterResponse{http.DefaultTransport, cancel}}
	})
	c.sleep = sleepCtx
	_, err := c.GetBulkDelete(ctx, "bulkdelete_abc")
	if !errors.Is(err, context.Canceled) || !IsRateLimited(err) {
		t.Fatalf("err %v: want both the cancellation and the last 429", err)
	}
	if f.count() != 1 {
		t.Errorf("%d requests", f.count())
	}
}

// cancelAfterResponse reads the whole answer, then cancels the caller's context.
type cancelAfterResponse struct {
	next   http.RoundTripper
	cancel context.CancelFunc
}

func (c cancelAfterResponse) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	c.cancel()
	return resp, nil
}

// TestCancelWhileSleeping cancels from inside the wait itself.
func TestCancelWhileSleeping(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFake(t, scripted(t, []answer{{status: 503}}))
	c, _ := testClient(t, f.base(), nil)
	c.sleep = func(ctx context.Context, d time.Duration) error {
		cancel()
		return sleepCtx(ctx, time.Hour)
	}
	_, err := c.LeadStatuses(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if f.count() != 1 {
		t.Errorf("%d requests", f.count())
	}
}

// TestCancelledBeforeStart: nothing is sent with a context that is already done.
func TestCancelledBeforeStart(t *testing.T) {
	f := newFake(t, scripted(t, []answer{{status: 200, body: okJob}}))
	c, _ := testClient(t, f.base(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.CreateBulkDelete(ctx, BulkDeleteRequest{SQuery: json.RawMessage(testQuery)})
	if !errors.Is(err, context.Canceled) || IsAmbiguous(err) || f.count() != 0 {
		t.Fatalf("err %v, ambiguous %v, %d requests", err, IsAmbiguous(err), f.count())
	}
}

func TestMaxAttemptsOption(t *testing.T) {
	f := newFake(t, scripted(t, []answer{{status: 502}}))
	c, wr := testClient(t, f.base(), func(o *Options) { o.MaxAttempts = 2 })
	if _, err := c.Me(context.Background()); !statusIs(err, 502) {
		t.Fatalf("err %v", err)
	}
	if f.count() != 2 || len(wr.waits) != 1 {
		t.Errorf("%d requests, waits %v", f.count(), wr.waits)
	}
}

func TestParseHeaders(t *testing.T) {
	rl := []struct {
		in        string
		reset     float64
		remaining int
		ok        bool
	}{
		{"limit=100, remaining=50, reset=5", 5, 50, true},
		{"limit=100, remaining=0, reset=0.125", 0.125, 0, true},
		{"limit=100;remaining=3;rate_reset=2", 2, 3, true},
		{"limit=100, remaining=50", 0, 50, false},
		{"", 0, -1, false},
		{"garbage", 0, -1, false},
		{"reset=-1", 0, -1, false},
	}
	for _, tt := range rl {
		reset, rem, ok := parseRateLimit(tt.in)
		if reset != tt.reset || rem != tt.remaining || ok != tt.ok {
			t.Errorf("parseRateLimit(%q) = %v %v %v", tt.in, reset, rem, ok)
		}
	}
	ra := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"3", 3 * time.Second, true},
		{"1.5", 1500 * time.Millisecond, true},
		{fixedNow.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{fixedNow.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	}
	for _, tt := range ra {
		got, ok := parseRetryAfter(tt.in, fixedNow)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseRetryAfter(%q) = %v %v", tt.in, got, ok)
		}
	}
}

// TestJitteredBackoff checks the bounds of the default backoff (values, not timings).
func TestJitteredBackoff(t *testing.T) {
	for retry := 1; retry <= 10; retry++ {
		step := backoffBase << (retry - 1)
		if step > backoffCap || step <= 0 {
			step = backoffCap
		}
		for i := 0; i < 50; i++ {
			d := jitteredBackoff(retry)
			if d < step/2 || d > step {
				t.Fatalf("retry %d: %s outside [%s, %s]", retry, d, step/2, step)
			}
		}
	}
}
