package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/ctl"
)

// options are the flags of wabus-demo run.
type options struct {
	admin, token, metrics   string
	natsURL, prefix, tenant string
	wait                    time.Duration
}

func parseOptions(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.StringVar(&o.admin, "admin", "http://127.0.0.1:8080", "admin base URL")
	fs.StringVar(&o.token, "token", os.Getenv("WA_ADMIN_TOKEN"), "admin bearer token (default $WA_ADMIN_TOKEN)")
	fs.StringVar(&o.metrics, "worker", "http://127.0.0.1:9090", "the worker's metrics base URL (/readyz, /metrics)")
	fs.StringVar(&o.natsURL, "nats", cmp.Or(os.Getenv("WA_NATS_URL"), nats.DefaultURL), "NATS URL (default $WA_NATS_URL)")
	fs.StringVar(&o.prefix, "prefix", cmp.Or(os.Getenv("WA_SUBJECT_PREFIX"), "wa"), "subject prefix (default $WA_SUBJECT_PREFIX)")
	fs.StringVar(&o.tenant, "tenant", "demo", "tenant to pair and send from")
	fs.DurationVar(&o.wait, "wait", 60*time.Second, "how long each step may take")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.token == "" {
		return o, errors.New("run: -token (or WA_ADMIN_TOKEN) is required")
	}
	if !bus.ValidTenant(o.tenant) {
		return o, fmt.Errorf("run: %q is not a valid tenant id", o.tenant)
	}
	return o, nil
}

// demo is one run of the demo.
type demo struct {
	o     options
	nc    *nats.Conn
	names bus.Names
	admin *adminClient
	w     *watcher
	runID string
}

// run runs the demo: wait for the processes, pair, send, receive, report.
func run(ctx context.Context, args []string) error {
	o, err := parseOptions(args)
	if err != nil {
		return err
	}
	d := &demo{o: o, names: bus.NewNames(o.prefix), runID: time.Now().UTC().Format("150405"),
		admin: &adminClient{base: strings.TrimRight(o.admin, "/"), token: o.token, http: &http.Client{}}}
	step("waiting for admin and the worker to be ready")
	if err := d.ready(ctx); err != nil {
		return err
	}
	if d.nc, err = nats.Connect(o.natsURL, nats.Name("wabus-demo")); err != nil {
		return fmt.Errorf("connect nats: %w", err)
	}
	defer d.nc.Close()
	if d.w, err = watch(d.nc, d.names, o.tenant); err != nil {
		return err
	}
	defer d.w.stop()
	for _, fn := range []func(context.Context) error{d.pair, d.send, d.receive, d.outcomes, d.report} {
		if err := fn(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (d *demo) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, d.o.wait)
	defer cancel()
	if err := waitReady(ctx, d.admin.base+"/readyz"); err != nil {
		return err
	}
	return waitReady(ctx, strings.TrimRight(d.o.metrics, "/")+"/readyz")
}

// pair creates the tenant and pairs it: admin's QR stream, and the
// simulated phone scanning each code it shows. A failed attempt (admin
// answers 503 "try again", or the stream stalls) is retried twice.
func (d *demo) pair(ctx context.Context) error {
	step("pairing tenant %q (admin API + simulated phone)", d.o.tenant)
	for attempt := 1; ; attempt++ {
		err := d.pairOnce(ctx)
		if err == nil || attempt == 3 || ctx.Err() != nil {
			return err
		}
		say("pairing attempt %d failed (%v); trying again", attempt, err)
	}
}

// pairOnce is one pairing attempt, within the step deadline.
func (d *demo) pairOnce(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, min(d.o.wait, 20*time.Second))
	defer cancel()
	if _, err := d.admin.expect(ctx, http.MethodPut, "/v1/sessions/"+d.o.tenant, nil, http.StatusOK, http.StatusCreated); err != nil {
		return err
	}
	jid, err := d.admin.pair(ctx, d.o.tenant, func() error { return d.sim(ctx, "scan", nil) })
	if err != nil {
		return err
	}
	say("paired as %s", jid)
	return nil
}

// sim sends a request to the simulator and fails on an error reply.
func (d *demo) sim(ctx context.Context, op string, body any) error {
	var data []byte
	if body != nil {
		data, _ = json.Marshal(body)
	}
	subject := d.names.Sim(d.o.tenant, op)
	msg, err := d.nc.RequestWithContext(ctx, subject, data)
	if err != nil {
		return fmt.Errorf("request %s: %w", subject, err)
	}
	say("NATS request %s %s -> %s", subject, data, msg.Data)
	var rep ctl.Reply
	if err := json.Unmarshal(msg.Data, &rep); err != nil {
		return fmt.Errorf("decode %s reply: %w", subject, err)
	}
	if rep.Code != "" {
		return fmt.Errorf("%s: %s (%s)", subject, rep.Error, rep.Code)
	}
	return nil
}

