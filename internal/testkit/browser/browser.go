// Package browser starts the real headless Chromium that bulkguard's
// approval page is tested in, driven by chromedp. Tests that use it fail,
// never skip, when Chromium is missing: the page's guarantees (escaping,
// CSRF, SameSite, Origin and Host checks) are the browser's behaviour as
// much as ours, and only a browser shows them. .ci/run installs Debian's
// chromium.
package browser

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// RebindHost resolves to 127.0.0.1 inside the browser (a host-resolver
// rule), so a test can reach a loopback server under a foreign Host name,
// as a DNS-rebinding page would.
const RebindHost = "rebind.example"

// candidates are the names Chromium is installed under.
var candidates = []string{"chromium", "/usr/bin/chromium", "chromium-browser", "google-chrome"}

// New starts headless Chromium with a fresh profile and returns a context
// for chromedp.Run, bounded by timeout. It is stopped when t ends.
func New(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	var path string
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Fatalf("chromium is not installed (apt-get install -y chromium): the approval page is tested in a real browser, so this test cannot run without one")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("host-resolver-rules", "MAP "+RebindHost+" 127.0.0.1"),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	// The first run starts the browser for the life of its context, so it
	// gets no timeout of its own (chromedp.Run); the steps after it do.
	if err := chromedp.Do(ctx); err != nil {
		cancelCtx()
		cancelAlloc()
		t.Fatalf("start chromium (%s): %v", path, err)
	}
	tctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	return tctx
}
