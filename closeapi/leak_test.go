package closeapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const canaryKey = "sk_LEAKCANARY_7f3a9c2e51"

// TestCredentialNeverLeaks forces every error path, including servers that echo the
// credential back, and checks error strings, formatted errors and the debug log.
func TestCredentialNeverLeaks(t *testing.T) {
	basic := base64.StdEncoding.EncodeToString([]byte(canaryKey + ":"))
	echo := "key " + canaryKey + " header Basic " + basic + " escaped " + url.QueryEscape(canaryKey)
	type scenario struct {
		name   string
		handle func(t *testing.T) func(w http.ResponseWriter, r *http.Request, n int, body []byte)
		call   func(ctx context.Context, c *Client) error
		opts   func(o *Options)
	}
	get := func(ctx context.Context, c *Client) error {
		_, err := c.GetBulkDelete(ctx, "bulkdelete_abc")
		return err
	}
	create := func(ctx context.Context, c *Client) error {
		_, err := c.CreateBulkDelete(ctx, BulkDeleteRequest{SQuery: json.RawMessage(testQuery)})
		return err
	}
	reply := func(status int, body string) func(t *testing.T) func(http.ResponseWriter, *http.Request, int, []byte) {
		return func(t *testing.T) func(http.ResponseWriter, *http.Request, int, []byte) {
			return func(w http.ResponseWriter, r *http.Request, n int, b []byte) {
				w.Header().Set("X-Echo", r.Header.Get("Authorization"))
				jsonReply(w, status, body)
			}
		}
	}
	jsonString := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	scenarios := []scenario{
		{name: "401 echoing the key", handle: reply(401, `{"error":`+jsonString(echo)+`}`), call: get},
		{name: "400 with the key in field errors", handle: reply(400, `{"errors":[`+jsonString(echo)+`],"field-errors":{`+jsonString(canaryKey)+`:{"nested":`+jsonString(echo)+`}}}`), call: create},
		{name: "500 HTML page echoing the key", handle: reply(500, "<html><body>"+echo+"</body></html>"), call: get},
		{name: "429 until the attempts run out", handle: reply(429, `{"status":429,"title":`+jsonString(echo)+`}`), call: get},
		{name: "502 on create", handle: reply(502, echo), call: create},
		{name: "2xx with broken JSON echoing the key", handle: reply(200, `{"id":`+jsonString(echo)), call: create},
		{name: "connection closed", handle: func(t *testing.T) func(http.ResponseWriter, *http.Request, int, []byte) {
			return func(w http.ResponseWriter, r *http.Request, n int, b []byte) { hangUp(t, w) }
		}, call: get},
		{name: "timeout", handle: func(t *testing.T) func(http.ResponseWriter, *http.Request, int, []byte) {
			return func(w http.ResponseWriter, r *http.Request, n int, b []byte) {
				select {
				case <-r.Context().Done():
				case <-time.After(10 * time.Second):
				}
			}
		}, call: create, opts: func(o *Options) { o.HTTPClient = &http.Client{Timeout: 50 * time.Millisecond} }},
		{name: "the key passed as a job id", handle: reply(200, okJob), call: func(ctx context.Context, c *Client) error {
			_, err := c.GetBulkDelete(ctx, canaryKey)
			return err
		}},
		{name: "the key passed as a smart view id", handle: reply(200, okJob), call: func(ctx context.Context, c *Client) error {
			_, err := c.SmartView(ctx, "save_"+canaryKey)
			return err
		}},
		{name: "cancelled context", handle: reply(200, okJob), call: func(ctx context.Context, c *Client) error {
			ctx, cancel := context.WithCancel(ctx)
			cancel()
			return get(ctx, c)
		}},
		{name: "401 echoing the key upper-cased", handle: reply(401, `{"error":"invalid key `+strings.ToUpper(canaryKey)+`"}`), call: get},
		{name: "400 echoing the key lower-cased", handle: reply(400, `{"errors":["bad key `+strings.ToLower(canaryKey)+` sent"]}`), call: create},
		{name: "500 echoing the basic header upper-cased", handle: reply(500, "Basic "+strings.ToUpper(basic)), call: get},
		{name: "bearer token echoed", handle: reply(401, `{"error":"Bearer `+canaryKey+`"}`), call: get,
			opts: func(o *Options) { o.APIKey = ""; o.BearerToken = canaryKey }},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			var logs bytes.Buffer
			f := newFake(t, sc.handle(t))
			c, _ := testClient(t, f.base(), func(o *Options) {
				o.APIKey = canaryKey
				o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				if sc.opts != nil {
					sc.opts(o)
				}
			})
			err := sc.call(context.Background(), c)
			if err == nil {
				t.Fatal("no error")
			}
			texts := map[string]string{
				"Error()": err.Error(),
				"%v":      fmt.Sprintf("%v", err),
				"%+v":     fmt.Sprintf("%+v", err),
				"log":     logs.String(),
			}
			if ae, ok := asAPIErr(err); ok {
				texts["APIError fields"] = fmt.Sprintf("%s %v %v", ae.Message, ae.Errors, ae.FieldErrors)
			}
			for where, s := range texts {
				for _, secret := range []string{canaryKey, basic, url.QueryEscape(canaryKey)} {
					if strings.Contains(strings.ToLower(s), strings.ToLower(secret)) {
						t.Errorf("%s contains the credential (in some letter case): %s", where, s)
					}
				}
			}
		})
	}
}

func asAPIErr(err error) (*APIError, bool) {
	var ae *APIError
	ok := asAPIError(err, &ae)
	return ae, ok
}

// TestClientAndOptionsDoNotPrintTheKey: printing or logging a Client or its Options shows no
// credential.
func TestClientAndOptionsDoNotPrintTheKey(t *testing.T) {
	o := Options{APIKey: canaryKey, BearerToken: canaryKey + "b"}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	log.Info("configured", "client", c, "options", o)
	texts := []string{
		fmt.Sprintf("%v %+v %#v %s", c, c, c, c),
		fmt.Sprintf("%v %+v %#v %s", o, o, o, o),
		logs.String(),
	}
	for _, s := range texts {
		if strings.Contains(s, canaryKey) {
			t.Errorf("printed the credential: %s", s)
		}
	}
	if !strings.Contains(texts[0], c.Principal()) {
		t.Errorf("client print lacks the principal: %s", texts[0])
	}
}
