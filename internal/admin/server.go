package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/obs"
	"github.com/wabus/wabus/internal/queue"
	"github.com/wabus/wabus/internal/session/wa"
)

// Server is the admin HTTP server. Build it with New.
type Server struct {
	cfg     Config
	pool    *pgxpool.Pool
	nc      *nats.Conn
	js      jetstream.JetStream
	names   bus.Names
	log     *slog.Logger
	metrics *metrics
	jobs    *queue.Store
	devices wa.DeviceDeleter

	tokenSum [sha256.Size]byte
	mux      *http.ServeMux
	routes   map[string]route // by pattern
}

// New returns a server. It returns ErrNoToken without cfg.Token,
// ErrMissingDeps when a required dependency is missing, or an error when
// the metrics cannot be registered.
func New(cfg Config, deps Deps) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := deps.validate(); err != nil {
		return nil, err
	}
	deps = deps.withDefaults()
	m, err := newMetrics(deps.Registry)
	if err != nil {
		return nil, err
	}
	if err := deps.Registry.Register(newTenantStates(deps.Pool, deps.Logger)); err != nil {
		return nil, fmt.Errorf("register admin metrics: %w", err)
	}
	s := &Server{
		cfg: cfg, pool: deps.Pool, nc: deps.NATS, js: deps.JS, names: deps.Names,
		log:      deps.Logger.With(slog.String("component", "admin")),
		metrics:  m,
		jobs:     queue.New(deps.Pool, nil, deps.Names),
		devices:  deps.Devices,
		tokenSum: sha256.Sum256([]byte(cfg.Token)),
	}
	health := http.NewServeMux()
	obs.Register(health, deps.Gatherer,
		obs.Check{Name: "postgres", Fn: s.pool.Ping},
		obs.Check{Name: "nats", Fn: s.natsReady})
	s.mux, s.routes = s.buildMux(s.routeTable(health))
	return s, nil
}

func (s *Server) natsReady(context.Context) error {
	if !s.nc.IsConnected() {
		return errors.New("not connected")
	}
	return nil
}

// Handler returns the server's HTTP handler: every route with auth, body
// limit, access log, metrics and panic recovery.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Run serves on cfg.Addr until ctx ends, then shuts down gracefully: open
// pairing streams end (their request context is ctx's child) and requests
// in flight get up to 10s. It returns an error when the address cannot be
// listened on or the server fails.
func (s *Server) Run(ctx context.Context) error {
	s.log.InfoContext(ctx, "admin listening", slog.String("addr", s.cfg.Addr))
	return obs.Serve(ctx, s.cfg.Addr, s.Handler(), s.log)
}

// serveHTTP is the middleware chain around the mux.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	_, pattern := s.mux.Handler(r)
	rt, matched := s.routes[pattern]
	defer s.observe(sw, r, pattern, start)
	defer s.recoverPanic(sw, r, rt.legacy)
	if !rt.public && !s.authorized(r) {
		sw.Header().Set("WWW-Authenticate", `Bearer realm="wabus"`)
		writeError(sw, errorf(http.StatusUnauthorized, CodeUnauthorized, "missing or wrong bearer token"), rt.legacy)
		return
	}
	if r.ContentLength > s.cfg.MaxBody {
		writeError(sw, errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "request body is larger than the limit of %d bytes", s.cfg.MaxBody), rt.legacy)
		return
	}
	r.Body = http.MaxBytesReader(sw, r.Body, s.cfg.MaxBody)
	if !matched {
		s.unmatched(sw, r)
		return
	}
	s.mux.ServeHTTP(sw, r)
}

// authorized reports whether r carries the bearer token. Both sides are
// hashed first so that the comparison takes the same time whatever the
// length of what was sent.
func (s *Server) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(sum[:], s.tokenSum[:]) == 1
}

// unmatched answers a request no route matched: the mux's own answer (404,
// 405 with Allow, or a redirect to the cleaned path) with a JSON body.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request) {
	h, _ := s.mux.Handler(r)
	cw := &captureWriter{header: http.Header{}}
	h.ServeHTTP(cw, r)
	switch cw.status {
	case http.StatusNotFound, 0:
		writeError(w, errorf(http.StatusNotFound, CodeNotFound, "no route %s %s", r.Method, r.URL.Path), false)
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", cw.header.Get("Allow"))
		writeError(w, errorf(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method %s not allowed; allowed: %s", r.Method, cw.header.Get("Allow")), false)
	default:
		if loc := cw.header.Get("Location"); loc != "" {
			w.Header().Set("Location", loc)
		}
		writeError(w, errorf(cw.status, CodeNotFound, "see %s", cw.header.Get("Location")), false)
	}
}

// recoverPanic turns a handler's panic into a logged 500.
func (s *Server) recoverPanic(w *statusWriter, r *http.Request, legacy bool) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	s.log.ErrorContext(r.Context(), "admin handler panic", slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
	if !w.wrote {
		writeError(w, errorf(http.StatusInternalServerError, CodeInternal, "internal error"), legacy)
	} else {
		w.status = http.StatusInternalServerError
	}
}

// observe writes the access log line and the metrics of a request. It
// logs neither the token, nor bodies, nor the query string.
func (s *Server) observe(w *statusWriter, r *http.Request, pattern string, start time.Time) {
	d := time.Since(start)
	route := pattern
	if _, ok := s.routes[pattern]; !ok {
		route = "unmatched"
	}
	status := w.code()
	s.metrics.observe(route, status, d)
	attrs := []slog.Attr{
		slog.String("method", r.Method), slog.String("route", route), slog.Int("status", status),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
	}
	if t := pathTenant(r); t != "" {
		attrs = append(attrs, slog.String("tenant", t))
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelWarn
	}
	s.log.LogAttrs(r.Context(), level, "http request", attrs...)
}

// pathTenant returns the tenant of the request's path when it is a valid
// tenant id.
func pathTenant(r *http.Request) string {
	for _, name := range []string{"tenant", "id"} {
		if t := r.PathValue(name); t != "" {
			if bus.ValidTenant(t) {
				return t
			}
			return "(invalid)"
		}
	}
	return ""
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush of the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// captureWriter records what the mux's fallback handlers write.
type captureWriter struct {
	header http.Header
	status int
}

func (w *captureWriter) Header() http.Header { return w.header }

func (w *captureWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *captureWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(b), nil
}
