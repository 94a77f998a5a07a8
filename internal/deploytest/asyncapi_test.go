package deploytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/ctl"
	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/job"
	"github.com/wabus/wabus/internal/session/sim"
	"github.com/wabus/wabus/internal/vocab"
)

const asyncAPIFile = "docs/asyncapi.yaml"

// example is one example of a message of docs/asyncapi.yaml.
type example struct {
	message string
	name    string
	line    int
	headers map[string]string
	payload json.RawMessage
}

func (e example) String() string {
	return fmt.Sprintf("%s:%d: %s example %q", asyncAPIFile, e.line, e.message, e.name)
}

// yamlKey matches a block mapping key, as a list item or not, and its value.
var yamlKey = regexp.MustCompile(`^(\s*)(- )?([^\s:#][^:]*?):(?:\s+(.*))?$`)

// frame is one open mapping key of the line parser.
type frame struct {
	indent int
	key    string
}

// asyncAPIExamples reads the examples of every message under
// components.messages line by line (no YAML library): each example is a
// list item whose headers and payload are one line of flow-style JSON.
// It also returns the names of all messages.
func asyncAPIExamples(t *testing.T) (examples []example, messages []string) {
	t.Helper()
	var stack []frame
	for n, line := range strings.Split(readFile(t, asyncAPIFile), "\n") {
		m := yamlKey.FindStringSubmatch(line)
		if m == nil || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		indent := len(m[1]) + len(m[2])
		for len(stack) > 0 && stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		path := keys(stack)
		switch {
		case isPath(path, "components", "messages") && m[2] == "":
			messages = append(messages, m[3])
		case len(path) == 4 && isPath(path[:2], "components", "messages") && path[3] == "examples":
			if m[2] != "" {
				examples = append(examples, example{message: path[2], line: n + 1})
			}
			if len(examples) == 0 {
				t.Fatalf("%s:%d: example field outside an example", asyncAPIFile, n+1)
			}
			setField(t, &examples[len(examples)-1], m[3], m[4], n+1)
		}
		stack = append(stack, frame{indent, m[3]})
	}
	return examples, messages
}

func keys(stack []frame) []string {
	out := make([]string, len(stack))
	for i, f := range stack {
		out[i] = f.key
	}
	return out
}

func isPath(path []string, want ...string) bool { return slices.Equal(path, want) }

// setField stores one field of an example: its name, or its headers or
// payload as JSON.
func setField(t *testing.T, ex *example, key, value string, line int) {
	t.Helper()
	switch key {
	case "name":
		ex.name = unquote(value)
	case "headers":
		if err := json.Unmarshal([]byte(value), &ex.headers); err != nil {
			t.Errorf("%s:%d: headers are not one line of JSON: %v", asyncAPIFile, line, err)
		}
	case "payload":
		if !json.Valid([]byte(value)) {
			t.Errorf("%s:%d: payload is not one line of JSON", asyncAPIFile, line)
			return
		}
		ex.payload = json.RawMessage(value)
	}
}

// strict decodes raw into v, refusing unknown fields and trailing data.
func strict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// decoder checks one example against the project's types.
type decoder func(ex example) error

// decoders says how each message of the document is decoded.
var decoders = map[string]decoder{
	"SendJob":       decodeSendJob,
	"MessageEvent":  eventOf[event.Message](vocab.EventMessage.Type),
	"SentEvent":     eventOf[event.Sent](vocab.EventSent.Type),
	"FailedEvent":   eventOf[event.Failed](vocab.EventFailed.Type),
	"ReceiptEvent":  eventOf[event.Receipt](vocab.EventReceipt.Type),
	"SessionEvent":  eventOf[event.Session](vocab.EventSession.Type),
	"DeadLetter":    decodeDeadLetter,
	"CtlRequest":    strictly[ctl.Request](),
	"CtlReply":      strictly[ctl.Reply](),
	"PairingEvent":  decodePairingEvent,
	"Bell":          decodeBell,
	"SimRequest":    strictly[struct{}](),
	"SimInbound":    strictly[simInbound](),
	"SimFailSends":  strictly[simFailSends](),
	"SimRestrict":   strictly[simRestrict](),
	"SimReply":      strictly[ctl.Reply](),
	"SimDelivered":  strictly[sim.Delivered](),
	"SimPresence":   strictly[sim.Presence](),
	"SimConnection": strictly[simConnection](),
	"SimKick":       strictly[simKick](),
}