// tinyPDF is a few bytes that start like a PDF, the demo's document.
var tinyPDF = base64.StdEncoding.EncodeToString([]byte("%PDF-1.4\n% wabus demo ticket\n%%EOF\n"))

// jobs are the demo's send jobs: a text, a document with a caption, and a
// recipient that is not on WhatsApp (simulated: +999...), which fails.
func (d *demo) jobs() []map[string]any {
	id := func(s string) string { return "demo-" + d.runID + "-" + s }
	return []map[string]any{
		{"id": id("text"), "to": "+51987654321", "text": "Tu reserva ha sido confirmada"},
		{"id": id("ticket"), "to": "+51987654321", "text": "Tu ticket",
			"document": map[string]string{"data": "data:application/pdf;base64," + tinyPDF, "filename": "ticket_123.pdf"}},
		{"id": id("nowa"), "to": "+99912345678", "text": "hola"},
	}
}

// send posts the jobs through admin.
func (d *demo) send(ctx context.Context) error {
	step("sending %d jobs through POST /v1/sessions/%s/messages", len(d.jobs()), d.o.tenant)
	ctx, cancel := context.WithTimeout(ctx, d.o.wait)
	defer cancel()
	for _, j := range d.jobs() {
		if _, err := d.admin.expect(ctx, http.MethodPost, "/v1/sessions/"+d.o.tenant+"/messages", j, http.StatusAccepted); err != nil {
			return err
		}
	}
	return nil
}

// inboundID is the WhatsApp id of the demo's inbound message.
func (d *demo) inboundID() string { return "DEMO" + d.runID + "IN" }

// receive lets a simulated contact write to the tenant.
func (d *demo) receive(ctx context.Context) error {
	step("a contact writes to the tenant (simulator)")
	ctx, cancel := context.WithTimeout(ctx, d.o.wait)
	defer cancel()
	return d.sim(ctx, "inbound", map[string]string{"from": "+51911222333", "text": "Hola, ¿a qué hora abren?", "id": d.inboundID()})
}

// outcomes waits until every job has its outcome, the sent ones their
// read receipts, the failure its dead letter, and the inbound its event.
func (d *demo) outcomes(ctx context.Context) error {
	step("events as subscribers see them (%s, %s, %s)",
		d.names.Events(d.o.tenant), d.names.DLQ(d.o.tenant), d.names.Sim(d.o.tenant, "*"))
	ctx, cancel := context.WithTimeout(ctx, d.o.wait)
	defer cancel()
	jobs := d.jobs()
	return d.w.waitFor(ctx, func(t *tally) string {
		for _, j := range jobs[:2] {
			id := j["id"].(string)
			if mid, ok := t.sent[id]; !ok || !t.read[mid] {
				return "sent event and read receipt of " + id
			}
		}
		switch id := jobs[2]["id"].(string); {
		case t.failed[id] == "":
			return "failed event of " + id
		case t.dlq == 0:
			return "dead letter of " + id
		case !t.inbound[d.inboundID()]:
			return "message event of " + d.inboundID()
		}
		return ""
	})
}

// report shows the session as admin sees it and the worker's counters.
func (d *demo) report(ctx context.Context) error {
	step("the session and the worker's metrics")
	if _, err := d.admin.expect(ctx, http.MethodGet, "/v1/sessions/"+d.o.tenant, nil, http.StatusOK); err != nil {
		return err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(d.o.metrics, "/")+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("get worker metrics: %w", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Bytes(); showMetric(line) {
			say("%s", line)
		}
	}
	step("done: 2 sent and read, 1 failed (not on WhatsApp) with its dead letter, 1 inbound message")
	return sc.Err()
}

// showMetric picks the metric lines worth showing at the end of the demo.
func showMetric(line []byte) bool {
	for _, p := range []string{"wabus_send_jobs_total{", "wabus_send_dlq_total ", "wabus_inbound_events_total{",
		"wabus_outbox_published_total ", "wabus_sessions_by_state{state=\"connected\"}"} {
		if bytes.HasPrefix(line, []byte(p)) {
			return true
		}
	}
	return false
}

// step prints a heading.
func step(format string, args ...any) { fmt.Printf("\n== "+format+"\n", args...) }

// say prints a line under the current step.
func say(format string, args ...any) { fmt.Printf("   "+format+"\n", args...) }
