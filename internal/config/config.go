// Package config reads wabus's environment variables (CONTRACT's table) into
// a validated Config. It never reads the environment itself: the caller passes
// a lookup function, normally os.LookupEnv from main.
package config

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Config is the whole process configuration. Every field says its variable
// and default.
type Config struct {
	// DatabaseURL is WA_DATABASE_URL. Defaults to
	// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable.
	DatabaseURL string
	// NATSURL is WA_NATS_URL. Defaults to nats://127.0.0.1:4222.
	NATSURL string
	// NATSCreds is WA_NATS_CREDS, a creds file path. Defaults to none.
	NATSCreds string
	// Driver is WA_DRIVER: "whatsmeow" or "sim". Defaults to "whatsmeow".
	Driver string
	// WorkerID is WA_WORKER_ID. Defaults to the host name.
	WorkerID string
	// AdminAddr is WA_ADMIN_ADDR. Defaults to ":8080".
	AdminAddr string
	// AdminToken is WA_ADMIN_TOKEN. No default; admin refuses to start without it.
	AdminToken string `json:"-"`
	// MetricsAddr is WA_METRICS_ADDR. Defaults to ":9090".
	MetricsAddr string
	// LogLevel is WA_LOG_LEVEL: debug, info, warn or error. Defaults to "info".
	LogLevel string
	// LogFormat is WA_LOG_FORMAT: json or text. Defaults to "json".
	LogFormat string
	// SubjectPrefix is WA_SUBJECT_PREFIX. Defaults to "wa".
	SubjectPrefix string
	// SendRate is WA_SEND_RATE, messages a minute per tenant, 0 = no limit. Defaults to 20.
	SendRate float64
	// SendBurst is WA_SEND_BURST. Defaults to 5.
	SendBurst int
	// SendMaxAge is WA_SEND_MAX_AGE: a job still waiting this long after
	// its publish fails with code expired. At least 1s. Defaults to 24h.
	SendMaxAge time.Duration
	// JobRetention is WA_JOB_RETENTION: how long a finished job is kept in
	// the job table, which is how long a job id seen again is not sent
	// again. At least 1h. Defaults to 7 days (168h).
	JobRetention time.Duration
	// LeaseTTL is WA_LEASE_TTL. Defaults to 15s.
	LeaseTTL time.Duration
	// AdminMaxBody is WA_ADMIN_MAX_BODY in bytes. Defaults to 32 MiB.
	AdminMaxBody int64
	// StreamReplicas is WA_STREAM_REPLICAS, the replicas of every stream
	// and bucket (1 to 5; 3 on a NATS cluster). Defaults to 1.
	StreamReplicas int
	// InboundMediaMax is WA_INBOUND_MEDIA_MAX in bytes: the largest inbound
	// attachment a worker stores. Defaults to 64 MiB.
	InboundMediaMax int64
	// KeepAliveTimeout is WA_KEEPALIVE_TIMEOUT: keepalives unanswered for
	// longer end a connection (reason keepalive_timeout). Defaults to 1m.
	KeepAliveTimeout time.Duration
	// LoginTimeout is WA_LOGIN_TIMEOUT: a login unanswered for longer ends
	// the connection the same way. Defaults to 1m.
	LoginTimeout time.Duration
	// ClientOutdatedRetry is WA_CLIENT_OUTDATED_RETRY: how long a session
	// waits (jittered down to half) before it tries again after WhatsApp
	// refused the client version (405). Defaults to 10m.
	ClientOutdatedRetry time.Duration
	// StreamReplacedMax is WA_STREAM_REPLACED_MAX: this many stream
	// replacements within StreamReplacedWindow stop a session until an
	// operator reconnects it. Defaults to 3.
	StreamReplacedMax int
	// StreamReplacedWindow is WA_STREAM_REPLACED_WINDOW. Defaults to 10m.
	StreamReplacedWindow time.Duration
	// VersionRefresh is WA_VERSION_REFRESH: how often a worker fetches the
	// WhatsApp Web client version it logs in with (also at start and after a
	// 405); 0 never fetches it. Defaults to 24h.
	VersionRefresh time.Duration
	// DeviceName is WA_DEVICE_NAME, the name the phone lists a device
	// paired by the worker under (linked devices). It is set when a device
	// pairs. Defaults to "wabus".
	DeviceName string
}

// Defaults as CONTRACT names them.
const (
	DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	DefaultNATSURL     = "nats://127.0.0.1:4222"
)

// prefixPattern is what WA_SUBJECT_PREFIX may be: subject tokens that also
// make valid stream and bucket names once dots become underscores or dashes.
var prefixPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)

