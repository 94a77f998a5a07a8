package admin

import (
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestConsoleHeaders checks what protects the console: its CSP allows no
// inline script or style and nothing from another origin, it cannot be
// framed, and its files carry no inline script, style or handler.
func TestConsoleHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	for _, path := range []string{"/ui/", "/ui/app.js", "/ui/style.css"} {
		res := e.doAuth(t, http.MethodGet, path, nil, "")
		wantStatus(t, res, http.StatusOK)
		csp := res.header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "*") {
			t.Errorf("%s: CSP %q allows inline code or any origin", path, csp)
		}
		if got := res.header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", path, got)
		}
		if got := res.header.Get("Referrer-Policy"); got != "no-referrer" {
			t.Errorf("%s: Referrer-Policy %q", path, got)
		}
	}
	page := string(e.doAuth(t, http.MethodGet, "/ui/", nil, "").body)
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`<script(\s[^>]*)?>[^<]+</script>`), // inline script
		regexp.MustCompile(`<style`), regexp.MustCompile(`\sstyle=`), regexp.MustCompile(`\son[a-z]+=`),
		regexp.MustCompile(`(src|href)="(https?:)?//`), // another origin
	} {
		if bad.MatchString(page) {
			t.Errorf("the console page matches %s", bad)
		}
	}
	script := string(e.doAuth(t, http.MethodGet, "/ui/app.js", nil, "").body)
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "localStorage", "EventSource"} {
		if strings.Contains(script, bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}
	// The API behind it still needs the token.
	wantError(t, e.doAuth(t, http.MethodGet, "/v1/sessions", nil, ""), http.StatusUnauthorized, CodeUnauthorized)
}

// TestConsole drives the console in a real browser against admin, a worker
// and the simulator: the token prompt, a tenant created, paired by its QR
// code and shown connected live, a test message and its sent event, an
// inbound message whose text is markup, the list updated live, the logout;
// and no request leaves admin.
func TestConsole(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.startWorker(t, "w1")
	b := startBrowser(t)
	b.open(e.base + "/ui/")

	// A wrong token is refused; the right one opens the list.
	b.typeInto("token-input", "not-the-token")
	b.click("token-submit")
	b.waitFor("token-error shown", func() bool { return b.visible("token-error") })
	b.typeInto("token-input", testToken)
	b.click("token-submit")
	b.byTestID("new-tenant-input")
	var stored string
	b.js(&stored, `return sessionStorage.getItem("wabus.admin-token") || "";`)
	if stored != testToken {
		t.Fatalf("session storage holds %q, want the token", stored)
	}

	// Create a tenant: its page shows a live QR code; the simulated scan
	// turns it connected without a reload.
	b.typeInto("new-tenant-input", "web1")
	b.click("new-tenant-submit")
	b.waitFor("a QR code image", func() bool {
		return strings.HasPrefix(b.attr("qr-image", "src"), "data:image/png;base64,") && b.visible("qr-image")
	})
	b.js(nil, `window.wabusNoReload = true;`)
	if rep := ask(t, e.nc, e.stack.Names.Sim("web1", "scan"), nil); rep.Code != "" {
		t.Fatalf("scan: %v", rep)
	}
	b.waitAttr("session-state", "data-state", "connected")
	b.waitFor("the QR code hidden", func() bool { return !b.visible("qr-image") })

	// A test message from the form: its sent event shows up in the tail.
	b.typeInto("send-to-input", "+51987654321")
	b.typeInto("send-text-input", "hola desde la consola")
	b.click("send-submit")
	b.waitText("event-row", "sent")

	// Paused, a job waits queued in the jobs table; resumed, it is sent.
	b.click("pause-toggle")
	b.waitFor("the Resume button", func() bool { t := b.texts("pause-toggle"); return len(t) == 1 && t[0] == "Resume" })
	wantStatus(t, e.do(t, http.MethodPost, "/v1/sessions/web1/messages",
		map[string]any{"id": "paused-1", "to": "+51987654322", "text": "en pausa"}), http.StatusAccepted)
	b.waitFor("paused-1 queued in the jobs table", func() bool { return b.jobStatus("paused-1") == "queued" })
	if got := e.do(t, http.MethodGet, "/v1/sessions/web1/jobs?status=queued", nil).json(t); !strings.Contains(fmt.Sprint(got["jobs"]), "paused-1") {
		t.Fatalf("queued jobs while paused: %v", got)
	}
	b.click("pause-toggle")
	b.waitFor("paused-1 sent", func() bool { return b.jobStatus("paused-1") == "sent" })
	b.waitText("event-row", "paused-1")

	// A contact's markup is shown as text, never run or rendered.
	markup := `<img src=x onerror=alert(1)>`
	if rep := ask(t, e.nc, e.stack.Names.Sim("web1", "inbound"), map[string]any{"from": "+51900000001", "push_name": markup, "text": markup + " hola", "id": "XSS1"}); rep.Code != "" {
		t.Fatalf("inbound: %v", rep)
	}
	b.waitText("event-row", markup+": "+markup+" hola") // push name, then text
	var imgs int
	b.js(&imgs, `return document.querySelectorAll('main img:not([data-testid="qr-image"])').length;`)
	if imgs != 0 {
		t.Fatalf("the page has %d images besides the QR code: markup was rendered", imgs)
	}

	// The list, live: a tenant paired through the API turns connected in
	// its row while the page stays loaded.
	b.click("back-to-list")
	b.waitAttr("session-row-web1", "data-state", "connected")
	e.do(t, http.MethodPut, "/v1/sessions/web2", nil)
	b.waitAttr("session-row-web2", "data-state", "unpaired")
	e.pair(t, "web2")
	b.waitAttr("session-row-web2", "data-state", "connected")
	var same bool
	b.js(&same, `return window.wabusNoReload === true;`)
	if !same {
		t.Fatal("the page reloaded")
	}

	// Log out, confirmed in the browser's own dialog.
	b.click("session-link-web1")
	b.waitAttr("session-state", "data-state", "connected")
	b.waitText("event-row", "sent")
	shot := b.screenshot()
	b.click("logout-button")
	b.acceptDialog()
	b.waitAttr("session-state", "data-state", "logged_out")

	// Every request the page made went to admin.
	urls := b.requestedURLs(e.base)
	if len(urls) < 5 {
		t.Fatalf("the network log shows only %d requests of the console: %v", len(urls), urls)
	}
	for _, u := range urls {
		if !strings.HasPrefix(u, e.base+"/") && !strings.HasPrefix(u, "data:image/png;base64,") {
			t.Errorf("the console requested %s, outside admin", u)
		}
	}
	if path := os.Getenv("WABUS_CONSOLE_SCREENSHOT"); path != "" {
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// jobStatus is the data-status of the job row of id ("" when not shown).
func (b *browser) jobStatus(id string) string {
	b.t.Helper()
	var v string
	b.js(&v, `const e = document.querySelector('[data-testid="job-row"][data-id="'+arguments[0]+'"]'); return e ? e.dataset.status : "";`, id)
	return v
}