// The simulator reads and writes these shapes with unexported types
// (internal/session/sim); they are CONTRACT's simulator section.
type (
	simInbound struct {
		From     string `json:"from"`
		Text     string `json:"text"`
		ID       string `json:"id"`
		PushName string `json:"push_name"`
		LID      bool   `json:"lid"`
		// instead of text, a send job's content object
		job.Job
	}
	simConnection struct {
		Worker string `json:"worker"`
		ConnID string `json:"conn_id"`
		Reason string `json:"reason"`
	}
	simFailSends struct {
		Count int `json:"count"`
	}
	simRestrict struct {
		Seconds int `json:"seconds"`
	}
	simKick struct {
		ConnID string `json:"conn_id"`
	}
)

func strictly[T any]() decoder {
	return func(ex example) error {
		var v T
		return strict(ex.payload, &v)
	}
}

// decodeSendJob: job.Parse accepts it, it has no field the job does not
// know, and its Nats-Msg-Id is the job id.
func decodeSendJob(ex example) error {
	j, err := job.Parse(ex.payload)
	if err != nil {
		return fmt.Errorf("job.Parse: %w", err)
	}
	if err := strict(ex.payload, new(job.Job)); err != nil {
		return err
	}
	if got := ex.headers["Nats-Msg-Id"]; got != j.ID {
		return fmt.Errorf("Nats-Msg-Id %q, want the job id %q", got, j.ID)
	}
	return nil
}

var sourcePattern = regexp.MustCompile(`^wa/[A-Za-z0-9_-]{1,64}$`)

// eventOf decodes a CloudEvent of type typ whose data is a T.
func eventOf[T any](typ string) decoder {
	return func(ex example) error {
		var ev event.Event
		if err := strict(ex.payload, &ev); err != nil {
			return fmt.Errorf("envelope: %w", err)
		}
		switch {
		case ev.SpecVersion != "1.0" || ev.DataContentType != "application/json":
			return fmt.Errorf("specversion %q, datacontenttype %q", ev.SpecVersion, ev.DataContentType)
		case ev.Type != typ:
			return fmt.Errorf("type %q, want %q", ev.Type, typ)
		case !sourcePattern.MatchString(ev.Source):
			return fmt.Errorf("source %q is not wa/<tenant>", ev.Source)
		case ev.ID == "" || ex.headers["Nats-Msg-Id"] != ev.ID:
			return fmt.Errorf("id %q, Nats-Msg-Id %q: want equal and set", ev.ID, ex.headers["Nats-Msg-Id"])
		case ev.Time.IsZero():
			return errors.New("time is missing")
		}
		var data T
		if err := strict(ev.Data, &data); err != nil {
			return fmt.Errorf("data: %w", err)
		}
		return checkSubject(ev, ev.Data)
	}
}

// checkSubject: sent and failed events carry the job id as subject.
func checkSubject(ev event.Event, data json.RawMessage) error {
	if ev.Type != vocab.EventSent.Type && ev.Type != vocab.EventFailed.Type {
		return nil
	}
	var d struct {
		JobID string `json:"job_id"`
	}
	_ = json.Unmarshal(data, &d)
	if ev.Subject == "" || ev.Subject != d.JobID {
		return fmt.Errorf("subject %q, want the job id %q", ev.Subject, d.JobID)
	}
	return nil
}

var failureCodes = []string{event.CodeInvalidJob, event.CodeInvalidRecipient, event.CodeNotOnWhatsApp,
	event.CodeMediaInvalid, event.CodeMediaTooLarge, event.CodeExpired, event.CodeCancelled, event.CodeLoggedOut, event.CodeSendFailed,
	event.CodeRestricted, event.CodeUnknownMessage}