// Load reads every variable through lookup (os.LookupEnv in main) and
// hostname (the default worker id). It returns a *Error listing every
// variable that is malformed, so a person can fix them all at once.
func Load(lookup func(string) (string, bool), hostname string) (Config, error) {
	r := reader{lookup: lookup}
	c := Config{
		DatabaseURL:   r.str("WA_DATABASE_URL", DefaultDatabaseURL),
		NATSURL:       r.str("WA_NATS_URL", DefaultNATSURL),
		NATSCreds:     r.str("WA_NATS_CREDS", ""),
		Driver:        r.oneOf("WA_DRIVER", "whatsmeow", "whatsmeow", "sim"),
		WorkerID:      r.str("WA_WORKER_ID", hostname),
		AdminAddr:     r.str("WA_ADMIN_ADDR", ":8080"),
		AdminToken:    r.str("WA_ADMIN_TOKEN", ""),
		MetricsAddr:   r.str("WA_METRICS_ADDR", ":9090"),
		LogLevel:      r.oneOf("WA_LOG_LEVEL", "info", "debug", "info", "warn", "error"),
		LogFormat:     r.oneOf("WA_LOG_FORMAT", "json", "json", "text"),
		SubjectPrefix: r.str("WA_SUBJECT_PREFIX", "wa"),
		SendRate:      r.float("WA_SEND_RATE", 20),
		SendBurst:     r.int("WA_SEND_BURST", 5),
		SendMaxAge:    r.duration("WA_SEND_MAX_AGE", 24*time.Hour),
		JobRetention:  r.duration("WA_JOB_RETENTION", 7*24*time.Hour),
		LeaseTTL:      r.duration("WA_LEASE_TTL", 15*time.Second),
		AdminMaxBody:  r.size("WA_ADMIN_MAX_BODY", 32<<20),

		StreamReplicas:       r.int("WA_STREAM_REPLICAS", 1),
		InboundMediaMax:      r.size("WA_INBOUND_MEDIA_MAX", 64<<20),
		KeepAliveTimeout:     r.duration("WA_KEEPALIVE_TIMEOUT", time.Minute),
		LoginTimeout:         r.duration("WA_LOGIN_TIMEOUT", time.Minute),
		ClientOutdatedRetry:  r.duration("WA_CLIENT_OUTDATED_RETRY", 10*time.Minute),
		StreamReplacedMax:    r.int("WA_STREAM_REPLACED_MAX", 3),
		StreamReplacedWindow: r.duration("WA_STREAM_REPLACED_WINDOW", 10*time.Minute),
		VersionRefresh:       r.duration("WA_VERSION_REFRESH", 24*time.Hour),
		DeviceName:           r.str("WA_DEVICE_NAME", "wabus"),
	}
	r.check("WA_SUBJECT_PREFIX", prefixPattern.MatchString(c.SubjectPrefix),
		"must be dot-separated tokens of letters, digits, '_' or '-'")
	r.check("WA_SEND_RATE", c.SendRate >= 0, "must not be negative")
	r.check("WA_SEND_BURST", c.SendBurst >= 1, "must be at least 1")
	r.check("WA_SEND_MAX_AGE", c.SendMaxAge >= time.Second, "must be at least 1s")
	r.check("WA_JOB_RETENTION", c.JobRetention >= time.Hour, "must be at least 1h")
	r.check("WA_LEASE_TTL", c.LeaseTTL >= time.Second, "must be at least 1s")
	r.check("WA_ADMIN_MAX_BODY", c.AdminMaxBody >= 1024, "must be at least 1KiB")
	r.check("WA_STREAM_REPLICAS", c.StreamReplicas >= 1 && c.StreamReplicas <= 5, "must be 1 to 5")
	r.check("WA_INBOUND_MEDIA_MAX", c.InboundMediaMax >= 1024, "must be at least 1KiB")
	r.check("WA_KEEPALIVE_TIMEOUT", c.KeepAliveTimeout >= time.Second, "must be at least 1s")
	r.check("WA_LOGIN_TIMEOUT", c.LoginTimeout >= time.Second, "must be at least 1s")
	r.check("WA_CLIENT_OUTDATED_RETRY", c.ClientOutdatedRetry >= time.Minute, "must be at least 1m (a refused version is not retried in a loop)")
	r.check("WA_STREAM_REPLACED_MAX", c.StreamReplacedMax >= 1, "must be at least 1")
	r.check("WA_STREAM_REPLACED_WINDOW", c.StreamReplacedWindow >= time.Second, "must be at least 1s")
	r.check("WA_VERSION_REFRESH", c.VersionRefresh == 0 || c.VersionRefresh >= time.Minute, "must be 0 (never) or at least 1m")
	r.check("WA_DEVICE_NAME", validDeviceName(c.DeviceName), "must be at most 50 characters, none of them control characters")
	if len(r.errs) > 0 {
		return Config{}, &Error{Problems: r.errs}
	}
	return c, nil
}

