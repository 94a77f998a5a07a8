package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// adminClient calls admin's HTTP API with the bearer token.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

// do sends a request with body encoded as JSON (none when nil) and returns
// the status and the response body. It returns an error when the request
// cannot be made or its body read.
func (a *adminClient) do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, fmt.Errorf("encode %s %s body: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("build %s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("read %s %s: %w", method, path, err)
	}
	return resp.StatusCode, bytes.TrimSpace(raw), nil
}

// expect is do that also fails unless the status is one of want.
func (a *adminClient) expect(ctx context.Context, method, path string, body any, want ...int) ([]byte, error) {
	status, raw, err := a.do(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	for _, w := range want {
		if status == w {
			say("%s %s -> %d %s", method, path, status, raw)
			return raw, nil
		}
	}
	return nil, fmt.Errorf("%s %s: status %d: %s", method, path, status, raw)
}

// waitReady polls url until it answers 200 or ctx ends. It returns the
// last error then.
func waitReady(ctx context.Context, url string) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", url, last)
		case <-tick.C:
		}
	}
}

// sse is one Server-Sent Event.
type sse struct {
	name string
	data json.RawMessage
}

// pair opens the tenant's pairing stream and relays it: for each QR code it
// calls scan (the simulated phone), and it returns the JID once the stream
// says paired. It returns an error on timeout or a broken stream.
func (a *adminClient) pair(ctx context.Context, tenant string, scan func() error) (string, error) {
	path := "/v1/sessions/" + tenant + "/qr"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return "", fmt.Errorf("build pairing request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := a.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("open pairing stream: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return "", fmt.Errorf("GET %s: status %d: %s", path, resp.StatusCode, bytes.TrimSpace(b))
	}
	say("GET %s -> 200 text/event-stream", path)
	return relayPairing(resp.Body, scan)
}

// relayPairing reacts to the pairing stream's events until paired.
func relayPairing(r io.Reader, scan func() error) (string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for {
		ev, ok := nextEvent(sc)
		if !ok {
			return "", fmt.Errorf("pairing stream ended before paired: %w", cmp.Or(sc.Err(), io.ErrUnexpectedEOF))
		}
		say("  event: %s  data: %s", ev.name, shorten(string(ev.data), 120))
		switch ev.name {
		case "qr":
			if err := scan(); err != nil {
				return "", err
			}
		case "paired":
			var p struct {
				JID string `json:"jid"`
			}
			if err := json.Unmarshal(ev.data, &p); err != nil {
				return "", fmt.Errorf("decode paired event: %w", err)
			}
			return p.JID, nil
		case "timeout":
			return "", errors.New("pairing timed out")
		}
	}
}

// nextEvent reads the next event of a stream (comment lines are skipped);
// ok is false at the end of the stream.
func nextEvent(sc *bufio.Scanner) (ev sse, ok bool) {
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.data = json.RawMessage(strings.TrimPrefix(line, "data: "))
		case line == "" && ev.name != "":
			return ev, true
		}
	}
	return sse{}, false
}

// shorten cuts s to n characters, marking the cut.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