// decodeDeadLetter: the headers carry a failure code and the error; a job
// that failed as invalid_job does not parse (with that very error), any
// other parses and is the job the headers name.
func decodeDeadLetter(ex example) error {
	code, msg := ex.headers["Wa-Error-Code"], ex.headers["Wa-Error"]
	if !slices.Contains(failureCodes, code) || msg == "" {
		return fmt.Errorf("headers %v: want Wa-Error-Code (a failure code) and Wa-Error", ex.headers)
	}
	j, err := job.Parse(ex.payload)
	if code == event.CodeInvalidJob {
		if job.CodeOf(err) != code || err.Error() != msg {
			return fmt.Errorf("job.Parse = %v, want the header's %s error %q", err, code, msg)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("job.Parse: %w", err)
	}
	if ex.headers["Wa-Job-Id"] != j.ID {
		return fmt.Errorf("Wa-Job-Id %q, want %q", ex.headers["Wa-Job-Id"], j.ID)
	}
	return nil
}

// decodeBell: a bus.BellMessage naming valid tenants.
func decodeBell(ex example) error {
	var b bus.BellMessage
	if err := strict(ex.payload, &b); err != nil {
		return err
	}
	for _, tenant := range b.Tenants {
		if !bus.ValidTenant(tenant) {
			return fmt.Errorf("tenant %q is not a tenant id", tenant)
		}
	}
	return nil
}

// decodePairingEvent: a ctl.PairingEvent of a known kind.
func decodePairingEvent(ex example) error {
	var ev ctl.PairingEvent
	if err := strict(ex.payload, &ev); err != nil {
		return err
	}
	if !slices.Contains([]string{ctl.PairingQR, ctl.PairingState, ctl.PairingPaired, ctl.PairingTimeout}, ev.Event) {
		return fmt.Errorf("event %q is not a pairing event", ev.Event)
	}
	return nil
}

// TestAsyncAPIExamples decodes every example payload of docs/asyncapi.yaml
// into the project's types; every message has examples and a decoder.
func TestAsyncAPIExamples(t *testing.T) {
	t.Parallel()
	examples, messages := asyncAPIExamples(t)
	count := map[string]int{}
	for _, ex := range examples {
		count[ex.message]++
		dec, ok := decoders[ex.message]
		switch {
		case !ok:
			t.Errorf("%s: no decoder for message %s", ex, ex.message)
		case ex.payload == nil:
			t.Errorf("%s: no one-line JSON payload", ex)
		default:
			if err := dec(ex); err != nil {
				t.Errorf("%s: %v", ex, err)
			}
		}
	}
	for _, m := range messages {
		if count[m] == 0 {
			t.Errorf("%s: message %s has no example", asyncAPIFile, m)
		}
	}
	for m := range decoders {
		if !slices.Contains(messages, m) {
			t.Errorf("%s: message %s is missing", asyncAPIFile, m)
		}
	}
}

var addressLine = regexp.MustCompile(`^    address:\s*(.+)$`)

// TestAsyncAPISubjects checks that the document's channel addresses are
// exactly the subjects package bus names (with the default prefix).
func TestAsyncAPISubjects(t *testing.T) {
	t.Parallel()
	n := bus.NewNames("wa")
	const tenant, worker = "{tenant}", "{worker}"
	want := []string{n.Send(tenant), n.DLQ(tenant), n.Pairing(tenant), n.Bell(),
		n.Worker(worker) + ".ctl." + tenant + ".{op}", n.Worker(worker) + ".sim." + tenant + ".{op}"}
	for _, k := range vocab.EventKinds {
		want = append(want, n.Event(tenant, k))
	}
	for _, op := range []string{ctl.OpPair, ctl.OpPairPhone, ctl.OpLogout, ctl.OpReconnect} {
		want = append(want, n.Ctl(tenant, op))
	}
	simOps := append((&sim.Driver{}).ControlOps(), "delivered", "presence", "connected", "disconnected", "kick", "wake")
	for _, op := range simOps {
		want = append(want, n.Sim(tenant, op))
	}
	var got []string
	for _, line := range strings.Split(readFile(t, asyncAPIFile), "\n") {
		if m := addressLine.FindStringSubmatch(line); m != nil && m[1] != "null" {
			got = append(got, unquote(m[1]))
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s channel addresses:\n got %v\nwant %v", asyncAPIFile, got, want)
	}
}