// validDeviceName reports whether name can be shown as a device name.
func validDeviceName(name string) bool {
	return utf8.ValidString(name) && utf8.RuneCountInString(name) <= 50 &&
		!strings.ContainsFunc(name, unicode.IsControl)
}

var workerIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidateWorker checks what only a worker needs: WA_WORKER_ID must be one
// subject token (it names the worker's private control subject). It
// returns a *Error naming the variable.
func (c Config) ValidateWorker() error {
	if !workerIDPattern.MatchString(c.WorkerID) {
		return &Error{Problems: []string{"WA_WORKER_ID: " + strconv.Quote(c.WorkerID) +
			" must be 1-64 letters, digits, '_' or '-' (set it when the host name is not)"}}
	}
	return nil
}

// Error lists every problem Load found, one "VARIABLE: what is wrong" each.
type Error struct {
	Problems []string
}

func (e *Error) Error() string {
	return "invalid configuration: " + strings.Join(e.Problems, "; ")
}

type reader struct {
	lookup func(string) (string, bool)
	errs   []string
}

func (r *reader) raw(name string) (string, bool) {
	v, ok := r.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

func (r *reader) fail(name, format string, args ...any) {
	r.errs = append(r.errs, name+": "+fmt.Sprintf(format, args...))
}

func (r *reader) check(name string, ok bool, msg string) {
	if !ok && !r.failed(name) {
		r.fail(name, "%s", msg)
	}
}

func (r *reader) failed(name string) bool {
	for _, e := range r.errs {
		if strings.HasPrefix(e, name+":") {
			return true
		}
	}
	return false
}

func (r *reader) str(name, def string) string {
	if v, ok := r.raw(name); ok {
		return v
	}
	return def
}

func (r *reader) oneOf(name, def string, allowed ...string) string {
	return parsed(r, name, def, func(v string) (string, error) {
		for _, a := range allowed {
			if strings.EqualFold(v, a) {
				return a, nil
			}
		}
		return "", fmt.Errorf("%q is not one of %s", v, strings.Join(allowed, ", "))
	})
}

func (r *reader) float(name string, def float64) float64 {
	return parsed(r, name, def, func(v string) (float64, error) {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("%q is not a number", v)
		}
		return f, nil
	})
}

func (r *reader) int(name string, def int) int {
	return parsed(r, name, def, func(v string) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("%q is not a whole number", v)
		}
		return n, nil
	})
}

func (r *reader) duration(name string, def time.Duration) time.Duration {
	return parsed(r, name, def, func(v string) (time.Duration, error) {
		d, err := time.ParseDuration(v)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration such as 15s, 10m or 24h", v)
		}
		return d, nil
	})
}

func (r *reader) size(name string, def int64) int64 {
	return parsed(r, name, def, ParseSize)
}

// parsed reads name with parse: def when it is unset, and def with parse's
// error (which names the value) recorded when parse fails.
func parsed[T any](r *reader, name string, def T, parse func(string) (T, error)) T {
	v, ok := r.raw(name)
	if !ok {
		return def
	}
	x, err := parse(v)
	if err != nil {
		r.fail(name, "%v", err)
		return def
	}
	return x
}

var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1000, "kb": 1000, "kib": 1 << 10,
	"m": 1000 * 1000, "mb": 1000 * 1000, "mib": 1 << 20,
	"g": 1000 * 1000 * 1000, "gb": 1000 * 1000 * 1000, "gib": 1 << 30,
}

var sizePattern = regexp.MustCompile(`^(\d+)\s*([A-Za-z]*)$`)

// ParseSize reads a byte size such as 1048576, 512KiB, 32MiB or 1GB. It
// returns an error naming the value when it is malformed or overflows.
func ParseSize(s string) (int64, error) {
	m := sizePattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a size such as 32MiB", s)
	}
	unit, ok := sizeUnits[strings.ToLower(m[2])]
	if !ok {
		return 0, fmt.Errorf("%q has an unknown unit (use B, KiB, MiB, GiB, KB, MB or GB)", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n > math.MaxInt64/unit {
		return 0, errors.New(strconv.Quote(s) + " is too large")
	}
	return n * unit, nil
}
