package admin

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// browser is a headless Chromium driven through chromedriver's W3C
// WebDriver HTTP API.
type browser struct {
	t    *testing.T
	base string // http://127.0.0.1:<port>/session/<id>
	hc   *http.Client
}

// Chromium flags that make it run here: as root, without a GPU, without
// reaching the network on its own.
var chromiumArgs = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
	"--disable-component-update", "--disable-sync", "--window-size=1280,1000",
}

// startBrowser starts chromedriver on a free port and opens a browser
// session with a fresh profile, both ended when the test ends. A missing
// chromium or chromedriver fails the test with the command to install
// them (make tools installs them as root).
func startBrowser(t *testing.T) *browser {
	t.Helper()
	driver, err := exec.LookPath("chromedriver")
	if err != nil {
		t.Fatal("chromedriver not found on PATH; install it with: apt-get install -y chromium chromium-driver")
	}
	binary, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not found on PATH; install it with: apt-get install -y chromium chromium-driver")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(driver, fmt.Sprintf("--port=%d", port), "--allowed-ips=127.0.0.1")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if os.Getenv("WABUS_TEST_LOG") != "" {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromedriver: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	root := fmt.Sprintf("http://127.0.0.1:%d", port)
	b := &browser{t: t, base: root, hc: &http.Client{Timeout: 60 * time.Second}}
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := b.hc.Get(root + "/status")
		if err == nil {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("chromedriver did not answer: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	args := append(append([]string(nil), chromiumArgs...), "--user-data-dir="+t.TempDir())
	var created struct {
		SessionID string `json:"sessionId"`
	}
	b.call(http.MethodPost, "/session", map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName":        "chrome",
		"goog:chromeOptions": map[string]any{"binary": binary, "args": args},
		"goog:loggingPrefs":  map[string]any{"performance": "ALL"},
	}}}, &created)
	b.base = root + "/session/" + created.SessionID
	t.Cleanup(func() { b.call(http.MethodDelete, "", nil, nil) })
	return b
}

// call runs one WebDriver command and decodes its value into out.
func (b *browser) call(method, path string, body, out any) {
	b.t.Helper()
	if err := b.try(method, path, body, out); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) try(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, b.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := b.hc.Do(req)
	if err != nil {
		return fmt.Errorf("webdriver %s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	var reply struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.NewDecoder(res.Body).Decode(&reply); err != nil {
		return fmt.Errorf("webdriver %s %s: %d, undecodable reply: %w", method, path, res.StatusCode, err)
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("webdriver %s %s: %d %s", method, path, res.StatusCode, reply.Value)
	}
	if out != nil {
		return json.Unmarshal(reply.Value, out)
	}
	return nil
}

// open navigates to url.
func (b *browser) open(url string) {
	b.call(http.MethodPost, "/url", map[string]string{"url": url}, nil)
}

// js runs script (a function body; arguments[i] are args) and decodes what
// it returns into out.
func (b *browser) js(out any, script string, args ...any) {
	b.t.Helper()
	if args == nil {
		args = []any{}
	}
	b.call(http.MethodPost, "/execute/sync", map[string]any{"script": script, "args": args}, out)
}

// byTestID finds the element with data-testid id, waiting for it.
func (b *browser) byTestID(id string) string {
	b.t.Helper()
	var found string
	b.waitFor("element "+id, func() bool {
		var v map[string]string
		err := b.try(http.MethodPost, "/element", map[string]string{"using": "css selector", "value": `[data-testid="` + id + `"]`}, &v)
		for _, ref := range v {
			found = ref
		}
		return err == nil && found != ""
	})
	return found
}

// click clicks the element with data-testid id.
func (b *browser) click(id string) {
	b.t.Helper()
	b.call(http.MethodPost, "/element/"+b.byTestID(id)+"/click", map[string]any{}, nil)
}

// typeInto clears the element with data-testid id and types text.
func (b *browser) typeInto(id, text string) {
	b.t.Helper()
	ref := b.byTestID(id)
	b.call(http.MethodPost, "/element/"+ref+"/clear", map[string]any{}, nil)
	b.call(http.MethodPost, "/element/"+ref+"/value", map[string]any{"text": text}, nil)
}

// attr reads a DOM attribute of the first element with data-testid id
// ("" when it or the attribute is missing).
func (b *browser) attr(id, name string) string {
	b.t.Helper()
	var v string
	b.js(&v, `const e = document.querySelector('[data-testid="'+arguments[0]+'"]'); return e ? (e.getAttribute(arguments[1]) || "") : "";`, id, name)
	return v
}

// visible reports whether the element with data-testid id is rendered.
func (b *browser) visible(id string) bool {
	b.t.Helper()
	var v bool
	b.js(&v, `const e = document.querySelector('[data-testid="'+arguments[0]+'"]'); return !!e && !e.closest('[hidden]') && e.getClientRects().length > 0;`, id)
	return v
}

// texts returns the text of every element with data-testid id.
func (b *browser) texts(id string) []string {
	b.t.Helper()
	var v []string
	b.js(&v, `return [...document.querySelectorAll('[data-testid="'+arguments[0]+'"]')].map(e => e.textContent);`, id)
	return v
}

// acceptDialog accepts the confirm() the page shows, waiting for it.
func (b *browser) acceptDialog() {
	b.t.Helper()
	b.waitFor("a dialog", func() bool { return b.try(http.MethodPost, "/alert/accept", map[string]any{}, nil) == nil })
}

// screenshot returns a PNG of the page.
func (b *browser) screenshot() []byte {
	b.t.Helper()
	var v string
	b.call(http.MethodGet, "/screenshot", nil, &v)
	png, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	return png
}

// requestedURLs returns every URL that documents loaded from origin asked
// for since the last call, from Chromium's network log (the browser's own
// pages, such as the new-tab page it starts with, are left out).
func (b *browser) requestedURLs(origin string) []string {
	b.t.Helper()
	var entries []struct {
		Message string `json:"message"`
	}
	b.call(http.MethodPost, "/se/log", map[string]string{"type": "performance"}, &entries)
	var urls []string
	for _, e := range entries {
		var m struct {
			Message struct {
				Method string `json:"method"`
				Params struct {
					DocumentURL string `json:"documentURL"`
					Request     struct {
						URL string `json:"url"`
					} `json:"request"`
				} `json:"params"`
			} `json:"message"`
		}
		if json.Unmarshal([]byte(e.Message), &m) == nil && m.Message.Method == "Network.requestWillBeSent" &&
			strings.HasPrefix(m.Message.Params.DocumentURL, origin+"/") {
			urls = append(urls, m.Message.Params.Request.URL)
		}
	}
	return urls
}

// waitFor polls cond until it holds, failing the test after 30s.
func (b *browser) waitFor(what string, cond func() bool) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			b.t.Fatalf("browser: no %s within 30s", what)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitAttr waits until the element with data-testid id has attribute name
// equal to want.
func (b *browser) waitAttr(id, name, want string) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf("%s with %s=%q (last %q)", id, name, want, b.attr(id, name)), func() bool { return b.attr(id, name) == want })
}

// waitText waits until some element with data-testid id contains text.
func (b *browser) waitText(id, text string) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf("%s containing %q", id, text), func() bool {
		for _, s := range b.texts(id) {
			if strings.Contains(s, text) {
				return true
			}
		}
		return false
	})
}
